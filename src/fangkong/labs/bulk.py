"""Bulk import of tube-member results (one row per person sampled), as labs' information
systems export them after a mass-testing day: 1,000,000 rows in well under a minute.

Layout (docs/labs.md): 采样管条码, 证件号码, 采样时间, 检测结果, optional Ct值, 检测机构, 采样点.
Each row is checked on its own and every bad row is reported by row and column; good rows are
kept. A tube's rows must agree on its result; a tube already known is resulted through the
ordinary path (actions.record_result: a repeat is a duplicate, a different result is held).
New tubes, their members, the members' results or recalls and campaign completion are written
set-wise (COPY on PostgreSQL) in one transaction; codes are recoloured by the job queue.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from epicore import idcard
from epicore.errors import ValidationError
from fangkong.accounts import audit
from fangkong.accounts.roles import RECORD_RESULTS
from fangkong.batches import chunks
from fangkong.errors import Refused
from fangkong.healthcode.jobs import request_recolour
from fangkong.jobs import queue
from fangkong.labs import actions
from fangkong.labs.models import (
    CampaignSample,
    Outcome,
    PersonTest,
    ResultUpload,
    Tube,
    TubeMember,
    TubeState,
)
from fangkong.labs.uploads import RESULT_WORDS
from fangkong.people.importing import Layout
from fangkong.people.models import DocType, Person
from fangkong.venues.bulk import copy_rows, copy_text

MEMBER_RESULTS = Layout(
    headers={
        "barcode": ("采样管条码", "条码", "试管条码", "barcode", "tube"),
        "doc_number": ("证件号码", "身份证号", "身份证号码", "id number", "doc_number"),
        "sampled_at": ("采样时间", "sampled at", "sampled_at"),
        "result": ("检测结果", "结果", "result"),
        "ct": ("Ct值", "CT值", "ct", "ct value"),
        "lab": ("检测机构", "lab"),
        "site": ("采样点", "sampling site", "site"),
    },
    required=("barcode", "doc_number", "sampled_at", "result"),
)
_LOOSE_TIME = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?$")


@dataclass
class BulkReport:
    rows: int = 0
    tubes_new: int = 0
    members: int = 0
    tubes_existing: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    positives: int = 0
    problems: list[tuple[int, str, str]] = field(default_factory=list)  # row, column, message

    @property
    def rejected_rows(self) -> int:
        return len({row for row, _c, _m in self.problems})


@dataclass(slots=True)
class _Row:
    number: int
    barcode: str
    doc: str
    sampled_at: datetime
    outcome: str
    ct: float | None
    lab: str
    site: str


def _parse_time(text: str, tz) -> datetime:
    text = text.strip()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        match = _LOOSE_TIME.match(text)
        if match is None:
            raise ValueError(text) from None
        value = datetime(*(int(g) for g in match.groups() if g is not None))
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


def _parse_ct(text: str) -> float | None:
    if not text:
        return None
    value = float(text)
    if not 0 < value <= 50:  # the same bound as actions.record_result
        raise ValueError(text)
    return value


def _check_rows(records, report: BulkReport, default_lab: str) -> list[_Row]:
    """Field checks row by row; the ID numbers are checked together afterwards (vectorised).
    A testing day has a few thousand distinct sampling times: each is parsed once."""
    tz = ZoneInfo(settings.TIME_ZONE)
    times: dict[str, datetime | None] = {}
    rows: list[_Row] = []
    for number, record in records:
        report.rows += 1
        barcode, result = record.get("barcode", ""), record.get("result", "")
        outcome = RESULT_WORDS.get(result) or RESULT_WORDS.get(result.strip().lower())
        if record.get("_short") or outcome is None or not 0 < len(barcode) <= 32:
            report.problems += _row_problems(number, record)
            continue
        text = record["sampled_at"]
        sampled = times.get(text, False)
        if sampled is False:
            sampled = times[text] = _time_or_none(text, tz)
        if sampled is None:
            report.problems.append((number, "采样时间", f"{text!r} is not a date and time"))
            continue
        try:
            ct = _parse_ct(record.get("ct", ""))
        except ValueError:
            report.problems.append((number, "Ct值", f"{record['ct']!r} is not a Ct value in 0–50"))
            continue
        doc = record["doc_number"]
        if not (len(doc) == 18 and doc.isascii()):
            doc = idcard.normalize_text(doc)
        rows.append(_Row(number, barcode, doc.upper(), sampled, outcome, ct,
                         (record.get("lab") or default_lab)[:100], (record.get("site") or "")[:100]))  # fmt: skip
    return _valid_ids(rows, report)


def _time_or_none(text: str, tz) -> datetime | None:
    try:
        return _parse_time(text, tz)
    except ValueError:
        return None


def _row_problems(number: int, record: dict) -> list[tuple[int, str, str]]:
    problems = []
    if record.get("_short"):
        problems.append((number, "", "the row is shorter than the header (truncated file?)"))
    barcode = record.get("barcode", "")
    if not barcode or len(barcode) > 32:
        problems.append((number, "采样管条码", "a tube barcode of 1–32 characters is needed"))
    if record.get("result", "").strip().lower() not in RESULT_WORDS:
        problems.append((number, "检测结果", f"unknown result {record.get('result', '')!r}"))
    return problems


def _valid_ids(rows: list[_Row], report: BulkReport) -> list[_Row]:
    verdicts = idcard.valid_resident_ids([r.doc for r in rows])
    kept = []
    for row, ok in zip(rows, verdicts, strict=True):
        if ok:
            kept.append(row)
            continue
        try:
            idcard.parse_resident_id(row.doc)
            kept.append(row)  # the fast check is stricter nowhere; keep if the precise one agrees
        except ValidationError as error:
            report.problems.append((row.number, "证件号码", error.message))
    return kept


def _resolve_people(rows: list[_Row], report: BulkReport):
    """(row, person id) for the rows whose person is registered, and where each one lives."""
    found = _person_ids({r.doc for r in rows})
    kept, places = [], {}
    for row in rows:
        person = found.get(row.doc)
        if person is None:
            report.problems.append(
                (row.number, "证件号码", "nobody with this ID number is registered")
            )
        else:
            kept.append((row, person[0]))
            places[person[0]] = person[1]
    return kept, places


def _person_ids(numbers: set[str]) -> dict[str, tuple[int, str]]:
    """ID number -> (person id, jurisdiction): one join through a temporary table on
    PostgreSQL."""
    if connection.vendor != "postgresql":
        found: dict[str, int] = {}
        for chunk in chunks(sorted(numbers), 500):
            people = Person.objects.filter(doc_type=DocType.RESIDENT_ID, doc_number__in=chunk)
            for doc, pk, place in people.values_list("doc_number", "pk", "jurisdiction_id"):
                found[doc] = (pk, place)
        return found
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bulk_docs")  # a second import in one transaction
        cursor.execute("CREATE TEMPORARY TABLE bulk_docs (doc varchar(32)) ON COMMIT DROP")
    # Ready COPY lines: the numbers passed the ID check (digits and X), nothing to escape.
    copy_text("bulk_docs", ("doc",), numbers)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT p.doc_number, p.id, p.jurisdiction_id FROM {Person._meta.db_table} p JOIN bulk_docs d "
            "ON p.doc_number = d.doc WHERE p.doc_type = %s",
            [DocType.RESIDENT_ID],
        )
        return {doc: (pk, place) for doc, pk, place in cursor.fetchall()}


def _by_tube(rows: list[tuple[_Row, int]], report: BulkReport) -> dict[str, list[tuple[_Row, int]]]:
    """Group by tube; a tube whose rows disagree on the result, or that holds more people than
    the largest tube, or names a person twice, is reported row by row and left out whole."""
    tubes: dict[str, list[tuple[_Row, int]]] = defaultdict(list)
    for row, person_id in rows:
        tubes[row.barcode].append((row, person_id))
    largest = max(actions.ALLOWED_SIZES)
    for barcode in list(tubes):
        members = tubes[barcode]
        outcomes = {r.outcome for r, _p in members}
        people = [p for _r, p in members]
        reason = None
        if len(outcomes) > 1:
            reason = (
                f"tube {barcode}: its rows give different results ({', '.join(sorted(outcomes))})"
            )
        elif len(members) > largest:
            reason = f"tube {barcode}: {len(members)} people, more than a tube holds ({largest})"
        elif len(set(people)) < len(people):
            reason = f"tube {barcode}: the same person twice"
        if reason:
            report.problems += [(r.number, "采样管条码", reason) for r, _p in members]
            del tubes[barcode]
    return tubes


def import_member_results(
    actor, records, default_lab: str, jurisdiction_code: str, campaign=None
) -> BulkReport:
    """Check, then write everything good in one transaction. `records` as read_table_file gives
    them: (row number, fields) with the MEMBER_RESULTS layout."""
    if actor is not None and not actor.can(RECORD_RESULTS):
        raise PermissionError("your role may not record results")
    report = BulkReport()
    rows = _check_rows(records, report, default_lab)
    with transaction.atomic():
        _check_references_at_once()
        resolved, places = _resolve_people(rows, report)
        tubes = _by_tube(resolved, report)
        known = _known_tubes(list(tubes))
        for barcode in known:
            _result_known_tube(actor, barcode, tubes.pop(barcode), report)
        recall, negative = _write_new_tubes(tubes, jurisdiction_code, campaign, report, places)
        audit.record(actor, "labs.bulk_results", object_type="campaign",
                     object_id=campaign.pk if campaign else None,
                     details={"rows": report.rows, "tubes": report.tubes_new,
                              "members": report.members, "rejected": report.rejected_rows})  # fmt: skip
        # Positives first: their members must turn yellow at once; negatives are facts too.
        for people, priority in ((recall, queue.URGENT), (negative, queue.BACKGROUND)):
            request_recolour(people, "fact", "bulk_results", priority=priority)  # in chunks
    report.problems.sort()
    _refresh_statistics(report)
    return report


def _check_references_at_once() -> None:
    """Django declares foreign keys DEFERRABLE INITIALLY DEFERRED: a million rows would queue
    millions of checks for COMMIT, which then takes longer than the import. Checking each row
    as it is copied is the same work without the queue."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _refresh_statistics(report: BulkReport) -> None:
    """After a mass import the planner's row counts are stale by a million rows, and it picks
    nested loops for completion (seconds instead of milliseconds): ANALYZE what changed."""
    if connection.vendor != "postgresql" or report.members < 10_000 or connection.in_atomic_block:
        return
    tables = (CampaignSample, TubeMember, PersonTest, Tube)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE " + ", ".join(m._meta.db_table for m in tables))


