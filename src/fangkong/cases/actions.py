"""Every write to cases and contacts: check_* validates (naming every problem), do_* writes and
audits in one transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from epicore import protocol
from fangkong.accounts import audit
from fangkong.accounts.roles import EDIT_CASES
from fangkong.batches import chunks
from fangkong.cases import bulk_contacts
from fangkong.cases.models import (
    Case,
    CaseCounter,
    CaseEvent,
    Classification,
    Contact,
    ContactStatus,
    Degree,
    Exposure,
    ExposureSource,
)
from fangkong.errors import FieldErrors
from fangkong.healthcode.jobs import request_recolour
from fangkong.healthcode.recolour import contact_degrees_coloured
from fangkong.people.models import Person
from fangkong.people.queries import access_person_by_id
from fangkong.venues.models import Venue


class CaseInvalid(FieldErrors):
    pass


@dataclass(frozen=True)
class CleanCase:
    person: Person
    classification: str
    onset_date: date | None
    sampled_date: date | None
    reported_at: datetime
    isolation_place: str


def _require(actor) -> None:
    if actor is None:
        return  # the platform itself (a background job acting for the run's requester)
    if not actor.can(EDIT_CASES):
        raise PermissionError(_("Your role may not record cases."))


def _date(value: Any, field: str, errors: dict[str, str]) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        parsed = parse_date(str(value).strip())
    except ValueError:  # well formed but impossible, e.g. month 13
        parsed = None
    if parsed is None:
        errors[field] = _("Give a date as YYYY-MM-DD.")
    return parsed


def _reported_at(value: Any, errors: dict[str, str]) -> datetime:
    if value in (None, ""):
        return timezone.now()
    try:
        parsed = value if isinstance(value, datetime) else parse_datetime(str(value).strip())
    except ValueError:  # well formed but impossible, e.g. hour 25
        parsed = None
    if parsed is None:
        errors["reported_at"] = _("Give a time as YYYY-MM-DD HH:MM.")
        return timezone.now()
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


def check_case(actor, person_id: int, data: Mapping[str, Any]) -> CleanCase:
    """Validate a new case; the person must be in the actor's scope (else 404)."""
    _require(actor)
    person = access_person_by_id(actor, person_id, reason="open case")
    errors: dict[str, str] = {}
    classification = str(data.get("classification") or "")
    if classification not in (c.value for c in Classification if c != Classification.EXCLUDED):
        errors["classification"] = _("Choose suspected, confirmed or asymptomatic.")
    onset = _date(data.get("onset_date"), "onset_date", errors)
    sampled = _date(data.get("sampled_date"), "sampled_date", errors)
    reported = _reported_at(data.get("reported_at"), errors)
    today = timezone.localdate(reported)
    for field, day in (("onset_date", onset), ("sampled_date", sampled)):
        if day and day > today:
            errors.setdefault(field, _("This date is after the report."))
    if not onset and not sampled and not {"onset_date", "sampled_date"} & errors.keys():
        errors["onset_date"] = _("Give the onset date, or the sampling date if asymptomatic.")
    if Case.objects.filter(person=person).exclude(classification=Classification.EXCLUDED).exists():
        errors["person"] = _("This person already has an open case.")
    if errors:
        raise CaseInvalid(errors)
    place = str(data.get("isolation_place") or "").strip()[:200]
    return CleanCase(person, classification, onset, sampled, reported, place)


def next_number(prefix: str) -> str:
    """`<prefix>-0001`, `-0002`, ...: never reused, safe under concurrent writers (row lock)."""
    counter, _ = CaseCounter.objects.select_for_update().get_or_create(prefix=prefix)
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"{prefix}-{counter.last:04d}"


def do_open_case(actor, clean: CleanCase) -> Case:
    edition = protocol.edition_on(timezone.localdate(clean.reported_at))
    tz = ZoneInfo(settings.TIME_ZONE)
    with transaction.atomic():
        case = Case.objects.create(
            number=next_number(f"{clean.person.jurisdiction_id[:6]}-{clean.reported_at.year}"),
            person=clean.person,
            jurisdiction_id=clean.person.jurisdiction_id,
            classification=clean.classification,
            onset_date=clean.onset_date,
            sampled_date=clean.sampled_date,
            reported_at=clean.reported_at,
            window_start=protocol.window_start(edition, clean.onset_date, clean.sampled_date, tz),
            protocol=edition.key,
            isolation_place=clean.isolation_place,
            created_by=actor,
        )
        Contact.objects.filter(person=clean.person).exclude(
            status=ContactStatus.BECAME_CASE
        ).update(status=ContactStatus.BECAME_CASE)
        # Someone in a quarantine room or home follow-up goes to hospital: the room is freed
        # for disinfection and the home phase stops.
        from fangkong.quarantine.stays import hand_over_to_case

        hand_over_to_case(clean.person.pk, clean.reported_at)
        audit.record(
            actor,
            "case.open",
            object_type="case",
            object_id=case.pk,
            jurisdiction_code=case.jurisdiction_id,
            details={"number": case.number, "classification": case.classification},
        )
        request_recolour([case.person_id], "fact", f"case:{case.pk}")
        _open_investigation(actor, case)
        if case.classification in TRACED:
            _start_tracing(actor, case)
    return case


