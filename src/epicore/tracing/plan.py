"""The tracing algorithm as SQL stages, one text for DuckDB and Spark SQL.

Each stage is (table name, SELECT); an engine runs them in order, keeping each result as a table
(DuckDB) or a checkpointed view (Spark). The stages read the normalised inputs described in
epicore.tracing.inputs: checkins, cases, isolations, ping_cells. All times are integer seconds
(check-ins may be 32-bit, everything else BIGINT).

How a venue hop finds contacts without comparing every pair of stays at a venue:
1. "Sources" are the stays that pass the infection on (a case's check-ins clipped to its
   window; for the second hop a close contact's check-ins clipped to [first exposure,
   isolation)); "candidates" are the check-ins of people not yet found (nor cases).
2. The side with fewer people is "small"; each of its stays is spread over the time buckets
   (`bucket_s`) from (start - reach) to its end, where reach is the longest stay at that venue
   (at most `long_stay_s`; table venue_reach). Each stay of the big side is one row, keyed by the bucket of its
   start, so the big side (up to every check-in) streams through one hash join and is never
   multiplied. Two stays overlap only if the big one starts within (small start - its own
   length, small end), so every overlapping pair meets exactly once.
3. Big-side stays longer than `long_stay_s` (none in typical data, and then the branch is left
   out) are spread over their own buckets and meet in the bucket where the overlap starts.
4. A pair counts if the overlap is > 0 and >= min_overlap_s; per person the best exposure is
   kept with one aggregation (min of a struct): earliest start, then longest overlap, then the
   source who arrived first (the start of its stay), then the smallest via_person_id, then
   the smallest venue_id (or cell).
5. The big side is joined in chunks of start time, earliest first; people exposed before a
   chunk starts are left out of it (see `venue_hop`).
6. When the sources are the small side and many (DuckDB, params.asof_min_sources), pairs are
   not formed at all: each candidate stay looks up its best source with ASOF joins
   (`venue_hop_asof_sql`), the same answer by rule 4 without meeting every source at a busy
   venue. Candidates are first narrowed to the sources' time span (`within_span`).
Companions (fewer rows: pings are not in the hot path) spread both sides over their own
buckets, meet in the bucket of the overlap's start, and sum a pair's overlap per (person, case,
cell) before the threshold (a trail may cross a cell in several pieces).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from epicore.tracing.params import TraceParams

# "Not isolated yet": later than any time in the data (year ~128,000).
OPEN_END = 4_000_000_000_000


@dataclass(frozen=True)
class Dialect:
    """The few spellings in which DuckDB and Spark SQL differ."""

    name: str
    string_type: str
    # A CTE computed on its own, before the query that reads it (DuckDB would otherwise join
    # the big side first and drop the settled people from the pairs, not from the stays).
    materialized: str = ""
    # ASOF JOIN (DuckDB): a hop whose sources are the small side looks up each stay's best
    # source instead of forming every overlapping pair (see venue_hop_asof_sql).
    asof: bool = False

    def explode_range(self, low: str, high: str) -> str:
        if self.name == "spark":
            return f"explode(sequence({low}, {high}))"
        return f"unnest(generate_series({low}, {high}))"

    def struct(self, fields: list[tuple[str, str]]) -> str:
        """A struct literal; structs order field by field in both engines."""
        if self.name == "spark":
            return "named_struct(" + ", ".join(f"'{n}', {e}" for n, e in fields) + ")"
        return "struct_pack(" + ", ".join(f"{n} := {e}" for n, e in fields) + ")"

    def idiv(self, a: str, b: int) -> str:
        """Integer division of non-negative numbers (times are seconds after 1970)."""
        return f"(({a}) DIV {b})" if self.name == "spark" else f"(({a}) // {b})"


DUCKDB = Dialect("duckdb", "VARCHAR", "MATERIALIZED", asof=True)
SPARK = Dialect("spark", "STRING")

Stage = tuple[str, str]


@dataclass(frozen=True)
class RunFacts:
    """What the loader learnt about the check-ins that shapes (never changes) the joins."""

    people: int  # distinct people with check-ins (approximate is fine)
    reach_s: int  # longest stay that is joined by its start bucket (<= params.long_stay_s)
    has_long: bool = True  # some check-in is longer than reach_s (False: skip that branch)
    # (t_in // params.chunk_s, check-ins starting then) for every such period that has any,
    # in order: where the hops cut the big side into chunks (see chunk_bounds).
    start_counts: tuple[tuple[int, int], ...] = ()


def stages(
    params: TraceParams,
    dialect: Dialect,
    with_pings: bool,
    facts: RunFacts,
    count: Callable[[str], int],
    span: Callable[[str], Span] | None = None,
) -> Iterator[Stage]:
    """Every stage of a run, in order: hop 1, hop 2 (if asked), companions (if pings), output.

    A generator: `count(table)` asks the engine how many rows a finished stage has, which
    decides how the next hop joins, and `span(table)` the earliest start and latest end of a
    finished stage's stays, which narrows the check-ins a hop reads (the answer never depends
    on either, only the speed).
    """
    span = span or (lambda _table: (None, None))
    yield ("venue_reach", venue_reach_sql(facts))
    if facts.has_long:
        yield ("long_checkins", long_checkins_sql(facts))
    yield ("case_stays", case_stays_sql())
    side = smaller_side(count("cases"), facts.people - count("cases"))
    asof, near = source_shortcuts(side, "case_stays", params, dialect, count, span)
    yield from venue_hop(
        "found_1", fixed("case_stays"), "cases", side, asof, near, params, dialect, facts
    )
    yield ("excluded_2", excluded_sql(["cases", "found_1"]))
    if params.hops == 2:
        found = count("found_1")
        side = smaller_side(found, facts.people - count("excluded_2"))
        sources = streamed_contact_stays
        if side == "sources":  # small: keep it as a table (this also avoids a DuckDB 2.0.0
            # internal error, "dict-surviving cache", seen when it was a subquery here)
            yield ("contact_stays", contact_stays_sql("checkins"))
            sources = fixed("contact_stays")
        asof, near = source_shortcuts(side, "contact_stays", params, dialect, count, span)
        yield from venue_hop(
            "found_2", sources, "excluded_2", side, asof, near, params, dialect, facts
        )
    yield from after_hops(params, dialect, with_pings)


def after_hops(params: TraceParams, dialect: Dialect, with_pings: bool) -> Iterator[Stage]:
    """The stages after the venue hops (tables found_1 and, with two hops, found_2): the
    companions if there are pings, then the output."""
    if with_pings:
        yield ("ping_spans", ping_spans_sql(params))
        yield ("case_cells", case_cells_sql())
        done = ["cases", "found_1"] + (["found_2"] if params.hops == 2 else [])
        yield ("excluded_c", excluded_sql(done))
        yield ("cand_c", companion_candidates_sql())
        yield ("found_c", companions_sql(params, dialect))
    yield ("contacts", output_sql(params, dialect, with_pings))


Chunk = tuple[int | None, int | None]  # [lo, hi) of start times; None: open
# (earliest start, latest end) of a hop's source stays; (None, None): unknown or no sources.
Span = tuple[int | None, int | None]


def fixed(table: str) -> Callable[[str, Chunk], str]:
    """Sources kept as a table: the same relation whichever check-ins they are asked from."""
    return lambda _checkins, _chunk: table


def streamed_contact_stays(checkins: str, chunk: Chunk) -> str:
    """Close contacts' stays as a subquery over `checkins`, streamed when they are the big side;
    only check-ins that can yield a stay starting in `chunk` are joined (a clipped stay starts
    at or after its check-in, and before its check-out)."""
    lo, hi = chunk
    where = [f"c.t_in < {hi}"] * (hi is not None) + [f"c.t_out > {lo}"] * (lo is not None)
    return f"({contact_stays_sql(checkins, where)})"


def source_shortcuts(
    side: str,
    sources: str,
    params: TraceParams,
    d: Dialect,
    count: Callable[[str], int],
    span: Callable[[str], Span],
) -> tuple[bool, Span]:
    """What a hop whose sources are the small side, held in table `sources`, may use: whether
    it looks up each candidate stay's best source (ASOF, venue_hop_asof_sql) instead of
    joining pairs (with at least params.asof_min_sources stays), and the sources' span
    (within_span). Neither when the candidates are the small side. Speed only, never the
    answer."""
    if side != "sources":
        return False, (None, None)
    return d.asof and count(sources) >= params.asof_min_sources, span(sources)


def smaller_side(source_people: int, candidate_people: int) -> str:
    """Which side of a hop to spread over time buckets: the one with fewer people."""
    return "sources" if source_people <= candidate_people else "candidates"


def venue_reach_sql(facts: RunFacts) -> str:
    """Per venue, the longest stay joined by its start bucket: how far back (from its start) a
    stay must be spread to meet every stay at that venue that overlaps it. A per-venue value
    instead of one for the whole city: a single 24-hour stay at a hotel must not spread every
    stay at every restaurant over a day of buckets."""
    return (
        f"SELECT venue_id AS place, least(max(t_out - t_in), {facts.reach_s}) AS reach "
        "FROM checkins GROUP BY venue_id"
    )


def long_checkins_sql(facts: RunFacts) -> str:
    """The few check-ins longer than the reach: the big side's long branch reads only these."""
    return (
        "SELECT person_id, venue_id, t_in, t_out FROM checkins "
        f"WHERE t_out - t_in > {facts.reach_s}"
    )


