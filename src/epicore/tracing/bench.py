"""Benchmark: python -m epicore.tracing.bench [--people N --days D --cases C --repeat R].

In one run, on a synthetic city from epicore.synth (cached in --cache):
1. the time DuckDB takes to read the whole check-in file once (every column, aggregated), and
   the time pyarrow takes to decode it (the engine's own reader for such a file);
2. tracing with two hops on the fast DuckDB engine (median of R runs, each in a fresh child
   process so its peak RSS can be measured), and its ratios to (1);
3. the straightforward SQL (a self-join on venue with interval overlap, both hops) against the
   fast engine on a subset of people the plain join can finish, with the same answer;
4. Spark in local mode on a ~10 M check-in subset, checked against DuckDB on the same subset.
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from epicore.synth.writer import CHECKIN_WRITE_OPTIONS
from epicore.tracing.api import trace
from epicore.tracing.inputs import connect
from epicore.tracing.params import TraceParams

DAY_S = 86_400
# 第九版 §4.4: close contacts are traced from 4 days before onset (or sampling) of the case.
LOOKBACK_S = 4 * DAY_S
# The case is isolated on the day it is found (assumption), so its window ends then.
DEFAULT_CACHE = Path("/tmp/epicore-tracing-bench")


def city_dir(args: argparse.Namespace) -> Path:
    """Generate the city once per (people, days, seed); later runs reuse the files."""
    out = args.cache / f"city-p{args.people}-d{args.days}-s{args.seed}"
    if not (out / "checkins.parquet").exists():
        from epicore.synth import SynthConfig, write_parquet

        print(f"generating {out} ...", file=sys.stderr, flush=True)
        partial = out.with_suffix(".partial")
        write_parquet(SynthConfig(people=args.people, days=args.days, seed=args.seed), partial)
        partial.rename(out)
    return out


def pick_cases(checkins: Path, count: int, seed: int, modulo: int = 1) -> pa.Table:
    """`count` people with check-ins (person_id % modulo == 0), each found on a random day."""
    con = connect()
    people, first, last = con.execute(
        f"SELECT list(DISTINCT person_id ORDER BY person_id), min(epoch(t_in))::BIGINT, "
        f"max(epoch(t_in))::BIGINT FROM read_parquet('{checkins}') WHERE person_id % {modulo} = 0"
    ).fetchall()[0]
    con.close()
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(np.asarray(people), min(count, len(people)), replace=False))
    day0 = first - (first + 8 * 3600) % DAY_S  # local midnight of the first day
    days = max(1, (last - day0) // DAY_S)
    found = (
        day0
        + rng.integers(min(4, days - 1), days, len(chosen)) * DAY_S
        + rng.integers(8 * 3600, 20 * 3600, len(chosen))
    )
    return pa.table({"person_id": chosen, "t_from": found - LOOKBACK_S, "t_to": found})


def read_once(checkins: Path, threads: int) -> float:
    """Seconds for DuckDB to read every column of every row of the check-in file."""
    con = connect(threads)
    start = time.perf_counter()
    con.execute(
        "SELECT count(*), sum(person_id), sum(venue_id), sum(epoch(t_in)), sum(epoch(t_out)) "
        f"FROM read_parquet('{checkins}')"
    ).fetchall()
    seconds = time.perf_counter() - start
    con.close()
    return seconds


def decoded_once(checkins: Path) -> float:
    """Seconds for pyarrow to decode every column of every row group, as the engine's loader
    reads a Parquet file (sweep.parquet_batches): a stricter baseline than DuckDB's read."""
    from epicore.tracing.sweep import parquet_batches

    start = time.perf_counter()
    for _batch in parquet_batches(checkins):
        pass
    return time.perf_counter() - start


def _trace_child(job: dict) -> dict:
    if job.get("warm_up"):
        from epicore.tracing.sweep import warm_up

        start = time.perf_counter()
        warm_up()
        return {"seconds": time.perf_counter() - start}
    start = time.perf_counter()
    params = TraceParams(
        hops=2,
        check_duplicates=job.get("check_duplicates", True),
        compiled_hops=job.get("compiled_hops", True),
    )
    result = trace(
        job["checkins"], job["cases"], venues=job["venues"], params=params,
        engine="duckdb", threads=job["threads"], memory_limit=job["memory_limit"],
    )  # fmt: skip
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "counts": result.counts(), "timings": result.report.timings}


