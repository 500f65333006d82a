"""The embedded engine's venue hops as compiled loops over check-ins held in arrays.

The input is read into four arrays instead of a table: a Parquet file or Arrow table of
integers and timestamps decoded by pyarrow, anything else converted by DuckDB (the same
columns, types, conversions and messages as epicore.tracing.inputs). One compiled pass
checks and repairs the rows as they come, places their hashes for the exact duplicate count
and keeps only the stays long enough to matter (at least the rule's minimum overlap: 59% of
the benchmark city's rows); each hop then streams the kept check-ins once past an index of
the hop's smaller side (epicore.tracing.kernels):

- hop 1 indexes the cases' stays clipped to their windows, sorted by (venue, start, via,
  end); each other person's stay finds its best exposure with binary searches (no pair of
  stays is formed, however busy the venue);
- hop 2 indexes whichever side has fewer stays: the close contacts' stays clipped to [first
  exposure, isolation) (the same look-ups), or, in a dense outbreak where nearly everyone is
  already a close contact, the stays of the few people left, which every close contact's stay
  then meets pair by pair.

Per person the best exposure is kept by the rule of epicore.tracing.reference.best, so the
answer is the reference's (property-tested, tests/engine/test_tracing.py). Companions (pings)
and the output rows are the SQL stages of epicore.tracing.plan.after_hops, on the hops'
results registered as tables. People and venues get dense array indexes (id - smallest id);
when either range is wider than MAX_DENSE, the check-ins are loaded as a table and the SQL
stages run instead (same answer).
"""

from __future__ import annotations

import math
import mmap
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numba
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from epicore.errors import ValidationError
from epicore.tracing import inputs, kernels
from epicore.tracing.kernels import B_END, B_NEG, B_SRC, B_START, B_VENUE, B_VIA, FIELDS, NONE
from epicore.tracing.params import TraceParams
from epicore.tracing.plan import CONTACTS_IN_ORDER, DUCKDB, OPEN_END, RunFacts, after_hops
from epicore.tracing.report import TraceReport

# The compiled loops run their threads from one process-wide pool; numba's fallback pool (when
# no OpenMP or TBB runtime is installed) must not be entered by two threads at once, so a
# process traces one compiled run at a time (api.trace holds this).
ONE_RUN_AT_A_TIME = threading.Lock()

# Widest range of person (or venue) ids given dense arrays: the hops keep six 64-bit values
# per person and thread, so 2^25 ids on 2 threads is ~3.2 GB at most.
MAX_DENSE = 1 << 25
# Hashes per duplicate-check bucket. The load places each row's hash in its bucket's slab, so
# the fewer the buckets the fewer places it writes to at once; the more hashes per bucket the
# bigger its set (twice as many 8-byte slots). Measured on 98 M rows (docs/tracing.md, whole
# trace, first run in a process): 9 bits (~191,000 each, 3 MB sets) 8.9-9.5 s; 10 bits
# 9.9-10.0 s; 11 bits 11.4 s; 8 bits 11.1 s (the sets of 6 MB 1.6 s instead of 0.5 s).
HASHES_PER_BUCKET = 262_144
COLUMNS = ("person_id", "venue_id", "t_in", "t_out")
# Arrays this big or bigger get memory mapped in small pages (see small_pages), where the
# system lets a mapping refuse huge pages (Linux).
SMALL_PAGES_FROM = 1 << 24
NO_HUGE_PAGES = getattr(mmap, "MADV_NOHUGEPAGE", None)


def small_pages(shape, dtype) -> np.ndarray:
    """An uninitialised array whose memory the kernel maps in 4 KB pages, not the 2 MB pages
    numpy asks for (madvise MADV_HUGEPAGE) when an array is big. On these VMs, memory a
    process touches for the first time costs ~1-2 s per GB, and more in huge pages: the whole
    trace (98 M check-ins, fresh processes, alternating) median 5.5 s in small pages against
    7.4 s in huge ones, system time 1.7-2.1 s against 4.6-5.8 s (docs/tracing.md). The
    memory is unmapped when the array and every view of it are gone."""
    size = math.prod(np.atleast_1d(shape)) * np.dtype(dtype).itemsize
    if size < SMALL_PAGES_FROM or NO_HUGE_PAGES is None:
        return np.empty(shape, dtype)
    memory = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    memory.madvise(NO_HUGE_PAGES)
    return np.frombuffer(memory, dtype).reshape(shape)