def _known_tubes(barcodes: list[str]) -> set[str]:
    known: set[str] = set()
    for chunk in chunks(barcodes, 5000):
        known.update(Tube.objects.filter(barcode__in=chunk).values_list("barcode", flat=True))
    return known


def _result_known_tube(actor, barcode: str, members, report: BulkReport) -> None:
    first = members[0][0]
    try:
        outcome = actions.record_result(actor, barcode, first.outcome, first.ct, first.lab)
    except Refused as refused:
        report.problems += [(r.number, "采样管条码", refused.message) for r, _p in members]
        return
    report.tubes_existing[outcome] += 1


def _write_new_tubes(
    tubes, jurisdiction_code, campaign, report, places
) -> tuple[list[int], list[int]]:
    now = timezone.now()
    new = [_new_tube(b, members, jurisdiction_code, campaign, now) for b, members in tubes.items()]
    tube_ids = _insert_tubes(new)
    uploads = ((tube_ids[t.barcode], t.outcome, t.ct_value, t.lab, now, True) for t in new)
    copy_rows(
        ResultUpload, ("tube_id", "outcome", "ct_value", "lab", "received_at", "applied"), uploads
    )
    # In person order: the (person, sampled_at) index then takes its entries in key order and
    # its pages stay cached (random order: a third more time for a million members).
    members = sorted(
        ((tube_ids[b], p, r.sampled_at) for b, ms in tubes.items() for r, p in ms),
        key=lambda member: member[1],
    )
    member_lines = (f"{t}\t{p}\t{_iso(at)}" for t, p, at in members)
    copy_rows(TubeMember, ("tube_id", "person_id", "sampled_at"), members, member_lines)
    recall, negative = [], []
    for members in tubes.values():
        bucket = negative if members[0][0].outcome == Outcome.NEGATIVE else recall
        bucket += [p for _r, p in members]
    if connection.vendor == "postgresql":
        _derive_from_members(tube_ids.values(), now, campaign)
    else:
        PersonTest.objects.bulk_create(
            (PersonTest(**dict(zip(PERSON_TEST_COLUMNS, row, strict=True)))
             for row in _person_tests(tubes, tube_ids, now)),
            batch_size=5000,
        )  # fmt: skip
        if campaign is not None:
            _count_samples(campaign, tubes, places)
    report.tubes_new = len(new)
    report.members = len(recall) + len(negative)
    report.positives = sum(1 for t in new if t.outcome != Outcome.NEGATIVE)
    return recall, negative


