"""Tracing in the platform: a confirmed case starts a run of epicore.tracing over its window.

The engine needs check-ins, not the whole table: a run pulls them in stages, so a city with a
hundred million check-ins answers in seconds.
  A. the index cases' own check-ins inside their windows, and the platform venues their
     investigations' itineraries name (as check-ins: cases/investigations.py);
  B. every check-in at those venues during those windows (who was there with them);
  -> the engine finds the close contacts (hop 1), recorded at once (_CloseContactsFirst);
  C. the close contacts' check-ins from their first exposure on;
  D. every check-in at those venues during those times;
  -> the engine runs both hops on A+B+C+D, which holds every row either hop can use, so the
     answer equals a run over all check-ins (tests/platform/test_tracing_runs.py proves it).
Found contacts become Contact records (recoloured and pushed to their counties by those actions).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import defaultdict
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from epicore import tracing as engine
from fangkong.accounts import audit
from fangkong.batches import chunks, commits_beside, in_own_connections
from fangkong.cases import actions
from fangkong.cases.assist import push_contacts
from fangkong.cases.investigations import itinerary_stays
from fangkong.cases.models import Case, Classification, RunState, TracingRun
from fangkong.jobs import queue
from fangkong.venues.bulk import copy_text, export_snapshot, read_beside, read_int64_columns
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
    # Urgent: contacts found minutes earlier are contacts quarantined before they infect others
    # (the mission's "within minutes"); recolouring and reports can wait behind a trace.
    queue.enqueue("tracing.run", {"run_id": run.pk}, priority=queue.URGENT)
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


def _long_enough_q(shortest_s: int) -> Q:
    """Stays that can hold an exposure (see _long_enough)."""
    return Q(t_out__isnull=True) | Q(t_out__gt=F("t_in") + timedelta(seconds=shortest_s - 1))


def _people_in(windows) -> list[tuple]:
    rows: list[tuple] = []
    for person_id, start, end in windows:
        rows += _stays(Q(person_id=person_id) & _overlapping(start, end))
    return rows


def _co_visitors(
    stays: list[tuple], windows_by_person: dict[int, tuple], shortest_s: int
) -> list[tuple]:
    """Everyone at the venues of `stays` while the stay's owner was in their window, in a stay
    long enough to hold an exposure."""
    spans: dict[int, list[datetime]] = defaultdict(lambda: [None, None])
    for _, person_id, venue_id, t_in, t_out in stays:
        start, end = windows_by_person[person_id]
        span = spans[venue_id]
        low, high = max(start, t_in - LONGEST_STAY), min(end, (t_out or t_in) + LONGEST_STAY)
        span[0] = low if span[0] is None else min(span[0], low)
        span[1] = high if span[1] is None else max(span[1], high)
    rows: list[tuple] = []
    venues = sorted(spans)
    for batch in chunks(venues, VENUE_BATCH):
        condition = Q()
        for venue_id in batch:
            low, high = spans[venue_id]
            condition |= Q(venue_id=venue_id) & _overlapping(low, high)
        rows += _stays(condition & _long_enough_q(shortest_s))
    return rows


PULLED_SCHEMA = pa.schema(
    [("id", pa.int64()), ("person_id", pa.int64()), ("venue_id", pa.int64()),
     ("t_in", pa.int64()), ("t_out", pa.int64())]
)  # fmt: skip


def _table(rows: dict[int, tuple]) -> pa.Table:
    values = list(rows.values())
    seconds = lambda t: int(t.timestamp()) if t is not None else None  # noqa: E731
    columns = [
        [r[0] for r in values],
        [r[1] for r in values],
        [r[2] for r in values],
        [seconds(r[3]) for r in values],
        [seconds(r[4]) for r in values],
    ]
    return pa.Table.from_arrays(
        [pa.array(c, f.type) for c, f in zip(columns, PULLED_SCHEMA, strict=True)],
        schema=PULLED_SCHEMA,
    )


def _cases_table(windows) -> pa.Table:
    return pa.table(
        {
            "person_id": pa.array([w[0] for w in windows], pa.int64()),
            "t_from": pa.array([int(w[1].timestamp()) for w in windows], pa.int64()),
            "t_to": pa.array([int(w[2].timestamp()) for w in windows], pa.int64()),
        }
    )


def _venues_table(venue_ids) -> pa.Table:
    ids = sorted(set(venue_ids))
    kinds: dict[int, str] = {}
    for chunk in chunks(ids, 10_000):
        kinds.update(Venue.objects.filter(pk__in=chunk).values_list("id", "kind"))
    return pa.table(
        {
            "venue_id": pa.array(ids, pa.int64()),
            "kind": pa.array([kinds.get(i, "") for i in ids], pa.string()),
        }
    )


class _Clock:
    """Seconds and rows per pull stage, for the run's report (where a slow run spends it)."""

    def __init__(self) -> None:
        self.stages: dict[str, dict] = {}
        self.mark = time.perf_counter()

    def lap(self, stage: str, rows: int) -> None:
        now = time.perf_counter()
        self.stages[stage] = {"seconds": round(now - self.mark, 2), "rows": rows}
        self.mark = now


