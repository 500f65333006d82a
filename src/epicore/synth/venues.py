"""Venues: what kinds exist, how many per resident, how big, where, and who works there."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from epicore.synth import demography as dem
from epicore.synth.config import STREAM_VENUES, SynthConfig, rng_for
from epicore.synth.geography import City, build_city, km_to_deg
from epicore.synth.names import venue_names

WEEKDAY, SIX_DAY, ROTA = "weekday", "six_day", "rota"


@dataclass(frozen=True)
class VenueKind:
    """One kind of venue. Counts are per 1,000 residents unless sized from demand (None)."""

    kind: str
    per_1000: float | None
    capacity: tuple[int, int]  # people inside at once, ~95 % range of a lognormal
    staff_ratio: float  # jobs per unit of capacity
    decay_km: float  # distance decay of visits (exp(-d / decay_km))
    dwell_min: float  # median visit length, minutes
    placement: str  # "people", "urban", "industrial" or "anywhere"
    schedule: str = ROTA  # staff work days: weekday (Mon-Fri), six_day (Mon-Sat), rota (6 of 7)
    shift_start_h: float = 8.0  # staff arrival, hours after midnight
    shift_start_sd_h: float = 0.3
    shift_hours: float = 9.0
    night_share: float = 0.0  # staff on the night shift
    night_start_h: float = 20.0
    night_hours: float = 12.0
    popularity_sigma: float = 0.8  # lognormal spread of popularity between venues of the kind


# Sources per line; "assumption" where no statistic was at hand. Capacities, staff ratios, decay
# lengths and dwell times are assumptions chosen to look like a Chinese city; see docs/synth.md.
KINDS: tuple[VenueKind, ...] = (
    # ~9 M catering outlets for 1.41 bn people (order of magnitude from China Cuisine Association
    # yearly reports) -> ~6.4 per 1,000.
    VenueKind("restaurant", 6.4, (20, 300), 0.12, 1.5, 45, "people", ROTA, 9.5, 1.0, 11.0),
    # Chain convenience stores (~0.2 / 1,000, China Chain Store & Franchise Association 2021) plus
    # independent corner shops (assumption): 1 per 1,000.
    VenueKind("convenience_store", 1.0, (5, 20), 0.3, 0.5, 5, "people", ROTA, 7.0, 4.0, 8.0),
    VenueKind("supermarket", 0.3, (50, 800), 0.08, 1.5, 25, "people", ROTA, 8.0, 1.0, 10.0),
    # GB 50180-2018 (urban residential planning) puts a wet market or fresh-food supermarket in
    # every 10-minute neighbourhood (15-25 k residents) -> ~0.05 per 1,000.
    VenueKind("wet_market", 0.05, (100, 1500), 0.05, 0.8, 30, "people", ROTA, 5.5, 0.5, 8.0),
    # ~6,000 malls over 30,000 m2 nationally (~0.004 / 1,000); large cities have more (assumption).
    VenueKind(
        "shopping_mall", 0.01, (1000, 20000), 0.1, 5.0, 120, "urban", ROTA, 9.5, 0.5, 11.0,
        popularity_sigma=1.0,
    ),
    # Sized from the workers not employed elsewhere (see _demand_sized_counts).
    VenueKind("office_building", None, (200, 5000), 0.9, 5.0, 60, "urban", WEEKDAY, 8.7, 0.4, 9.5),
    VenueKind(
        "factory", None, (50, 3000), 1.0, 5.0, 60, "industrial", SIX_DAY, 8.0, 0.2, 11.0,
        night_share=0.3, night_start_h=20.0, night_hours=11.5,
    ),
    # Schools sized from pupils (2020 全国教育事业发展统计公报): 291.7 k kindergartens for 48.2 M
    # children (165 each), 157.9 k primary schools for 107.3 M pupils (680), 52.8 k junior and
    # 14.2 k senior secondary schools for 49.1 M + 24.9 M pupils (1,100), 2,738 higher-education
    # institutions (~13,000 students). Staff ratios from the same bulletin's pupil-teacher ratios
    # (primary 16.7, junior 12.7, senior 12.9, higher education ~18; kindergarten all staff ~9).
    VenueKind("kindergarten", None, (80, 400), 1 / 9, 1.0, 15, "people", WEEKDAY, 7.5, 0.2, 9.5),
    VenueKind("primary_school", None, (300, 2500), 1 / 16.7, 1.0, 30, "people", WEEKDAY, 7.3, 0.2, 10.0),
    VenueKind("middle_school", None, (500, 3500), 1 / 12.9, 2.0, 30, "people", WEEKDAY, 7.0, 0.2, 10.5),
    VenueKind("university", None, (3000, 40000), 1 / 18, 20.0, 120, "anywhere", WEEKDAY, 8.0, 0.3, 9.0),
    # 35,394 hospitals in 2020 (China Health Statistics Yearbook 2021) -> 0.025 per 1,000.
    VenueKind(
        "hospital", 0.025, (200, 5000), 0.3, 5.0, 120, "people", ROTA, 7.5, 0.3, 10.0,
        popularity_sigma=1.0, night_share=0.2, night_start_h=17.5, night_hours=14.5,
    ),
    # ~290 k clinics and infirmaries plus community health stations (same yearbook); villages'
    # clinics excluded for a mostly urban city (assumption) -> 0.3 per 1,000.
    VenueKind("clinic", 0.3, (10, 60), 0.2, 1.0, 40, "people", ROTA, 8.0, 0.3, 10.0),
    # 573 k retail pharmacies in 2020 (NMPA statistical report) -> 0.41 per 1,000.
    VenueKind("pharmacy", 0.41, (5, 30), 0.25, 0.8, 8, "people", ROTA, 8.0, 1.0, 12.0),
    VenueKind("gym", 0.04, (30, 300), 0.08, 2.0, 75, "people", ROTA, 9.0, 1.0, 11.0),
    # ~12,000 cinemas in 2020 (China Film Administration) -> 0.009 per 1,000.
    VenueKind("cinema", 0.01, (100, 1500), 0.03, 4.0, 130, "urban", ROTA, 12.0, 1.0, 10.0),
    VenueKind("ktv", 0.03, (50, 500), 0.1, 3.0, 180, "urban", ROTA, 17.0, 1.0, 9.0),
    VenueKind("internet_cafe", 0.05, (30, 300), 0.05, 1.5, 180, "people", ROTA, 10.0, 4.0, 10.0),
    VenueKind(
        "hotel", 0.2, (50, 1000), 0.15, 8.0, 720, "urban", ROTA, 8.0, 3.0, 8.0,
        night_share=0.2, night_start_h=22.0, night_hours=10.0,
    ),
    # Bus stops with a venue code (assumption: one per ~2,000 residents).
    VenueKind("bus_station", 0.5, (20, 300), 0.0, 0.4, 6, "people"),
    # Xiamen Metro lines 1-3 had ~76 stations in 2022 for 5.16 M residents -> 0.015 per 1,000.
    VenueKind("metro_station", 0.015, (200, 3000), 0.01, 1.0, 5, "urban", ROTA, 6.0, 2.0, 9.0),
    # Xiamen has three main railway stations (厦门站, 厦门北站, 高崎站) -> 0.0006 per 1,000.
    VenueKind(
        "train_station", 0.0006, (2000, 20000), 0.02, 30.0, 40, "anywhere", ROTA, 7.0, 2.0, 10.0,
        popularity_sigma=0.5,
    ),
    VenueKind("barbershop", 0.5, (5, 20), 0.4, 0.8, 40, "people", ROTA, 9.5, 0.5, 10.5),
    # ~226 k banking outlets in 2020 (CBIRC) -> 0.16 per 1,000.
    VenueKind("bank", 0.16, (20, 150), 0.15, 1.5, 20, "urban", WEEKDAY, 8.5, 0.2, 9.0),
    VenueKind("government_office", 0.05, (30, 500), 0.4, 2.0, 30, "urban", WEEKDAY, 8.5, 0.2, 9.0),
)  # fmt: skip
KIND_NAMES = tuple(k.kind for k in KINDS)
KIND_INDEX = {k.kind: i for i, k in enumerate(KINDS)}
SCHOOL_KINDS = ("kindergarten", "primary_school", "middle_school", "university")
SCHOOL_SIZES = {
    "kindergarten": 165,
    "primary_school": 680,
    "middle_school": 1100,
    "university": 13000,
}
SCHOOL_ROLE = {
    "kindergarten": dem.KINDERGARTEN,
    "primary_school": dem.PRIMARY,
    "middle_school": dem.MIDDLE,
    "university": dem.UNIVERSITY,
}
# Share of workers in manufacturing and construction sites (factories). China's secondary sector
# employed 28.7 % of workers in 2020 (China Statistical Yearbook 2021); Xiamen is industrial too.
FACTORY_JOB_SHARE = 0.29
MIN_OFFICE_JOB_SHARE = 0.1  # floor so that small cities still have offices (assumption)


def capacity_params(kind: VenueKind) -> tuple[float, float]:
    """(mu, sigma) of the lognormal whose central 95 % spans the kind's capacity range."""
    lo, hi = kind.capacity
    return float(np.log(np.sqrt(lo * hi))), float(np.log(hi / lo) / 3.92)