def traced_in_child(job: dict) -> dict:
    """One tracing run in a fresh process; its peak RSS is read from RUSAGE_CHILDREN."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        out = pool.apply(_trace_child, (job,))
    out["peak_rss_gb_so_far"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    return out


def subset(checkins: Path, rows_wanted: int, total_rows: int, cache: Path) -> tuple[Path, int]:
    """Check-ins of every k-th person (person_id % k == 0), about rows_wanted rows.

    Written with pyarrow and the generator's settings: DuckDB 2.0.0 failed with an internal
    error ("dict-surviving cache ... changed identity") reading a subset written by its own
    COPY with dictionary encoding."""
    modulo = max(1, round(total_rows / rows_wanted))
    path = cache / f"{checkins.parent.name}-every{modulo}.parquet"
    if not path.exists():
        source = pq.ParquetFile(checkins)
        partial = path.with_suffix(".partial")
        with pq.ParquetWriter(partial, source.schema_arrow, **CHECKIN_WRITE_OPTIONS) as writer:
            for batch in source.iter_batches(batch_size=1 << 20):
                ids = batch["person_id"]
                keep = pc.equal(pc.subtract(ids, pc.multiply(pc.divide(ids, modulo), modulo)), 0)
                writer.write_batch(batch.filter(keep))
        partial.rename(path)
    return path, modulo


PLAIN_SQL = """
WITH ck AS (
  SELECT c.person_id, c.venue_id, epoch(c.t_in)::BIGINT AS t_in,
         coalesce(epoch(c.t_out)::BIGINT, epoch(c.t_in)::BIGINT + coalesce(d.dwell_s, {dwell})) AS t_out
  FROM read_parquet('{checkins}') c LEFT JOIN dwell d ON c.venue_id = d.venue_id),
p1 AS (
  SELECT o.person_id, k.person_id AS via, o.venue_id,
         greatest(c.t_in, k.t_from, o.t_in) AS xs, least(c.t_out, k.t_to, o.t_out) AS xe
  FROM ck c JOIN cases k ON c.person_id = k.person_id
  JOIN ck o ON o.venue_id = c.venue_id AND o.t_in < c.t_out AND o.t_out > c.t_in
  WHERE o.person_id NOT IN (SELECT person_id FROM cases)),
d1 AS (SELECT * FROM p1 WHERE xe > xs AND xe - xs >= {min_s}
       QUALIFY row_number() OVER (PARTITION BY person_id ORDER BY xs, xe - xs DESC, via, venue_id) = 1),
p2 AS (
  SELECT o.person_id, d.person_id AS via, o.venue_id,
         greatest(c.t_in, d.xs, o.t_in) AS xs, least(c.t_out, o.t_out) AS xe
  FROM ck c JOIN d1 d ON c.person_id = d.person_id
  JOIN ck o ON o.venue_id = c.venue_id AND o.t_in < c.t_out AND o.t_out > c.t_in
  WHERE o.person_id NOT IN (SELECT person_id FROM cases) AND o.person_id NOT IN (SELECT person_id FROM d1)),
d2 AS (SELECT * FROM p2 WHERE xe > xs AND xe - xs >= {min_s}
       QUALIFY row_number() OVER (PARTITION BY person_id ORDER BY xs, xe - xs DESC, via, venue_id) = 1)