def case_stays_sql() -> str:
    """Cases' check-ins clipped to their infectious windows."""
    return (
        "SELECT k.person_id AS via, c.venue_id AS place, "
        "greatest(c.t_in, k.t_from) AS s, least(c.t_out, k.t_to) AS e "
        "FROM checkins c JOIN cases k ON c.person_id = k.person_id "
        "WHERE least(c.t_out, k.t_to) > greatest(c.t_in, k.t_from)"
    )


def contact_stays_sql(checkins: str, where: list[str] | None = None) -> str:
    """Close contacts' check-ins from their first exposure until their isolation (第九版)."""
    end = f"coalesce(i.t_isolated, {OPEN_END})"
    return (
        f"SELECT d.person_id AS via, c.venue_id AS place, greatest(c.t_in, d.xs) AS s, "
        f"least(c.t_out, {end}) AS e "
        f"FROM found_1 d JOIN {checkins} c ON c.person_id = d.person_id "
        "LEFT JOIN isolations i ON i.person_id = d.person_id "
        f"WHERE least(c.t_out, {end}) > greatest(c.t_in, d.xs)"
        + "".join(f" AND {w}" for w in where or [])
    )


def excluded_sql(tables: list[str]) -> str:
    """People already reported (or cases): later hops never report them again."""
    return " UNION ".join(f"SELECT DISTINCT person_id FROM {t}" for t in tables)


