"""What a tracing run did to its input and how long it took: nothing is repaired silently."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class TraceReport:
    """Counts of rows repaired or dropped, by file and reason, plus notes and stage timings."""

    repairs: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    rows_read: dict[str, int] = field(default_factory=dict)

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """Add the seconds spent in the block to timings[stage]."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - start

    def count(self, source: str, reason: str, rows: int) -> None:
        """Record `rows` rows of `source` repaired or dropped for `reason` (zero is not kept)."""
        if rows:
            key = f"{source}: {reason}"
            self.repairs[key] = self.repairs.get(key, 0) + int(rows)

    def as_dict(self) -> dict[str, Any]:
        return {
            "repairs": dict(self.repairs),
            "notes": list(self.notes),
            "timings": dict(self.timings),
            "rows_read": dict(self.rows_read),
        }

    def summary(self) -> str:
        """One line, for the command line."""
        if not self.repairs:
            return "no repairs"
        return "; ".join(f"{k} {v:,}" for k, v in sorted(self.repairs.items()))
