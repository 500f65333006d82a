"""Pages for transport boxes (sampling staff: open, pack, seal, hand over; labs: receive, the
chain of custody) and the lab page's turnaround section.

Scope: a box belongs to the jurisdiction it was opened in; outside the user's subtree it is 404.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.accounts.queries import require_capability
from fangkong.accounts.roles import RECORD_RESULTS, TAKE_SAMPLES
from fangkong.errors import Refused
from fangkong.geo.models import in_subtree
from fangkong.labs import boxes, turnaround
from fangkong.labs.models import BoxState, Tube, TubeState

# The lab page's turnaround looks back one week: long enough for a campaign's rounds, short
# enough that today's late tubes are not buried under last month's.
TURNAROUND_DAYS = 7
LIST_LENGTH = 50


def _scope(user) -> str:
    if not user.scope_code:
        raise Http404
    return user.scope_code


def _attempt(request, work, done: str) -> None:
    """Run one step; a refusal becomes an error message with its reason, nothing changes."""
    try:
        work()
    except Refused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, done)


def _box_step(request) -> None:
    user, data = request.user, request.POST
    code, step = data.get("code", ""), data.get("step", "")
    steps = {
        "open": (
            lambda: boxes.open_box(
                user, code, data.get("site", ""), data.get("lab", ""), user.scope_code
            ),
            _("Box %(code)s opened."),
        ),
        "pack": (
            lambda: boxes.pack(user, code, data.get("barcode", "")),
            _("Tube %(barcode)s packed into box %(code)s."),
        ),
        "seal": (lambda: boxes.seal_box(user, code), _("Box %(code)s sealed.")),
        "hand_over": (
            lambda: boxes.hand_over(user, code, data.get("courier", "")),
            _("Box %(code)s handed over to the courier."),
        ),
    }
    if step not in steps:
        raise Http404
    work, done = steps[step]
    _attempt(request, work, done % {"code": code.strip(), "barcode": data.get("barcode", "")})


@login_required
def box_list(request):
    """Sampling staff: their boxes (opened in their subtree) and the sealed tubes to pack."""
    require_capability(request.user, TAKE_SAMPLES)
    scope = _scope(request.user)
    if request.method == "POST":
        _box_step(request)
        return redirect("boxes")
    loose = Tube.objects.filter(in_subtree("jurisdiction_id", scope), box__isnull=True)
    return render(
        request,
        "labs/boxes.html",
        {
            "boxes": boxes.boxes_in_scope(request.user).order_by("-opened_at", "-pk")[:LIST_LENGTH],
            "loose_tubes": loose.filter(state=TubeState.SEALED).order_by("sealed_at")[:LIST_LENGTH],
        },
    )


@login_required
def box_detail(request, box_id: int):
    """The chain of custody of one box: who had it, when, and which tubes it holds."""
    if not (request.user.can(TAKE_SAMPLES) or request.user.can(RECORD_RESULTS)):
        raise Http404
    _scope(request.user)
    box = boxes.boxes_in_scope(request.user).filter(pk=box_id).first()
    if box is None:
        raise Http404
    return render(
        request,
        "labs/box.html",
        {
            "box": box,
            "events": box.events.select_related("by").order_by("at", "pk"),
            "tubes": box.tubes.order_by("barcode"),
        },
    )


@login_required
@require_POST
def box_receive(request):
    require_capability(request.user, RECORD_RESULTS)
    _scope(request.user)
    code = request.POST.get("code", "")
    _attempt(
        request,
        lambda: boxes.receive(request.user, code, request.POST.get("lab", "")),
        _("Box %(code)s received.") % {"code": code.strip()},
    )
    return redirect("labs")


def lab_page_context(user, now=None) -> dict:
    """What the lab page shows beside the uploads: boxes on their way, and turnaround."""
    if not user.scope_code:
        return {"arriving_boxes": [], "turnaround": None}
    now = now or timezone.now()
    arriving = boxes.boxes_in_scope(user).filter(state=BoxState.IN_TRANSIT)
    return {
        "arriving_boxes": arriving.order_by("handed_over_at")[:LIST_LENGTH],
        "turnaround": _turnaround(user.scope_code, now),
    }


def _turnaround(scope: str, now) -> dict:
    tubes = Tube.objects.filter(in_subtree("jurisdiction_id", scope))
    recent = turnaround.in_period(tubes, now - timedelta(days=TURNAROUND_DAYS), now)
    late = turnaround.late_stages(recent, now, LIST_LENGTH)
    return {
        "days": TURNAROUND_DAYS,
        "target_hours": _hours(turnaround.target()),
        "by_site": [_hours_row(g) for g in turnaround.by_site(recent, now)],
        "by_lab": [_hours_row(g) for g in turnaround.by_lab(recent, now)],
        "late": [{"tube": t, "hours": _hours(t.taken(now))} for t in late],
    }


def _hours(span: timedelta | None) -> float | None:
    return None if span is None else round(span.total_seconds() / 3600, 1)


def _hours_row(group: turnaround.GroupTurnaround) -> dict:
    return {
        "name": group.name,
        "resulted": group.resulted,
        "median": _hours(group.median),
        "p90": _hours(group.p90),
        "late": group.late,
    }