def pull(
    windows, params, now: datetime, clock: _Clock | None = None, on_first_hop=None
) -> pa.Table:
    """Stages A-D above: every check-in the run can need, once each (PULLED_SCHEMA).
    on_first_hop, if given, receives hop 1's contacts as soon as the engine has found them."""
    clock = clock or _Clock()
    hand_over = on_first_hop or (lambda contacts: None)
    if connection.vendor == "postgresql":
        return _pull_in_database(windows, params, now, clock, hand_over)
    by_person = {p: (s, e) for p, s, e in windows}
    rows = {r[0]: r for r in _people_in(windows)}
    # The places the cases named in their investigations count as their check-ins: people
    # who were there are found even when the case never scanned the venue code.
    rows.update({r[0]: r for r in itinerary_stays(windows)})
    clock.lap("A cases' check-ins", len(rows))
    shortest = params.shortest_stay_s
    rows.update({r[0]: r for r in _co_visitors(list(rows.values()), by_person, shortest)})
    clock.lap("B co-visitors", len(rows))
    if params.hops < 2:
        return _table(rows)
    first = _engine(_table(rows), windows, _one_hop(params))
    hand_over(first.contacts)
    second = _second_windows(first, now, clock)
    own = _people_in(second)
    rows.update({r[0]: r for r in own})
    clock.lap("C contacts' check-ins", len(own))
    by_contact = {p: (s, e) for p, s, e in second}
    rows.update({r[0]: r for r in _co_visitors(own, by_contact, shortest)})
    clock.lap("D their co-visitors", len(rows))
    return _table(rows)


def _second_windows(first, now: datetime, clock: _Clock) -> list[tuple]:
    """Close contacts' windows: from their first exposure until now (第九版: 密接的密接)."""
    contacts = first.contacts.to_pylist()
    clock.lap("hop 1", len(contacts))
    exposed: dict[int, datetime] = {}
    for row in contacts:
        start = row["exposure_start"]
        exposed[row["person_id"]] = min(exposed.get(row["person_id"], start), start)
    return [(p, t, now) for p, t in exposed.items()]


# PostgreSQL: the same stages as set-wise statements over temporary tables, and one COPY of the
# result into Arrow. A dense outbreak's second hop needs millions of check-ins: as Python
# tuples they took minutes and gigabytes (issue 4's end-to-end benchmark, docs/benchmarks.md).
CHECKINS = CheckIn._meta.db_table
REACH = f"interval '{int(LONGEST_STAY.total_seconds())} seconds'"


