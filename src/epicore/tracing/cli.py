"""Command line: python -m epicore.tracing --checkins PATH --cases PATH --out PATH [options].

Progress (one line per stage, with the elapsed time) goes to stderr; one summary line to stdout.
Exit status: 0 done, 2 bad input or arguments (the message names the file, column and problem).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from epicore.errors import ValidationError
from epicore.tracing.api import trace, write_contacts
from epicore.tracing.params import TraceParams


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    defaults = TraceParams()
    parser = argparse.ArgumentParser(
        prog="python -m epicore.tracing",
        description="Close contacts, secondary contacts and spatio-temporal companions of cases.",
    )
    parser.add_argument(
        "--checkins", type=Path, required=True, help="person_id, venue_id, t_in, t_out"
    )
    parser.add_argument("--cases", type=Path, required=True, help="person_id, t_from, t_to")
    parser.add_argument("--pings", type=Path, help="person_id, t, lat, lon (for companions)")
    parser.add_argument("--venues", type=Path, help="venue_id, kind (assumed dwell by kind)")
    parser.add_argument("--isolations", type=Path, help="person_id, t_isolated (close contacts)")
    parser.add_argument("--out", type=Path, required=True, help="output .parquet or .csv")
    parser.add_argument("--engine", choices=("duckdb", "spark", "reference"), default="duckdb")
    parser.add_argument("--min-overlap", type=int, default=defaults.min_overlap_s, help="seconds")
    parser.add_argument("--hops", type=int, choices=(1, 2), default=defaults.hops)
    parser.add_argument("--cell-m", type=float, default=defaults.cell_m, help="grid cell, metres")
    parser.add_argument(
        "--companion-min", type=int, default=defaults.companion_min_s, help="seconds"
    )
    parser.add_argument("--reject-bad-rows", action="store_true", help="fail instead of repairing")
    parser.add_argument("--report", type=Path, help="write the repairs and timings as JSON here")
    parser.add_argument("--threads", type=int, help="DuckDB threads (default: all cores)")
    parser.add_argument("--memory-limit", help="DuckDB memory limit, e.g. 6GB")
    return parser.parse_args(argv)


def params_from(args: argparse.Namespace) -> TraceParams:
    return TraceParams(
        min_overlap_s=args.min_overlap,
        hops=args.hops,
        cell_m=args.cell_m,
        companion_min_s=args.companion_min,
        on_bad_rows="reject" if args.reject_bad_rows else "repair",
    )


def stderr_progress():
    start = time.perf_counter()

    def show(stage: str) -> None:
        print(f"[{time.perf_counter() - start:7.1f} s] {stage}", file=sys.stderr, flush=True)

    return show


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    progress = stderr_progress()
    try:
        params = params_from(args)
        progress("reading inputs")
        result = trace(
            args.checkins, args.cases, pings=args.pings, venues=args.venues,
            isolations=args.isolations, params=params, engine=args.engine, progress=progress,
            threads=args.threads, memory_limit=args.memory_limit,
        )  # fmt: skip
        write_contacts(result.contacts, args.out)
    except ValidationError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    if args.report:
        args.report.write_text(json.dumps(result.report.as_dict(), indent=2, ensure_ascii=False))
    progress("done")
    print(f"{result.summary()} out={args.out}")
    return 0
