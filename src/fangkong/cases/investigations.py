"""Investigations (流调报告): a structured investigation per case, in sections with deadlines.

Sections: core information (occupation, workplace, symptoms, likely sources), itinerary (places
and times; entries at platform venues take part in tracing runs as the case's check-ins),
contacts named by the case (matched to the register by ID number, each one recordable as a
Contact), and the full report (summary). Each section is due a fixed time after the case's
report; a section submitted after its deadline, or still missing after it, is late, and the
investigator assigned is the one named as late.

Every write and every read is audited. Reads go through `access_investigation`, which answers
404 outside the user's scope or capability, like every `access_*`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import Substr
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from epicore import idcard
from epicore.errors import ValidationError
from fangkong.accounts import audit
from fangkong.accounts.roles import EDIT_CASES, VIEW_INVESTIGATIONS
from fangkong.cases import actions
from fangkong.cases.models import (
    Case,
    Classification,
    ExposureSource,
    Investigation,
    ItineraryEntry,
    LikelySource,
    NamedContact,
    SourceKind,
    TravelMode,
)
from fangkong.geo.models import Jurisdiction, in_subtree
from fangkong.people.messages import message_for
from fangkong.people.models import Person
from fangkong.venues.models import Venue


@dataclass(frozen=True)
class DeadlineRules:
    key: str
    hours: dict[str, int]  # section -> hours after the case's report
    source: str


# Sections in the order a tracer fills them.
SECTIONS = ("core", "itinerary", "contacts", "report")
SECTION_LABELS = {
    "core": gettext_lazy("Core information"),
    "itinerary": gettext_lazy("Itinerary"),
    "contacts": gettext_lazy("Contacts named by the case"),
    "report": gettext_lazy("Full report"),
}

DEADLINE_RULES = {
    # 24 h for the whole investigation: 《新型冠状病毒肺炎防控方案（第八版）》 and （第九版）,
    # 附件 流行病学调查 ("接到报告后24小时内完成个案调查"), as we recall the text; a search of the
    # stored pages found no copy of the annex to check it against, so it is NOT confirmed.
    # 4 h for the core information: the "4 hours core information, 24 hours report" practice
    # reported in 2022 for local outbreaks; likewise not confirmed against a source text.
    # 12 h for itinerary and named contacts is our assumption: between the two, so that the
    # itinerary feeds a tracing run and named contacts are controlled well within the day.
    "9": DeadlineRules(
        key="9",
        hours={"core": 4, "itinerary": 12, "contacts": 12, "report": 24},
        source="第九版 附件 流行病学调查 (24 h); core 4 h and 12 h: see the comment, unconfirmed",
    ),
}
CURRENT_RULES = "9"

# An itinerary entry may end this far after its start before we ask whether it is a typo
# (longer than a hotel night or a long shift, the longest stays tracing knows of).
LONGEST_ENTRY = timedelta(hours=24)


class InvestigationInvalid(actions.CaseInvalid):
    pass


# ---------------------------------------------------------------- opening, reading, lateness


def open_investigation(actor, case: Case) -> Investigation:
    """Called when a case is opened (in its transaction): the clock starts at the report."""
    rules = DEADLINE_RULES[CURRENT_RULES]
    due = {f"{s}_due": case.reported_at + timedelta(hours=h) for s, h in rules.hours.items()}
    investigator = actor if actor is not None and actor.can(EDIT_CASES) else None
    investigation = Investigation.objects.create(
        case=case, investigator=investigator, deadline_rules=rules.key, **due
    )
    _audit(actor, "investigation.open", investigation, {"rules": rules.key})
    return investigation


def access_investigations(user) -> QuerySet[Investigation]:
    """Investigations of the cases in the user's subtree, for roles that may read them."""
    if not user.is_authenticated or not user.can(VIEW_INVESTIGATIONS) or not user.scope_code:
        return Investigation.objects.none()
    return Investigation.objects.filter(in_subtree("case__jurisdiction_id", user.scope_code))