def _overlaps(stay: str, window: str) -> str:
    """The stay overlaps [lo, hi) of the window: found by its t_in through the (person|venue,
    t_in) indexes, reaching back as far as the longest stay."""
    c, w = stay, window
    return f"{c}.t_in < {w}.hi AND {c}.t_in >= {w}.lo - {REACH} AND ({c}.t_out > {w}.lo OR {c}.t_out IS NULL)"


def _long_enough(stay: str, shortest_s: int) -> str:
    """The stay can hold an exposure: the engine keeps only stays of at least shortest_s
    seconds once their times are floored to whole seconds, which those longer than
    shortest_s - 1 seconds can reach; a stay without t_out gets its dwell there. In the
    benchmark city 40 % of the check-ins are shorter than the 15-minute minimum overlap, so
    the co-visitor stages leave them in the database (docs/benchmarks.md)."""
    return f"({stay}.t_out IS NULL OR {stay}.t_out > {stay}.t_in + interval '{shortest_s - 1} seconds')"


def _pull_in_database(windows, params, now: datetime, clock: _Clock, hand_over) -> pa.Table:
    outermost = not connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        if outermost:
            # One snapshot for every stage: a check-out recorded between two stages cannot make
            # them disagree about a row (the last stage relies on it, see _fetch_pulled).
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        # The anti-joins hash the rows pulled so far and the spans aggregate: both spill to
        # disk with the default work_mem (4 MB) in a dense outbreak.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        return _pull_stages(cursor, windows, params, now, clock, hand_over, outermost)


def _pull_stages(
    cursor, windows, params, now: datetime, clock: _Clock, hand_over, outermost: bool
) -> pa.Table:
    for table in ("trace_windows", "trace_pulled", "trace_own"):
        cursor.execute(f"DROP TABLE IF EXISTS {table}")  # an earlier run in this session
    cursor.execute(
        "CREATE TEMPORARY TABLE trace_windows (person_id bigint, lo timestamptz, hi timestamptz)"
    )
    for table in ("trace_pulled", "trace_own"):
        cursor.execute(
            f"CREATE TEMPORARY TABLE {table} (id bigint, person_id bigint, venue_id bigint, "
            "t_in timestamptz, t_out timestamptz)"
        )
    copy_text("trace_windows", ("person_id", "lo", "hi"), windows)
    _stays_of_windows(cursor, "trace_pulled")
    copy_text("trace_pulled", ("id", "person_id", "venue_id", "t_in", "t_out"),
              itinerary_stays(windows))  # fmt: skip
    clock.lap("A cases' check-ins", _rows(cursor, "trace_pulled"))
    shortest = params.shortest_stay_s
    _co_visitors_of(cursor, "trace_pulled", shortest)
    clock.lap("B co-visitors", _rows(cursor, "trace_pulled"))
    if params.hops < 2:
        return _fetch_pulled()
    first = _engine(_fetch_pulled(), windows, _one_hop(params))
    hand_over(first.contacts)
    second = _second_windows(first, now, clock)
    cursor.execute("TRUNCATE trace_windows")
    copy_text("trace_windows", ("person_id", "lo", "hi"), second)
    cursor.execute("ANALYZE trace_windows")
    _stays_of_windows(cursor, "trace_own")
    cursor.execute(f"INSERT INTO trace_pulled SELECT * FROM trace_own c WHERE {NOT_PULLED}")
    clock.lap("C contacts' check-ins", _rows(cursor, "trace_own"))
    _spans_of(cursor, "trace_own")
    if outermost:
        table = _fetch_last_stage_beside(cursor, shortest)
    else:
        table = _fetch_pulled(with_co_visitors_of=shortest)
    clock.lap("D their co-visitors", table.num_rows)
    return table


def _rows(cursor, table: str) -> int:
    cursor.execute(f"SELECT count(*) FROM {table}")
    return cursor.fetchone()[0]


# Each check-in is pulled once: the stages overlap (B finds A's rows again, C many of B's),
# and dropping repeats afterwards in Arrow cost 7-12 s for a dense outbreak's 19 M rows.
NOT_PULLED = "NOT EXISTS (SELECT 1 FROM trace_pulled p WHERE p.id = c.id)"


