"""Daily movement: anchors (work, school), commutes, lunch, errands and nights out.

One simulated day of one block of residents is built in a few vectorised passes:

1. anchors: who works or studies today, where and from when to when (shift patterns by
   workplace kind; night shifts cross midnight);
2. fixed stops: the anchor itself (split around lunch for some office workers), the transit
   station of the commute, late nights at a KTV / internet cafe / late-night snack bar and hotel
   stays (both often cross midnight);
3. free time windows (morning, afternoon, evening) around the anchor;
4. errands: Poisson counts per window, calibrated so that the block's mean check-ins per person
   meets cfg.checkins_per_day; kinds from age-group x window x day-type tables; laid out one
   after another inside their window;
5. venues: every stop without a fixed venue picks one near its origin (home or work) with a
   distance-decay gravity model, then a venue in that grid weighted by its popularity.

Times are seconds after the local midnight of the day; a stop belongs to the day it starts.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from epicore.synth.config import (
    DAY_S,
    STREAM_DAY,
    STREAM_HABITS,
    STREAM_PINGS,
    STREAM_VENUES,
    TIMESTAMP,
    SynthConfig,
    day_epoch,
    rng_for,
)
from epicore.synth.geography import City, build_city, km_to_deg
from epicore.synth.population import OCCUPATIONS
from epicore.synth.sampling import RowSampler, gravity_sampler, segment_cumsum
from epicore.synth.venues import KIND_INDEX, KIND_NAMES, KINDS, ROTA, SIX_DAY, WEEKDAY

H = 3600
M = 60
CHECKIN_SCHEMA = pa.schema(
    [
        ("person_id", pa.int64()),
        ("venue_id", pa.int64()),
        ("t_in", TIMESTAMP),
        ("t_out", TIMESTAMP),
    ]
)
PING_SCHEMA = pa.schema(
    [("person_id", pa.int64()), ("t", TIMESTAMP), ("lat", pa.float64()), ("lon", pa.float64())]
)

# --- Commuting -----------------------------------------------------------------------------
# Share of commuters (aged 12+) using public transport. Assumption: Xiamen reports roughly half
# of motorised trips by bus or metro; walking and cycling trips have no station check-in.
TRANSIT_SHARE = 0.40
# Take the metro if a station is this close to home or work, else the bus (assumption).
METRO_WALK_KM = 1.5
COMMUTE_BASE_S = 10 * M  # walking, waiting, parking (assumption)
COMMUTE_SPEED_KMH = 20.0  # door-to-door urban speed (assumption)
# Office-type workers who go out for lunch and scan back in. Assumption: most eat in canteens
# or order delivery.
LUNCH_OUT_SHARE = 0.35
LUNCH_KINDS = ("office_building", "government_office", "bank", "factory", "university")
HABIT_START_SD_S = 15 * M  # personal habitual offset of the shift start (assumption)
DAILY_START_SD_S = 8 * M  # day-to-day jitter around the habit (assumption)
DAILY_LENGTH_SD_S = 25 * M
# School timetable per level: (arrival h, sd min, departure h, sd min). Assumption following
# typical Xiamen timetables; after the 2021 "double reduction" policy primary schools offer
# after-school care until ~17:30.
SCHOOL_HOURS = {
    "kindergarten": (8.0, 15, 16.7, 20),
    "primary_school": (7.6, 10, 17.0, 25),
    "middle_school": (7.2, 10, 17.6, 20),
    "university": (8.0, 30, 17.5, 90),
}
EVENING_STUDY_SHARE = 0.5  # senior-high pupils staying for 晚自习 until ~21:30 (assumption)
EVENING_STUDY_END_H = 21.5
# No school in the summer (July, August) and winter holidays (mid-January to mid-February).
# Assumption approximating Xiamen's school calendar.


def is_school_day(day: date) -> bool:
    if day.weekday() >= 5 or day.month in (7, 8):
        return False
    return not ((day.month == 1 and day.day >= 15) or (day.month == 2 and day.day < 15))


# --- Nights out and hotels (the check-ins that cross midnight) -------------------------------
NIGHT_AGES = (18, 45)
NIGHT_SHARE_WEEKDAY = 0.015  # assumption
NIGHT_SHARE_WEEKEND_EVE = 0.04  # Friday and Saturday nights (assumption)
NIGHT_KINDS = {"ktv": (0.45, 3.0), "internet_cafe": (0.35, 4.0), "restaurant": (0.20, 1.5)}
NIGHT_START_H = (20.5, 23.5)
HOTEL_SHARE = 0.002  # adults staying in a hotel on a given night (assumption)
HOTEL_CHECKIN_H = (19.0, 23.5)
HOTEL_CHECKOUT_H = (7.5, 12.0)

# --- Errands ---------------------------------------------------------------------------------
# Person classes for errand intensity and kind tables.
CHILD_G, TEEN_G, ADULT_G, ELDER_G = range(4)
# Free windows (start h, end h) on a day without an anchor; the elderly start earlier.
FREE_WINDOWS_H = ((7.5, 12.5), (12.5, 18.0), (18.0, 21.5))
ELDER_MORNING_H = 6.5
EVENING_END_H = 21.5
NIGHT_SHIFT_FREE_H = (11.0, 18.0)
# Relative errand intensity per hour of free window, by occupation on a day with / without an
# anchor. Assumption; only ratios matter, the level is calibrated to cfg.checkins_per_day.
ERRAND_INTENSITY = {
    "child": (0.5, 0.45),
    "student": (1.0, 0.7),
    "worker": (2.2, 1.0),
    "farmer": (0.6, 0.6),
    "retired": (0.7, 0.7),
    "unemployed": (0.75, 0.75),
}
# Window preference (morning, afternoon, evening) by class. Assumption: the elderly shop early.
WINDOW_PREFERENCE = {
    CHILD_G: (0.6, 1.0, 1.0),
    TEEN_G: (0.6, 1.0, 1.2),
    ADULT_G: (0.8, 1.0, 1.3),
    ELDER_G: (1.8, 1.0, 0.5),
}
# Base weights of errand kinds for adults (assumption: relative frequency of trips that end
# in a venue-code scan in 2022; food shopping and meals dominate, then transit and services).
ERRAND_BASE = {
    "restaurant": 0.22, "convenience_store": 0.14, "supermarket": 0.10, "wet_market": 0.06,
    "shopping_mall": 0.05, "pharmacy": 0.04, "clinic": 0.012, "hospital": 0.006,
    "barbershop": 0.02, "bank": 0.02, "government_office": 0.01, "gym": 0.03, "cinema": 0.015,
    "ktv": 0.005, "internet_cafe": 0.01, "bus_station": 0.10, "metro_station": 0.08,
    "train_station": 0.003, "office_building": 0.02, "university": 0.004,
}  # fmt: skip
# Multipliers by window (morning, afternoon, evening). Assumption.
WINDOW_MODIFIER = {
    "wet_market": (3.0, 0.5, 0.3), "restaurant": (0.8, 0.7, 1.8), "cinema": (0.2, 1.0, 1.5),
    "ktv": (0.0, 0.5, 2.0), "gym": (1.0, 0.8, 1.5), "bank": (1.5, 1.2, 0.1),
    "government_office": (1.5, 1.2, 0.0), "clinic": (1.5, 1.2, 0.3), "hospital": (1.8, 1.0, 0.2),
    "office_building": (1.2, 1.2, 0.1), "shopping_mall": (0.3, 1.2, 1.5),
    "internet_cafe": (0.3, 1.0, 1.5),
}  # fmt: skip
# Multipliers by class. Minors may not enter internet cafes (互联网上网服务营业场所管理条例,
# art. 21) or KTVs' entertainment areas (娱乐场所管理条例, art. 23).
GROUP_MODIFIER = {
    CHILD_G: {"internet_cafe": 0, "ktv": 0, "bank": 0.1, "government_office": 0.05,
              "office_building": 0, "wet_market": 0.5, "gym": 0.3, "bus_station": 0.5,
              "metro_station": 0.5, "clinic": 2.0, "university": 0},
    TEEN_G: {"internet_cafe": 0, "ktv": 0, "bank": 0.1, "government_office": 0.05,
             "office_building": 0, "wet_market": 0.3, "convenience_store": 1.5},
    ADULT_G: {},
    ELDER_G: {"wet_market": 3.0, "clinic": 3.0, "hospital": 3.0, "pharmacy": 2.0, "ktv": 0.2,
              "internet_cafe": 0.05, "gym": 0.3, "cinema": 0.3, "shopping_mall": 0.6,
              "office_building": 0.2},
}  # fmt: skip
WEEKEND_MODIFIER = {
    "shopping_mall": 2.0, "cinema": 2.0, "ktv": 1.5, "gym": 1.3, "bank": 0.2,
    "government_office": 0.05, "office_building": 0.1, "train_station": 1.5,
}  # fmt: skip
DWELL_SIGMA = 0.5  # lognormal spread of visit length (assumption)
MIN_DWELL_S = 2 * M
TRAVEL_GAP_S = (5 * M, 20 * M)  # between two errands (assumption)
# Weekday / weekend volume factors; (5 x 1.03 + 2 x 0.925) / 7 = 1, so the weekly mean is
# exactly cfg.checkins_per_day. Assumption: more scans on commuting days.
WEEKDAY_FACTOR = 1.03
WEEKEND_FACTOR = 0.925
# Errands near the workplace rather than home, in the evening of a working day (assumption).
EVENING_NEAR_WORK = 0.3

# --- Pings -----------------------------------------------------------------------------------
PING_HOURS = (7.0, 23.0)  # phones report while people are awake (assumption)
PING_JITTER_S = 90
GPS_NOISE_M = 25.0  # typical smartphone GPS error in cities (assumption, tens of metres)
TRAVEL_BEFORE_S = 30 * M  # a ping this long before a check-in is placed on the way there


@dataclass(frozen=True)
class Habits:
    """Per-person habits that hold for the whole run (drawn once, from their own stream)."""

    transit: np.ndarray  # commutes by bus or metro
    night_worker: np.ndarray  # on the night shift when working
    day_off: np.ndarray  # weekday of the rest day for rota workers
    start_offset: np.ndarray  # habitual shift-start offset, seconds
    evening_study: np.ndarray  # senior-high pupil staying for evening study
    commute_s: np.ndarray  # door-to-door commute time, seconds
    home_station: np.ndarray  # venue index of the station near home
    anchor_station: np.ndarray  # venue index of the station near work or school
    ping_phase: np.ndarray  # offset of the phone's ping clock, seconds


@dataclass
class World:
    """Everything about people and venues the daily simulation needs, as NumPy arrays."""

    cfg: SynthConfig
    city: City
    person_id: np.ndarray
    home_grid: np.ndarray
    home_lat: np.ndarray
    home_lon: np.ndarray
    age: np.ndarray
    occupation: np.ndarray  # index into OCCUPATIONS
    group: np.ndarray  # CHILD_G .. ELDER_G
    has_phone: np.ndarray
    work_venue: np.ndarray  # venue index or -1
    school_venue: np.ndarray
    venue_id: np.ndarray
    venue_kind: np.ndarray  # index into KINDS, -1 if unknown
    venue_grid: np.ndarray
    venue_lat: np.ndarray
    venue_lon: np.ndarray
    samplers: dict = field(default_factory=dict)  # kind index -> KindSampler
    habits: Habits | None = None

    @property
    def size(self) -> int:
        return len(self.person_id)


def build_world(cfg: SynthConfig, people: pa.Table, venues: pa.Table) -> World:
    """Arrays and habits for the simulation (people and venues may come from Parquet)."""
    city = build_city(cfg)
    codes = pa.array(city.codes.tolist(), pa.string())
    home_grid = pc.index_in(people.column("home_grid"), value_set=codes)
    if home_grid.null_count:
        raise ValueError("people live in grids outside cfg.roots")
    venue_grid = pc.index_in(venues.column("grid_code"), value_set=codes)
    if venue_grid.null_count:
        raise ValueError("venues lie in grids outside cfg.roots")
    kind = pc.index_in(venues.column("kind"), value_set=pa.array(list(KIND_NAMES)))
    venue_id = venues.column("venue_id").to_numpy()
    age = people.column("age").to_numpy().astype(np.int16)
    occ = pc.index_in(people.column("occupation"), value_set=pa.array(list(OCCUPATIONS)))
    world = World(
        cfg=cfg,
        city=city,
        person_id=people.column("person_id").to_numpy(),
        home_grid=home_grid.to_numpy(zero_copy_only=False).astype(np.int32),
        home_lat=people.column("home_lat").to_numpy(),
        home_lon=people.column("home_lon").to_numpy(),
        age=age,
        occupation=occ.fill_null(OCCUPATIONS.index("unemployed")).to_numpy().astype(np.int8),
        group=np.select([age < 12, age < 18, age < 60], [CHILD_G, TEEN_G, ADULT_G], ELDER_G),
        has_phone=pc.is_valid(people.column("phone")).to_numpy(zero_copy_only=False),
        work_venue=_venue_index(venue_id, people.column("workplace_venue_id")),
        school_venue=_venue_index(venue_id, people.column("school_venue_id")),
        venue_id=venue_id,
        venue_kind=kind.fill_null(-1).to_numpy().astype(np.int16),
        venue_grid=venue_grid.to_numpy(zero_copy_only=False).astype(np.int32),
        venue_lat=venues.column("lat").to_numpy(),
        venue_lon=venues.column("lon").to_numpy(),
    )
    _build_samplers(world, venues.column("capacity").to_numpy().astype(np.float64))
    world.habits = _habits(world)
    return world


def _venue_index(venue_id: np.ndarray, ids: pa.ChunkedArray) -> np.ndarray:
    """Position of each referenced venue in the venue table, -1 for null or unknown ids."""
    order = np.argsort(venue_id)
    values = ids.fill_null(0).to_numpy()
    pos = np.searchsorted(venue_id[order], values)
    pos = np.minimum(pos, len(order) - 1)
    found = (venue_id[order][pos] == values) & ids.is_valid().to_numpy(zero_copy_only=False)
    return np.where(found, order[pos], -1).astype(np.int32)


@dataclass(frozen=True)
class KindSampler:
    """Distance-weighted choice of a venue of one kind from an origin grid."""

    grid: RowSampler  # origin grid -> index into dest_grids
    venue: RowSampler  # index into dest_grids -> venue index
    nearest_km: np.ndarray  # distance from each grid to the nearest grid with this kind

    def sample(self, origin: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        dest = self.grid.sample(origin, rng.random(origin.size))
        return self.venue.sample(dest, rng.random(origin.size))


def _build_samplers(world: World, capacity: np.ndarray) -> None:
    """Per kind: gravity over grids (popularity x exp(-d / decay)) and popularity within."""
    rng = rng_for(world.cfg, STREAM_VENUES, 1)
    sigma = np.array([k.popularity_sigma for k in KINDS])[np.maximum(world.venue_kind, 0)]
    popularity = capacity * rng.lognormal(0.0, 1.0, len(capacity)) ** sigma
    xy = world.city.xy_km()
    for k, spec in enumerate(KINDS):
        members = np.flatnonzero(world.venue_kind == k)
        if not members.size:
            continue
        dest_grids, local = np.unique(world.venue_grid[members], return_inverse=True)
        grid_weight = np.bincount(local, weights=popularity[members], minlength=dest_grids.size)
        grid = gravity_sampler(xy, xy[dest_grids], grid_weight, spec.decay_km)
        # Venues of each destination grid in a padded matrix, weighted by popularity.
        order = np.argsort(local, kind="stable")
        counts = np.bincount(local, minlength=dest_grids.size)
        width = int(counts.max())
        slot = np.arange(members.size) - np.repeat(np.cumsum(counts) - counts, counts)
        weights = np.zeros((dest_grids.size, width))
        columns = np.zeros((dest_grids.size, width), dtype=np.int32)
        weights[local[order], slot] = popularity[members[order]]
        columns[local[order], slot] = members[order]
        d = np.sqrt(((xy[:, None, :] - xy[None, dest_grids, :]) ** 2).sum(axis=2))
        world.samplers[k] = KindSampler(
            grid=grid, venue=RowSampler.from_weights(weights, columns), nearest_km=d.min(axis=1)
        )


def _habits(world: World) -> Habits:
    """Per-person habits that hold every day: commute mode, shifts, rest day, stations."""
    rng = rng_for(world.cfg, STREAM_HABITS)
    n = world.size
    transit = (rng.random(n) < TRANSIT_SHARE) & (world.age >= 12)
    work_kind = np.where(world.work_venue >= 0, world.venue_kind[world.work_venue], -1)
    night_share = np.array([k.night_share for k in KINDS] + [0.0])[work_kind]
    night_worker = rng.random(n) < night_share
    day_off = rng.integers(0, 7, n).astype(np.int8)
    sd = np.array([k.shift_start_sd_h * H for k in KINDS] + [0.0])[work_kind]
    start_offset = (rng.standard_normal(n) * np.hypot(sd, HABIT_START_SD_S)).astype(np.int32)
    evening_study = (rng.random(n) < EVENING_STUDY_SHARE) & (world.age >= 15)
    anchor = np.where(world.work_venue >= 0, world.work_venue, world.school_venue)
    has_anchor = anchor >= 0
    a = np.maximum(anchor, 0)
    dy = (world.venue_lat[a] - world.home_lat) * 111.32
    dx = (world.venue_lon[a] - world.home_lon) * 111.32 * np.cos(np.radians(world.home_lat))
    km = np.hypot(dx, dy)
    commute_s = np.where(has_anchor, COMMUTE_BASE_S + km / COMMUTE_SPEED_KMH * H, 0).astype(
        np.int32
    )
    anchor_grid = np.where(has_anchor, world.venue_grid[a], world.home_grid)
    home_station = _station(world, world.home_grid, rng)
    anchor_station = _station(world, anchor_grid, rng)
    ping_phase = rng.integers(0, world.cfg.ping_interval_minutes * M, n).astype(np.int32)
    return Habits(
        transit=transit,
        night_worker=night_worker,
        day_off=day_off,
        start_offset=start_offset,
        evening_study=evening_study,
        commute_s=commute_s,
        home_station=home_station,
        anchor_station=anchor_station,
        ping_phase=ping_phase,
    )


def _station(world: World, origin: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The station someone uses from a grid: the metro when close enough, else the bus."""
    out = np.full(origin.size, -1, dtype=np.int32)
    metro = world.samplers.get(KIND_INDEX["metro_station"])
    bus = world.samplers.get(KIND_INDEX["bus_station"])
    use_metro = np.zeros(origin.size, dtype=bool)
    if metro is not None:
        use_metro = metro.nearest_km[origin] <= METRO_WALK_KM
        out[use_metro] = metro.sample(origin[use_metro], rng)
    if bus is not None:
        out[~use_metro] = bus.sample(origin[~use_metro], rng)
    elif metro is not None:
        out[~use_metro] = metro.sample(origin[~use_metro], rng)
    return out


