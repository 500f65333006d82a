from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.accounts.roles import EDIT_CASES, VIEW_CASES
from fangkong.cases.models import TracingRun
from fangkong.geo.models import in_subtree
from fangkong.quarantine import actions


@login_required
def occupancy(request):
    if not request.user.can(VIEW_CASES) or not request.user.scope_code:
        raise Http404
    rows = actions.occupancy(request.user.scope_code)
    totals = {k: sum(r[k] for r in rows) for k in ("total", "occupied", "free")}
    return render(request, "quarantine/occupancy.html", {"rows": rows, "totals": totals})


@login_required
@require_POST
def assign_run(request, run_id: int):
    if not request.user.can(EDIT_CASES) or not request.user.scope_code:
        raise Http404
    run = (
        TracingRun.objects.filter(in_subtree("jurisdiction_id", request.user.scope_code))
        .filter(pk=run_id)
        .first()
    )
    if run is None:
        raise Http404
    result = actions.assign_run(request.user, run)
    messages.success(
        request,
        _("%(placed)s people placed in rooms; %(left)s could not be placed.")
        % {"placed": result["placed"], "left": len(result["unplaced"])},
    )
    return redirect("tracing_run", run_id=run.pk)