def _stays_of_windows(cursor, into: str) -> None:
    """The windows' people's own check-ins in their windows (stages A and C)."""
    cursor.execute("ANALYZE trace_windows")
    cursor.execute(
        f"INSERT INTO {into} SELECT c.id, c.person_id, c.venue_id, c.t_in, c.t_out "
        f"FROM trace_windows w JOIN {CHECKINS} c ON c.person_id = w.person_id "
        f"AND {_overlaps('c', 'w')}"
    )


def _co_visitors_of(cursor, source: str, shortest_s: int) -> None:
    """Everyone at the venues of `source`'s stays while their owner was in their window, in a
    stay long enough, as _co_visitors does (stage B), added to trace_pulled."""
    _spans_of(cursor, source)
    cursor.execute("ANALYZE trace_pulled")
    cursor.execute(
        "INSERT INTO trace_pulled SELECT c.id, c.person_id, c.venue_id, c.t_in, c.t_out "
        f"FROM trace_spans sp JOIN {CHECKINS} c ON c.venue_id = sp.venue_id "
        f"AND {_overlaps('c', 'sp')} WHERE {_long_enough('c', shortest_s)} AND {NOT_PULLED}"
    )


def _spans_of(cursor, source: str) -> None:
    """trace_spans: per venue of `source`'s stays, the time their owners could meet others
    there (within their windows)."""
    cursor.execute("DROP TABLE IF EXISTS trace_spans")
    cursor.execute(
        "CREATE TEMPORARY TABLE trace_spans AS SELECT s.venue_id, "
        f"min(greatest(w.lo, s.t_in - {REACH})) AS lo, "
        f"max(least(w.hi, coalesce(s.t_out, s.t_in) + {REACH})) AS hi "
        f"FROM {source} s JOIN trace_windows w ON w.person_id = s.person_id GROUP BY s.venue_id"
    )
    cursor.execute("ANALYZE trace_spans")


# Stage D in a dense outbreak is most of the table (19 M of 28 M check-ins): inserted into
# trace_pulled with an anti-join, then copied out, it took ~29 s. Streamed straight into the
# COPY instead, each check-in once: every row at the spans, plus the rows pulled earlier that
# the spans do not cover (the same test on the same snapshot: _pull_in_database). Itinerary
# entries (negative ids) are never check-ins, so always kept.
SELECTED = "{c}.id, {c}.person_id, {c}.venue_id, {c}.t_in, coalesce({c}.t_out, '-infinity')"
# trace_spans holds one row per venue, so a left join finds the one span a row could be in (an
# OR with NOT EXISTS made PostgreSQL scan the spans once per earlier row).
EARLIER_NOT_AT_SPANS = (
    f"SELECT {SELECTED.format(c='p')} FROM trace_pulled p "
    "LEFT JOIN trace_spans sp ON sp.venue_id = p.venue_id "
    f"WHERE p.id < 0 OR sp.venue_id IS NULL OR NOT ({_overlaps('p', 'sp')})"
)


def _at_spans(shortest_s: int) -> str:
    return (
        f"SELECT {SELECTED.format(c='c')} FROM trace_spans sp JOIN {CHECKINS} c "
        f"ON c.venue_id = sp.venue_id AND {_overlaps('c', 'sp')} "
        f"WHERE {_long_enough('c', shortest_s)}"
    )


def _fetch_pulled(with_co_visitors_of: int | None = None) -> pa.Table:
    """trace_pulled (each check-in once) into Arrow through one binary COPY (times in whole
    seconds, floored as the engine's loader does); with_co_visitors_of (a shortest stay in
    seconds): and everyone at trace_spans in a stay that long (stage D). Rows pulled earlier
    that are at the spans but shorter are left out: the engine would drop them."""
    if with_co_visitors_of is not None:
        at_spans = _at_spans(with_co_visitors_of)
        return _read_pulled(f"{EARLIER_NOT_AT_SPANS} UNION ALL {at_spans}")
    return _read_pulled(f"SELECT {SELECTED.format(c='p')} FROM trace_pulled p")