def _open_investigation(actor, case: Case):
    from fangkong.cases.investigations import open_investigation  # builds on these actions

    return open_investigation(actor, case)


# Confirmed cases and asymptomatic infections are traced at once (第九版: 密接判定 follows the
# report); a suspected case waits for its result.
TRACED = (Classification.CONFIRMED, Classification.ASYMPTOMATIC)


def _start_tracing(actor, case: Case):
    from fangkong.cases.tracing import start_run  # the run records contacts through this module

    return start_run(actor, [case])


def do_reclassify(actor, case: Case, classification: str, note: str = "") -> Case:
    """Change a case's classification, keeping the history (e.g. asymptomatic -> confirmed)."""
    _require(actor)
    if classification not in Classification.values:
        raise CaseInvalid({"classification": _("Unknown classification.")})
    if classification == case.classification:
        return case
    with transaction.atomic():
        old = case.classification
        case.classification = classification
        case.save(update_fields=["classification"])
        CaseEvent.objects.create(
            case=case, by=actor, field="classification", old=old, new=classification, note=note
        )
        audit.record(
            actor,
            "case.reclassify",
            object_type="case",
            object_id=case.pk,
            jurisdiction_code=case.jurisdiction_id,
            reason=note,
            details={"old": old, "new": classification},
        )
        request_recolour([case.person_id], "fact", f"case:{case.pk}")
        if classification in TRACED and old not in TRACED:
            _start_tracing(actor, case)
    return case


def do_isolate(actor, case: Case, at: datetime, place: str = "") -> Case:
    """Record isolation: it closes the case's infectious window."""
    _require(actor)
    if at < case.window_start:
        raise CaseInvalid({"isolated_at": _("Isolation cannot precede the infectious window.")})
    with transaction.atomic():
        case.isolated_at = at
        case.isolation_place = place or case.isolation_place
        case.save(update_fields=["isolated_at", "isolation_place"])
        audit.record(
            actor,
            "case.isolate",
            object_type="case",
            object_id=case.pk,
            jurisdiction_code=case.jurisdiction_id,
            details={"at": at.isoformat(), "place": case.isolation_place},
        )
    return case


@dataclass(frozen=True)
class ExposureIn:
    person_id: int
    via_person_id: int
    degree: int
    start: datetime
    end: datetime
    venue_id: int | None = None
    place: str = ""
    source: str = ExposureSource.MANUAL


class NotAContact(ValueError):
    pass


# Exposures as one Arrow table: a tracing run hands its million straight from the engine's
# result (as dicts and ExposureIn objects, then COPY text built value by value, they cost ~25 s
# of a dense outbreak's recording: docs/benchmarks.md); lists of ExposureIn are converted.
UTC_MICROSECONDS = pa.timestamp("us", tz="UTC")
EXPOSURE_SCHEMA = pa.schema(
    [("person_id", pa.int64()), ("via_person_id", pa.int64()), ("degree", pa.int64()),
     ("start", UTC_MICROSECONDS), ("end", UTC_MICROSECONDS), ("venue_id", pa.int64()),
     ("place", pa.string()), ("source", pa.string())]
)  # fmt: skip
REQUIRED = ("person_id", "via_person_id", "degree", "start", "end", "place", "source")


def exposure_table(exposures: Sequence[ExposureIn]) -> pa.Table:
    return pa.Table.from_pylist([vars(e) for e in exposures], schema=EXPOSURE_SCHEMA)


def exposures_in(table: pa.Table) -> list[ExposureIn]:
    return [ExposureIn(**row) for row in table.to_pylist()]