def mean_capacity(kind: VenueKind) -> float:
    mu, sigma = capacity_params(kind)
    return float(np.exp(mu + sigma**2 / 2))


def venue_counts(people: int) -> dict[str, int]:
    """Expected number of venues of each kind for a city of `people` residents (at least 1)."""
    shares = dem.expected_role_shares()
    counts: dict[str, int] = {}
    amenity_jobs = 0.0
    for k in KINDS:
        if k.per_1000 is not None:
            counts[k.kind] = max(1, round(k.per_1000 * people / 1000))
            amenity_jobs += counts[k.kind] * mean_capacity(k) * k.staff_ratio
    for kind in SCHOOL_KINDS:
        pupils = shares[SCHOOL_ROLE[kind]] * people
        counts[kind] = max(1, round(pupils / SCHOOL_SIZES[kind]))
        k = KINDS[KIND_INDEX[kind]]
        amenity_jobs += pupils * k.staff_ratio
    workers = shares[dem.WORKER] * people
    factory_jobs = FACTORY_JOB_SHARE * workers
    office_jobs = max(MIN_OFFICE_JOB_SHARE * workers, workers - factory_jobs - amenity_jobs)
    for kind, jobs in (("factory", factory_jobs), ("office_building", office_jobs)):
        k = KINDS[KIND_INDEX[kind]]
        counts[kind] = max(1, round(jobs / (mean_capacity(k) * k.staff_ratio)))
    return {k.kind: counts[k.kind] for k in KINDS}


