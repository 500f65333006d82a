"""Tracing in the platform: a confirmed case starts a run of epicore.tracing over its window.

The engine needs check-ins, not the whole table: a run pulls them in stages, so a city with a
hundred million check-ins answers in seconds.
  A. the index cases' own check-ins inside their windows, and the platform venues their
     investigations' itineraries name (as check-ins: cases/investigations.py);
  B. every check-in at those venues during those windows (who was there with them);
  -> the engine finds the close contacts (hop 1);
  C. the close contacts' check-ins from their first exposure on;
  D. every check-in at those venues during those times;
  -> the engine runs both hops on A+B+C+D, which holds every row either hop can use, so the
     answer equals a run over all check-ins (tests/platform/test_tracing_runs.py proves it).
Found contacts become Contact records (recoloured and pushed to their counties by those actions).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import pyarrow as pa
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from epicore import tracing as engine
from fangkong.accounts import audit
from fangkong.cases import actions
from fangkong.cases.investigations import itinerary_stays
from fangkong.cases.models import Case, Classification, RunState, TracingRun
from fangkong.jobs import queue
from fangkong.venues.models import CheckIn, Venue

# A stay is found by its t_in: a check-in that began this long before a window can still overlap
# it (hotel nights and shifts are the longest stays the synthetic city and dwell table know).
LONGEST_STAY = timedelta(hours=24)
VENUE_BATCH = 500
TRACED = (Classification.CONFIRMED, Classification.ASYMPTOMATIC)


def start_run(actor, cases: list[Case], min_overlap_s: int | None = None, hops: int = 2):
    """Queue a tracing run over these cases (called in the caller's transaction)."""
    params = engine.TraceParams()
    run = TracingRun.objects.create(
        jurisdiction_id=cases[0].jurisdiction_id,
        min_overlap_s=params.min_overlap_s if min_overlap_s is None else min_overlap_s,
        hops=hops,
        created_by=actor,
    )
    run.cases.set(cases)
    queue.enqueue("tracing.run", {"run_id": run.pk})
    audit.record(
        actor,
        "tracing.start",
        object_type="tracing_run",
        object_id=run.pk,
        details={"cases": [c.pk for c in cases], "min_overlap_s": run.min_overlap_s, "hops": hops},
    )
    return run


def _windows(cases: list[Case], now: datetime) -> list[tuple[int, datetime, datetime]]:
    return [(c.person_id, c.window_start, c.isolated_at or now) for c in cases]


def _stays(q: Q) -> list[tuple]:
    return list(
        CheckIn.objects.filter(q).values_list("id", "person_id", "venue_id", "t_in", "t_out")
    )


def _overlapping(start: datetime, end: datetime) -> Q:
    return Q(t_in__lt=end, t_in__gte=start - LONGEST_STAY) & (
        Q(t_out__gt=start) | Q(t_out__isnull=True)
    )


def _people_in(windows) -> list[tuple]:
    rows: list[tuple] = []
    for person_id, start, end in windows:
        rows += _stays(Q(person_id=person_id) & _overlapping(start, end))
    return rows


def _co_visitors(stays: list[tuple], windows_by_person: dict[int, tuple]) -> list[tuple]:
    """Everyone at the venues of `stays` while the stay's owner was in their window."""
    spans: dict[int, list[datetime]] = defaultdict(lambda: [None, None])
    for _, person_id, venue_id, t_in, t_out in stays:
        start, end = windows_by_person[person_id]
        span = spans[venue_id]
        low, high = max(start, t_in - LONGEST_STAY), min(end, (t_out or t_in) + LONGEST_STAY)
        span[0] = low if span[0] is None else min(span[0], low)
        span[1] = high if span[1] is None else max(span[1], high)
    rows: list[tuple] = []
    venues = sorted(spans)
    for i in range(0, len(venues), VENUE_BATCH):
        condition = Q()
        for venue_id in venues[i : i + VENUE_BATCH]:
            low, high = spans[venue_id]
            condition |= Q(venue_id=venue_id) & _overlapping(low, high)
        rows += _stays(condition)
    return rows


def _table(rows: dict[int, tuple]) -> pa.Table:
    values = list(rows.values())
    seconds = lambda t: int(t.timestamp()) if t is not None else None  # noqa: E731
    return pa.table(
        {
            "person_id": pa.array([r[1] for r in values], pa.int64()),
            "venue_id": pa.array([r[2] for r in values], pa.int64()),
            "t_in": pa.array([seconds(r[3]) for r in values], pa.int64()),
            "t_out": pa.array([seconds(r[4]) for r in values], pa.int64()),
        }
    )


def _cases_table(windows) -> pa.Table:
    return pa.table(
        {
            "person_id": pa.array([w[0] for w in windows], pa.int64()),
            "t_from": pa.array([int(w[1].timestamp()) for w in windows], pa.int64()),
            "t_to": pa.array([int(w[2].timestamp()) for w in windows], pa.int64()),
        }
    )


def _venues_table(rows: dict[int, tuple]) -> pa.Table:
    ids = sorted({r[2] for r in rows.values()})
    kinds = dict(Venue.objects.filter(pk__in=ids).values_list("id", "kind"))
    return pa.table(
        {
            "venue_id": pa.array(ids, pa.int64()),
            "kind": pa.array([kinds.get(i, "") for i in ids], pa.string()),
        }
    )


def pull(windows, params, now: datetime) -> dict[int, tuple]:
    """Stages A-D above: every check-in the run can need, by id."""
    by_person = {p: (s, e) for p, s, e in windows}
    rows = {r[0]: r for r in _people_in(windows)}
    # The places the cases named in their investigations count as their check-ins: people
    # who were there are found even when the case never scanned the venue code.
    rows.update({r[0]: r for r in itinerary_stays(windows)})
    rows.update({r[0]: r for r in _co_visitors(list(rows.values()), by_person)})
    if params.hops < 2:
        return rows
    first = _engine(rows, windows, _one_hop(params))
    contacts = first.contacts.to_pylist()
    exposed: dict[int, datetime] = {}
    for row in contacts:
        start = row["exposure_start"]
        exposed[row["person_id"]] = min(exposed.get(row["person_id"], start), start)
    second = [(p, t, now) for p, t in exposed.items()]
    own = _people_in(second)
    rows.update({r[0]: r for r in own})
    by_contact = {p: (s, e) for p, s, e in second}
    rows.update({r[0]: r for r in _co_visitors(own, by_contact)})
    return rows


def _one_hop(params):
    from dataclasses import replace

    return replace(params, hops=1)


def _engine(rows, windows, params):
    return engine.trace(
        _table(rows), _cases_table(windows), venues=_venues_table(rows), params=params
    )


@queue.task("tracing.run")
def run_job(job, run_id: int):
    run = TracingRun.objects.get(pk=run_id)
    _set(run, state=RunState.RUNNING, stage="pulling check-ins")
    try:
        counts = execute(run, job)
    except Exception as error:
        _set(run, state=RunState.FAILED, error=str(error)[:2000], finished_at=timezone.now())
        raise
    _set(run, state=RunState.DONE, stage="", counts=counts, finished_at=timezone.now())
    return counts


def _set(run: TracingRun, **fields) -> None:
    for name, value in fields.items():
        setattr(run, name, value)
    run.save(update_fields=list(fields))


def execute(run: TracingRun, job=None) -> dict:
    now = timezone.now()
    cases = list(run.cases.all())
    windows = _windows(cases, now)
    params = engine.TraceParams(min_overlap_s=run.min_overlap_s, hops=run.hops)
    rows = pull(windows, params, now)
    if job is not None:
        queue.report_progress(job, 1, 3, "tracing")
    _set(run, stage="tracing")
    result = _engine(rows, windows, params)
    _set(run, stage="recording contacts", report=_report(result))
    counts = _record(run, cases, result.contacts.to_pylist())
    counts.update(rows_pulled=len(rows), **result.counts())
    if job is not None:
        queue.report_progress(job, 3, 3, "done")
    return counts


def _report(result) -> dict:
    report = result.report
    return {"summary": report.summary(), "timings": dict(report.timings)}


def _record(run: TracingRun, cases: list[Case], contacts: list[dict]) -> dict:
    """Contacts -> exposures of the case they came through (a secondary contact: its close
    contact's case)."""
    case_of = {c.person_id: c for c in cases}
    for row in contacts:
        if row["degree"] == "1":
            case_of.setdefault(row["person_id"], case_of[row["via_person_id"]])
    by_case: dict[int, list] = defaultdict(list)
    for row in contacts:
        case = case_of.get(row["via_person_id"])
        if case is None or row["degree"] not in ("1", "2"):
            continue  # companions come from location pings: not pulled by the platform yet
        by_case[case.pk].append(
            actions.ExposureIn(
                person_id=row["person_id"],
                via_person_id=row["via_person_id"],
                degree=int(row["degree"]),
                start=row["exposure_start"],
                end=row["exposure_end"],
                venue_id=row["venue_id"],
                source="tracing",
            )
        )
    totals: dict[str, int] = defaultdict(int)
    cases_by_pk = {c.pk: c for c in cases}
    with transaction.atomic():
        for case_pk, exposures in by_case.items():
            counts = actions.do_record_exposures(run.created_by, cases_by_pk[case_pk], exposures)
            for key, value in counts.items():
                totals[key] += value
    return dict(totals)