@dataclass
class Checkins:
    """The check-ins kept, as arrays (rows too short to matter left out, see absorb)."""

    person: np.ndarray
    venue: np.ndarray
    t_in: np.ndarray
    t_out: np.ndarray
    pmin: int
    people: int  # person ids span [pmin, pmin + people)
    vmin: int
    venues: int
    kept: int  # rows that passed the checks; those shorter than the rule's minimum overlap
    complete: bool  # are not in the arrays unless this is True


def set_threads(con: duckdb.DuckDBPyConnection) -> int:
    """The compiled loops use as many threads as DuckDB is allowed; returns that number."""
    wanted = int(con.execute("SELECT current_setting('threads')").fetchall()[0][0])
    threads = max(1, min(wanted, numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(threads)
    return threads


def load_checkins(con, source, params: TraceParams, report: TraceReport) -> Checkins | RunFacts:
    """The check-ins as arrays, checked, repaired and counted into the report like
    inputs.load_checkins does; that function's table (and RunFacts) when the ids span too
    wide a range for dense arrays."""
    parts = set_threads(con)
    label = inputs.label_of(source, "checkins")
    scratch = TraceReport()  # notes about the columns are kept only if this path is taken
    with report.timed("load.copy"):
        reading = Reading.of(con, source, scratch)
        dwell, duplicates = int(params.default_dwell_s), params.check_duplicates
        for width in (np.int32, np.int64):
            try:
                arrays, stats, placed = reading.into_arrays(
                    con, width, parts, dwell, duplicates, params.shortest_stay_s
                )
            except duckdb.ConversionException:  # an id beyond 32 bits (DuckDB's cast)
                if width is np.int64:
                    raise
                continue
            if stats[:, kernels.ST_OVERFLOW].sum() == 0:  # no id or time beyond 32 bits
                break
    ck = checkins_of(arrays, stats)
    if ck is None:
        return inputs.load_checkins(con, source, params, report)
    report.notes.extend(scratch.notes)
    key_nulls, reversed_, to_fill = (
        int(stats[:, k].sum())
        for k in (kernels.ST_KEY_NULL, kernels.ST_REVERSED, kernels.ST_TO_FILL)
    )
    inputs.report_checkin_counts(
        report, params, label, reading.rows_read, key_nulls, reversed_, to_fill
    )
    if params.check_duplicates:

        def rows_hashed(wanted: np.ndarray | None) -> list[np.ndarray]:
            """The kept rows whose hash is wanted (None: all), short ones too, read again."""
            chosen = ANY_HASH if wanted is None else wanted
            return reading.into_arrays(con, width, parts, dwell, False, 0, chosen)[0]

        with report.timed("load.duplicates"):
            duplicates = count_duplicates(ck, parts, placed, reread=rows_hashed)
        inputs.report_duplicates(report, params, label, duplicates)
    return ck


EMPTY_BITMAP = np.empty(0, np.uint8)
NO_MARK = EMPTY_BITMAP  # kernels.rows_where: anyone's rows
ANY_HASH = np.empty(0, np.uint64)  # kernels.rows_where: rows of any hash


# Rows per batch handed over by DuckDB while it reads (its own vector size is 2,048).
BATCH_ROWS = 1 << 20


@dataclass
class Reading:
    """How to read the check-ins: a SELECT of the four columns (ids as given, times as whole
    units of `units` per second with `shifts` to subtract), and the row count if known; or,
    with `direct`, the Parquet file or Arrow table read as it is (no SELECT)."""

    select: str
    units: tuple[int, int]
    shifts: tuple[int, int]
    rows: int | None
    direct: Path | pa.Table | None = None
    rows_read: int = 0  # by the last into_arrays()

    @classmethod
    def of(cls, con, source, report: TraceReport) -> Reading:
        """Timestamps are read as microseconds and floored to seconds in the compiled loop
        (DuckDB's own conversion cost ~0.5 s on 98 M rows); other types as inputs.convert
        does. The columns and their values are checked as in inputs.converted_selects.
        A Parquet file or Arrow table whose four columns are already integers or timestamps
        is read directly (see direct_reading)."""
        label, relation, types = inputs.checked_relation(con, source, "checkins", report)
        direct = direct_reading(source, relation)
        if direct is not None:
            return direct
        exprs, units, shifts = [], [], []
        for column, role in inputs.COLUMNS["checkins"].items():
            dtype = types[column]
            if role == "time" and dtype.startswith("TIMESTAMP"):
                nanos = dtype.endswith("_NS")
                exprs.append(f'epoch_{"ns" if nanos else "us"}("{column}")')
                units.append(TIME_UNITS["ns" if nanos else "us"])
                # a naive timestamp is Asia/Shanghai wall time
                shifts.append(0 if inputs.zoned(dtype) else inputs.UTC_OFFSET_S)
            else:
                exprs.append(inputs.convert(column, role, dtype, label))
                if role == "time":
                    units.append(1)
                    shifts.append(0)
        select = "SELECT " + ", ".join(f"{e} AS {c}" for e, c in zip(exprs, COLUMNS, strict=True))
        select += f" FROM {relation}"
        rows = None
        if isinstance(source, pa.Table):
            rows = source.num_rows
        elif relation.startswith("read_parquet("):  # the count is in the file's footer
            rows = con.execute(f"SELECT count(*) FROM {relation}").fetchall()[0][0]
        return cls(select, (units[0], units[1]), (shifts[0], shifts[1]), rows)

    def batches(self, con, width):
        """(record batches of the four columns, their row count)."""
        if isinstance(self.direct, pa.Table):
            return self.direct.select(list(COLUMNS)).to_batches(), self.rows
        if self.direct is not None:
            return parquet_batches(self.direct), self.rows
        sql_type = "INTEGER" if width is np.int32 else "BIGINT"
        ids = ", ".join(f"CAST({c} AS {sql_type}) AS {c}" for c in COLUMNS[:2])
        times = ", ".join(f"CAST({c} AS BIGINT) AS {c}" for c in COLUMNS[2:])
        query = con.sql(f"SELECT {ids}, {times} FROM ({self.select})")
        if self.rows is None:
            table = query.to_arrow_table()
            return table.to_batches(), table.num_rows
        return query.to_arrow_reader(BATCH_ROWS), self.rows

    def into_arrays(
        self, con, width, parts: int, default_dwell_s: int, duplicates: bool, min_length: int,
        wanted: np.ndarray = ANY_HASH,
    ):  # fmt: skip
        """Stream the rows into four arrays of `width` (an id or time that does not fit is
        counted as ST_OVERFLOW), checking and repairing each batch as it comes; (arrays,
        stats, the rows' hashes Placed for the duplicate check). With the count known the
        arrays are allocated once and each batch is dropped as soon as it is copied (no
        second copy of the data in memory)."""
        dwell_venues, dwell = dwell_arrays(con)  # before the query holds the connection
        batches, rows = self.batches(con, width)
        arrays = [small_pages(rows, width) for _ in COLUMNS]
        stats = kernels.new_stats(parts)
        placed = Placed.expecting(rows if duplicates else 0, parts)
        at = read = 0
        for batch in batches:
            if read + batch.num_rows > rows:
                raise ValidationError(
                    "tracing.changed_input", "the check-ins changed while they were read"
                )
            columns = [batch.column(i) for i in range(4)]
            at += kernels.absorb(
                *[part for column in columns for part in (values_of(column), validity_of(column))],
                np.array([column.offset for column in columns], np.int64),
                self.units[0], self.shifts[0], self.units[1], self.shifts[1],
                dwell_venues, dwell, default_dwell_s, min_length, wanted, *arrays, at, stats,
                placed.bits, placed.slabs, placed.hashes, placed.filled,
            )  # fmt: skip
            read += batch.num_rows
        if read != rows:
            raise ValidationError(
                "tracing.changed_input", "the check-ins changed while they were read"
            )
        self.rows_read = rows
        return [array[:at] for array in arrays], stats, placed


# Seconds per unit of an Arrow timestamp.
TIME_UNITS = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def direct_reading(source, relation: str) -> Reading | None:
    """A Reading without DuckDB when the source is a Parquet file or an Arrow table whose ids
    are 32- or 64-bit integers and whose times are timestamps or such integers (epoch
    seconds): the compiled loop converts them as DuckDB would (a naive timestamp is
    Asia/Shanghai wall time). pyarrow decodes such a file ~2x faster than DuckDB streams it
    (98 M rows: 1.3-2.0 s against 3.1-3.3 s, docs/tracing.md); None otherwise."""
    if isinstance(source, pa.Table):
        schema, rows, direct = source.schema, source.num_rows, source
    elif relation.startswith("read_parquet("):
        try:
            meta = pq.ParquetFile(source)
        except (pa.ArrowException, OSError):  # DuckDB read it, so leave it to DuckDB
            return None
        schema, rows, direct = meta.schema_arrow, meta.metadata.num_rows, Path(source)
    else:
        return None
    units, shifts = [], []
    for column, role in inputs.COLUMNS["checkins"].items():
        if schema.get_field_index(column) < 0:
            return None
        dtype = schema.field(column).type
        if dtype in (pa.int32(), pa.int64()):
            units.append(1)
            shifts.append(0)
        elif role == "time" and pa.types.is_timestamp(dtype) and dtype.unit in TIME_UNITS:
            units.append(TIME_UNITS[dtype.unit])
            shifts.append(0 if dtype.tz else inputs.UTC_OFFSET_S)
        else:
            return None
    return Reading("", (units[2], units[3]), (shifts[2], shifts[3]), rows, direct)


def parquet_batches(path: Path):
    """The four columns of a Parquet file, a row group at a time (its columns decoded on
    pyarrow's threads; measured faster than iter_batches: 1.3 s against 1.95 s)."""
    file = pq.ParquetFile(path, memory_map=True)
    for group in range(file.num_row_groups):
        yield from file.read_row_group(group, columns=list(COLUMNS), use_threads=True).to_batches()


def values_of(array: pa.Array) -> np.ndarray:
    """The values buffer of a fixed-width Arrow array, without copying (from its offset 0)."""
    dtype = np.int32 if array.type == pa.int32() else np.int64
    return np.frombuffer(array.buffers()[1], dtype, array.offset + len(array))[array.offset :]


def validity_of(array: pa.Array) -> np.ndarray:
    """The validity bitmap's bytes, or an empty array when every value is present."""
    bitmap = array.buffers()[0]
    if bitmap is None or array.null_count == 0:
        return EMPTY_BITMAP
    return np.frombuffer(bitmap, np.uint8)


def dwell_arrays(con) -> tuple[np.ndarray, np.ndarray]:
    """The assumed dwell per known venue, sorted by venue id."""
    got = con.execute("SELECT venue_id, dwell_s FROM venue_dwell ORDER BY venue_id").fetchnumpy()
    return (
        np.ascontiguousarray(got["venue_id"], np.int64),
        np.ascontiguousarray(got["dwell_s"], np.int64),
    )


def checkins_of(arrays: list[np.ndarray], stats: np.ndarray) -> Checkins | None:
    """The arrays with their id ranges; None when a range is too wide for dense arrays."""
    kept = int(stats[:, kernels.ST_VALID].sum())
    if kept == 0:
        pmin, people, vmin, venues = 0, 0, 0, 0
    else:
        pmin = int(stats[:, kernels.ST_PMIN].min())
        people = int(stats[:, kernels.ST_PMAX].max()) - pmin + 1
        vmin = int(stats[:, kernels.ST_VMIN].min())
        venues = int(stats[:, kernels.ST_VMAX].max()) - vmin + 1
    if people > MAX_DENSE or venues > MAX_DENSE:
        return None
    return Checkins(*arrays, pmin, people, vmin, venues, kept, len(arrays[0]) == kept)


def hash_bits(rows: int) -> int:
    """Bits of hash that pick a row's duplicate-check bucket: about HASHES_PER_BUCKET each."""
    return min(16, max(4, math.ceil(math.log2(max(rows / HASHES_PER_BUCKET, 1)))))


@dataclass
class Placed:
    """Each kept row's 64-bit hash in a slab per (hash bucket, part of the rows): bucket b
    of part c is hashes[slabs[b * parts + c]:][:filled[c, b]] (kernels.place)."""

    bits: int
    slabs: np.ndarray
    hashes: np.ndarray
    filled: np.ndarray

    @classmethod
    def expecting(cls, rows: int, parts: int) -> Placed:
        """Slabs sized by expectation for `rows` rows: a part's rows in a bucket are about
        binomial, so each holds the mean + 6 standard deviations (4% more than the rows on
        98 M). No rows: nothing is placed (bits 0)."""
        if rows < 2:
            return cls(0, np.zeros(1, np.int64), np.empty(0, np.uint64), np.zeros((1, 1), np.int64))
        bits = hash_bits(rows)
        expected = -(-rows // parts) / (1 << bits)
        room = int(expected + 6 * math.sqrt(expected) + 16)
        slabs = np.arange((1 << bits) * parts + 1, dtype=np.int64) * room
        hashes = small_pages(int(slabs[-1]), np.uint64)
        return cls(bits, slabs, hashes, np.zeros((parts, 1 << bits), np.int64))

    def place_all(self, columns, keep_bits: int) -> None:
        """Place the hashes of every kept row of `columns` (a pass of its own)."""
        kernels.place_hashes(*columns, self.bits, keep_bits, self.slabs, self.hashes, self.filled)

    def overflowed(self) -> bool:
        return bool((self.filled > np.diff(self.slabs).reshape(self.filled.T.shape).T).any())


def count_duplicates(
    ck: Checkins, parts: int, placed: Placed | None = None, keep_bits: int = 64, reread=None
) -> int:
    """Kept rows equal to an earlier kept row, exactly: the rows' hashes, placed in
    cache-sized buckets by their top bits (while loading, else here), meet a hash set per
    bucket; the rows whose hash repeats are then grouped on their values (unequal rows
    sharing a hash fall apart there). Replaces the SQL path's sort of 98 M hashes (3.6 s).
    When the arrays lack the short rows (not ck.complete), `reread(wanted)` gives the kept
    rows whose hash is in `wanted` (None: all of them) by reading the input again: only
    when some hash repeats. `keep_bits` < 64 (tests) keeps only the hashes' top bits, so
    that unequal rows share one."""
    if ck.kept < 2:
        return 0
    columns = (ck.person, ck.venue, ck.t_in, ck.t_out)
    if placed is not None and placed.overflowed() and not ck.complete:
        # many copies of one row, and not every row at hand: all of them, read again
        every = reread(None)
        complete = Checkins(*every, ck.pmin, ck.people, ck.vmin, ck.venues, ck.kept, True)
        return count_duplicates(complete, parts, None, keep_bits)
    if placed is None or keep_bits < 64:
        placed = Placed.expecting(len(ck.person), parts)
        placed.place_all(columns, keep_bits)
    if placed.overflowed():  # many copies of one row: slabs of the sizes just counted
        placed.slabs = np.concatenate([[0], np.cumsum(placed.filled.T.ravel())])
        placed.hashes = small_pages(int(placed.slabs[-1]), np.uint64)
        placed.place_all(columns, keep_bits)
    wanted = np.unique(kernels.repeated_hashes(placed.hashes, placed.slabs, placed.filled))
    placed.hashes = np.empty(0, np.uint64)  # its memory freed before the hops
    if not wanted.size:
        return 0
    if ck.complete:
        room = 2 * len(wanted)
        at = kernels.rows_where(*columns, ck.pmin, NO_MARK, wanted, keep_bits, 0, parts, room)
        columns = tuple(column[at] for column in columns)
    else:
        columns = reread(wanted)
    values = np.stack([np.asarray(c, np.int64) for c in columns], axis=1)
    return int(len(values) - np.unique(values, axis=0).shape[0])


# --- The hops --------------------------------------------------------------------------------


def run(
    con, ck: Checkins, params: TraceParams, report: TraceReport, with_pings: bool, progress=None
) -> pa.Table:
    """Both hops on the arrays, then the SQL stages after them; the raw contact rows."""
    parts = numba.get_num_threads()
    min_s = params.shortest_stay_s
    cases = con.execute("SELECT person_id, t_from, t_to FROM cases ORDER BY person_id, t_from")
    case_rows = cases.fetchnumpy()
    is_case = marks(ck, case_rows["person_id"])
    best = small_pages((parts, ck.people, FIELDS), np.int64)  # both hops' per-thread slots
    with report.timed("sweep.hop1"):
        if progress:
            progress("sweep.hop1")
        sources = case_stays(ck, case_rows, parts)
        found_1 = hop_by_lookups(ck, sources, is_case, min_s, best)
    register(con, "found_1", ck, found_1)
    if params.hops == 2:
        with report.timed("sweep.hop2"):
            if progress:
                progress("sweep.hop2")
            found_2 = second_hop(con, ck, found_1, is_case, min_s, best)
        register(con, "found_2", ck, found_2)
    for name, sql in after_hops(params, DUCKDB, with_pings):
        with report.timed(f"duckdb.{name}"):
            if progress:
                progress(name)
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")
    return con.sql(CONTACTS_IN_ORDER).to_arrow_table()


def marks(ck: Checkins, ids: np.ndarray) -> np.ndarray:
    """1 at the index of each id within the check-ins' person range."""
    out = np.zeros(ck.people, np.uint8)
    index = np.asarray(ids, np.int64) - ck.pmin
    out[index[(index >= 0) & (index < ck.people)]] = 1
    return out


# Case rows a part of the check-ins is expected to hold at most (kernels.rows_where finds
# them in one pass up to this many; 1,000 cases of the benchmark city have ~100,000 rows).
CASE_ROWS_ROOM = 1 << 17


def case_stays(ck: Checkins, cases: dict[str, np.ndarray], parts: int):
    """The cases' check-ins clipped to each of their windows (a case may have several),
    non-empty pieces only: (via, venue, start, end)."""
    # Stays of at least a second (a clipped piece of an empty one is empty too). With no
    # person range (no kept rows) the empty mark selects no row either.
    mark = marks(ck, cases["person_id"])
    columns = (ck.person, ck.venue, ck.t_in, ck.t_out)
    rows = kernels.rows_where(*columns, ck.pmin, mark, ANY_HASH, 64, 1, parts, CASE_ROWS_ROOM)
    who = np.asarray(ck.person[rows], np.int64)
    case_ids = np.asarray(cases["person_id"], np.int64)
    first = np.searchsorted(case_ids, who, "left")
    count = np.searchsorted(case_ids, who, "right") - first
    row_of = np.repeat(np.arange(len(rows)), count)
    before = np.cumsum(count) - count
    window = first[row_of] + np.arange(len(row_of)) - before[row_of]
    stay = rows[row_of]
    start = np.maximum(np.asarray(ck.t_in[stay], np.int64), cases["t_from"][window])
    end = np.minimum(np.asarray(ck.t_out[stay], np.int64), cases["t_to"][window])
    keep = end > start
    return (
        who[row_of][keep],
        np.asarray(ck.venue[stay], np.int64)[keep],
        start[keep].astype(np.int64),
        end[keep].astype(np.int64),
    )


def hop_by_lookups(
    ck: Checkins, sources, skip: np.ndarray, min_s: int, best: np.ndarray
) -> np.ndarray:
    """Index the sources by (venue, start, via, end); every stay of someone not skipped looks
    up its best source. The best exposure per person, arrays [FIELDS, people] (`best`:
    scratch slots per thread)."""
    via, place, start, end = sources
    order = np.lexsort((end, via, start, place))
    via, place, start, end = via[order], place[order], start[order], end[order]
    off = kernels.venue_index(place, ck.vmin, ck.venues)
    reach = kernels.running_end(off, end)
    next_long = kernels.next_lasting(off, start, end, min_s)
    best.fill(NONE)
    kernels.candidates_meet_sources(
        ck.person, ck.venue, ck.t_in, ck.t_out, ck.pmin, ck.vmin, skip, off, start,
        end, via, reach, next_long, min_s, best,
    )  # fmt: skip
    return kernels.merge_best(best)


def second_hop(
    con, ck: Checkins, found_1: np.ndarray, is_case: np.ndarray, min_s: int, best: np.ndarray
) -> np.ndarray:
    """Close contacts' stays from their first exposure until their isolation meet everyone
    not yet reported; the side with fewer stays is indexed."""
    exposed_at = np.ascontiguousarray(found_1[B_START])
    isolated_at = np.full(ck.people, OPEN_END, np.int64)
    iso = con.execute("SELECT person_id, t_isolated FROM isolations").fetchnumpy()
    index = np.asarray(iso["person_id"], np.int64) - ck.pmin
    inside = (index >= 0) & (index < ck.people)
    isolated_at[index[inside]] = np.asarray(iso["t_isolated"], np.int64)[inside]
    parts = best.shape[0]
    args = (ck.person, ck.venue, ck.t_in, ck.t_out, ck.pmin, exposed_at, isolated_at, is_case)
    per_part = kernels.count_sides(
        ck.person, ck.t_in, ck.t_out, ck.pmin, exposed_at, isolated_at, is_case, parts
    )
    sources, candidates = (np.ascontiguousarray(per_part[:, k]) for k in (0, 1))
    if index_sources(int(sources.sum()), int(candidates.sum())):
        who, place, start, end = kernels.gather_stays(*args, True, sources)
        skip = is_case | (exposed_at != NONE)
        return hop_by_lookups(ck, (who + ck.pmin, place, start, end), skip, min_s, best)
    who, place, start, end = kernels.gather_stays(*args, False, candidates)
    order = np.lexsort((end, start, place))
    who, place, start, end = who[order], place[order], start[order], end[order]
    off = kernels.venue_index(place, ck.vmin, ck.venues)
    reach = kernels.running_end(off, end)
    present, first_hour = presence(off, start, end, ck.venues)
    best.fill(NONE)
    kernels.sources_meet_candidates(
        ck.person, ck.venue, ck.t_in, ck.t_out, ck.pmin, ck.vmin, exposed_at,
        isolated_at, off, start, end, who, reach, present, first_hour,
        settled_block(len(who), ck.venues), min_s, best,
    )  # fmt: skip
    return kernels.merge_best(best)


# Largest venue-by-hour map of where candidates are (one byte a cell: 14 days of 10,724
# venues are 3.6 MB); beyond it the second hop searches every source's venue.
MAX_PRESENCE_CELLS = 1 << 26


def presence(off: np.ndarray, start: np.ndarray, end: np.ndarray, venues: int):
    """kernels.presence for the indexed candidate stays, with its first hour; an empty map
    when there are none or it would be too big (it changes speed only)."""
    if not len(start):
        return np.zeros((0, 0), np.uint8), 0
    first_hour = int(start.min()) // kernels.HOUR
    hours = (int(end.max()) - 1) // kernels.HOUR - first_hour + 1
    if venues * hours > MAX_PRESENCE_CELLS:
        return np.zeros((0, 0), np.uint8), 0
    return kernels.presence(off, start, end, first_hour, hours), first_hour


def warm_up() -> None:
    """Compile (or load from numba's on-disk cache) every loop of this path for 32-bit arrays
    (what files before 2038 with ids below 2^31 take), on two small outbreaks: a sparse one
    (the second hop indexes the close contacts' stays) and a dense one (it indexes the few
    people left)."""
    from epicore.tracing.api import trace

    h, t = 3600, 1_646_280_000
    cases = pa.table({"person_id": [1], "t_from": [t - h], "t_to": [t + 9 * h]})
    sparse = [(1, 1, t, t + h), (2, 1, t, None), (2, 2, t + 2 * h, t + 3 * h)]
    sparse += [(p, 2, t + 2 * h, t + 3 * h) for p in (3, 4, 5)]
    dense = [(p, 1, t, t + h) for p in (1, 2, 3, 4)] + [
        (p, 2, t + 2 * h, t + 3 * h) for p in (2, 3, 5)
    ]
    # 64-bit ids as Parquet files usually hold them, 32-bit ones as DuckDB's cast gives them
    for rows, id_type in ((sparse, pa.int64()), (dense, pa.int32())):
        columns = list(zip(*rows, strict=True))
        types = (id_type, id_type, pa.int64(), pa.int64())
        trace(
            pa.table({n: pa.array(c, t) for n, c, t in zip(COLUMNS, columns, types, strict=True)}),
            cases,
        )


def settled_block(candidate_stays: int, venues: int) -> int:
    """Rows between two recomputations of the venues' settled exposure starts in the dense
    second hop: long enough that recomputing costs at most a quarter of a block's rows."""
    return max(1 << 20, 4 * (candidate_stays + venues))


def index_sources(sources: int, candidates: int) -> bool:
    """Which side of the second hop to index: the one with fewer stays (speed only)."""
    return sources <= candidates


def register(con, name: str, ck: Checkins, best: np.ndarray) -> None:
    """A hop's result as the table the SQL stages read: person_id, via, place, xs, xe, overlap.
    The Arrow table itself is registered (a view DuckDB scans in place): copying it into a
    table first cost ~0.04 s a million rows for stages that read it once."""
    found = np.flatnonzero(best[B_START] != NONE)
    table = pa.table(
        {
            "person_id": found + ck.pmin,
            "via": best[B_VIA][found],
            "place": best[B_VENUE][found],
            "xs": best[B_START][found],
            "xe": best[B_END][found],
            "overlap": -best[B_NEG][found],
            "src_s": best[B_SRC][found],
        }
    )
    con.register(name, table)