def access_investigation(user, case_id: int, purpose: str = "view") -> Investigation:
    """The investigation of a case in scope, audited as read; 404 otherwise. A case opened
    before investigations existed gets one here."""
    case = _case_in_scope(user, case_id)
    investigation = Investigation.objects.filter(case=case).select_related("investigator").first()
    if investigation is None:
        with transaction.atomic():
            investigation = open_investigation(None, case)
    investigation.case = case
    if purpose == "view":
        _audit(user, "investigation.view", investigation, {})
    return investigation


def _case_in_scope(user, case_id: int) -> Case:
    found = (
        access_investigations(user)
        .filter(case_id=case_id)
        .select_related("case__person", "case__jurisdiction")
        .first()
    )
    if found is not None:
        return found.case
    # A case without an investigation yet: the same scope and capability, on the case.
    from fangkong.cases.queries import access_case_by_id

    if not user.is_authenticated or not user.can(VIEW_INVESTIGATIONS):
        raise Http404
    return access_case_by_id(user, case_id)


def late(section: str, now: datetime) -> Q:
    """Late: still missing after the deadline, or submitted after it."""
    due, submitted = f"{section}_due", f"{section}_submitted_at"
    return Q(**{f"{submitted}__isnull": True, f"{due}__lt": now}) | Q(
        **{f"{submitted}__gt": F(due)}
    )


def any_late(now: datetime) -> Q:
    condition = Q()
    for section in SECTIONS:
        condition |= late(section, now)
    return condition


@dataclass(frozen=True)
class SectionState:
    name: str
    due: datetime
    submitted_at: datetime | None
    late: bool

    @property
    def label(self) -> str:
        return str(SECTION_LABELS[self.name])


def section_states(investigation: Investigation, now: datetime) -> list[SectionState]:
    states = []
    for name in SECTIONS:
        due = getattr(investigation, f"{name}_due")
        submitted = getattr(investigation, f"{name}_submitted_at")
        is_late = (submitted or now) > due
        states.append(SectionState(name, due, submitted, is_late))
    return states


def late_by_county(investigations: QuerySet[Investigation], now: datetime) -> list[dict]:
    """For headquarters: how many investigations have a late section, per county."""
    rows = (
        investigations.filter(any_late(now))
        .annotate(county=Substr("case__jurisdiction_id", 1, 6))
        .values("county")
        .annotate(n=Count("id"))
        .order_by("-n", "county")
    )
    names = dict(
        Jurisdiction.objects.filter(code__in=[r["county"] for r in rows]).values_list(
            "code", "name"
        )
    )
    return [{"county": r["county"], "name": names.get(r["county"], ""), "n": r["n"]} for r in rows]


# ---------------------------------------------------------------- writes


def _require_editor(actor) -> None:
    if not actor.can(EDIT_CASES):
        raise PermissionError(_("Your role may not record cases."))


def _audit(actor, action: str, investigation: Investigation, details: dict) -> None:
    audit.record(
        actor,
        action,
        object_type="investigation",
        object_id=investigation.pk,
        jurisdiction_code=investigation.case.jurisdiction_id,
        details={"case": investigation.case_id, **details},
    )


def _text(data: Mapping[str, Any], field: str, limit: int) -> str:
    return str(data.get(field) or "").strip()[:limit]


def save_core(actor, investigation: Investigation, data: Mapping[str, Any]) -> None:
    _require_editor(actor)
    investigation.occupation = _text(data, "occupation", 100)
    investigation.workplace = _text(data, "workplace", 200)
    investigation.symptoms = _text(data, "symptoms", 500)
    with transaction.atomic():
        investigation.save(update_fields=["occupation", "workplace", "symptoms", "updated_at"])
        _audit(actor, "investigation.core", investigation, {})


def save_report(actor, investigation: Investigation, data: Mapping[str, Any]) -> None:
    _require_editor(actor)
    investigation.summary = str(data.get("summary") or "").strip()[:20000]
    with transaction.atomic():
        investigation.save(update_fields=["summary", "updated_at"])
        _audit(actor, "investigation.report", investigation, {"chars": len(investigation.summary)})


def take_over(actor, investigation: Investigation) -> None:
    """The actor becomes the investigator answering for the deadlines."""
    _require_editor(actor)
    old = investigation.investigator_id
    investigation.investigator = actor
    with transaction.atomic():
        investigation.save(update_fields=["investigator", "updated_at"])
        _audit(actor, "investigation.assign", investigation, {"old": old, "new": actor.pk})


