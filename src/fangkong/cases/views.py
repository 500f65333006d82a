"""Pages for cases and contacts (流调专班)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Count
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from epicore import idcard
from fangkong.accounts import audit
from fangkong.accounts.queries import require_capability
from fangkong.accounts.roles import EDIT_CASES, REVEAL_PEOPLE, VIEW_CASES, VIEW_INVESTIGATIONS
from fangkong.cases import actions, assist, exchange, export, fhir, graph, pushes
from fangkong.cases.models import Classification, ContactStatus, ItemState, TracingRun
from fangkong.cases.queries import (
    access_case_by_id,
    access_cases,
    access_contact_by_id,
    access_contacts,
    contacts_of_case,
    list_page,
)
from fangkong.cases.tracing import start_run
from fangkong.geo.models import in_subtree
from fangkong.people.importing import FileProblem, read_table_file
from fangkong.people.queries import access_person_by_id
from fangkong.quarantine.planning import rooms_needed


def _after(request) -> int | None:
    value = request.GET.get("after", "")
    return int(value) if value.isdigit() else None


@login_required
def case_list(request):
    require_capability(request.user, VIEW_CASES)
    cases = access_cases(request.user).select_related("person", "jurisdiction")
    chosen = request.GET.get("classification", "")
    if chosen in Classification.values:
        cases = cases.filter(classification=chosen)
    rows, next_after = list_page(cases, _after(request), settings.PAGE_SIZE)
    return render(
        request,
        "cases/case_list.html",
        {
            "cases": rows,
            "next_after": next_after,
            "chosen": chosen,
            "classifications": Classification.choices,
            "can_import": request.user.can(EDIT_CASES),
        },
    )


@login_required
def case_detail(request, case_id: int):
    case = access_case_by_id(request.user, case_id)
    contacts, elsewhere = contacts_of_case(request.user, case)
    return render(
        request,
        "cases/case_detail.html",
        {
            "case": case,
            "person_name": idcard.mask_name(case.person.name),
            "contacts": contacts,
            "elsewhere": elsewhere,
            "events": case.events.select_related("by"),
            "runs": case.tracing_runs.order_by("-id")[:20],
            "can_edit": request.user.can(EDIT_CASES),
            "can_investigate": request.user.can(VIEW_INVESTIGATIONS),
            "classifications": Classification.choices,
        },
    )


@login_required
def case_new(request, person_id: int):
    require_capability(request.user, EDIT_CASES)
    person = access_person_by_id(request.user, person_id, reason="open case")
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            clean = actions.check_case(request.user, person.pk, request.POST)
        except actions.CaseInvalid as invalid:
            errors = invalid.errors
        else:
            case = actions.do_open_case(request.user, clean)
            messages.success(request, _("Case %(number)s opened.") % {"number": case.number})
            return redirect("case", case_id=case.pk)
    return render(
        request,
        "cases/case_new.html",
        {
            "person": person,
            "person_name": idcard.mask_name(person.name),
            "errors": errors,
            "data": request.POST,
            "classifications": [c for c in Classification.choices if c[0] != "excluded"],
        },
        status=400 if errors else 200,
    )


@login_required
@require_POST
def case_reclassify(request, case_id: int):
    case = access_case_by_id(request.user, case_id)
    require_capability(request.user, EDIT_CASES)
    try:
        actions.do_reclassify(
            request.user, case, request.POST.get("classification", ""), request.POST.get("note", "")
        )
    except actions.CaseInvalid as invalid:
        messages.error(request, "; ".join(invalid.errors.values()))
    return redirect("case", case_id=case.pk)


@login_required
def contact_list(request):
    require_capability(request.user, VIEW_CASES)
    contacts = access_contacts(request.user).select_related("person", "jurisdiction", "case")
    chosen = request.GET.get("status", "")
    if chosen in ContactStatus.values:
        contacts = contacts.filter(status=chosen)
    rows, next_after = list_page(contacts, _after(request), settings.PAGE_SIZE)
    return render(
        request,
        "cases/contact_list.html",
        {
            "rows": [(c, _next_statuses(c)) for c in rows],
            "next_after": next_after,
            "chosen": chosen,
            "statuses": ContactStatus.choices,
            "can_edit": request.user.can(EDIT_CASES),
        },
    )


@login_required
@require_POST
def contact_export(request):
    require_capability(request.user, VIEW_CASES)
    job = export.request_export(request.user, request.POST.get("status", ""))
    return redirect("export", job_id=job.pk)


@login_required
def export_status(request, job_id: int):
    job = export.owned_export(request.user, job_id)
    if job is None:
        raise Http404
    return render(
        request, "cases/export.html", {"job": job, "refresh": job.state in ("queued", "running")}
    )


@login_required
def export_file(request, job_id: int):
    job = export.owned_export(request.user, job_id)
    path = export.export_path(job_id) if job is not None else None
    if job is None or job.state != "done" or not path.exists():
        raise Http404
    audit.record(request.user, "cases.export_download", object_type="job", object_id=job.pk)
    return FileResponse(path.open("rb"), as_attachment=True, filename=f"密接名单-{job.pk}.xlsx")


def _next_statuses(contact) -> list[tuple[str, str]]:
    return [(s.value, s.label) for s in sorted(actions.NEXT_STATUS.get(contact.status, ()))]


@login_required
@require_POST
def contact_status(request, contact_id: int):
    contact = access_contact_by_id(request.user, contact_id)
    require_capability(request.user, EDIT_CASES)
    try:
        actions.do_set_contact_status(request.user, contact, request.POST.get("status", ""))
    except actions.CaseInvalid as invalid:
        messages.error(request, "; ".join(invalid.errors.values()))
    return redirect("contacts")


@login_required
def assist_list(request):
    require_capability(request.user, VIEW_CASES)
    user, now = request.user, timezone.now()
    push_report = _receive_push(request) if request.method == "POST" else None
    requests = assist.access_requests(user).select_related("from_jurisdiction", "to_jurisdiction")
    incoming = requests.filter(in_subtree("to_jurisdiction_id", user.scope_code))
    outgoing = requests.filter(in_subtree("from_jurisdiction_id", user.scope_code))
    late = set(requests.filter(assist.overdue(now)).values_list("pk", flat=True))
    rollup = (
        requests.filter(assist.overdue(now))
        .values("to_jurisdiction_id", "to_jurisdiction__name")
        .annotate(n=Count("id"))
        .order_by("-n")[:20]
    )
    return render(
        request,
        "cases/assist_list.html",
        {
            "incoming": incoming.order_by("state", "complete_by")[:200],
            "outgoing": outgoing.order_by("-sent_at")[:200],
            "late": late,
            "rollup": rollup,
            "can_receive": user.can(EDIT_CASES),
            "push": push_report,
        },
        status=400 if push_report and push_report.get("problem") else 200,
    )


def _receive_push(request) -> dict:
    """A list pushed from a higher level, uploaded by a receiving tracer."""
    require_capability(request.user, EDIT_CASES)
    upload = request.FILES.get("file")
    if upload is None:
        return {"problem": _("Choose a file.")}
    try:
        records = read_table_file(upload.name, upload.read(), pushes.PUSH)
    except FileProblem as problem:
        return {"problem": str(problem)}
    return {"report": pushes.import_push(request.user, records, request.POST.get("source", ""))}


@login_required
def assist_detail(request, request_id: int):
    require_capability(request.user, VIEW_CASES)
    item = assist.access_requests(request.user).filter(pk=request_id).first()
    if item is None:
        raise Http404
    receiver = request.user.can(EDIT_CASES) and item.to_jurisdiction_id.startswith(
        request.user.scope_code
    )
    return render(
        request,
        "cases/assist_detail.html",
        {
            "req": item,
            "items": item.items.select_related("person").order_by("id"),
            "events": item.events.select_related("by"),
            "receiver": receiver,
            "late": assist.AssistanceRequest.objects.filter(pk=item.pk)
            .filter(assist.overdue())
            .exists(),
            "item_states": [s for s in ItemState.choices if s[0] != ItemState.PENDING],
        },
    )


@login_required
@require_POST
def assist_act(request, request_id: int, action: str):
    try:
        if action == "ack":
            assist.acknowledge(request.user, request_id)
        elif action == "complete":
            assist.complete(request.user, request_id)
        else:
            raise Http404
    except actions.CaseInvalid as invalid:
        messages.error(request, "; ".join(invalid.errors.values()))
    return redirect("assist", request_id=request_id)


@login_required
@require_POST
def assist_item(request, request_id: int, item_id: int):
    try:
        assist.set_item_state(
            request.user,
            request_id,
            item_id,
            request.POST.get("state", ""),
            request.POST.get("note", ""),
        )
    except actions.CaseInvalid as invalid:
        messages.error(request, "; ".join(invalid.errors.values()))
    return redirect("assist", request_id=request_id)


@login_required
def tracing_run(request, run_id: int):
    require_capability(request.user, VIEW_CASES)
    run = (
        TracingRun.objects.filter(in_subtree("jurisdiction_id", request.user.scope_code or "-"))
        .filter(pk=run_id)
        .first()
    )
    if run is None:
        raise Http404
    return render(
        request,
        "cases/tracing_run.html",
        {
            "run": run,
            "cases": run.cases.all(),
            "refresh": run.state in ("queued", "running"),
            "perms_assign": request.user.can(EDIT_CASES),
            "rooms": rooms_needed(run) if run.state == "done" else None,
            "stages": run_stages(run),
        },
    )


# The stages a run times (cases.tracing: _Clock.lap), in the words of the run page.
STAGE_LABELS = {
    "A cases' check-ins": gettext_lazy("Cases' check-ins"),
    "B co-visitors": gettext_lazy("People at the same places"),
    "hop 1": gettext_lazy("Close contacts (first hop)"),
    "close contacts recorded (during the pull)": gettext_lazy(
        "Close contacts recorded (while the rest is pulled)"
    ),
    "C contacts' check-ins": gettext_lazy("Close contacts' check-ins"),
    "D their co-visitors": gettext_lazy("People at the close contacts' places"),
    "trace": gettext_lazy("Tracing engine"),
    "record": gettext_lazy("Recording contacts"),
}
STAGE_ORDER = {name: n for n, name in enumerate(STAGE_LABELS)}


def run_stages(run) -> list[dict]:
    """Seconds and rows of each stage of a run, in the order they run (where a slow run spent
    its time). Not in the report's order: PostgreSQL's jsonb keeps keys sorted by length."""
    stages = (run.report or {}).get("pull", {})
    in_order = sorted(stages, key=lambda name: STAGE_ORDER.get(name, len(STAGE_ORDER)))
    return [{"label": STAGE_LABELS.get(name, name), **stages[name]} for name in in_order]


@login_required
@require_POST
def tracing_rerun(request, case_id: int):
    case = access_case_by_id(request.user, case_id)
    require_capability(request.user, EDIT_CASES)
    try:
        minutes = int(request.POST.get("min_overlap_minutes", "15"))
        hops = int(request.POST.get("hops", "2"))
    except ValueError:
        minutes, hops = -1, 0
    if not (0 <= minutes <= 24 * 60 and hops in (1, 2)):
        messages.error(request, _("Give an overlap of 0 to 1440 minutes and 1 or 2 hops."))
        return redirect("case", case_id=case.pk)
    with transaction.atomic():
        run = start_run(request.user, [case], min_overlap_s=minutes * 60, hops=hops)
    return redirect("tracing_run", run_id=run.pk)


@login_required
def assist_export(request, request_id: int, fmt: str):
    require_capability(request.user, VIEW_CASES)
    item = assist.access_requests(request.user).filter(pk=request_id).first()
    if item is None or fmt not in ("xlsx", "csv"):
        raise Http404
    full = request.user.can(EDIT_CASES) and item.to_jurisdiction_id.startswith(
        request.user.scope_code
    )
    audit.record(
        request.user,
        "assist.export",
        object_type="assistance",
        object_id=item.pk,
        reason="assistance list export",
        details={"format": fmt, "identifiers": "full" if full else "masked"},
    )
    if fmt == "xlsx":
        body = exchange.to_xlsx(item, full)
        kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        body, kind = exchange.to_csv(item, full), "text/csv; charset=utf-8"
    response = HttpResponse(body, content_type=kind)
    response["Content-Disposition"] = f'attachment; filename="{item.number}.{fmt}"'
    return response


def _day(value: str):
    from django.utils.dateparse import parse_date

    try:
        return parse_date(value) if value else None
    except ValueError:
        return None


@login_required
def transmission_graph(request):
    require_capability(request.user, VIEW_CASES)
    since, until = _day(request.GET.get("since", "")), _day(request.GET.get("until", ""))
    cluster = request.GET.get("cluster", "")
    result = graph.build(request.user, since, until, int(cluster) if cluster.isdigit() else None)
    positions = {p: (n.x, n.y) for p, n in result.nodes.items()}
    lines = [(positions[e.source], positions[e.target]) for e in result.edges]
    return render(
        request,
        "cases/graph.html",
        {
            "g": result,
            "nodes": list(result.nodes.values()),
            "lines": lines,
            "since": request.GET.get("since", ""),
            "until": request.GET.get("until", ""),
            "cluster": cluster,
            "clusters": sorted(result.cluster_sizes.items())[:50],
        },
    )


@login_required
def case_fhir(request, case_id: int):
    """The case as a FHIR R4 Bundle; full identifiers only for roles that may reveal them."""
    case = access_case_by_id(request.user, case_id)
    visible, _elsewhere = contacts_of_case(request.user, case)
    full = request.user.can(REVEAL_PEOPLE)
    audit.record(
        request.user,
        "case.export_fhir",
        object_type="case",
        object_id=case.pk,
        jurisdiction_code=case.jurisdiction_id,
        reason="FHIR export",
        details={"identifiers": "full" if full else "masked", "contacts": len(visible)},
    )
    response = JsonResponse(
        fhir.case_bundle(case, visible, full), content_type="application/fhir+json"
    )
    response["Content-Disposition"] = f'attachment; filename="{case.number}.fhir.json"'
    return response