SELECT (SELECT count(*) FROM d1), (SELECT count(*) FROM d2)
"""


def plain_sql(
    checkins: Path, venues: Path, cases: pa.Table, threads: int, memory_limit: str
) -> tuple[float, tuple]:
    """The straightforward formulation: self-join on venue, overlap as a join filter."""
    params = TraceParams()
    con = connect(threads, memory_limit)
    con.register("cases", cases)
    kinds = pa.table(
        {"kind": list(params.dwell_by_kind), "dwell_s": list(params.dwell_by_kind.values())}
    )
    con.register("kinds", kinds)
    con.execute(
        f"CREATE TABLE dwell AS SELECT v.venue_id, k.dwell_s FROM read_parquet('{venues}') v JOIN kinds k USING (kind)"
    )
    start = time.perf_counter()
    counts = con.execute(
        PLAIN_SQL.format(
            checkins=checkins, dwell=params.default_dwell_s, min_s=params.min_overlap_s
        )
    ).fetchall()[0]
    seconds = time.perf_counter() - start
    con.close()
    return seconds, counts


class Rows(list):
    """Table rows, also printed to stderr as they come (a crash late in a run keeps them)."""

    def append(self, row: tuple[str, str, str]) -> None:
        super().append(row)
        print("| " + " | ".join(row) + " |", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m epicore.tracing.bench")
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="6GB")
    parser.add_argument("--baseline-rows", type=int, default=10_000_000)
    parser.add_argument("--spark-rows", type=int, default=10_000_000)
    parser.add_argument("--no-spark", action="store_true")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    city = city_dir(args)
    checkins, venues = city / "checkins.parquet", city / "venues.parquet"
    total_rows = pq.ParquetFile(checkins).metadata.num_rows
    cases = pick_cases(checkins, args.cases, args.seed)
    job = {
        "checkins": str(checkins),
        "cases": cases,
        "venues": str(venues),
        "threads": args.threads,
        "memory_limit": args.memory_limit,
    }
    rows = Rows()
    # The compiled loops are compiled once and cached on disk (numba); not part of a run.
    warm = traced_in_child({"warm_up": True})
    print(f"compiled loops ready in {warm['seconds']:.1f} s", file=sys.stderr, flush=True)

    reads = [read_once(checkins, args.threads) for _ in range(args.repeat)]
    read = statistics.median(reads)
    rows.append(
        (f"DuckDB reads the check-ins once ({total_rows:,} rows)", f"{read:.1f} s", "median")
    )
    decode = statistics.median(decoded_once(checkins) for _ in range(args.repeat))
    rows.append(
        ("pyarrow decodes the same file once (the engine's reader)", f"{decode:.1f} s", "median")
    )
    runs = []
    for i in range(args.repeat):
        print(f"tracing run {i + 1}/{args.repeat} ...", file=sys.stderr, flush=True)
        runs.append(traced_in_child(job))
    fast = statistics.median(r["seconds"] for r in runs)
    counts = runs[0]["counts"]
    rows.append(
        (
            f"trace, 2 hops, {len(cases)} cases: {counts['1']:,} close, {counts['2']:,} secondary",
            f"{fast:.1f} s",
            "median, fresh process",
        )
    )
    rows.append(("ratio trace / read (target <= 3)", f"{fast / read:.2f}", ""))
    rows.append(("ratio trace / pyarrow's decoding (stricter)", f"{fast / decode:.2f}", ""))
    peak = max(r["peak_rss_gb_so_far"] for r in runs)
    rows.append(
        (
            "peak RSS of a tracing process (target <= 8 GB)",
            f"{peak:.2f} GB",
            f"DuckDB memory_limit {args.memory_limit}",
        )
    )
    stages = {k: statistics.median(r["timings"][k] for r in runs) for k in runs[0]["timings"]}
    clean = traced_in_child({**job, "check_duplicates": False})
    rows.append(
        (
            "trace, same, without the duplicate count (check_duplicates=False)",
            f"{clean['seconds']:.1f} s",
            f"ratio {clean['seconds'] / read:.2f}, one run",
        )
    )

    sql_stages = traced_in_child({**job, "compiled_hops": False})
    rows.append(
        (
            "trace, same, with the SQL stages instead of the compiled hops",
            f"{sql_stages['seconds']:.1f} s",
            f"ratio {sql_stages['seconds'] / read:.2f}, one run (the engine before 2026-12-07)",
        )
    )

    sub, modulo = subset(checkins, args.baseline_rows, total_rows, args.cache)
    sub_rows = pq.ParquetFile(sub).metadata.num_rows
    sub_cases = pick_cases(sub, max(1, args.cases // modulo), args.seed, modulo)
    print("plain SQL baseline ...", file=sys.stderr, flush=True)
    plain_s, plain_counts = plain_sql(sub, venues, sub_cases, args.threads, args.memory_limit)
    start = time.perf_counter()
    fast_sub = trace(
        sub, sub_cases, venues=venues, threads=args.threads, memory_limit=args.memory_limit
    )
    fast_sub_s = time.perf_counter() - start
    same = plain_counts == (fast_sub.counts()["1"], fast_sub.counts()["2"])
    rows.append(
        (
            f"plain self-join SQL, {sub_rows:,} check-ins, {len(sub_cases)} cases",
            f"{plain_s:.1f} s",
            f"{plain_counts[0]:,} + {plain_counts[1]:,} contacts",
        )
    )
    rows.append(
        (
            "fast engine (compiled hops), same subset (incl. reading)",
            f"{fast_sub_s:.2f} s",
            "same counts" if same else "DIFFERENT COUNTS",
        )
    )
    rows.append(("speed-up (target >= 20)", f"{plain_s / fast_sub_s:.1f}x", ""))

    if not args.no_spark:
        from epicore.tracing.spark import local_session

        sp, sp_mod = subset(checkins, args.spark_rows, total_rows, args.cache)
        sp_rows = pq.ParquetFile(sp).metadata.num_rows
        sp_cases = pick_cases(sp, max(1, args.cases // sp_mod), args.seed, sp_mod)
        duck = trace(
            sp, sp_cases, venues=venues, threads=args.threads, memory_limit=args.memory_limit
        )
        session = local_session(args.threads)
        session.range(1).count()  # start-up is not part of the measurement
        start = time.perf_counter()
        spark_result = trace(sp, sp_cases, venues=venues, engine="spark", spark=session)
        spark_s = time.perf_counter() - start
        same = spark_result.contacts.equals(duck.contacts)
        rows.append(
            (
                f"Spark local[{args.threads}], {sp_rows:,} check-ins, {len(sp_cases)} cases",
                f"{spark_s:.1f} s",
                "identical to DuckDB" if same else "DIFFERENT from DuckDB",
            )
        )
        rows.append(
            (
                "DuckDB, same subset",
                f"{sum(duck.report.timings[k] for k in ('load', 'trace')):.1f} s",
                f"{len(duck.contacts):,} contacts",
            )
        )

    print(
        f"\ntracing benchmark (final table): {args.people:,} people x {args.days} days, seed {args.seed}, {args.threads} threads\n"
    )
    print("| measure | value | note |\n|---|---:|---|")
    for measure, value, note in rows:
        print(f"| {measure} | {value} | {note} |")
    print("\n| stage (median) | seconds |\n|---|---:|")
    for name, value in stages.items():
        print(f"| {name} | {value:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