# At most about this many chunks per hop. Each chunk leaves out the people settled in the
# chunks before it, so the SQL grows with the square of the count; 14 days of data at one
# chunk a day (the benchmark city) stay whole, while data spread thinly over years (a platform
# pull mixing old and new check-ins) is merged into a few chunks of similar row counts instead
# of one per calendar day (1,743 chunks made such a run spin for minutes).
MAX_CHUNKS = 32


def chunk_bounds(facts: RunFacts, params: TraceParams) -> list[Chunk]:
    """[lo, hi) ranges of start time covering every stay, earliest first (open at both ends).

    Cuts fall only at the start of periods (params.chunk_s long) in which check-ins start, and
    a chunk is closed only once it holds at least 1/MAX_CHUNKS of the check-ins, so empty
    stretches of time cost nothing and there are at most MAX_CHUNKS + 1 chunks. Where the cuts
    fall changes speed only: the chunks always cover every start time."""
    total = sum(n for _, n in facts.start_counts)
    cuts: list[int] = []
    held = 0
    for period, n in facts.start_counts:
        if held and held * MAX_CHUNKS >= total:
            cuts.append(period * params.chunk_s)
            held = 0
        held += n
    return list(zip([None, *cuts], [*cuts, None], strict=True))


def venue_hop(
    name: str,
    sources: Callable[[str, Chunk], str],
    excluded: str,
    side: str,
    asof: bool,
    near: Span,
    params: TraceParams,
    d: Dialect,
    facts: RunFacts,
) -> Iterator[Stage]:
    """Stages of one hop: the big side in chunks of start time, earliest first, then the best
    exposure per person over the chunks' bests.

    Every pair met in a chunk has its exposure start at or after the chunk's start (the later
    of the two stays' starts, and the big stay starts in the chunk), so a person whose best
    exposure so far is earlier than the chunk cannot do better there and is left out of it.
    In a dense outbreak most people are found on the first day they meet a case; their pairs
    on the following days are never formed (98 M-row benchmark, first hop: 3.8 M pairs instead
    of 40 M)."""
    base, first = "checkins", [f"SELECT person_id FROM {excluded}"]
    if asof:
        yield from asof_lookups(name, sources("checkins", (None, None)), params)
    if side == "candidates":  # the small side: find the people not yet found once, not per chunk
        base, first = f"{name}_candidates", []
        yield (
            base,
            f"SELECT c.* FROM checkins c {anti_join([f'SELECT person_id FROM {excluded}'])}",
        )
    parts: list[str] = []
    for i, (lo, hi) in enumerate(chunk_bounds(facts, params)):
        settled = first + [f"SELECT person_id FROM {p} WHERE xs < {lo}" for p in parts]
        parts.append(f"{name}_{i}")
        if asof:
            sql = venue_hop_asof_sql(name, sources, settled, (lo, hi), near, params, d)
        else:
            sql = venue_hop_sql(sources, base, settled, (lo, hi), side, near, params, d, facts)
        yield (parts[-1], sql)
    union = " UNION ALL ".join(f"SELECT * FROM {p}" for p in parts)
    yield (name, best_sql(f"({union}) chunks", "xe - xs", "place", d, "src_s"))