def _read_pulled(query: str) -> pa.Table:
    """`query`'s rows (SELECTED) through one binary COPY on the run's connection."""
    return read_int64_columns(query, tuple(PULLED_SCHEMA.names), times=("t_in", "t_out"))


# Stage D in a dense outbreak is most of the check-in table (24 M of 27 M rows): then it is read
# by READERS other connections at once, each scanning its own range of the table's pages and
# hashing the spans, in C++ (venues.bulk.read_beside, sharing the pull's snapshot). PostgreSQL's
# side runs on both cores, and Python no longer handles a COPY message per row (24 M rows: 32 s
# through _fetch_pulled). The spans travel in the query as array literals: the readers cannot
# see this session's temporary tables. A smaller stage D stays on _fetch_pulled's path, whose
# index scans read only the spans' rows.
READERS = 2
MOST_OF_THE_TABLE = 0.25  # of the check-in table
# The readers hash the spans and scan their pages (the planner, blind to how many rows the
# literal spans match, would probe the index once per span: 84 s instead of ~20 s for 24 M
# rows), without parallel workers of their own (two readers already fill two cores).
READER_SETTINGS = {
    "enable_nestloop": "off",
    "enable_mergejoin": "off",
    "max_parallel_workers_per_gather": "0",
}


def _fetch_last_stage_beside(cursor, shortest_s: int) -> pa.Table:
    """What _fetch_pulled(with_co_visitors_of=shortest_s) gives; read beside when it is most
    of the table."""
    if _share_at_spans(cursor) < MOST_OF_THE_TABLE:
        return _fetch_pulled(with_co_visitors_of=shortest_s)
    snapshot = export_snapshot()
    cursor.execute("SELECT venue_id, lo::text, hi::text FROM trace_spans ORDER BY venue_id")
    spans = cursor.fetchall()
    cursor.execute(f"SELECT pg_relation_size('{CHECKINS}') / current_setting('block_size')::int")
    pages = cursor.fetchone()[0]
    bounds = [pages * n // READERS for n in range(READERS)] + [None]
    queries = [_at_spans_of(spans, lo, hi, shortest_s) for lo, hi in itertools.pairwise(bounds)]
    earlier = _read_pulled(EARLIER_NOT_AT_SPANS)
    tables = read_beside(queries, snapshot, settings=READER_SETTINGS)
    return pa.concat_tables([earlier, *(_pulled_from_timestamps(t) for t in tables)])


def _share_at_spans(cursor) -> float:
    """The share of all check-ins that are at the spans, counted in 1 % of the table's pages
    (the planner's estimate was 814,000 rows for 24 M: it cannot see how the times match)."""
    cursor.execute(
        "SELECT count(sp.venue_id)::float / greatest(count(*), 1) "
        f"FROM {CHECKINS} c TABLESAMPLE SYSTEM (1) REPEATABLE (0) "
        f"LEFT JOIN trace_spans sp ON sp.venue_id = c.venue_id AND {_overlaps('c', 'sp')}"
    )
    return cursor.fetchone()[0]


def _at_spans_of(
    spans: list[tuple[int, str, str]], first_page: int, end_page: int | None, shortest_s: int
) -> str:
    """Every check-in on the pages [first_page, end_page) of the table at the spans, in a stay
    of at least shortest_s seconds (_long_enough)."""
    venue_ids, los, his = zip(*spans, strict=True) if spans else ((), (), ())
    # Grouped by venue (one span each already) so that the planner knows venue_id is unique
    # there: an unnest's columns have no statistics, and guessing 200 distinct venues among
    # 10,000 spans it hashed the check-ins' side instead (the readers took 15 s for 14.7 M rows
    # instead of 8.5 s, docs/benchmarks.md).
    given = (
        "(SELECT venue_id, min(lo) AS lo, max(hi) AS hi FROM "
        f"unnest({_array(map(str, venue_ids))}::bigint[], {_array(los)}::timestamptz[], "
        f"{_array(his)}::timestamptz[]) AS given(venue_id, lo, hi) GROUP BY venue_id) AS sp"
    )
    pages = f"c.ctid >= '({first_page},0)'::tid"
    if end_page is not None:
        pages += f" AND c.ctid < '({end_page},0)'::tid"
    return (
        f"SELECT c.id, c.person_id, c.venue_id, c.t_in, c.t_out FROM {given} JOIN {CHECKINS} c "
        f"ON c.venue_id = sp.venue_id AND {_overlaps('c', 'sp')} "
        f"WHERE {pages} AND {_long_enough('c', shortest_s)}"
    )


def _array(values) -> str:
    """An array literal of integers or PostgreSQL's own timestamp text (no quotes in either)."""
    items = ",".join(f'"{v}"' for v in values)
    return "'{" + items + "}'"


def _pulled_from_timestamps(table: pa.Table) -> pa.Table:
    """Rows as the readers give them (times as timestamps, a missing t_out null) in
    PULLED_SCHEMA, times floored to whole seconds as read_int64_columns does."""
    columns = {name: table[name].cast(pa.int64()) for name in ("id", "person_id", "venue_id")}
    for name in ("t_in", "t_out"):
        micros = table[name].combine_chunks().cast(pa.int64())
        values = np.floor_divide(micros.fill_null(0).to_numpy(), 1_000_000)
        missing = micros.is_null().to_numpy(zero_copy_only=False)
        columns[name] = pa.array(values, pa.int64(), mask=missing if missing.any() else None)
    return pa.table(columns, schema=PULLED_SCHEMA)


def _one_hop(params):
    from dataclasses import replace

    return replace(params, hops=1)


def _engine(table: pa.Table, windows, params):
    checkins = table.select(["person_id", "venue_id", "t_in", "t_out"])
    venues = _venues_table(pc.unique(table["venue_id"]).to_pylist())
    return engine.trace(checkins, _cases_table(windows), venues=venues, params=params)


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
    # No count of identical check-ins: the pull gives each stored check-in once, repeated
    # scans are merged when they arrive (venues.scanning), and repeats never change contacts;
    # counting them was 1.5 s of the engine's 7 s on a dense outbreak's 19 M pulled rows.
    params = engine.TraceParams(
        min_overlap_s=run.min_overlap_s, hops=run.hops, check_duplicates=False
    )
    clock = _Clock()
    early = _CloseContactsFirst(run, cases)
    try:
        rows = pull(windows, params, now, clock, on_first_hop=early.start)
        if job is not None:
            queue.report_progress(job, 1, 3, "tracing")
        _set(run, stage="tracing")
        result = _engine(rows, windows, params)
        clock.lap("trace", len(rows))
    finally:
        early.join()  # never left writing behind a failed run
    recorded_early = early.finish(clock)
    _set(run, stage="recording contacts", report={**_report(result), "pull": clock.stages})
    counts = dict(_summed([_record(run, cases, result.contacts, recorded_early), early.counts]))
    clock.lap("record", counts.get("created", 0))
    _set(run, report={**run.report, "pull": clock.stages})
    counts.update(rows_pulled=rows.num_rows, **result.counts())
    if job is not None:
        queue.report_progress(job, 3, 3, "done")
    return counts


def _report(result) -> dict:
    report = result.report
    return {"summary": report.summary(), "timings": dict(report.timings)}


# Contacts are recorded in pieces, each committed, so their codes are recoloured by the other
# workers while the next piece is written: in a dense outbreak one transaction held a million
# contacts for ~38 s while a worker sat idle, then ~45 s of recolouring began (docs/benchmarks.md).
# Close contacts go first (their codes turn red first). A run that dies halfway keeps the pieces
# written; its retry records the rest (recording is idempotent).
RECORD_PIECE = 100_000  # secondary contacts per transaction


def _record(
    run: TracingRun, cases: list[Case], contacts: pa.Table, recorded_early: pa.Array | None = None
) -> dict:
    """Contacts -> exposures of the case they came through (a secondary contact: its close
    contact's case), handed over as tables (actions.EXPOSURE_SCHEMA) in committed pieces; then
    each case's contacts in other counties are pushed there, once. People in `recorded_early`
    (_CloseContactsFirst) are not recorded again."""
    exposures, case_pk = _exposures_of(contacts, cases)
    traced = {case.pk for case in cases if pc.any(pc.equal(case_pk, case.pk)).as_py()}
    if recorded_early is not None:
        kept = pc.invert(pc.is_in(exposures["person_id"], value_set=recorded_early))
        exposures, case_pk = exposures.filter(kept), case_pk.filter(kept)
    split = [(case, *_pieces(exposures.filter(pc.equal(case_pk, case.pk)))) for case in cases]
    # Every case's close contacts before anyone's secondary contacts.
    close_pieces = [(case, close) for case, close, _ in split]
    secondary = [(case, piece) for case, _, pieces in split for piece in pieces]
    totals = _summed(
        [_write(run.created_by, close_pieces), _write_beside(run.created_by, secondary)]
    )
    for case in cases:
        if case.pk in traced:  # one request per county, each its own transaction
            totals["requests"] += len(push_contacts(run.created_by, case))
    return dict(totals)


def _exposures_of(contacts: pa.Table, cases: list[Case]) -> tuple[pa.Table, pa.Array]:
    """The engine's contacts as exposures (actions.EXPOSURE_SCHEMA), and each one's case."""
    # Companions come from location pings: not pulled by the platform yet.
    traced = contacts.filter(pc.is_in(contacts["degree"], value_set=pa.array(["1", "2"])))
    exposures = pa.table(
        {
            "person_id": traced["person_id"],
            "via_person_id": traced["via_person_id"],
            "degree": pc.cast(traced["degree"], pa.int64()),
            "start": pc.cast(traced["exposure_start"], actions.UTC_MICROSECONDS),
            "end": pc.cast(traced["exposure_end"], actions.UTC_MICROSECONDS),
            "venue_id": traced["venue_id"],
            "place": pa.repeat("", traced.num_rows),
            "source": pa.repeat("tracing", traced.num_rows),
        }
    )
    return exposures, _case_of_each(traced, cases)


def _write(actor, pieces: list[tuple[Case, pa.Table]]) -> dict[str, int]:
    """Each (case, exposures) piece in its own transaction; the summed counts."""
    done = []
    for case, piece in pieces:
        if piece.num_rows:
            with transaction.atomic():
                done.append(actions.do_record_exposures(actor, case, piece, push=False))
    return _summed(done)


def _summed(counts: list[dict[str, int]]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for one in counts:
        for key, value in one.items():
            totals[key] += value
    return totals


# Secondary contacts' pieces are written by this many connections at once on PostgreSQL: a
# piece is ~2 s of inserts by one PostgreSQL backend, one core, while the run's own process
# waits (docs/benchmarks.md). Pieces hold disjoint people (_pieces), so they never wait on each
# other's rows, only briefly on the audit chain's head at the end of each.
RECORD_CONNECTIONS = 2


def _write_beside(actor, pieces: list[tuple[Case, pa.Table]], threaded=None) -> dict[str, int]:
    """_write, the pieces shared among RECORD_CONNECTIONS threads with their own connections
    (PostgreSQL, outside a transaction: each piece commits on its own); inline otherwise."""
    if threaded is None:
        threaded = commits_beside()
    if not threaded or RECORD_CONNECTIONS < 2 or len(pieces) < 2:
        return _write(actor, pieces)
    shares = [pieces[n::RECORD_CONNECTIONS] for n in range(RECORD_CONNECTIONS)]
    return _summed(in_own_connections(lambda share: _write(actor, share), shares))


class _CloseContactsFirst:
    """Records hop 1's close contacts while stages C and D are still being pulled, so their
    codes turn red half a minute sooner in a dense outbreak (docs/benchmarks.md).

    Hop 1 already names every close contact with the exposure the full run reports: stage B
    pulled every check-in hop 1 can use, and the second hop adds only secondary contacts. The
    pull holds one snapshot in one transaction, which cannot commit halfway, so on PostgreSQL
    the close contacts are written by a thread with its own connection and transactions.
    Elsewhere they are written at once in the run's thread: SQLite's pull holds no transaction,
    and inside a caller's transaction (tests) nothing commits early anyway."""

    def __init__(self, run: TracingRun, cases: list[Case]):
        self.threaded = commits_beside()
        self.actor, self.cases = run.created_by, cases
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.people: pa.Array | None = None
        self.counts: dict[str, int] = {}
        self.seconds = 0.0

    def start(self, contacts: pa.Table) -> None:
        close = contacts.filter(pc.equal(contacts["degree"], "1"))
        self.people = close["person_id"].combine_chunks()
        if self.threaded:
            self.thread = threading.Thread(target=self._record, args=(close,), daemon=True)
            self.thread.start()
        else:
            self._record(close)

    def _record(self, close: pa.Table) -> None:
        started = time.perf_counter()
        try:
            exposures, case_pk = _exposures_of(close, self.cases)
            pieces = [(case, exposures.filter(pc.equal(case_pk, case.pk))) for case in self.cases]
            self.counts = dict(_write(self.actor, pieces))
        except BaseException as error:  # raised again in the run's own thread by finish()
            if not self.threaded:
                raise
            self.error = error
        finally:
            self.seconds = time.perf_counter() - started
            if self.threaded:
                connection.close()  # the thread's own connection

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()
            self.thread = None

    def finish(self, clock: _Clock) -> pa.Array | None:
        """The people recorded early (None when nobody was), once their transactions are done;
        the thread's error, if it failed (the run fails and is retried: recording is
        idempotent)."""
        self.join()
        if self.error is not None:
            raise self.error
        if self.people is not None:
            clock.stages["close contacts recorded (during the pull)"] = {
                "seconds": round(self.seconds, 2),
                "rows": self.counts.get("created", 0),
            }
        return self.people


def _pieces(exposures: pa.Table) -> tuple[pa.Table, list[pa.Table]]:
    """Close contacts' exposures, and secondary contacts' in pieces of about RECORD_PIECE people
    (everyone's exposures in one piece; the engine names each person at one degree), each
    piece a range of person ids: the recording reads only that range of the people and
    contact tables (bulk_contacts._id_range)."""
    close = exposures.filter(pc.equal(exposures["degree"], 1))
    secondary = exposures.filter(pc.equal(exposures["degree"], 2))
    people = secondary["person_id"].to_numpy()
    firsts = np.unique(people)[::RECORD_PIECE]  # the first person id of each piece
    piece_of = np.searchsorted(firsts, people, side="right") - 1
    return close, [secondary.filter(piece_of == n) for n in range(len(firsts))]


def _case_of_each(contacts: pa.Table, cases: list[Case]) -> pa.Array:
    """Each contact's case: the case they met (close), or their close contact's (secondary);
    null when neither is known."""
    case_of = {c.person_id: c.pk for c in cases}
    close = contacts.filter(pc.equal(contacts["degree"], "1"))
    for person, via in zip(
        close["person_id"].to_pylist(), close["via_person_id"].to_pylist(), strict=True
    ):
        case_of.setdefault(person, case_of[via])
    at = pc.index_in(contacts["via_person_id"], value_set=pa.array(list(case_of), pa.int64()))
    return pc.take(pa.array(list(case_of.values()), pa.int64()), at)
