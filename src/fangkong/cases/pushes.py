"""Pushes from a higher level (上级协查推送): a list of people to find arrives as a file, is checked
row by row, and is split down the tree into one assistance request per county, each linked to the
push it came from.

The file has the column layout of our own assistance lists (docs/assistance-lists.md), so a list
exported by one jurisdiction can be pushed to another. Every bad row is reported with its row
number and column and the good rows are kept: malformed or full-width ID numbers (normalised when
they are only full-width), merged cells (a request number or an exposure merged over several
rows reads as if written on each), a person listed twice, an address outside the receiver's
jurisdiction, an unknown address code.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.accounts import audit
from fangkong.accounts.roles import EDIT_CASES
from fangkong.batches import chunks
from fangkong.cases.actions import next_number
from fangkong.cases.assist import ACK_HOURS, DONE_HOURS, county_of
from fangkong.cases.models import (
    AssistanceEvent,
    AssistanceItem,
    AssistanceRequest,
    RequestState,
)
from fangkong.people.actions import CleanPerson, PersonInvalid, check_person, scope_codes
from fangkong.people.importing import DOC_TYPE_ALIASES, HEADERS, Layout
from fangkong.people.models import Person

PUSH = Layout(
    headers={
        **HEADERS,
        "request": ("协查编号", "request number"),
        "row": ("序号", "row"),
        "exposure": ("暴露情况", "exposure"),
        "state": ("核查状态", "status"),
        "note": ("备注", "note"),
    },
    required=("name", "doc_number", "jurisdiction"),
    value_aliases={"doc_type": DOC_TYPE_ALIASES},
)
EXPOSURE_LENGTH = 300  # AssistanceItem.exposure


@dataclass
class PushReport:
    rows: int = 0
    people_new: int = 0
    people_known: int = 0
    parent: AssistanceRequest | None = None
    parts: list[AssistanceRequest] = field(default_factory=list)
    problems: list[tuple[int, str, str]] = field(default_factory=list)  # row, column, message

    @property
    def bad_rows(self) -> int:
        return len({row for row, _c, _m in self.problems})


@dataclass(frozen=True)
class _Good:
    row: int
    person: CleanPerson
    exposure: str


def import_push(actor, records, source: str) -> PushReport:
    """Check the rows, then in one transaction: register the people not yet known, open the
    push (the parent request, received by the actor's jurisdiction) and one part per county."""
    if actor is not None and not actor.can(EDIT_CASES):
        raise PermissionError("your role may not receive assistance requests")
    report = PushReport()
    good = _check(actor, records, report)
    if good:
        with transaction.atomic():
            people = _people_for(actor, good, report)
            _open_requests(actor, good, people, source.strip()[:100], report)
    report.problems.sort()
    return report


def _check(actor, records, report: PushReport) -> list[_Good]:
    known_codes = scope_codes(actor)
    seen: dict[tuple[str, str], int] = {}
    good = []
    for row, data in records:
        report.rows += 1
        if data.get("_short"):
            report.problems.append(
                (
                    row,
                    "",
                    _("The row has fewer columns than the header: the file may be truncated."),
                )
            )
            continue
        try:
            clean = check_person(actor, data, known_codes)
        except PersonInvalid as invalid:
            report.problems += [(row, PUSH.headers[f][0], m) for f, m in invalid.errors.items()]
            continue
        key = (clean.doc_type, clean.doc_number)
        if key in seen:
            message = _("The same document appears in row %(row)s.") % {"row": seen[key]}
            report.problems.append((row, PUSH.headers["doc_number"][0], message))
            continue
        seen[key] = row
        good.append(_Good(row, clean, str(data.get("exposure") or "")[:EXPOSURE_LENGTH]))
    return good


def _people_for(actor, good: list[_Good], report: PushReport) -> dict[int, int]:
    """Row -> person id: the registered person with that document (wherever registered: they
    are to be found where the list says they are now), else a new registration."""
    numbers = [g.person.doc_number for g in good]
    existing: dict[tuple[str, str], int] = {}
    for part in chunks(numbers, 500):
        chunk = Person.objects.filter(doc_number__in=part)
        for doc_type, doc_number, pk in chunk.values_list("doc_type", "doc_number", "pk"):
            existing[(doc_type, doc_number)] = pk
    new = [g for g in good if (g.person.doc_type, g.person.doc_number) not in existing]
    created = Person.objects.bulk_create([_person(g.person) for g in new], batch_size=2000)
    for g, person in zip(new, created, strict=True):
        existing[(g.person.doc_type, g.person.doc_number)] = person.pk
    if new:
        audit.record(actor, "person.import", object_type="person",
                     jurisdiction_code=actor.scope_code if actor else "",
                     details={"created": len(new), "source": "assistance push"})  # fmt: skip
    report.people_new, report.people_known = len(new), len(good) - len(new)
    return {g.row: existing[(g.person.doc_type, g.person.doc_number)] for g in good}


def _person(clean: CleanPerson) -> Person:
    return Person(
        doc_type=clean.doc_type,
        doc_number=clean.doc_number,
        nationality=clean.nationality,
        name=clean.name,
        sex=clean.sex,
        birth_date=clean.birth_date,
        phone=clean.phone,
        jurisdiction_id=clean.jurisdiction_code,
        address=clean.address,
    )


def split_level(scope: str) -> int:
    """Parts go to counties (where the tracing teams are); a county's own push stays whole."""
    return max(len(scope), 6)


def _open_requests(actor, good, people, source: str, report: PushReport) -> None:
    scope = actor.scope_code if actor else good[0].person.jurisdiction_code[:6]
    now = timezone.now()
    deadlines = {"acknowledge_by": now + timedelta(hours=ACK_HOURS),
                 "complete_by": now + timedelta(hours=DONE_HOURS)}  # fmt: skip
    parent = AssistanceRequest.objects.create(
        number=next_number(f"XS{scope}-{now.year}"), from_jurisdiction_id=scope,
        to_jurisdiction_id=scope, state=RequestState.ACKNOWLEDGED, sent_at=now,
        acknowledged_at=now, source=source, created_by=actor, **deadlines,
    )  # fmt: skip
    by_part: dict[str, list[_Good]] = defaultdict(list)
    level = split_level(scope)
    for g in good:
        by_part[g.person.jurisdiction_code[:level]].append(g)
    for code, rows in sorted(by_part.items()):
        part = AssistanceRequest.objects.create(
            number=next_number(f"XC{county_of(scope)}-{now.year}"), from_jurisdiction_id=scope,
            to_jurisdiction_id=code, sent_at=now, parent=parent, source=source,
            created_by=actor, **deadlines,
        )  # fmt: skip
        AssistanceItem.objects.bulk_create(
            (
                AssistanceItem(request=part, person_id=people[g.row], exposure=g.exposure)
                for g in rows
            ),
            batch_size=2000,
        )
        AssistanceEvent.objects.create(request=part, by=actor, kind="sent", note=parent.number)
        report.parts.append(part)
    AssistanceEvent.objects.create(request=parent, by=actor, kind="received", note=source)
    audit.record(actor, "assist.push_received", object_type="assistance", object_id=parent.pk,
                 jurisdiction_code=scope,
                 details={"source": source, "rows": report.rows, "parts": len(report.parts),
                          "people": len(good), "bad_rows": report.bad_rows})  # fmt: skip
    report.parent = parent