def anti_join(settled: list[str]) -> str:
    """Leave out the people in any of the `settled` SELECTs of person_id. ANTI JOIN, not NOT
    EXISTS: DuckDB would first collect the distinct ids of every check-in to decorrelate."""
    if not settled:
        return ""
    return f"ANTI JOIN ({' UNION ALL '.join(settled)}) x ON x.person_id = c.person_id"


def asof_lookups(name: str, sources: str, params: TraceParams) -> Iterator[Stage]:
    """The source side of an ASOF hop, once per hop (sources that can qualify: >= min overlap).

    {name}_records: per place, the stays that reach later than every stay before them in
    (start, via) order: their ends rise strictly, so "the first source that stays until Y" is
    one ASOF lookup on the end. {name}_last: per place and start, the latest end reached by
    stays starting then or before. {name}_starts: the distinct start times."""
    m = min_overlap(params)
    yield (
        f"{name}_records",
        "SELECT place, s, via, e FROM (SELECT place, s, via, e, max(e) OVER (PARTITION BY place "
        "ORDER BY s, via, e DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before "
        f"FROM {sources} WHERE e - s >= {m}) r WHERE before IS NULL OR e > before",
    )
    yield (f"{name}_last", f"SELECT place, s, max(e) AS m FROM {name}_records GROUP BY place, s")
    yield (f"{name}_starts", f"SELECT DISTINCT place, s FROM {sources} WHERE e - s >= {m}")


def candidate_stays(checkins: str, settled: list[str], conditions: list[str]) -> str:
    """Stays (who, place, s, e) of the check-ins `c` in table `checkins` meeting `conditions`,
    of people not in any of the `settled` SELECTs."""
    return (
        "SELECT c.person_id AS who, c.venue_id AS place, c.t_in AS s, c.t_out AS e "
        f"FROM {checkins} c {anti_join(settled)} WHERE " + " AND ".join(conditions)
    )


def within_span(near: Span) -> list[str]:
    """Conditions on check-ins `c` overlapping `near`, the time from the first source stay's
    start to the last one's end: no other can meet a source. For one case (a 4-day window in
    14 days of data) the chunks of the other days then read only stays reaching into the
    window. Literal bounds: as scalar subqueries they turned DuckDB's scans into nested loops
    (one chunk 0.8 s -> 7.4 s). None (no sources, or not asked): no condition."""
    first, last = near
    if first is None or last is None:
        return []
    return [f"c.t_in < {int(last)}", f"c.t_out > {int(first)}"]


def min_overlap(params: TraceParams) -> int:
    """The shortest overlap that counts: min_overlap_s, and never a touch (> 0)."""
    return max(int(params.min_overlap_s), 1)


