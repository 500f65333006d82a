"""Residents: households, homes, identity documents, names, phones, schools and workplaces."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa

from epicore.idcard import ID_CHECK_CHARS, ID_WEIGHTS, PASSPORT, RESIDENT_ID
from epicore.synth import demography as dem
from epicore.synth.config import STREAM_POPULATION, SynthConfig, rng_for
from epicore.synth.geography import City, all_county_codes, build_city, km_to_deg
from epicore.synth.names import (
    NATIONALITIES,
    chinese_names,
    foreign_names,
    passport_numbers,
    surname_table,
)
from epicore.synth.sampling import GroupedChoice, digits, fixed_width_strings, gravity_sampler
from epicore.synth.venues import KIND_INDEX, KIND_NAMES, KINDS, SCHOOL_KINDS, SCHOOL_ROLE

# Distance decay of the home -> workplace choice, km. Assumption tuned so that the mean one-way
# commute is ~8 km in Xiamen, the order of magnitude reported by the annual 中国主要城市通勤监测
# 报告 (MOHURD and Baidu Maps) for large Chinese cities.
COMMUTE_DECAY_KM = 5.0
# Probability that a non-head adult keeps a different surname (a spouse: Chinese women keep
# their family name) and that a minor carries the household's surname. Assumptions.
SPOUSE_OWN_SURNAME = 0.5
CHILD_HOUSEHOLD_SURNAME = 0.92
# Mainland mobile number segments in use in 2022 (MIIT numbering plan, carriers' published
# segment lists); all match ^1[3-9]\d{9}$.
MOBILE_PREFIXES = (
    130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 145, 147, 150, 151, 152, 153, 155, 156,
    157, 158, 159, 166, 173, 175, 176, 177, 178, 180, 181, 182, 183, 184, 185, 186, 187, 188,
    189, 191, 198, 199,
)  # fmt: skip
OCCUPATIONS = ("child", "student", "worker", "farmer", "retired", "unemployed")
ROLE_OCCUPATION = {
    dem.CHILD: "child",
    dem.KINDERGARTEN: "child",
    dem.PRIMARY: "student",
    dem.MIDDLE: "student",
    dem.UNIVERSITY: "student",
    dem.WORKER: "worker",
    dem.RETIRED: "retired",
    dem.JOBLESS: "unemployed",
}

PEOPLE_SCHEMA = pa.schema(
    [
        ("person_id", pa.int64()),
        ("doc_type", pa.string()),
        ("doc_number", pa.string()),
        ("nationality", pa.string()),
        ("name", pa.string()),
        ("sex", pa.string()),
        ("birth_date", pa.date32()),
        ("age", pa.int16()),
        ("phone", pa.string()),
        ("home_grid", pa.string()),
        ("home_lat", pa.float64()),
        ("home_lon", pa.float64()),
        ("household_id", pa.int64()),
        ("occupation", pa.string()),
        ("workplace_venue_id", pa.int64()),
        ("school_venue_id", pa.int64()),
    ]
)


def generate_population(
    cfg: SynthConfig, venues: pa.Table | None = None, city: City | None = None
) -> pa.Table:
    """cfg.people residents in households, with valid unique documents and phones.

    Workplaces and schools refer to `venues` (generated from cfg when not given).
    """
    from epicore.synth.venues import generate_venues

    city = city or build_city(cfg)
    venues = venues if venues is not None else generate_venues(cfg, city)
    rng = rng_for(cfg, STREAM_POPULATION)
    n = cfg.people

    age = rng.choice(dem.MAX_AGE + 1, size=n, p=dem.age_weights())
    male = rng.random(n) < dem.MALE_SHARE
    order, household, sizes = _households(rng, age)
    age, male = age[order], male[order]
    n_households = len(sizes)
    head = np.zeros(n, dtype=bool)
    head[np.cumsum(sizes) - sizes] = True

    # Homes: one grid and one spot per household.
    hh_grid = rng.choice(city.size, size=n_households, p=city.density)
    d_lat, d_lon = km_to_deg(
        city.lat[hh_grid],
        rng.uniform(-1, 1, n_households) * city.half_km[hh_grid],
        rng.uniform(-1, 1, n_households) * city.half_km[hh_grid],
    )
    hh_lat, hh_lon = city.lat[hh_grid] + d_lat, city.lon[hh_grid] + d_lon
    grid = hh_grid[household]

    birth, age = _birth_dates(rng, age, cfg.start)
    role = _roles(rng, age, male)
    role_occupation = [OCCUPATIONS.index(ROLE_OCCUPATION[r]) for r in range(len(dem.ROLES))]
    occupation = np.asarray(role_occupation, dtype=np.int8)[role]
    farmer = (role == dem.WORKER) & ~city.urban[grid] & (rng.random(n) < dem.FARMER_SHARE_RURAL)
    occupation[farmer] = OCCUPATIONS.index("farmer")

    region = _regions(rng, cfg, city.county_codes[hh_grid])[household]
    foreign_hh = rng.random(n_households) < cfg.foreign_fraction
    foreign = foreign_hh[household]
    nat_codes = np.array(list(NATIONALITIES))
    nat_p = np.array(list(NATIONALITIES.values()))
    nat_index = rng.choice(len(nat_codes), n_households, p=nat_p / nat_p.sum())[household]

    ymd = _ymd(birth)
    doc_number = _resident_ids(rng, region, ymd, male)
    names = _names(rng, household, head, age, male, ymd[0], region)
    if foreign.any():
        idx = np.flatnonzero(foreign)
        doc_number = _replace(doc_number, idx, passport_numbers(rng, nat_codes[nat_index[idx]]))
        names = _replace(names, idx, foreign_names(rng, nat_codes[nat_index[idx]], household[idx]))

    xy = city.xy_km()
    venue_index = _VenueIndex(venues, city)
    school = np.full(n, -1, dtype=np.int64)
    for kind in SCHOOL_KINDS:
        pupils = np.flatnonzero(role == SCHOOL_ROLE[kind])
        decay = KINDS[KIND_INDEX[kind]].decay_km
        school[pupils] = venue_index.choose(rng, kind, grid[pupils], xy, decay, staff=False)
    workplace = np.full(n, -1, dtype=np.int64)
    workers = np.flatnonzero((role == dem.WORKER) & ~farmer)
    workplace[workers] = venue_index.choose_jobs(rng, grid[workers], xy)

    phone = _phones(rng, age)
    ids = np.arange(1, n + 1, dtype=np.int64)
    return pa.table(
        {
            "person_id": ids,
            "doc_type": _labels([RESIDENT_ID, PASSPORT], foreign),
            "doc_number": doc_number,
            "nationality": _labels(nat_codes.tolist(), nat_index, mask=~foreign),
            "name": names,
            "sex": _labels(["F", "M"], male),
            "birth_date": pa.array(birth.astype("datetime64[D]"), pa.date32()),
            "age": pa.array(age.astype(np.int16)),
            "phone": phone,
            "home_grid": _labels(city.codes.tolist(), grid),
            "home_lat": pa.array(hh_lat[household]),
            "home_lon": pa.array(hh_lon[household]),
            "household_id": pa.array(household.astype(np.int64) + 1),
            "occupation": _labels(list(OCCUPATIONS), occupation),
            "workplace_venue_id": _nullable_ids(venue_index.ids, workplace),
            "school_venue_id": _nullable_ids(venue_index.ids, school),
        },
        schema=PEOPLE_SCHEMA,
    )


def _labels(values: list[str], index: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """A string column from codes into a small list of labels (one Arrow take, no objects)."""
    return pa.array(values, pa.string()).take(pa.array(index.astype(np.int32), mask=mask))


def _households(rng: np.random.Generator, age: np.ndarray):
    """Group people into households of census sizes, each headed by an adult.

    Returns (order, household, sizes): person `order[i]` becomes the i-th resident, living in
    household `household[i]`; members of a household are consecutive, the head first.
    """
    n = len(age)
    shares = np.asarray(dem.HOUSEHOLD_SIZE_SHARES)
    mean = float((np.arange(1, len(shares) + 1) * shares).sum())
    sizes = rng.choice(np.arange(1, len(shares) + 1), size=int(n / mean * 1.2) + 8, p=shares)
    ends = np.cumsum(sizes)
    h = int(np.searchsorted(ends, n))  # households needed to hold n people
    sizes = sizes[: h + 1].copy()
    sizes[-1] -= ends[h] - n
    sizes = sizes[sizes > 0]
    h = len(sizes)
    adult = age >= dem.ADULT_AGE
    pool = np.concatenate(
        [rng.permutation(np.flatnonzero(adult)), rng.permutation(np.flatnonzero(~adult))]
    )
    heads, rest = pool[:h], rng.permutation(pool[h:])
    household = np.concatenate([np.arange(h), np.repeat(np.arange(h), sizes - 1)])
    people = np.concatenate([heads, rest])
    by_household = np.argsort(household, kind="stable")  # heads come first in their group
    return people[by_household], household[by_household], sizes


def _birth_dates(rng: np.random.Generator, age: np.ndarray, start: date):
    """Birth dates making each person `age` (give or take the birthday) on `start`."""
    start64 = np.datetime64(start, "D")
    days = np.round(age * 365.2425).astype(np.int64) + rng.integers(0, 365, len(age))
    birth = start64 - days.astype("timedelta64[D]")
    by, bm, bd = _ymd(birth)
    exact = start.year - by - ((start.month < bm) | ((start.month == bm) & (start.day < bd)))
    return birth, exact.astype(np.int64)


def _ymd(d: np.ndarray):
    y = d.astype("datetime64[Y]")
    m = d.astype("datetime64[M]")
    return (
        y.astype(np.int64) + 1970,
        (m - y.astype("datetime64[M]")).astype(np.int64) + 1,
        (d - m.astype("datetime64[D]")).astype(np.int64) + 1,
    )


def _roles(rng: np.random.Generator, age: np.ndarray, male: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(dem.role_probabilities(age, male), axis=1)
    return (rng.random(len(age))[:, None] >= cdf[:, :-1]).sum(axis=1)


def _regions(rng: np.random.Generator, cfg: SynthConfig, home_county: np.ndarray) -> np.ndarray:
    """Six-digit issuing county per household: mostly the home county, else a migrant's."""
    counties = all_county_codes(cfg)
    county_int = counties.astype(np.int64)
    provinces = county_int // 10_000
    n = len(home_county)
    out = home_county.astype(np.int64)
    u = rng.random(n)
    # Migrants from elsewhere in the home province.
    same = (u >= dem.ORIGIN_LOCAL) & (u < dem.ORIGIN_LOCAL + dem.ORIGIN_SAME_PROVINCE)
    out[same] = _county_in(rng, county_int, provinces, out[same] // 10_000)
    # Migrants from other provinces, weighted by source.
    other = u >= dem.ORIGIN_LOCAL + dem.ORIGIN_SAME_PROVINCE
    prov_codes = np.unique(provinces)
    weights = np.array([dem.MIGRANT_SOURCE_WEIGHTS.get(f"{p:02d}", 1.0) for p in prov_codes])
    home_prov = out[other] // 10_000
    pick = rng.choice(len(prov_codes), size=other.sum(), p=weights / weights.sum())
    chosen = prov_codes[pick]
    # Someone drawn from the home province is re-drawn once (cheap; a residue stays local).
    again = chosen == home_prov
    chosen[again] = prov_codes[rng.choice(len(prov_codes), again.sum(), p=weights / weights.sum())]
    out[other] = _county_in(rng, county_int, provinces, chosen)
    return out


def _county_in(rng, county_int, provinces, province) -> np.ndarray:
    lo = np.searchsorted(provinces, province, side="left")
    hi = np.searchsorted(provinces, province, side="right")
    return county_int[lo + (rng.random(len(province)) * (hi - lo)).astype(np.int64)]


def _resident_ids(rng, region: np.ndarray, ymd_parts, male: np.ndarray) -> pa.Array:
    """GB 11643 numbers, unique: the sequence is a rank within (region, birth date, sex)."""
    n = len(region)
    by, bm, bd = ymd_parts
    ymd = by * 10_000 + bm * 100 + bd
    key = (region * 100_000_000 + ymd) * 2 + male
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    first = np.r_[True, sorted_key[1:] != sorted_key[:-1]]
    group_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - group_start
    if n and rank.max() >= 500:
        raise ValueError("more than 500 people share a county, birth date and sex")
    offset = rng.integers(0, 500, n)  # drawn per person but only the group's first is used
    group_offset = np.empty(n, dtype=np.int64)
    group_offset[order] = offset[order][group_start]
    sequence = 2 * ((group_offset + rank) % 500) + male
    first17 = np.concatenate([digits(region, 6), digits(ymd, 8), digits(sequence, 3)], axis=1)
    check = (first17.astype(np.int32) @ np.asarray(ID_WEIGHTS, dtype=np.int32)) % 11
    chars = np.empty((n, 18), dtype=np.uint8)
    chars[:, :17] = first17 + np.uint8(ord("0"))
    chars[:, 17] = np.frombuffer(ID_CHECK_CHARS.encode(), dtype=np.uint8)[check]
    return fixed_width_strings(chars)


def _names(rng, household, head, age, male, birth_year, region) -> pa.Array:
    """Household surname for heads and most children; spouses often keep their own."""
    names, national = surname_table()
    _, fujian = surname_table(fujian=True)
    hh_fujian = (region // 10_000 == 35)[head]
    n_households = head.sum()
    hh_surname = np.where(
        hh_fujian,
        rng.choice(len(names), n_households, p=fujian),
        rng.choice(len(names), n_households, p=national),
    )
    surname = hh_surname[household]
    own = np.where(
        region // 10_000 == 35,
        rng.choice(len(names), len(age), p=fujian),
        rng.choice(len(names), len(age), p=national),
    )
    u = rng.random(len(age))
    spouse = ~head & (age >= dem.ADULT_AGE) & (u < SPOUSE_OWN_SURNAME)
    stray_child = ~head & (age < dem.ADULT_AGE) & (u > CHILD_HOUSEHOLD_SURNAME)
    surname = np.where(spouse | stray_child, own, surname)
    return chinese_names(rng, surname, male, birth_year)


def _replace(array: pa.Array, idx: np.ndarray, values: np.ndarray) -> pa.Array:
    """`array` with positions `idx` replaced by `values` (via one Arrow take)."""
    extra = pa.array(values.tolist(), pa.string())
    take = np.arange(len(array), dtype=np.int64)
    take[idx] = len(array) + np.arange(len(idx))
    return pa.concat_arrays([array.cast(pa.string()), extra]).take(pa.array(take))


def _phones(rng: np.random.Generator, age: np.ndarray) -> pa.Array:
    """Unique 11-digit mobiles; null for young children and some teenagers and elderly."""
    n = len(age)
    p = np.where(age < 10, 0.0, 1.0)
    p = np.where((age >= 10) & (age < 15), dem.PHONE_SHARE_10_14, p)
    p = np.where(age >= 75, dem.PHONE_SHARE_75_PLUS, p)
    has = rng.random(n) < p
    m = int(has.sum())
    prefixes = np.asarray(MOBILE_PREFIXES, dtype=np.int64)
    numbers = prefixes[rng.integers(0, len(prefixes), m)] * 100_000_000 + rng.integers(
        0, 100_000_000, m
    )
    while True:  # redraw the (rare) duplicates until all are unique
        order = np.argsort(numbers, kind="stable")
        same = numbers[order][1:] == numbers[order][:-1]
        dup = order[1:][same]
        if not dup.size:
            break
        numbers[dup] = prefixes[rng.integers(0, len(prefixes), dup.size)] * 100_000_000
        numbers[dup] += rng.integers(0, 100_000_000, dup.size)
    chars = digits(numbers, 11) + np.uint8(ord("0"))
    strings = fixed_width_strings(chars)
    take = np.full(n, -1, dtype=np.int64)
    take[has] = np.arange(m)
    return strings.take(pa.array(np.where(has, take, 0), mask=~has))


def _nullable_ids(ids: np.ndarray, index: np.ndarray) -> pa.Array:
    return pa.array(ids[np.maximum(index, 0)], pa.int64(), mask=index < 0)


class _VenueIndex:
    """Venues by kind and grid, for distance-weighted choices of schools and workplaces."""

    def __init__(self, venues: pa.Table, city: City) -> None:
        self.ids = venues.column("venue_id").to_numpy()
        kind_col = venues.column("kind").to_numpy(zero_copy_only=False)
        self.kind = np.array([KIND_INDEX.get(k, -1) for k in kind_col])
        grid_pos = {code: i for i, code in enumerate(city.codes)}
        self.grid = np.array(
            [grid_pos.get(c, -1) for c in venues.column("grid_code").to_pylist()], dtype=np.int64
        )
        self.capacity = venues.column("capacity").to_numpy().astype(np.float64)
        ratio = np.array([k.staff_ratio for k in KINDS])
        self.staff = np.where(self.kind >= 0, self.capacity * ratio[self.kind], 0.0)
        self.staff[self.grid < 0] = 0.0
        self.n_grids = city.size

    def choose(self, rng, kind: str, origin: np.ndarray, xy: np.ndarray, decay: float, staff: bool):
        """Venue index for each origin grid: nearby grid by gravity, then venue by size."""
        if not origin.size:
            return np.empty(0, dtype=np.int64)
        members = np.flatnonzero((self.kind == KIND_INDEX[kind]) & (self.grid >= 0))
        if not members.size:
            return np.full(origin.size, -1, dtype=np.int64)
        weight = (self.staff if staff else self.capacity)[members]
        if weight.sum() <= 0:
            weight = np.ones(members.size)
        dest_grids, local = np.unique(self.grid[members], return_inverse=True)
        grid_weight = np.bincount(local, weights=weight, minlength=dest_grids.size)
        ok = grid_weight > 0
        sampler = gravity_sampler(xy, xy[dest_grids[ok]], grid_weight[ok], decay)
        dest = np.flatnonzero(ok)[sampler.sample(origin, rng.random(origin.size))]
        within = GroupedChoice.build(local, weight, dest_grids.size)
        return members[within.sample(dest, rng.random(origin.size))]

    def choose_jobs(self, rng, origin: np.ndarray, xy: np.ndarray) -> np.ndarray:
        """A workplace per worker: sector by share of jobs, then the nearby job by gravity."""
        jobs = np.bincount(
            self.kind[self.kind >= 0], weights=self.staff[self.kind >= 0], minlength=len(KINDS)
        )
        kind_of = rng.choice(len(KINDS), size=origin.size, p=jobs / jobs.sum())
        out = np.full(origin.size, -1, dtype=np.int64)
        for k in np.flatnonzero(jobs):
            pick = np.flatnonzero(kind_of == k)
            out[pick] = self.choose(
                rng, KIND_NAMES[k], origin[pick], xy, COMMUTE_DECAY_KM, staff=True
            )
        return out
