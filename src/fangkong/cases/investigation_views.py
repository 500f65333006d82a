"""Pages of investigations (流调报告): the form of one case's investigation and the list of
investigations with their deadlines, who is late, and late counts per county."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from epicore import idcard
from fangkong.accounts import audit
from fangkong.accounts.queries import require_capability
from fangkong.accounts.roles import EDIT_CASES, VIEW_INVESTIGATIONS
from fangkong.cases import investigations as inv
from fangkong.cases.models import Investigation, SourceKind, TravelMode
from fangkong.geo.models import Jurisdiction, Level, in_subtree
from fangkong.venues.models import Venue

NAMED_ROWS = 3  # blank rows of the named-contacts form
VENUE_CHOICES = 500


@login_required
def investigation_list(request):
    require_capability(request.user, VIEW_INVESTIGATIONS)
    now = timezone.now()
    visible = inv.access_investigations(request.user)
    rows = visible.select_related("case", "investigator", "case__jurisdiction")
    only_late = request.GET.get("late") == "1"
    if only_late:
        rows = rows.filter(inv.any_late(now))
    rows = list(rows.order_by("report_due", "id")[: settings.PAGE_SIZE])
    audit.record(
        request.user,
        "investigation.list",
        object_type="investigation",
        details={"shown": [i.pk for i in rows], "late_only": only_late},
    )
    return render(
        request,
        "cases/investigation_list.html",
        {
            "rows": [(i, inv.section_states(i, now)) for i in rows],
            "only_late": only_late,
            "rollup": inv.late_by_county(visible, now),
        },
    )


@login_required
def investigation_detail(request, case_id: int):
    investigation = inv.access_investigation(request.user, case_id)
    case = investigation.case
    return render(
        request,
        "cases/investigation.html",
        {
            "i": investigation,
            "case": case,
            "person_name": idcard.mask_name(case.person.name),
            "sections": inv.section_states(investigation, timezone.now()),
            "itinerary": investigation.itinerary.select_related("venue", "place_jurisdiction"),
            "sources": investigation.sources.select_related("source_case"),
            "named": investigation.named_contacts.select_related("person__jurisdiction"),
            "can_edit": request.user.can(EDIT_CASES),
            "venues": _venue_choices(case),
            "counties": _county_choices(case),
            "travel_modes": TravelMode.choices,
            "source_kinds": SourceKind.choices,
            "named_rows": range(NAMED_ROWS),
        },
    )


def _venue_choices(case):
    """Venues of the case's county first: most of a day is spent near home."""
    county = in_subtree("jurisdiction_id", case.jurisdiction_id[:6])
    return Venue.objects.filter(county).order_by("name", "id")[:VENUE_CHOICES]


def _county_choices(case):
    province = in_subtree("code", case.jurisdiction_id[:2])
    return Jurisdiction.objects.filter(province, level=Level.COUNTY).order_by("code")


def _editable(request, case_id: int) -> Investigation:
    investigation = inv.access_investigation(request.user, case_id, purpose="edit")
    require_capability(request.user, EDIT_CASES)
    return investigation


def _named_rows(post) -> list[dict[str, str]]:
    fields = ("name", "phone", "doc_number", "relation", "exposed_from", "exposed_to")
    return [{f: post.get(f"{f}_{n}", "") for f in fields} for n in range(NAMED_ROWS)]


def _act(request, investigation: Investigation, part: str) -> None:
    user, post = request.user, request.POST
    if part == "core":
        inv.save_core(user, investigation, post)
    elif part == "itinerary":
        _entry, warnings = inv.add_itinerary_entry(user, investigation, post)
        for warning in warnings:
            messages.warning(request, warning)
    elif part == "source":
        inv.add_source(user, investigation, post)
    elif part == "contacts":
        result = inv.add_named_contacts(user, investigation, _named_rows(post))
        for problem in result.problems:
            messages.error(request, problem)
    elif part == "report":
        inv.save_report(user, investigation, post)
    elif part == "take":
        inv.take_over(user, investigation)
    elif part.startswith("submit-"):
        for note in inv.submit_section(user, investigation, part.removeprefix("submit-")):
            messages.info(request, note)
    else:
        raise Http404


@login_required
@require_POST
def investigation_part(request, case_id: int, part: str):
    investigation = _editable(request, case_id)
    try:
        _act(request, investigation, part)
    except inv.InvestigationInvalid as invalid:
        messages.error(request, "; ".join(invalid.errors.values()))
    return redirect("investigation", case_id=case_id)


@login_required
@require_POST
def investigation_item(request, case_id: int, kind: str, item_id: int):
    investigation = _editable(request, case_id)
    try:
        if kind == "itinerary":
            inv.remove_itinerary_entry(request.user, investigation, item_id)
        elif kind == "named":
            counts = inv.record_named_contact(request.user, investigation, item_id)
            messages.success(request, _recorded_message(counts))
        else:
            raise Http404
    except inv.InvestigationInvalid as invalid:
        messages.error(request, "; ".join(invalid.errors.values()))
    return redirect("investigation", case_id=case_id)


def _recorded_message(counts: dict[str, int]) -> str:
    from django.utils.translation import gettext as _

    if counts.get("skipped_cases"):
        return _("This person is a case, not a contact.")
    return _("Recorded as a close contact of the case.")