def venue_hop_asof_sql(
    name: str,
    sources: Callable[[str, Chunk], str],
    settled: list[str],
    chunk: Chunk,
    near: Span,
    params: TraceParams,
    d: Dialect,
) -> str:
    """Best qualifying venue exposure per person, without forming every overlapping pair.

    A hop's sources are the small side (cases, or a few close contacts), the candidates'
    stays in `chunk` stream by. For a candidate stay [cs, ce) at a place, the best source is:
    - if some source there started at or before cs and stays at least min overlap past cs
      (M, the latest end among sources started by cs, is found by one ASOF lookup in
      {name}_last): the exposure is [cs, Y), Y = min(M, ce), and the source is the first in
      (start, via) order that stays until Y: an ASOF lookup in {name}_records (the first source
      reaching Y is always a record);
    - otherwise the sources starting first after cs (ASOF in {name}_starts), if early enough
      for the overlap: one start time, a handful of stays, compared pair by pair.
    The result is exactly the pairwise rule's (reference.best): earliest start, longest,
    first-arrived source, smallest via. One busy venue with thousands of close contacts no
    longer makes every visitor meet every one of them (126 M pairs in one day of one case's
    second hop on the benchmark city)."""
    lo, hi = chunk
    m = min_overlap(params)
    src = sources("checkins", chunk)
    in_chunk = [f"c.t_in >= {lo}"] * (lo is not None) + [f"c.t_in < {hi}"] * (hi is not None)
    big = candidate_stays(
        "checkins", settled, [f"c.t_out - c.t_in >= {m}", *within_span(near), *in_chunk]
    )
    covered = (
        f"SELECT k.who, k.place, k.s, k.e, r.m FROM big k ASOF JOIN {name}_last r "
        f"ON k.place = r.place AND k.s >= r.s WHERE r.m - k.s >= {m}"
    )
    from_before = (
        "SELECT l.who AS person_id, r.via, l.place, l.s AS xs, least(l.m, l.e) AS xe, "
        f"r.s AS src_s FROM covered l ASOF JOIN {name}_records r "
        "ON l.place = r.place AND least(l.m, l.e) <= r.e"
    )
    first_after = (
        f"SELECT k.who, k.place, k.e, st.s AS a FROM big k ASOF JOIN {name}_starts st "
        f"ON k.place = st.place AND k.s < st.s WHERE k.e - st.s >= {m}"
    )
    from_after = (
        "SELECT f.who AS person_id, q.via, f.place, f.a AS xs, least(q.e, f.e) AS xe, "
        f"f.a AS src_s FROM first_after f JOIN {src} q ON q.place = f.place AND q.s = f.a "
        f"WHERE q.e - q.s >= {m}"
    )
    return (
        f"WITH big AS {d.materialized} ({big}), covered AS ({covered}), "
        f"first_after AS ({first_after}), "
        f"pairs AS ({from_before} UNION ALL {from_after}) "
        f"{best_sql('pairs', 'xe - xs', 'place', d, 'src_s')}"
    )


