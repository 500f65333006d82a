"""Rule parameters of a tracing run, with the sources of their defaults.

A `TraceParams` is the rule set: equal parameters on equal input give the same contacts, whatever
the engine. Defaults follow the sources cited next to each field; docs/tracing.md discusses them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from epicore.errors import ValidationError

# Assumed stay when a person scanned in but never out. Nothing official: the medians of the
# synthetic city's visit lengths (docs/synth.md, "visit length"; assumptions there), rounded,
# with a whole shift for workplaces and schools. Used only when t_out is missing.
DWELL_BY_KIND_S: MappingProxyType[str, int] = MappingProxyType(
    {
        "restaurant": 45 * 60,
        "convenience_store": 5 * 60,
        "supermarket": 25 * 60,
        "wet_market": 30 * 60,
        "shopping_mall": 120 * 60,
        "hospital": 60 * 60,
        "clinic": 30 * 60,
        "pharmacy": 10 * 60,
        "gym": 60 * 60,
        "ktv": 180 * 60,
        "internet_cafe": 240 * 60,
        "cinema": 130 * 60,
        "hotel": 12 * 3600,
        "bus_station": 10 * 60,
        "metro_station": 10 * 60,
        "train_station": 60 * 60,
        "barbershop": 30 * 60,
        "bank": 20 * 60,
        "government_office": 45 * 60,
        "kindergarten": 8 * 3600,
        "primary_school": 8 * 3600,
        "middle_school": 8 * 3600,
        "university": 8 * 3600,
        "factory": 8 * 3600,
        "office_building": 8 * 3600,
    }
)


@dataclass(frozen=True)
class TraceParams:
    """The contact rules. Times are in seconds, distances in metres."""

    # Minimum overlap of two stays at one venue to count as contact. 第九版 (国务院联防联控机制
    # 《新型冠状病毒肺炎防控方案（第九版）》, 2022-06-27) sets no duration for sharing a place; we
    # follow WHO "Contact tracing in the context of COVID-19", interim guidance 2021-02-01:
    # face-to-face or same closed setting for >= 15 minutes. An overlap must also be > 0.
    min_overlap_s: int = 15 * 60
    # 1: close contacts (密接) only; 2: also secondary contacts (密接的密接), 第九版 §4.4.
    hops: int = 2
    # Stay assumed when t_out is missing and the venue kind is unknown (assumption: 30 min).
    default_dwell_s: int = 30 * 60
    dwell_by_kind: MappingProxyType[str, int] = field(default_factory=lambda: DWELL_BY_KIND_S)
    # 时空伴随: same 800 m x 800 m grid cell for more than 10 minutes. 成都市新冠肺炎疫情防控
    # 指挥部 press conference 2021-11-04 (the "时空伴随者" definition published with it, also
    # carried by the 通信大数据行程卡 explanations); the companion rule there adds a 30-hour
    # cumulative stay over 14 days that we do not apply.
    cell_m: float = 800.0
    companion_min_s: int = 10 * 60
    # A ping stands for the time until the same person's next ping, at most this long (the
    # synthetic city and carriers' passive location report every ~30 min; assumption).
    ping_max_gap_s: int = 30 * 60
    # Origin (lat, lon) of the equal-area projection and of the cell grid. None: derived from the
    # pings (south-west corner rounded down to 0.1 degree), so one data set always gets one grid.
    grid_origin: tuple[float, float] | None = None
    # Width of the time buckets the fast engines join on; changes speed, never the answer.
    bucket_s: int = 1800
    # Stays longer than this are joined bucket by bucket instead of by their start; changes
    # speed only. A day covers shifts, nights out and hotel nights.
    long_stay_s: int = 24 * 3600
    # A hop joins the big side's stays in chunks of this many seconds of start time, earliest
    # first; people whose best exposure is earlier than a chunk are not looked for in it (no
    # later pair can beat an earlier one). Changes speed only: on the 98 M-row benchmark city
    # it cut the first hop's qualifying pairs from 40 M to 3.8 M.
    chunk_s: int = 24 * 3600
    # A hop whose sources (cases, or close contacts) are the smaller side and have at least
    # this many stays looks up each candidate stay's best source (DuckDB ASOF joins) instead
    # of forming every overlapping pair; changes speed only (property-tested with 0 and the
    # default). Pairs are cheaper for few sources (1,000 cases: 29 k stays, hop 1 ~0.6 s
    # faster on the 98 M-row benchmark city); lookups win when many close contacts crowd busy
    # venues (one case's second hop: 1.2 M stays, 126 M pairs and 23 s in one day's chunk).
    asof_min_sources: int = 100_000
    # The embedded engine runs the venue hops as compiled loops over the check-ins held in
    # memory (epicore.tracing.sweep) instead of the SQL stages of epicore.tracing.plan.
    # Changes speed only (both are property-tested against the reference); the SQL stages are
    # still used when ids span too wide a range for per-person arrays.
    compiled_hops: bool = True
    # Count exact duplicate check-ins for the report. They never change the contacts (a set),
    # so a caller that knows its data is clean may skip this full hash aggregation.
    check_duplicates: bool = True
    # "repair": drop or fill bad rows and count them in the report; "reject": raise instead.
    on_bad_rows: str = "repair"

    def __post_init__(self) -> None:
        if self.hops not in (1, 2):
            raise ValidationError("tracing.bad_param", "hops must be 1 or 2", name="hops")
        if self.on_bad_rows not in ("repair", "reject"):
            raise ValidationError(
                "tracing.bad_param", "on_bad_rows must be repair or reject", name="on_bad_rows"
            )
        for name in ("min_overlap_s", "default_dwell_s", "companion_min_s", "ping_max_gap_s"):
            if getattr(self, name) < 0:
                raise ValidationError("tracing.bad_param", f"{name} must be >= 0", name=name)
        if self.cell_m <= 0 or self.bucket_s <= 0 or self.chunk_s <= 0:
            raise ValidationError("tracing.bad_param", "cell_m, bucket_s and chunk_s must be > 0")
        if not isinstance(self.dwell_by_kind, MappingProxyType):
            object.__setattr__(self, "dwell_by_kind", MappingProxyType(dict(self.dwell_by_kind)))

    @property
    def shortest_stay_s(self) -> int:
        """Seconds a stay must last to take part in a hop: an exposure lasts at least the
        minimum overlap, and more than 0 s, and lies within both stays."""
        return max(int(self.min_overlap_s), 1)

    def as_dict(self) -> dict[str, Any]:
        """Plain values, for reports and for shipping to Spark executors."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["dwell_by_kind"] = dict(self.dwell_by_kind)
        return out
