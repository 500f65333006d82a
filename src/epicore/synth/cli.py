"""Command line: python -m epicore.synth --people N --days D --seed S --out DIR [--pings]."""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from epicore.synth.config import SynthConfig
from epicore.synth.writer import write_parquet


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m epicore.synth",
        description="Generate a deterministic synthetic city (people, venues, check-ins, pings).",
    )
    parser.add_argument("--people", type=int, required=True, help="number of residents")
    parser.add_argument("--days", type=int, default=14, help="days to simulate (default 14)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--pings", action="store_true", help="also write phone location pings")
    parser.add_argument(
        "--start", type=date.fromisoformat, default=date(2022, 3, 1), help="first day YYYY-MM-DD"
    )
    parser.add_argument(
        "--roots", default="3502", help="comma-separated division codes holding the homes"
    )
    parser.add_argument("--divisions-dir", type=Path, default=None)
    parser.add_argument("--checkins-per-day", type=float, default=7.0)
    parser.add_argument("--missing-checkout-fraction", type=float, default=0.02)
    parser.add_argument("--ping-interval-minutes", type=int, default=30)
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> SynthConfig:
    return SynthConfig(
        people=args.people,
        days=args.days,
        seed=args.seed,
        start=args.start,
        pings=args.pings,
        roots=tuple(r.strip() for r in args.roots.split(",") if r.strip()),
        divisions_dir=args.divisions_dir,
        checkins_per_day=args.checkins_per_day,
        missing_checkout_fraction=args.missing_checkout_fraction,
        ping_interval_minutes=args.ping_interval_minutes,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the generator; a progress line per day on stderr, a summary line on stdout."""
    args = parse_args(argv)
    try:
        cfg = config_from_args(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def progress(day_index: int, days: int, summary: dict[str, Any]) -> None:
        day = cfg.start + timedelta(days=day_index)
        seconds = summary["seconds"]
        elapsed = sum(v for k, v in seconds.items() if k != "movement") + seconds["movement"]
        print(
            f"day {day_index + 1}/{days} {day.isoformat()}: {summary['checkins']:,} check-ins"
            + (f", {summary['pings']:,} pings" if cfg.pings else "")
            + f" ({elapsed:.1f} s)",
            file=sys.stderr,
            flush=True,
        )

    summary = write_parquet(cfg, args.out, progress=progress)
    print(
        f"people={summary['people']} venues={summary['venues']} "
        f"checkins={summary['checkins']} pings={summary['pings']} "
        f"seconds={summary['seconds']['total']:.1f} out={summary['out_dir']}"
    )
    return 0