def submit_section(actor, investigation: Investigation, section: str) -> list[str]:
    """Time-stamp a section as submitted (the first submission counts for the deadline).

    Submitting the itinerary of a traced case starts a tracing run, so the places it names
    are searched at once. Returns notes for the user.
    """
    _require_editor(actor)
    if section not in SECTIONS:
        raise Http404
    field = f"{section}_submitted_at"
    notes: list[str] = []
    with transaction.atomic():
        if getattr(investigation, field) is None:
            setattr(investigation, field, timezone.now())
            investigation.save(update_fields=[field, "updated_at"])
        _audit(actor, "investigation.submit", investigation, {"section": section})
        if section == "itinerary" and _traced_with_venues(investigation):
            from fangkong.cases.tracing import start_run

            run = start_run(actor, [investigation.case])
            notes.append(_("Tracing run #%(run)s started over the itinerary.") % {"run": run.pk})
    return notes


def _traced_with_venues(investigation: Investigation) -> bool:
    traced = investigation.case.classification in actions.TRACED
    return traced and investigation.itinerary.filter(venue__isnull=False).exists()


# ---------------------------------------------------------------- itinerary


def _time(value: Any, field: str, errors: dict[str, str], required: bool) -> datetime | None:
    text = str(value or "").strip()
    if not text:
        if required:
            errors[field] = _("Give a time as YYYY-MM-DD HH:MM.")
        return None
    try:
        parsed = parse_datetime(text)
    except ValueError:  # well formed but impossible, e.g. hour 25
        parsed = None
    if parsed is None:
        errors[field] = _("Give a time as YYYY-MM-DD HH:MM.")
        return None
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


def _check_times(t_in, t_out, errors: dict[str, str], now: datetime) -> None:
    if t_in and t_in > now:
        errors["t_in"] = _("This time is in the future.")
    if t_out and t_out > now:
        errors["t_out"] = _("This time is in the future.")
    if t_in and t_out and t_out < t_in:
        errors["t_out"] = _("The time out is before the time in.")
    elif t_in and t_out and t_out - t_in > LONGEST_ENTRY:
        errors["t_out"] = _("A stay of more than 24 hours: enter each day as its own entry.")


def _place(investigation, data, errors) -> tuple[Venue | None, str, str | None]:
    venue_id = str(data.get("venue") or "").strip()
    place = _text(data, "place", 200)
    code = str(data.get("place_jurisdiction") or "").strip()
    venue = Venue.objects.filter(pk=int(venue_id)).first() if venue_id.isdigit() else None
    if venue_id and venue is None:
        errors["venue"] = _("No such venue.")
    if venue is None and not venue_id:
        if not place:
            errors["place"] = _("Choose a venue, or describe the place.")
        if not Jurisdiction.objects.filter(code=code).exists():
            errors["place_jurisdiction"] = _("Choose the jurisdiction the place is in.")
    return venue, place, (venue.jurisdiction_id if venue else code or None)


def outside_window(case: Case, t_in: datetime, t_out: datetime | None) -> bool:
    end = case.isolated_at
    return (t_out or t_in) < case.window_start or (end is not None and t_in >= end)


def add_itinerary_entry(
    actor, investigation: Investigation, data: Mapping[str, Any]
) -> tuple[ItineraryEntry, list[str]]:
    """Validate and add a place; refuse bad times, keep an entry outside the infectious
    window with a warning (the case may misremember the day; the tracer decides)."""
    _require_editor(actor)
    errors: dict[str, str] = {}
    now = timezone.now()
    t_in = _time(data.get("t_in"), "t_in", errors, required=True)
    t_out = _time(data.get("t_out"), "t_out", errors, required=False)
    _check_times(t_in, t_out, errors, now)
    venue, place, jurisdiction = _place(investigation, data, errors)
    travel = str(data.get("travel") or "")
    if travel not in TravelMode.values:
        errors["travel"] = _("Choose how they travelled.")
    if errors:
        raise InvestigationInvalid(errors)
    case = investigation.case
    entry = ItineraryEntry(
        investigation=investigation,
        person_id=case.person_id,
        venue=venue,
        place=place,
        place_jurisdiction_id=jurisdiction,
        t_in=t_in,
        t_out=t_out,
        travel=travel,
        note=_text(data, "note", 200),
        outside_window=outside_window(case, t_in, t_out),
    )
    with transaction.atomic():
        entry.save()
        _audit(actor, "investigation.itinerary.add", investigation, _entry_details(entry))
    warnings = []
    if entry.outside_window:
        warnings.append(
            _("Kept, but this entry lies outside the infectious window; check the dates.")
        )
    return entry, warnings


