"""Configuration of the synthetic city and the random streams derived from it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

TZ = "Asia/Shanghai"
# China Standard Time has been UTC+8 all year since daylight saving was dropped in 1991.
UTC_OFFSET_S = 8 * 3600
TIMESTAMP = pa.timestamp("s", tz=TZ)
DAY_S = 86_400

# Independent random streams: changing one part of the model (or switching pings on) never
# changes the numbers drawn by another part, so check-ins are identical with and without pings.
STREAM_GEOGRAPHY = 1
STREAM_VENUES = 2
STREAM_POPULATION = 3
STREAM_HABITS = 4
STREAM_DAY = 5
STREAM_PINGS = 6


@dataclass(frozen=True)
class SynthConfig:
    """Everything that determines a synthetic city; equal configs give identical data."""

    people: int
    days: int = 14
    seed: int = 0
    start: date = date(2022, 3, 1)  # first simulated day, local time Asia/Shanghai
    pings: bool = False
    roots: tuple[str, ...] = ("3502",)  # division codes whose grids hold the homes
    divisions_dir: Path | None = None  # None -> epicore.divisions.default_divisions_dir()
    # Share of check-ins whose t_out is null (people forget to scan out). Assumption.
    missing_checkout_fraction: float = 0.02
    # Mean check-ins per person and day. A tuning target, not an observation: the tracing
    # benchmark needs ~100 M check-ins for 1 M people over 14 days. Errand intensity is
    # calibrated so that the realised mean lands here (see movement.py).
    checkins_per_day: float = 7.0
    # Minutes between phone location pings while awake (07:00-23:00). Assumption: carriers'
    # passive location records are typically every 15-60 minutes.
    ping_interval_minutes: int = 30
    # Share of residents holding a foreign passport. Brief: ~0.5 %.
    foreign_fraction: float = 0.005
    # Residents simulated together in one block. Fixed (not tuned to the machine) so that the
    # output does not depend on hardware; bounds memory to a few hundred MB per block.
    block_size: int = 1 << 18

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise ValueError("seed must be >= 0")
        if self.people < 1:
            raise ValueError("people must be at least 1")
        if self.days < 0:
            raise ValueError("days must be >= 0")
        if not 0.0 <= self.missing_checkout_fraction <= 1.0:
            raise ValueError("missing_checkout_fraction must be within [0, 1]")
        if self.ping_interval_minutes < 1:
            raise ValueError("ping_interval_minutes must be >= 1")
        if not self.roots:
            raise ValueError("roots must name at least one division code")


def rng_for(cfg: SynthConfig, stream: int, *key: int) -> np.random.Generator:
    """A generator for one part of the model; the key makes blocks and days independent."""
    return np.random.default_rng(np.random.SeedSequence([cfg.seed, stream, *key]))


def day_epoch(day: date) -> int:
    """Seconds since the Unix epoch at local midnight starting `day` (Asia/Shanghai)."""
    return (day - date(1970, 1, 1)).days * DAY_S - UTC_OFFSET_S