def _placement_weights(city: City, placement: str) -> np.ndarray:
    if placement == "people":
        w = city.density
    elif placement == "urban":
        w = city.density * np.where(city.urban, 3.0, 0.3)  # assumption: centres are urban
    elif placement == "industrial":
        # Factories cluster in development zones, then in towns; few in dense urban grids.
        w = np.where(city.industrial, 10.0, np.where(city.urban, 0.15, 1.0))
    else:
        w = np.sqrt(city.density)
    return w / w.sum()


def generate_venues(cfg: SynthConfig, city: City | None = None) -> pa.Table:
    """All venues of the city: kinds sized per resident, placed in grids, named in Chinese."""
    city = city or build_city(cfg)
    rng = rng_for(cfg, STREAM_VENUES)
    counts = venue_counts(cfg.people)
    kinds, grids, caps = [], [], []
    for k in KINDS:
        n = counts[k.kind]
        if k.kind in SCHOOL_KINDS:
            # Schools are sized to hold the expected pupils, around the national mean size.
            mean = dem.expected_role_shares()[SCHOOL_ROLE[k.kind]] * cfg.people / n
            lo, hi = k.capacity
            cap = mean * rng.lognormal(0.0, 0.35, n)
            cap = np.clip(cap, min(lo, mean), max(hi, mean))
        else:
            mu, sigma = capacity_params(k)
            cap = np.clip(rng.lognormal(mu, sigma, n), *k.capacity)
        grid = rng.choice(city.size, size=n, p=_placement_weights(city, k.placement))
        kinds.append(np.full(n, KIND_INDEX[k.kind], dtype=np.int16))
        grids.append(np.sort(grid))
        caps.append(np.maximum(1, np.round(cap)).astype(np.int32))
    kind = np.concatenate(kinds)
    grid = np.concatenate(grids)
    n = len(kind)
    d_lat, d_lon = km_to_deg(
        city.lat[grid],
        rng.uniform(-1, 1, n) * city.half_km[grid],
        rng.uniform(-1, 1, n) * city.half_km[grid],
    )
    kind_names = np.array(KIND_NAMES)[kind]
    names = venue_names(
        rng,
        kind_names,
        city.township_names[grid],
        city.community_names[grid],
        city.county_names[grid],
        city.city_name,
    )
    return pa.table(
        {
            "venue_id": pa.array(np.arange(1, n + 1, dtype=np.int64)),
            "kind": pa.array(kind_names.tolist(), pa.string()),
            "name": pa.array(names, pa.string()),
            "grid_code": pa.array(city.codes[grid].tolist(), pa.string()),
            "lat": pa.array(city.lat[grid] + d_lat),
            "lon": pa.array(city.lon[grid] + d_lon),
            "capacity": pa.array(np.concatenate(caps), pa.int32()),
        }
    )


VENUE_SCHEMA = pa.schema(
    [
        ("venue_id", pa.int64()),
        ("kind", pa.string()),
        ("name", pa.string()),
        ("grid_code", pa.string()),
        ("lat", pa.float64()),
        ("lon", pa.float64()),
        ("capacity", pa.int32()),
    ]
)