def _entry_details(entry: ItineraryEntry) -> dict:
    return {
        "entry": entry.pk,
        "venue": entry.venue_id,
        "place": entry.place,
        "t_in": entry.t_in.isoformat(),
        "t_out": entry.t_out.isoformat() if entry.t_out else None,
        "outside_window": entry.outside_window,
    }


def remove_itinerary_entry(actor, investigation: Investigation, entry_id: int) -> None:
    _require_editor(actor)
    entry = investigation.itinerary.filter(pk=entry_id).first()
    if entry is None:
        raise Http404
    with transaction.atomic():
        details = _entry_details(entry)
        entry.delete()
        _audit(actor, "investigation.itinerary.remove", investigation, details)


def itinerary_stays(windows) -> list[tuple]:
    """The itinerary entries at platform venues of these people inside these windows, shaped
    like check-in rows for tracing: (id, person, venue, t_in, t_out). Ids are negative so they
    never collide with check-in ids in a run's pulled rows."""
    condition = Q(pk__in=[])
    for person_id, start, end in windows:
        condition |= Q(person_id=person_id, t_in__lt=end) & (
            Q(t_out__gt=start) | Q(t_out__isnull=True, t_in__gte=start - LONGEST_ENTRY)
        )
    rows = ItineraryEntry.objects.filter(condition, venue__isnull=False).values_list(
        "id", "person_id", "venue_id", "t_in", "t_out"
    )
    return [(-pk, person, venue, t_in, t_out) for pk, person, venue, t_in, t_out in rows]


# ---------------------------------------------------------------- likely sources


def add_source(actor, investigation: Investigation, data: Mapping[str, Any]) -> LikelySource:
    _require_editor(actor)
    errors: dict[str, str] = {}
    kind = str(data.get("kind") or "")
    if kind not in SourceKind.values:
        errors["kind"] = _("Choose a known case, a known person or a setting.")
    exposed_at = _time(data.get("exposed_at"), "exposed_at", errors, required=False)
    if exposed_at and exposed_at > timezone.now():
        errors["exposed_at"] = _("This time is in the future.")
    source_case = _source_case(data, kind, errors)
    source_person = _source_person(data, kind, errors)
    description = _text(data, "description", 300)
    if kind == SourceKind.SETTING and not description:
        errors["description"] = _("Describe the setting.")
    if errors:
        raise InvestigationInvalid(errors)
    with transaction.atomic():
        source = LikelySource.objects.create(
            investigation=investigation,
            kind=kind,
            source_case=source_case,
            source_person=source_person,
            description=description,
            exposed_at=exposed_at,
        )
        _audit(actor, "investigation.source", investigation, {"kind": kind, "source": source.pk})
    return source


def _source_case(data, kind: str, errors: dict[str, str]) -> Case | None:
    if kind != SourceKind.CASE:
        return None
    number = _text(data, "case_number", 32)
    found = Case.objects.filter(number=number).exclude(classification=Classification.EXCLUDED)
    case = found.first() if number else None
    if case is None:
        errors["case_number"] = _("No case with this number.")
    return case


def _source_person(data, kind: str, errors: dict[str, str]) -> Person | None:
    if kind != SourceKind.PERSON:
        return None
    number, problem = _resident_id(str(data.get("doc_number") or ""))
    if problem:
        errors["doc_number"] = problem
        return None
    person = _registered(number)
    if person is None:
        errors["doc_number"] = _("Nobody with this ID number is registered.")
    return person


# ---------------------------------------------------------------- named contacts


