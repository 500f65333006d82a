"""Benchmark: python -m epicore.synth.bench [--people N --days D --repeat R].

Runs the whole generator R times (people, venues, check-ins to Parquet) and reports the median
wall time and rows per second next to an I/O floor measured in the same run: the time pyarrow
takes to write as many rows of already-generated random int64/timestamp columns with the same
writer settings. The ratio says how much the simulation costs on top of merely writing.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from epicore.synth.config import SynthConfig
from epicore.synth.geography import _build_city
from epicore.synth.movement import CHECKIN_SCHEMA
from epicore.synth.writer import CHECKIN_WRITE_OPTIONS, MAX_ROW_GROUP, write_parquet

FLOOR_BATCH_ROWS = 1 << 21


def run_generator(cfg: SynthConfig, out: Path) -> tuple[float, dict]:
    """Wall seconds of one cold run (the city layout cache is cleared first)."""
    _build_city.cache_clear()
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    summary = write_parquet(cfg, out)
    return time.perf_counter() - start, summary


def random_checkins(rows: int, seed: int = 0) -> pa.RecordBatch:
    """A batch shaped like check-ins, drawn at random (uniform ids and times of one day)."""
    rng = np.random.default_rng(seed)
    t_in = rng.integers(1_646_064_000, 1_646_064_000 + 86_400, rows)
    return pa.RecordBatch.from_arrays(
        [
            pa.array(rng.integers(1, 1_000_000, rows)),
            pa.array(rng.integers(1, 20_000, rows)),
            pa.array(t_in, CHECKIN_SCHEMA.field("t_in").type),
            pa.array(
                t_in + rng.integers(0, 3_600, rows),
                CHECKIN_SCHEMA.field("t_out").type,
                mask=rng.random(rows) < 0.02,
            ),
        ],
        schema=CHECKIN_SCHEMA,
    )


def io_floor(rows: int, path: Path) -> float:
    """Seconds to write `rows` pre-generated check-in rows with the generator's settings."""
    batch = random_checkins(min(rows, FLOOR_BATCH_ROWS))
    start = time.perf_counter()
    with pq.ParquetWriter(path, CHECKIN_SCHEMA, **CHECKIN_WRITE_OPTIONS) as writer:
        left = rows
        while left > 0:
            part = batch if left >= batch.num_rows else batch.slice(0, left)
            writer.write_batch(part, row_group_size=MAX_ROW_GROUP)
            left -= part.num_rows
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m epicore.synth.bench")
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pings", action="store_true")
    parser.add_argument("--out", type=Path, default=None, help="scratch directory (temporary)")
    args = parser.parse_args(argv)
    cfg = SynthConfig(people=args.people, days=args.days, seed=args.seed, pings=args.pings)
    scratch = Path(args.out or tempfile.mkdtemp(prefix="synth-bench-"))
    try:
        runs = [run_generator(cfg, scratch / "city") for _ in range(args.repeat)]
        rows = runs[0][1]["checkins"] + runs[0][1]["pings"]
        floors = [io_floor(rows, scratch / "floor.parquet") for _ in range(args.repeat)]
    finally:
        if args.out is None:
            shutil.rmtree(scratch, ignore_errors=True)
    gen = statistics.median(t for t, _ in runs)
    floor = statistics.median(floors)
    stages = {k: statistics.median(s["seconds"][k] for _, s in runs) for k in runs[0][1]["seconds"]}
    print(
        f"synthetic city: {args.people:,} people x {args.days} days, seed {args.seed}, "
        f"{args.repeat} runs (median)\n"
    )
    print("| measure | seconds | rows | rows/s |")
    print("|---|---:|---:|---:|")
    print(f"| generator, end to end | {gen:.1f} | {rows:,} | {rows / gen:,.0f} |")
    print(f"| I/O floor: write pre-generated rows | {floor:.1f} | {rows:,} | {rows / floor:,.0f} |")
    print(f"| ratio generator / floor | {gen / floor:.2f} | | |")
    print("\n| stage | seconds |\n|---|---:|")
    for name, value in stages.items():
        print(f"| {name} | {value:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