# --- One day ---------------------------------------------------------------------------------


@dataclass
class Stops:
    """Check-ins of one block and day under construction (local person index, seconds)."""

    person: list[np.ndarray] = field(default_factory=list)
    venue: list[np.ndarray] = field(default_factory=list)  # -1: choose later
    kind: list[np.ndarray] = field(default_factory=list)  # for venue == -1
    origin: list[np.ndarray] = field(default_factory=list)  # grid to choose around
    t_in: list[np.ndarray] = field(default_factory=list)
    t_out: list[np.ndarray] = field(default_factory=list)

    def add(self, person, t_in, t_out, venue=None, kind=None, origin=None) -> None:
        n = len(person)
        self.person.append(np.asarray(person, dtype=np.int32))
        self.venue.append(
            np.full(n, -1, np.int32) if venue is None else np.asarray(venue, np.int32)
        )
        self.kind.append(np.full(n, -1, np.int16) if kind is None else np.asarray(kind, np.int16))
        self.origin.append(
            np.zeros(n, np.int32) if origin is None else np.asarray(origin, np.int32)
        )
        self.t_in.append(np.asarray(t_in, dtype=np.int32))
        self.t_out.append(np.asarray(t_out, dtype=np.int32))

    def count(self) -> int:
        return sum(len(p) for p in self.person)

    def arrays(self):
        cat = np.concatenate
        return (
            cat(self.person),
            cat(self.venue),
            cat(self.kind),
            cat(self.origin),
            cat(self.t_in),
            cat(self.t_out),
        )