def _resident_id(raw: str) -> tuple[str, str]:
    """(normalised number, "") or (what was typed, the precise problem)."""
    try:
        return idcard.parse_resident_id(raw).number, ""
    except ValidationError as error:
        return idcard.normalize_text(raw), message_for(error)


def _registered(number: str) -> Person | None:
    return Person.objects.filter(doc_type="resident_id", doc_number=number).first()


@dataclass
class NamedContactsResult:
    saved: list[NamedContact]
    problems: list[str]  # one line per row that needs attention, row numbers from 1


def add_named_contacts(
    actor, investigation: Investigation, rows: list[Mapping[str, str]]
) -> NamedContactsResult:
    """Add the people the case named. Each row stands alone: a row without a name is refused
    with its number; a malformed ID number is reported precisely and the row is kept without
    a match (name and phone are still worth a call); every other row is saved."""
    _require_editor(actor)
    result = NamedContactsResult([], [])
    with transaction.atomic():
        for number, row in enumerate(rows, start=1):
            if not any(str(v or "").strip() for v in row.values()):
                continue  # an empty line of the form
            named, problem = _named_contact(investigation, row, number)
            if problem:
                result.problems.append(problem)
            if named is not None:
                named.save()
                result.saved.append(named)
        _audit(
            actor,
            "investigation.contacts.add",
            investigation,
            {"saved": [n.pk for n in result.saved], "problems": len(result.problems)},
        )
    return result


def _named_contact(investigation, row, number: int) -> tuple[NamedContact | None, str]:
    name = str(row.get("name") or "").strip()[:100]
    if not name:
        return None, _("Row %(row)s: give the name; the row was not saved.") % {"row": number}
    errors: dict[str, str] = {}
    exposed_from = _time(row.get("exposed_from"), "exposed_from", errors, required=False)
    exposed_to = _time(row.get("exposed_to"), "exposed_to", errors, required=False)
    _check_times(exposed_from, exposed_to, errors, timezone.now())
    if errors:
        message = "; ".join(errors.values())
        return None, _("Row %(row)s (%(name)s): %(problem)s The row was not saved.") % {
            "row": number,
            "name": name,
            "problem": message,
        }
    named = NamedContact(
        investigation=investigation,
        name=name,
        phone=str(row.get("phone") or "").strip()[:20],
        relation=str(row.get("relation") or "").strip()[:100],
        exposed_from=exposed_from,
        exposed_to=exposed_to,
    )
    return named, _match(named, str(row.get("doc_number") or ""), number)


def _match(named: NamedContact, raw: str, number: int) -> str:
    if not raw.strip():
        return ""
    named.doc_number, named.doc_problem = _resident_id(raw)
    if named.doc_problem:
        return _(
            "Row %(row)s (%(name)s): %(problem)s Saved without a match; correct the number."
        ) % {"row": number, "name": named.name, "problem": named.doc_problem}
    named.person = _registered(named.doc_number)
    return ""


def record_named_contact(actor, investigation: Investigation, named_id: int) -> dict[str, int]:
    """Turn a matched named contact into a close contact of the case through the contact
    actions (one Contact per person; an exposure already known is not added twice)."""
    _require_editor(actor)
    named = investigation.named_contacts.filter(pk=named_id).first()
    if named is None:
        raise Http404
    if named.person_id is None:
        raise InvestigationInvalid(
            {"person": _("Only a contact matched to the register by ID number can be recorded.")}
        )
    case = investigation.case
    start = named.exposed_from or named.exposed_to
    if start is None:
        raise InvestigationInvalid({"exposed_from": _("Give the time of the exposure first.")})
    exposure = actions.ExposureIn(
        person_id=named.person_id,
        via_person_id=case.person_id,
        degree=1,
        start=start,
        end=max(start, named.exposed_to or start),
        place=named.relation,
        source=ExposureSource.NAMED_BY_CASE,
    )
    with transaction.atomic():
        counts = actions.do_record_exposures(actor, case, [exposure])
        from fangkong.cases.models import Contact

        named.contact = Contact.objects.filter(person_id=named.person_id).first()
        named.save(update_fields=["contact"])
        _audit(actor, "investigation.contacts.record", investigation, {"named": named.pk, **counts})
    return counts