def do_record_exposures(
    actor, case: Case, exposures: Sequence[ExposureIn] | pa.Table, push: bool = True
) -> dict[str, int]:
    """Record contacts of `case`: one Contact per person, kept at the lowest degree found.

    Cases are never contacts; an exposure already recorded is not recorded twice. Returns counts
    of contacts created, contacts made closer, exposures added and people skipped as cases.
    Set-wise (a tracing run brings a million exposures, as a table of EXPOSURE_SCHEMA): a
    handful of queries per thousand exposures, whatever their number. Contacts living in other
    counties are pushed there, unless `push` is False (the caller pushes once, later).
    """
    _require(actor)
    table = exposures if isinstance(exposures, pa.Table) else exposure_table(exposures)
    table = table.select(EXPOSURE_SCHEMA.names).cast(EXPOSURE_SCHEMA)
    _check_exposures(table)
    _check_references(table)
    case_people = pa.array(
        Case.objects.exclude(classification=Classification.EXCLUDED).values_list(
            "person_id", flat=True
        ),
        pa.int64(),
    )
    kept = table.filter(pc.invert(pc.is_in(table["person_id"], value_set=case_people)))
    counts = {
        "created": 0,
        "closer": 0,
        "exposures": 0,
        "skipped_cases": table.num_rows - kept.num_rows,
    }
    with transaction.atomic():
        if connection.vendor == "postgresql":
            _record_in_database(case, kept, counts)
        else:
            listed = exposures_in(kept)
            contacts = _contacts_of(case, listed, counts)
            counts["exposures"] = _add_exposures(case, contacts, listed)
        coloured = pa.array(sorted(contact_degrees_coloured()), pa.int64())
        news = table.filter(pc.is_in(table["degree"], value_set=coloured))
        people = pc.unique(news["person_id"]).to_pylist()
        request_recolour(people, "fact", f"case:{case.pk}")
        counts["requests"] = len(_push(actor, case)) if push else 0
        # Last: writing to the audit chain locks its head until commit, and the recolouring
        # workers write to it too (they waited ~6 s behind a long recording).
        audit.record(
            actor,
            "case.contacts",
            object_type="case",
            object_id=case.pk,
            jurisdiction_code=case.jurisdiction_id,
            details=counts,
        )
    return counts


def _push(actor, case):
    from fangkong.cases.assist import push_contacts  # assist builds on these actions

    return push_contacts(actor, case)


DEGREES = pa.array(sorted(Degree.values), pa.int64())


def _check_exposures(table: pa.Table) -> None:
    if any(table[name].null_count for name in REQUIRED):
        raise NotAContact(_("An exposure lacks its person, source, degree or times."))
    if pc.any(pc.less(table["end"], table["start"])).as_py():
        raise NotAContact(_("An exposure cannot end before it starts."))
    if table.num_rows and not pc.all(pc.is_in(table["degree"], value_set=DEGREES)).as_py():
        raise NotAContact(_("Unknown contact degree."))


CHUNK = 2000  # ids per IN list and rows per INSERT


def _check_references(table: pa.Table) -> None:
    """Everyone exposures came through and every venue they name is registered: the database
    does not check these references row by row (Exposure's unchecked references), so this
    asks once per distinct id (a tracing run's million exposures name ~10^5 of them)."""
    via = sorted(pc.unique(table["via_person_id"]).to_pylist())
    if _count_known(Person, via) < len(via):
        raise NotAContact(_("The person an exposure came through is not registered."))
    venues = sorted(pc.unique(table["venue_id"].drop_null()).to_pylist())
    if _count_known(Venue, venues) < len(venues):
        raise NotAContact(_("An exposure names a venue that is not registered."))


def _count_known(model, ids: list[int]) -> int:
    return sum(model.objects.filter(pk__any=chunk).count() for chunk in chunks(ids, CHUNK))


def _per_person(exposures: list[ExposureIn]) -> tuple[dict, dict]:
    """Person -> (lowest degree, latest end) of their exposures, and person -> the degree of
    their first exposure in the list (a contact made closer within one list counts as such)."""
    first: dict[int, int] = {}
    lowest: dict[int, tuple[int, datetime]] = {}
    for e in exposures:
        first.setdefault(e.person_id, e.degree)
        degree, end = lowest.get(e.person_id, (e.degree, e.end))
        lowest[e.person_id] = (min(degree, e.degree), max(end, e.end))
    return lowest, first


def _record_in_database(case: Case, exposures: pa.Table, counts: dict) -> None:
    """PostgreSQL: the same records as _contacts_of and _add_exposures, set-wise."""
    try:
        bulk_contacts.record(case, exposures, counts)
    except LookupError:
        raise NotAContact(_("Nobody with this ID number is registered.")) from None