TUBE_COLUMNS = ("barcode", "size", "site", "jurisdiction_id", "campaign_id", "lab", "state",
                "opened_at", "sealed_at", "outcome", "ct_value", "resulted_at")  # fmt: skip


def _insert_tubes(new: list[Tube]) -> dict[str, int]:
    """Insert the tubes; barcode -> id. COPY then one lookup by barcode on PostgreSQL (Django's
    bulk_create spends more time building SQL for 100,000 tubes than the database needs)."""
    if connection.vendor != "postgresql":
        Tube.objects.bulk_create(new, batch_size=1000)
        barcodes = [t.barcode for t in new]
        found: dict[str, int] = {}
        for chunk in chunks(barcodes, 500):
            found.update(Tube.objects.filter(barcode__in=chunk).values_list("barcode", "pk"))
        return found
    rows = ((t.barcode, t.size, t.site, t.jurisdiction_id, t.campaign_id, t.lab, t.state,
             t.opened_at, t.sealed_at, t.outcome, t.ct_value, t.resulted_at) for t in new)  # fmt: skip
    copy_rows(Tube, TUBE_COLUMNS, rows)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT barcode, id FROM {Tube._meta.db_table} WHERE barcode = ANY(%s)",
            [[t.barcode for t in new]],
        )
        return dict(cursor.fetchall())