def venue_hop_sql(
    sources: Callable[[str, Chunk], str],
    base: str,
    settled: list[str],
    chunk: Chunk,
    side: str,
    near: Span,
    params: TraceParams,
    d: Dialect,
    facts: RunFacts,
) -> str:
    """Best qualifying venue exposure per person: (person_id, via, place, xs, xe, overlap).

    The smaller side is spread over every time bucket from (start - reach) to its end, reach
    being its venue's (venue_reach); each stay of the other side, if not longer than
    facts.reach_s (which caps every venue's reach), is one row keyed by its start bucket,
    so the big side is joined as it streams by and never multiplied. An overlapping pair meets
    exactly once: the big-side stay starts inside the spread range of the small-side stay.
    Longer big-side stays (rare) are spread over their own buckets and meet in the bucket of
    the overlap's start, as in `pairs_sql`; they are read from `long_checkins`, not from a
    second pass over every check-in. `sources(table)` is the source stays' relation drawn from
    the check-ins in `table`. Only big-side stays starting in `chunk` are joined, and only
    candidates not in `settled` (SELECTs of person_id) are looked for.
    """
    lo, hi = chunk
    in_chunk = (
        " AND ".join([f"s >= {lo}"] * (lo is not None) + [f"s < {hi}"] * (hi is not None)) or "TRUE"
    )
    reach, b = facts.reach_s, params.bucket_s

    def candidates(checkins: str) -> str:
        return candidate_stays(checkins, settled, ["c.t_out > c.t_in", *within_span(near)])

    def src(checkins: str) -> str:
        return f"SELECT via AS who, place, s, e FROM {sources(checkins, chunk)} src"

    small_of, big_of = (src, candidates) if side == "sources" else (candidates, src)
    small = small_of(base)
    big = f"SELECT * FROM ({big_of('checkins')}) g WHERE {in_chunk}"
    spread = (
        f"SELECT who, m.place, s, e, "
        f"{d.explode_range(d.idiv('s - r.reach', b), d.idiv('e - 1', b))} AS bucket "
        "FROM small m JOIN venue_reach r ON m.place = r.place"
    )
    a, c = ("m", "k") if side == "sources" else ("k", "m")  # a: the source, c: the candidate
    start, end = f"greatest({a}.s, {c}.s)", f"least({a}.e, {c}.e)"
    keep = f"{end} > {start} AND {end} - {start} >= {int(params.min_overlap_s)}"
    chosen = (
        f"SELECT {c}.who AS person_id, {a}.who AS via, m.place, {start} AS xs, {end} AS xe, "
        f"{a}.s AS src_s"
    )
    pairs = (
        f"{chosen} FROM small_b m JOIN big k ON m.place = k.place "
        f"AND m.bucket = {d.idiv('k.s', b)} WHERE k.e - k.s <= {reach} AND {keep}"
    )
    if facts.has_long:  # the long branch reads only long_checkins (made only then)
        long_b = (
            f"SELECT who, place, s, e, {d.explode_range(d.idiv('s', b), d.idiv('e - 1', b))} "
            f"AS bucket FROM ({big_of('long_checkins')}) g WHERE e - s > {reach} AND {in_chunk}"
        )
        pairs += (
            f" UNION ALL {chosen} FROM small_b m JOIN ({long_b}) k ON m.place = k.place "
            f"AND m.bucket = k.bucket WHERE k.bucket = {d.idiv(start, b)} AND {keep}"
        )
    return (
        f"WITH big AS {d.materialized} ({big}), small AS ({small}), small_b AS ({spread}), "
        f"pairs AS ({pairs}) {best_sql('pairs', 'xe - xs', 'place', d, 'src_s')}"
    )


def spans_sql(table: str) -> str:
    """Per place, the earliest start and latest end of the table's stays."""
    return f"SELECT place, min(s) AS lo, max(e) AS hi FROM {table} GROUP BY place"


def narrowed(sources: str) -> str:
    """Sources at places and times where some candidate is: when few people are left to find
    (the second hop in a dense outbreak), the many sources shrink to the few that matter."""
    return (
        f"SELECT a.* FROM {sources} a JOIN ({spans_sql('cand_c')}) r ON a.place = r.place "
        "WHERE a.e > r.lo AND a.s < r.hi"
    )


def bucketed(table: str, who: str, d: Dialect, b: int) -> str:
    """One row per stay and time bucket it covers (stays are non-empty: e > s)."""
    return (
        f"SELECT {who} AS who, place, s, e, "
        f"{d.explode_range(d.idiv('s', b), d.idiv('e - 1', b))} AS bucket FROM {table}"
    )


def pairs_sql(params: TraceParams, d: Dialect) -> str:
    """Overlapping (source, candidate) stays, each pair once: in the bucket of its start."""
    start, end = "greatest(a.s, c.s)", "least(a.e, c.e)"
    return (
        f"SELECT c.who AS person_id, a.who AS via, a.place, {start} AS xs, {end} AS xe "
        f"FROM src_b a JOIN cand_b c ON a.place = c.place AND a.bucket = c.bucket "
        f"WHERE a.bucket = {d.idiv(start, params.bucket_s)} AND {end} > {start} "
        f"AND {end} - {start} >= {int(params.min_overlap_s)}"
    )