@dataclass
class DayBlock:
    """The check-ins of one block of residents on one day (venue indices, local seconds)."""

    person: np.ndarray  # global person index
    venue: np.ndarray
    t_in: np.ndarray  # seconds after local midnight
    t_out: np.ndarray  # true leaving time (may pass midnight)
    missing_out: np.ndarray  # the scan-out that was forgotten


def simulate_block(world: World, day_index: int, lo: int, hi: int) -> DayBlock:
    """All check-ins starting on day `day_index` of residents lo..hi-1."""
    cfg = world.cfg
    day = cfg.start + timedelta(days=day_index)
    rng = rng_for(cfg, STREAM_DAY, day_index, lo // cfg.block_size)
    n = hi - lo
    sl = slice(lo, hi)
    stops = Stops()
    a_venue, a_in, a_out, night = _anchors(world, sl, day, rng)
    anchored = a_venue >= 0
    windows = _free_windows(world, sl, a_in, a_out, anchored, night)
    _anchor_stops(world, sl, stops, rng, a_venue, a_in, a_out, anchored, night)
    _nights_out(world, sl, stops, rng, day, anchored, night, windows)
    fixed = stops.count()
    weekend = day.weekday() >= 5
    target = cfg.checkins_per_day * (WEEKEND_FACTOR if weekend else WEEKDAY_FACTOR) * n
    _errands(world, sl, stops, rng, windows, anchored, a_venue, weekend, max(0.0, target - fixed))

    person, venue, kind, origin, t_in, t_out = stops.arrays()
    _choose_venues(world, rng, venue, kind, origin)
    keep = venue >= 0
    person, venue, t_in, t_out = person[keep], venue[keep], t_in[keep], t_out[keep]
    np.clip(t_in, 0, DAY_S - 1, out=t_in)
    np.maximum(t_out, t_in, out=t_out)
    missing = rng.random(person.size) < cfg.missing_checkout_fraction
    return DayBlock(person.astype(np.int64) + lo, venue, t_in, t_out, missing)


# Per kind: schedule code (0 weekday, 1 six-day, 2 rota), shift start and length, night-shift
# start and length, in seconds; the extra last row stands for "no workplace".
_SHIFTS = np.array(
    [
        [
            {WEEKDAY: 0, SIX_DAY: 1, ROTA: 2}[k.schedule],
            k.shift_start_h * H,
            k.shift_hours * H,
            k.night_start_h * H,
            k.night_hours * H,
        ]
        for k in KINDS
    ]
    + [[0, 0, 0, 0, 0]]
)


def _anchors(world: World, sl: slice, day: date, rng: np.random.Generator):
    """Today's workplace or school per person, with arrival and departure seconds."""
    n = sl.stop - sl.start
    weekday = day.weekday()
    work = world.work_venue[sl]
    kind = np.where(work >= 0, world.venue_kind[np.maximum(work, 0)], -1)
    spec = _SHIFTS[kind]
    schedule = spec[:, 0]
    works_today = np.where(
        schedule == 0,
        weekday < 5,
        np.where(schedule == 1, weekday < 6, world.habits.day_off[sl] != weekday),
    ) & (work >= 0)
    night = works_today & world.habits.night_worker[sl]
    start = np.where(night, spec[:, 3], spec[:, 1]) + world.habits.start_offset[sl]
    length = np.where(night, spec[:, 4], spec[:, 2])
    start = start + rng.standard_normal(n) * DAILY_START_SD_S
    length = length + rng.standard_normal(n) * DAILY_LENGTH_SD_S

    school = world.school_venue[sl]
    at_school = (school >= 0) & is_school_day(day)
    s_kind = np.where(school >= 0, world.venue_kind[np.maximum(school, 0)], -1)
    hours = np.array(
        [SCHOOL_HOURS.get(k.kind, (8.0, 10, 17.0, 20)) for k in KINDS] + [(0, 0, 0, 0)]
    )[s_kind]
    s_in = hours[:, 0] * H + rng.standard_normal(n) * hours[:, 1] * M
    s_out = hours[:, 2] * H + rng.standard_normal(n) * hours[:, 3] * M
    evening = world.habits.evening_study[sl] & (s_kind == KIND_INDEX["middle_school"])
    s_out = np.where(evening, EVENING_STUDY_END_H * H + rng.standard_normal(n) * 10 * M, s_out)

    venue = np.where(works_today, work, np.where(at_school, school, -1)).astype(np.int32)
    t_in = np.where(works_today, start, s_in)
    t_out = np.where(works_today, start + np.maximum(length, H), np.maximum(s_out, s_in + H))
    t_in = np.clip(t_in, 0, DAY_S - 1)
    return venue, t_in.astype(np.int32), t_out.astype(np.int32), night


def _free_windows(world, sl, a_in, a_out, anchored, night) -> np.ndarray:
    """(n, 3, 2) start/end seconds of the morning, afternoon and evening free windows."""
    n = len(a_in)
    w = np.empty((n, 3, 2), dtype=np.int32)
    for i, (s, e) in enumerate(FREE_WINDOWS_H):
        w[:, i, 0], w[:, i, 1] = int(s * H), int(e * H)
    elder = world.group[sl] == ELDER_G
    w[elder, 0, 0] = int(ELDER_MORNING_H * H)
    c = world.habits.commute_s[sl]
    day_anchor = anchored & ~night
    w[day_anchor, 0, 0] = int(ELDER_MORNING_H * H)
    w[day_anchor, 0, 1] = a_in[day_anchor] - c[day_anchor] - 10 * M
    w[day_anchor, 1] = 0
    w[day_anchor, 2, 0] = a_out[day_anchor] + c[day_anchor] + 10 * M
    w[day_anchor, 2, 1] = int(EVENING_END_H * H)
    w[night, 0] = 0
    w[night, 1, 0] = int(NIGHT_SHIFT_FREE_H[0] * H)
    w[night, 1, 1] = np.minimum(int(NIGHT_SHIFT_FREE_H[1] * H), a_in[night] - c[night] - 30 * M)
    w[night, 2] = 0
    return w


def _anchor_stops(world, sl, stops, rng, a_venue, a_in, a_out, anchored, night) -> None:
    """Work or school (split around lunch for some), and the commute's station scans."""
    lo = sl.start
    idx = np.flatnonzero(anchored)
    kind = world.venue_kind[a_venue[idx]]
    lunch_kinds = np.isin(kind, [KIND_INDEX[k] for k in LUNCH_KINDS])
    u = rng.random(idx.size)
    lunch = (
        lunch_kinds
        & ~night[idx]
        & (u < LUNCH_OUT_SHARE)
        & (a_in[idx] < 11.5 * H)
        & (a_out[idx] > 13.5 * H)
    )
    whole = idx[~lunch]
    stops.add(whole, a_in[whole], a_out[whole], venue=a_venue[whole])
    split = idx[lunch]
    m = split.size
    leave = (12 * H + rng.integers(-15 * M, 15 * M, m)).astype(np.int32)
    eat_in = leave + rng.integers(3 * M, 10 * M, m)
    eat_out = eat_in + rng.integers(25 * M, 55 * M, m)
    back = eat_out + rng.integers(3 * M, 10 * M, m)
    stops.add(split, a_in[split], leave, venue=a_venue[split])
    anchor_grid = world.venue_grid[a_venue[split]]
    stops.add(split, eat_in, eat_out, kind=np.full(m, KIND_INDEX["restaurant"]), origin=anchor_grid)
    stops.add(split, back, a_out[split], venue=a_venue[split])

    # Station scans of public-transport commuters: leaving home and leaving the anchor.
    ride = idx[world.habits.transit[lo + idx]]
    c = world.habits.commute_s[lo + ride]
    t0 = a_in[ride] - c + rng.integers(3 * M, 8 * M, ride.size)
    stops.add(
        ride,
        t0,
        t0 + rng.integers(2 * M, 8 * M, ride.size),
        venue=world.habits.home_station[lo + ride],
    )
    back_home = ride[~night[ride]]  # night shifts return tomorrow morning
    t1 = a_out[back_home] + rng.integers(3 * M, 10 * M, back_home.size)
    stops.add(
        back_home,
        t1,
        t1 + rng.integers(2 * M, 8 * M, back_home.size),
        venue=world.habits.anchor_station[lo + back_home],
    )


def _nights_out(world, sl, stops, rng, day, anchored, night, windows) -> None:
    """KTV, internet cafe and late snacks, and hotel stays: most of these cross midnight."""
    age = world.age[sl]
    n = len(age)
    adult = (age >= NIGHT_AGES[0]) & (age <= NIGHT_AGES[1]) & ~night
    share = NIGHT_SHARE_WEEKEND_EVE if day.weekday() in (4, 5) else NIGHT_SHARE_WEEKDAY
    out = np.flatnonzero(adult & (rng.random(n) < share))
    kinds = list(NIGHT_KINDS)
    p = np.array([v[0] for v in NIGHT_KINDS.values()])
    pick = rng.choice(len(kinds), out.size, p=p / p.sum())
    start = rng.uniform(NIGHT_START_H[0] * H, NIGHT_START_H[1] * H, out.size)
    median = np.array([v[1] for v in NIGHT_KINDS.values()])[pick] * H
    length = median * np.exp(DWELL_SIGMA * rng.standard_normal(out.size))
    kind = np.array([KIND_INDEX[k] for k in kinds])[pick]
    stops.add(out, start, start + length, kind=kind, origin=world.home_grid[sl][out])
    windows[out, 2, 1] = np.minimum(windows[out, 2, 1], start.astype(np.int32) - 15 * M)

    adults = (age >= 18) & ~night
    hotel = np.flatnonzero(adults & (rng.random(n) < HOTEL_SHARE))
    check_in = rng.uniform(HOTEL_CHECKIN_H[0] * H, HOTEL_CHECKIN_H[1] * H, hotel.size)
    check_out = DAY_S + rng.uniform(HOTEL_CHECKOUT_H[0] * H, HOTEL_CHECKOUT_H[1] * H, hotel.size)
    stops.add(
        hotel,
        check_in,
        check_out,
        kind=np.full(hotel.size, KIND_INDEX["hotel"]),
        origin=world.home_grid[sl][hotel],
    )
    windows[hotel, 2, 1] = np.minimum(windows[hotel, 2, 1], check_in.astype(np.int32) - 30 * M)


def errand_kind_table() -> np.ndarray:
    """(group x window x weekend, kinds) probabilities of an errand's kind."""
    table = np.zeros((4, 3, 2, len(KINDS)))
    for g in range(4):
        for w in range(3):
            for weekend in range(2):
                for kind, base in ERRAND_BASE.items():
                    value = base * WINDOW_MODIFIER.get(kind, (1.0, 1.0, 1.0))[w]
                    value *= GROUP_MODIFIER[g].get(kind, 1.0)
                    value *= WEEKEND_MODIFIER.get(kind, 1.0) if weekend else 1.0
                    table[g, w, weekend, KIND_INDEX[kind]] = value
    return table


_ERRAND_TABLE = errand_kind_table()
_ERRAND_KIND = RowSampler.from_weights(
    _ERRAND_TABLE.reshape(-1, len(KINDS)),
    np.tile(np.arange(len(KINDS), dtype=np.int32), (_ERRAND_TABLE[..., 0].size, 1)),
)
_DWELL_S = np.array([k.dwell_min * M for k in KINDS])


def _errands(world, sl, stops, rng, windows, anchored, a_venue, weekend, volume) -> None:
    """Errands in the free windows, `volume` of them in expectation, chained within windows."""
    occ = world.occupation[sl]
    group = world.group[sl]
    intensity_table = np.array([ERRAND_INTENSITY[o] for o in OCCUPATIONS])
    intensity = np.where(anchored, intensity_table[occ, 0], intensity_table[occ, 1])
    pref = np.array([WINDOW_PREFERENCE[g] for g in range(4)])[group]
    length = np.maximum(windows[:, :, 1] - windows[:, :, 0], 0).astype(np.float64)
    lam = intensity[:, None] * pref * length / H
    total = lam.sum()
    if total <= 0 or volume <= 0:
        return
    counts = rng.poisson(lam * (volume / total)).ravel()
    seg = np.flatnonzero(counts)
    if not seg.size:
        return
    k = counts[seg]
    row_seg = np.repeat(np.arange(seg.size), k)
    seg_first = np.cumsum(k) - k
    person = (seg // 3)[row_seg]
    window = (seg % 3)[row_seg]
    m = row_seg.size
    table_row = (group[person] * 3 + window) * 2 + int(weekend)
    kind = _ERRAND_KIND.sample(table_row, rng.random(m)).astype(np.int16)
    dwell = _DWELL_S[kind] * np.exp(DWELL_SIGMA * rng.standard_normal(m, dtype=np.float32))
    dwell = np.maximum(dwell, MIN_DWELL_S)
    gap = rng.uniform(TRAVEL_GAP_S[0], TRAVEL_GAP_S[1], m)
    step = gap + dwell
    end = segment_cumsum(step, seg_first, row_seg)
    seg_total = end[seg_first + k - 1]
    w_start = windows[:, :, 0].ravel()[seg]
    w_len = length.ravel()[seg]
    scale = np.minimum(1.0, w_len / seg_total)
    offset = rng.random(seg.size) * np.maximum(0.0, w_len - seg_total)
    t_in = w_start[row_seg] + offset[row_seg] + scale[row_seg] * (end - dwell)
    t_out = t_in + scale[row_seg] * dwell
    origin = world.home_grid[sl][person]
    near_work = anchored[person] & (window == 2) & (rng.random(m) < EVENING_NEAR_WORK)
    origin[near_work] = world.venue_grid[a_venue[person[near_work]]]
    stops.add(person, t_in, t_out, kind=kind, origin=origin)


def _choose_venues(world, rng, venue, kind, origin) -> None:
    """Fill venue == -1 with a distance-weighted choice of the requested kind."""
    todo = np.flatnonzero(venue < 0)
    order = todo[np.argsort(kind[todo], kind="stable")]
    kinds = kind[order]
    bounds = np.searchsorted(kinds, np.arange(len(KINDS) + 1))
    for k in range(len(KINDS)):
        rows = order[bounds[k] : bounds[k + 1]]
        if rows.size and k in world.samplers:
            venue[rows] = world.samplers[k].sample(origin[rows], rng)


# --- Streams ---------------------------------------------------------------------------------


def simulate(
    cfg: SynthConfig,
    people: pa.Table,
    venues: pa.Table,
    pings: bool,
    threads: int | None = None,
) -> Iterator[tuple[int, pa.RecordBatch, pa.RecordBatch | None]]:
    """(day index, check-ins, pings or None) per block of residents, days in order.

    Blocks are simulated by `threads` worker threads (default: up to 2): most NumPy work
    releases the GIL, and each block has its own random stream, so the output does not depend
    on the number of threads. Pings of a block need the stops that block carried over midnight
    from the day before; they are handed over through a future per block.
    """
    world = build_world(cfg, people, venues)
    workers = max(1, threads if threads is not None else min(2, os.cpu_count() or 1))
    tasks = [
        (day_index, lo, min(lo + cfg.block_size, world.size))
        for day_index in range(cfg.days)
        for lo in range(0, world.size, cfg.block_size)
    ]
    carry: dict[int, Future] = {}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="synth") as pool:
        pending: deque[tuple[int, Future]] = deque()
        for day_index, lo, hi in tasks:
            carry_in = carry.get(lo)
            carry[lo] = carry_out = Future()
            future = pool.submit(_block_task, world, day_index, lo, hi, pings, carry_in, carry_out)
            pending.append((day_index, future))
            if len(pending) > workers:
                done_day, done = pending.popleft()
                yield (done_day, *done.result())
        while pending:
            done_day, done = pending.popleft()
            yield (done_day, *done.result())


def _block_task(world, day_index, lo, hi, pings, carry_in, carry_out):
    """One block and day: check-ins, and pings when asked (see `simulate`)."""
    epoch = day_epoch(world.cfg.start + timedelta(days=day_index))
    try:
        block = simulate_block(world, day_index, lo, hi)
        carry_out.set_result(_overnight(block) if pings else None)
    except BaseException as exc:
        carry_out.set_exception(exc)  # never leave the next day's task waiting
        raise
    batch = _checkin_batch(world, block, epoch)
    if not pings:
        return batch, None
    carried = carry_in.result() if carry_in is not None else None
    return batch, _pings(world, block, carried, day_index, lo, hi, epoch)


def _checkin_batch(world: World, block: DayBlock, epoch: int) -> pa.RecordBatch:
    t_in = block.t_in.astype(np.int64) + epoch
    t_out = block.t_out.astype(np.int64) + epoch
    return pa.RecordBatch.from_arrays(
        [
            pa.array(world.person_id[block.person]),
            pa.array(world.venue_id[block.venue]),
            pa.array(t_in, TIMESTAMP),
            pa.array(t_out, TIMESTAMP, mask=block.missing_out),
        ],
        schema=CHECKIN_SCHEMA,
    )


def _overnight(block: DayBlock) -> DayBlock:
    """Stops still going on after midnight, shifted to the next day's clock."""
    keep = block.t_out > DAY_S
    return DayBlock(
        block.person[keep],
        block.venue[keep],
        block.t_in[keep] - DAY_S,
        block.t_out[keep] - DAY_S,
        block.missing_out[keep],
    )


def _pings(world, block, carried, day_index, lo, hi, epoch) -> pa.RecordBatch:
    """Phone positions every cfg.ping_interval_minutes while awake: at the venue during a
    stop, on the way in the half hour before one, otherwise at home; with GPS noise."""
    cfg = world.cfg
    rng = rng_for(cfg, STREAM_PINGS, day_index, lo // cfg.block_size)
    parts = [block] + ([carried] if carried is not None else [])
    person = np.concatenate([b.person for b in parts])
    venue = np.concatenate([b.venue for b in parts])
    t_in = np.concatenate([b.t_in for b in parts]).astype(np.int64)
    t_out = np.concatenate([b.t_out for b in parts]).astype(np.int64)
    shift = DAY_S  # carried stops have negative t_in; keys stay non-negative
    key = person * (4 * DAY_S) + t_in + shift
    order = np.argsort(key)
    key, person, venue, t_in, t_out = (
        key[order],
        person[order],
        venue[order],
        t_in[order],
        t_out[order],
    )

    phones = lo + np.flatnonzero(world.has_phone[lo:hi])
    interval = cfg.ping_interval_minutes * M
    per_person = int((PING_HOURS[1] - PING_HOURS[0]) * H // interval)
    p = np.repeat(phones, per_person)
    step = np.tile(np.arange(per_person, dtype=np.int64) * interval, phones.size)
    t = int(PING_HOURS[0] * H) + world.habits.ping_phase[p] + step
    t = t + rng.integers(-PING_JITTER_S, PING_JITTER_S + 1, t.size)
    np.clip(t, 0, DAY_S - 1, out=t)

    home_lat, home_lon = world.home_lat[p], world.home_lon[p]
    lat, lon = home_lat.copy(), home_lon.copy()
    if key.size:
        pos = np.searchsorted(key, p * (4 * DAY_S) + t + shift, side="right") - 1
        has_prev = (pos >= 0) & (person[np.maximum(pos, 0)] == p)
        prev = np.maximum(pos, 0)
        inside = has_prev & (t <= t_out[prev])
        v = venue[prev[inside]]
        lat[inside], lon[inside] = world.venue_lat[v], world.venue_lon[v]
        nxt = np.minimum(pos + 1, key.size - 1)
        has_next = (pos + 1 < key.size) & (person[nxt] == p) & ~inside
        lead = t_in[nxt] - t
        moving = has_next & (lead > 0) & (lead < TRAVEL_BEFORE_S)
        # From home, or from the previous venue if it ended less than half an hour ago.
        from_prev = moving & has_prev & (t - t_out[prev] < TRAVEL_BEFORE_S)
        src_lat, src_lon = home_lat.copy(), home_lon.copy()
        pv = venue[prev[from_prev]]
        src_lat[from_prev], src_lon[from_prev] = world.venue_lat[pv], world.venue_lon[pv]
        frac = 1.0 - lead[moving] / TRAVEL_BEFORE_S
        nv = venue[nxt[moving]]
        lat[moving] = src_lat[moving] + frac * (world.venue_lat[nv] - src_lat[moving])
        lon[moving] = src_lon[moving] + frac * (world.venue_lon[nv] - src_lon[moving])
    noise = rng.standard_normal((2, t.size)) * (GPS_NOISE_M / 1000.0)
    d_lat, d_lon = km_to_deg(lat, noise[0], noise[1])
    box = world.city.bbox
    lat = np.clip(lat + d_lat, box[0], box[1])
    lon = np.clip(lon + d_lon, box[2], box[3])
    return pa.RecordBatch.from_arrays(
        [
            pa.array(world.person_id[p]),
            pa.array(t + epoch, TIMESTAMP),
            pa.array(lat),
            pa.array(lon),
        ],
        schema=PING_SCHEMA,
    )


def iter_checkins(cfg: SynthConfig, people: pa.Table, venues: pa.Table) -> Iterator[pa.RecordBatch]:
    """Check-ins as record batches, day by day (one batch per block of residents)."""
    for _, batch, _ in simulate(cfg, people, venues, pings=False):
        yield batch


def iter_pings(cfg: SynthConfig, people: pa.Table, venues: pa.Table) -> Iterator[pa.RecordBatch]:
    """Phone location pings of residents with a phone, day by day."""
    for _, _, batch in simulate(cfg, people, venues, pings=True):
        assert batch is not None
        yield batch


__all__ = ["build_world", "iter_checkins", "iter_pings", "simulate"]