def _contacts_of(case: Case, exposures: list[ExposureIn], counts: dict) -> dict[int, Contact]:
    """Person -> their Contact, created at the lowest degree of their exposures or made closer
    (then it moves to this case) and its last exposure extended; rows locked until commit."""
    lowest, first = _per_person(exposures)
    people = sorted(lowest)
    known = _locked_contacts(people)
    new = [p for p in people if p not in known]
    places: dict[int, str] = {}
    for chunk in chunks(new, CHUNK):
        places.update(Person.objects.filter(pk__in=chunk).values_list("pk", "jurisdiction_id"))
    if len(places) < len(new):
        raise NotAContact(_("Nobody with this ID number is registered."))
    Contact.objects.bulk_create(
        (Contact(person_id=p, jurisdiction_id=places[p], degree=lowest[p][0], case=case,
                 last_exposure=lowest[p][1]) for p in new),
        batch_size=CHUNK, ignore_conflicts=True,  # one created meanwhile is updated below
    )  # fmt: skip
    counts["created"] = len(new)
    counts["closer"] = sum(1 for p in new if lowest[p][0] < first[p])
    contacts = {**known, **_locked_contacts(new)}
    changed = []
    for person, contact in contacts.items():
        degree, end = lowest[person]
        closer, later = degree < contact.degree, end > contact.last_exposure
        if closer:
            contact.degree, contact.case = degree, case
            counts["closer"] += person in known
        if later:
            contact.last_exposure = end
        if closer or later:
            contact.updated_at = timezone.now()
            changed.append(contact)
    fields = ["degree", "case", "last_exposure", "updated_at"]
    Contact.objects.bulk_update(changed, fields, batch_size=CHUNK)
    return contacts


def _locked_contacts(people: list[int]) -> dict[int, Contact]:
    found: dict[int, Contact] = {}
    for chunk in chunks(people, CHUNK):
        rows = Contact.objects.select_for_update().filter(person_id__in=chunk)
        found.update((c.person_id, c) for c in rows)
    return found


def _add_exposures(case: Case, contacts: dict[int, Contact], exposures: list[ExposureIn]) -> int:
    """Each exposure once per (contact, via, venue, start): the ones already recorded and
    repeats within the list are left out. Returns how many were added."""
    ids = sorted(c.pk for c in contacts.values())
    seen: set[tuple] = set()
    for chunk in chunks(ids, CHUNK):
        seen.update(
            Exposure.objects.filter(contact_id__in=chunk).values_list(
                "contact_id", "via_person_id", "venue_id", "start"
            )
        )
    rows = []
    for e in exposures:
        contact = contacts[e.person_id]
        key = (contact.pk, e.via_person_id, e.venue_id, e.start)
        if key in seen:
            continue
        seen.add(key)
        rows.append(
            Exposure(contact=contact, case=case, via_person_id=e.via_person_id,
                     venue_id=e.venue_id, degree=e.degree, place=e.place[:200], start=e.start,
                     end=e.end, source=e.source)
        )  # fmt: skip
    Exposure.objects.bulk_create(rows, batch_size=CHUNK)
    return len(rows)


# Status moves a contact may make; "became a case" is set when their case is opened.
NEXT_STATUS = {
    ContactStatus.TO_LOCATE: {ContactStatus.LOCATED},
    ContactStatus.LOCATED: {ContactStatus.QUARANTINED, ContactStatus.TO_LOCATE},
    ContactStatus.QUARANTINED: {ContactStatus.RELEASED},
    ContactStatus.RELEASED: set(),
    ContactStatus.BECAME_CASE: set(),
}


def do_set_contact_status(actor, contact: Contact, status: str) -> Contact:
    _require(actor)
    if status not in NEXT_STATUS.get(contact.status, set()):
        raise CaseInvalid(
            {
                "status": _("A contact cannot go from “%(old)s” to “%(new)s”.")
                % {"old": contact.get_status_display(), "new": status}
            }
        )
    with transaction.atomic():
        old = contact.status
        contact.status = status
        contact.save(update_fields=["status", "updated_at"])
        audit.record(
            actor,
            "contact.status",
            object_type="contact",
            object_id=contact.pk,
            jurisdiction_code=contact.jurisdiction_id,
            details={"old": old, "new": status},
        )
        request_recolour([contact.person_id], "fact", f"contact:{contact.pk}")
    return contact