def best_sql(table: str, length: str, place: str, d: Dialect, source_start: str = "") -> str:
    """Earliest exposure per person; ties: longest, the source who arrived first (venue hops:
    `source_start`, the source stay's start, kept as column src_s), smallest via, smallest
    place.

    The minimum of a struct compares field by field, so one hash aggregation picks the best
    row (cheaper than ranking every pair with a window function)."""
    arrived = [("src", source_start)] if source_start else []
    key = d.struct(
        [("xs", "xs"), ("neg", f"-({length})"), *arrived, ("via", "via"), ("place", place)]
        + [("xe", "xe")]
    )
    kept = ", b.src AS src_s" if source_start else ""
    return (
        "SELECT person_id, b.via AS via, b.place AS place, b.xs AS xs, b.xe AS xe, "
        f"-b.neg AS overlap{kept} FROM (SELECT person_id, min({key}) AS b FROM {table} "
        "GROUP BY person_id) best"
    )


def ping_spans_sql(params: TraceParams) -> str:
    """A ping stands for the time until the person's next ping, at most ping_max_gap_s."""
    gap = int(params.ping_max_gap_s)
    return (
        f"SELECT person_id, cell AS place, t AS s, "
        f"least(coalesce(lead(t) OVER (PARTITION BY person_id ORDER BY t), t + {gap}), "
        f"t + {gap}) AS e FROM ping_cells"
    )


def case_cells_sql() -> str:
    """Cases' time in each cell, clipped to their windows."""
    return (
        "SELECT k.person_id AS via, p.place, greatest(p.s, k.t_from) AS s, "
        "least(p.e, k.t_to) AS e FROM ping_spans p JOIN cases k ON p.person_id = k.person_id "
        "WHERE least(p.e, k.t_to) > greatest(p.s, k.t_from)"
    )


def companion_candidates_sql() -> str:
    """Others' time in the cells and spans the cases were in (a stage: it is read twice)."""
    return (
        f"WITH spans AS ({spans_sql('case_cells')}) "
        "SELECT p.person_id, p.place, p.s, p.e FROM ping_spans p JOIN spans r ON p.place = r.place "
        "WHERE p.e > r.lo AND p.s < r.hi AND p.e > p.s "
        "AND NOT EXISTS (SELECT 1 FROM excluded_c x WHERE x.person_id = p.person_id)"
    )


def companions_sql(params: TraceParams, d: Dialect) -> str:
    """Companions: time shared in one cell with one case, summed, more than companion_min_s."""
    b = params.bucket_s
    zero = TraceParams(min_overlap_s=0, bucket_s=b)  # every positive piece counts towards the sum
    totals = (
        "SELECT person_id, via, place, min(xs) AS xs, max(xe) AS xe, sum(xe - xs) AS total "
        f"FROM pairs GROUP BY person_id, via, place HAVING sum(xe - xs) > {int(params.companion_min_s)}"
    )
    return (
        f"WITH src AS ({narrowed('case_cells')}), "
        f"src_b AS ({bucketed('src', 'via', d, b)}), "
        f"cand_b AS ({bucketed('cand_c', 'person_id', d, b)}), "
        f"pairs AS ({pairs_sql(zero, d)}), "
        f"totals AS ({totals}) "
        f"{best_sql('totals', 'total', 'place', d)}"
    )


# The contacts table read back in the output's order: DuckDB sorts it on its threads, where
# pyarrow's sort in api.to_output took 0.15-0.27 s a million rows on one (it is skipped for
# rows already in order). Scans do not keep row order (preserve_insertion_order is off).
CONTACTS_IN_ORDER = "SELECT * FROM contacts ORDER BY degree, person_id"


def output_sql(params: TraceParams, d: Dialect, with_pings: bool) -> str:
    """The contacts in the output columns (times still epoch seconds)."""
    null_text = f"CAST(NULL AS {d.string_type})"
    parts = [
        f"SELECT person_id, '1' AS degree, via AS via_person_id, place AS venue_id, "
        f"{null_text} AS cell, xs AS exposure_start, xe AS exposure_end, overlap AS overlap_seconds "
        "FROM found_1"
    ]
    if params.hops == 2:
        parts.append(parts[0].replace("'1'", "'2'").replace("found_1", "found_2"))
    if with_pings:
        parts.append(
            "SELECT person_id, 'companion' AS degree, via AS via_person_id, "
            "CAST(NULL AS BIGINT) AS venue_id, place AS cell, xs AS exposure_start, "
            "xe AS exposure_end, overlap AS overlap_seconds FROM found_c"
        )
    return " UNION ALL ".join(parts)
