"""Deterministic synthetic city for tests and benchmarks: residents, venues, check-ins, pings.

    from epicore.synth import SynthConfig, write_parquet
    write_parquet(SynthConfig(people=10_000, days=3, seed=1), "out/")

Pure Python, NumPy and Arrow (never Django): see docs/synth.md for the model and its sources.
"""

from epicore.synth.cli import main
from epicore.synth.config import SynthConfig
from epicore.synth.geography import build_city
from epicore.synth.movement import CHECKIN_SCHEMA, PING_SCHEMA, iter_checkins, iter_pings
from epicore.synth.population import PEOPLE_SCHEMA, generate_population
from epicore.synth.venues import KIND_NAMES, VENUE_SCHEMA, generate_venues
from epicore.synth.writer import write_parquet

__all__ = [
    "CHECKIN_SCHEMA",
    "KIND_NAMES",
    "PEOPLE_SCHEMA",
    "PING_SCHEMA",
    "VENUE_SCHEMA",
    "SynthConfig",
    "build_city",
    "generate_population",
    "generate_venues",
    "iter_checkins",
    "iter_pings",
    "main",
    "write_parquet",
]