@functools.lru_cache(maxsize=65536)
def _iso(moment: datetime) -> str:
    return moment.isoformat()  # a testing day has a few thousand distinct sampling times


def _new_tube(barcode, members, jurisdiction_code, campaign, now) -> Tube:
    first = members[0][0]
    size = min(s for s in actions.ALLOWED_SIZES if s >= len(members))
    return Tube(
        barcode=barcode,
        size=size,
        site=first.site or (campaign.name[:100] if campaign else ""),
        jurisdiction_id=jurisdiction_code,
        campaign=campaign,
        state=TubeState.RESULTED,
        opened_at=min(r.sampled_at for r, _p in members),
        sealed_at=max(r.sampled_at for r, _p in members),
        outcome=first.outcome,
        ct_value=min((r.ct for r, _p in members if r.ct is not None), default=None),
        resulted_at=now,
        lab=first.lab,
    )


PERSON_TEST_COLUMNS = ("person_id", "sampled_at", "reported_at", "outcome", "pooled", "tube_id",
                       "retest_of_id")  # fmt: skip


def _derive_from_members(tube_ids, now, campaign) -> None:
    """PostgreSQL: the members' person results (as _person_tests) and the campaign samples (as
    _count_samples), derived from the members just copied by two INSERT … SELECT: the rows
    never travel back and forth through Python (a third of the time they took as COPY)."""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bulk_tubes")  # a second import in one transaction
        cursor.execute("CREATE TEMPORARY TABLE bulk_tubes (id bigint PRIMARY KEY) ON COMMIT DROP")
    copy_text("bulk_tubes", ("id",), (str(i) for i in tube_ids))
    tube, member = Tube._meta.db_table, TubeMember._meta.db_table
    with connection.cursor() as cursor:
        # Grouping a million members by person spills to disk with the default work_mem (4 MB).
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(
            f"INSERT INTO {PersonTest._meta.db_table} ({', '.join(PERSON_TEST_COLUMNS)}) "
            "SELECT m.person_id, m.sampled_at, "
            "CASE WHEN t.outcome = %(negative)s THEN %(now)s END, "
            "CASE WHEN t.outcome = %(negative)s THEN t.outcome ELSE '' END, true, t.id, "
            "CASE WHEN t.outcome = %(negative)s THEN NULL ELSE t.id END "
            f"FROM bulk_tubes b JOIN {tube} t ON t.id = b.id JOIN {member} m ON m.tube_id = t.id "
            "ORDER BY m.person_id",  # index entries in key order: the index pages stay cached
            {"negative": Outcome.NEGATIVE, "now": now},
        )
        if campaign is None:
            return
        # Completion: each person's first sample in the campaign, with the jurisdiction the
        # person is registered in (people already counted stay as they are; the conflict
        # check is skipped while the campaign has no samples, as for a first mass import).
        first = not CampaignSample.objects.filter(campaign=campaign).exists()
        cursor.execute(
            f"INSERT INTO {CampaignSample._meta.db_table} "
            "(campaign_id, person_id, jurisdiction_id, sampled_at) "
            "SELECT %s, m.person_id, p.jurisdiction_id, min(m.sampled_at) "
            f"FROM bulk_tubes b JOIN {member} m ON m.tube_id = b.id "
            f"JOIN {Person._meta.db_table} p ON p.id = m.person_id "
            "GROUP BY m.person_id, p.jurisdiction_id ORDER BY m.person_id"
            + ("" if first else " ON CONFLICT (campaign_id, person_id) DO NOTHING"),
            [campaign.pk],
        )


def _person_tests(tubes, tube_ids, now):
    """A negative pool gives each member a negative; a positive one a due individual retest."""
    for barcode, members in tubes.items():
        negative = members[0][0].outcome == Outcome.NEGATIVE
        tube_id = tube_ids[barcode]
        for row, person_id in members:
            if negative:
                yield (person_id, row.sampled_at, now, Outcome.NEGATIVE, True, tube_id, None)
            else:
                yield (person_id, row.sampled_at, None, "", True, tube_id, tube_id)


def _count_samples(campaign, tubes, places: dict[int, str]) -> None:
    """Completion (other databases; see _derive_from_members): each person's first sample in
    the campaign (people already counted stay)."""
    first: dict[int, datetime] = {}
    for members in tubes.values():
        for row, person_id in members:
            if person_id not in first or row.sampled_at < first[person_id]:
                first[person_id] = row.sampled_at
    CampaignSample.objects.bulk_create(
        (CampaignSample(campaign_id=campaign.pk, person_id=p, jurisdiction_id=places[p], sampled_at=at)
         for p, at in first.items()),
        ignore_conflicts=True, batch_size=5000,
    )  # fmt: skip
