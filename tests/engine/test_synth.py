"""The synthetic city generator: valid documents, consistent references, realistic shape."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from epicore.idcard import parse_resident_id
from epicore.synth import (
    CHECKIN_SCHEMA,
    KIND_NAMES,
    PEOPLE_SCHEMA,
    PING_SCHEMA,
    VENUE_SCHEMA,
    SynthConfig,
    build_city,
    generate_population,
    generate_venues,
    iter_checkins,
    main,
    write_parquet,
)
from epicore.synth.geography import all_county_codes
from epicore.synth.movement import simulate
from epicore.synth.sampling import RowSampler, digits
from epicore.synth.venues import KINDS, venue_counts

# Thursday: three days cover a school day, a Friday night and a Saturday.
START = date(2022, 3, 3)
CFG = SynthConfig(people=1500, days=3, seed=7, start=START, pings=True)
LOCAL = 8 * 3600


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("synth")
    summary = write_parquet(CFG, out)
    return {
        "summary": summary,
        "out": out,
        "people": pq.read_table(out / "people.parquet"),
        "venues": pq.read_table(out / "venues.parquet"),
        "checkins": pq.read_table(out / "checkins.parquet"),
        "pings": pq.read_table(out / "pings.parquet"),
    }


def _seconds(column: pa.ChunkedArray) -> np.ndarray:
    # Parquet has no seconds unit: files hold milliseconds, the iterators seconds.
    return column.cast(CHECKIN_SCHEMA.field("t_in").type).cast(pa.int64()).fill_null(-1).to_numpy()


def _local_day(seconds: np.ndarray) -> np.ndarray:
    return (seconds + LOCAL) // 86_400


def test_resident_ids_are_valid_and_match_birth_date_and_sex(written):
    people = written["people"]
    residents = people.filter(pc.equal(people["doc_type"], "resident_id")).to_pylist()
    counties = set(all_county_codes(CFG).tolist())
    assert len(residents) > 0.97 * len(people)
    for row in residents:
        parsed = parse_resident_id(row["doc_number"])
        assert parsed.birth_date == row["birth_date"]
        assert parsed.sex == row["sex"]
        assert parsed.region in counties


def test_age_matches_birth_date_on_the_first_day(written):
    for row in written["people"].select(["birth_date", "age"]).to_pylist():
        b = row["birth_date"]
        age = START.year - b.year - ((START.month, START.day) < (b.month, b.day))
        assert age == row["age"]


def test_ids_documents_and_phones_are_unique_and_well_formed(written):
    people = written["people"]
    n = people.num_rows
    assert people["person_id"].to_pylist() == list(range(1, n + 1))
    assert pc.count_distinct(people["doc_number"]).as_py() == n
    phones = [p for p in people["phone"].to_pylist() if p is not None]
    assert len(set(phones)) == len(phones) > 0.7 * n
    assert all(re.fullmatch(r"1[3-9]\d{9}", p) for p in phones)
    young = people.filter(pc.less(people["age"], 10))
    assert young["phone"].null_count == young.num_rows


def test_foreign_residents_carry_passports_and_nationality(tmp_path):
    cfg = SynthConfig(people=3000, days=0, seed=3, foreign_fraction=0.05)
    people = generate_population(cfg)
    foreign = people.filter(pc.equal(people["doc_type"], "passport"))
    assert 0.02 * 3000 < foreign.num_rows < 0.09 * 3000
    assert all(re.fullmatch(r"[A-Z0-9]{5,20}", d) for d in foreign["doc_number"].to_pylist())
    assert all(re.fullmatch(r"[A-Z]{3}", c) for c in foreign["nationality"].to_pylist())
    citizens = people.filter(pc.equal(people["doc_type"], "resident_id"))
    assert citizens["nationality"].null_count == citizens.num_rows


def test_households_share_a_home(written):
    people = written["people"]
    homes = people.group_by("household_id").aggregate(
        [("home_grid", "count_distinct"), ("home_lat", "count_distinct")]
    )
    assert pc.max(homes["home_grid_count_distinct"]).as_py() == 1
    assert pc.max(homes["home_lat_count_distinct"]).as_py() == 1
    mean_size = people.num_rows / homes.num_rows
    assert 2.2 < mean_size < 3.0  # 7th census: 2.62


def test_homes_and_venues_lie_in_the_city_grids(written):
    city = build_city(CFG)
    grids = set(city.codes.tolist())
    assert set(written["people"]["home_grid"].to_pylist()) <= grids
    assert set(written["venues"]["grid_code"].to_pylist()) <= grids
    lat_min, lat_max, lon_min, lon_max = city.bbox
    for table, lat, lon in (
        (written["people"], "home_lat", "home_lon"),
        (written["venues"], "lat", "lon"),
    ):
        assert lat_min <= pc.min(table[lat]).as_py() <= pc.max(table[lat]).as_py() <= lat_max
        assert lon_min <= pc.min(table[lon]).as_py() <= pc.max(table[lon]).as_py() <= lon_max


def test_workplaces_and_schools_are_venues_of_the_right_kind(written):
    people, venues = written["people"], written["venues"]
    kind = dict(zip(venues["venue_id"].to_pylist(), venues["kind"].to_pylist(), strict=True))
    for row in people.select(
        ["occupation", "age", "workplace_venue_id", "school_venue_id"]
    ).to_pylist():
        if row["workplace_venue_id"] is not None:
            assert row["occupation"] == "worker"
            assert kind[row["workplace_venue_id"]] not in ("bus_station",)
        if row["school_venue_id"] is not None:
            expected = (
                "kindergarten" if row["age"] < 6
                else "primary_school" if row["age"] < 12
                else "middle_school" if row["age"] < 18
                else "university"
            )  # fmt: skip
            assert kind[row["school_venue_id"]] == expected
        if 6 <= row["age"] <= 14:
            assert row["school_venue_id"] is not None


def test_venue_kinds_counts_and_capacities():
    counts = venue_counts(1_000_000)
    assert set(counts) == set(KIND_NAMES)
    for k in KINDS:
        if k.per_1000 is not None:
            assert counts[k.kind] == max(1, round(k.per_1000 * 1000))
    assert max(counts, key=counts.get) == "restaurant"
    # Workplaces absorb the workers not employed by shops and services.
    assert counts["office_building"] > 10 and counts["factory"] > 10
    venues = generate_venues(SynthConfig(people=20_000, seed=1))
    kinds = pc.value_counts(venues["kind"]).to_pylist()
    by_kind = {k["values"]: k["counts"] for k in kinds}
    assert set(by_kind) == set(KIND_NAMES)
    assert by_kind["restaurant"] > by_kind["supermarket"] > by_kind["shopping_mall"]
    assert pc.min(venues["capacity"]).as_py() >= 1
    assert venues.schema == VENUE_SCHEMA
    assert all(re.search(r"[\u4e00-\u9fff]", n) for n in venues["name"].to_pylist())


def test_checkins_reference_existing_people_and_venues(written):
    checkins = written["checkins"]
    assert checkins.num_rows == written["summary"]["checkins"]
    people = set(written["people"]["person_id"].to_pylist())
    venues = set(written["venues"]["venue_id"].to_pylist())
    assert set(pc.unique(checkins["person_id"]).to_pylist()) <= people
    assert set(pc.unique(checkins["venue_id"]).to_pylist()) <= venues


def test_t_out_is_never_before_t_in_and_nulls_match_the_configured_share(written):
    checkins = written["checkins"]
    t_in, t_out = _seconds(checkins["t_in"]), _seconds(checkins["t_out"])
    valid = t_out >= 0
    assert (t_out[valid] >= t_in[valid]).all()
    share = 1 - valid.mean()
    assert abs(share - CFG.missing_checkout_fraction) < 0.006


def test_missing_checkout_fraction_is_a_knob():
    cfg = SynthConfig(people=800, days=1, seed=2, missing_checkout_fraction=0.2)
    batches = list(iter_checkins(cfg, generate_population(cfg), generate_venues(cfg)))
    t_out = pa.Table.from_batches(batches)["t_out"]
    assert abs(t_out.null_count / len(t_out) - 0.2) < 0.03


def test_mean_checkins_per_person_day_is_about_seven(written):
    mean = written["checkins"].num_rows / (CFG.people * CFG.days)
    assert 6.0 < mean < 8.0


def test_checkins_come_day_by_day_and_some_span_midnight(written):
    t_in = _seconds(written["checkins"]["t_in"])
    t_out = _seconds(written["checkins"]["t_out"])
    days = _local_day(t_in)
    first = (START - date(1970, 1, 1)).days
    assert days.min() == first and days.max() == first + CFG.days - 1
    assert (np.diff(days) >= 0).all()
    valid = t_out >= 0
    spans = (_local_day(t_out) > days) & valid
    assert 0 < spans.sum() < 0.05 * len(t_in)


def test_school_age_children_go_to_school_on_weekdays_only(written):
    people, checkins = written["people"], written["checkins"]
    pupils = people.filter(pc.is_valid(people["school_venue_id"]))
    school_of = dict(
        zip(pupils["person_id"].to_pylist(), pupils["school_venue_id"].to_pylist(), strict=True)
    )
    person = checkins["person_id"].to_numpy()
    venue = checkins["venue_id"].to_numpy()
    day = _local_day(_seconds(checkins["t_in"])) - (START - date(1970, 1, 1)).days
    at_school = np.array([school_of.get(p) == v for p, v in zip(person, venue, strict=True)])
    thursday = set(person[at_school & (day == 0)].tolist())
    assert len(thursday) > 0.95 * len(school_of)
    assert not (at_school & (day == 2)).any()  # Saturday


def test_workers_commute_and_visit_places_near_home(written):
    people, venues, checkins = written["people"], written["venues"], written["checkins"]
    workers = people.filter(pc.is_valid(people["workplace_venue_id"]))
    work = dict(
        zip(
            workers["person_id"].to_pylist(), workers["workplace_venue_id"].to_pylist(), strict=True
        )
    )
    person = checkins["person_id"].to_numpy()
    venue = checkins["venue_id"].to_numpy()
    at_work = np.array([work.get(p) == v for p, v in zip(person, venue, strict=True)])
    assert len(set(person[at_work].tolist())) > 0.7 * len(work)
    # Restaurants are chosen near home or work: much nearer than a restaurant picked at random.
    kind = venues["kind"].to_numpy(zero_copy_only=False)
    eat = kind[venue - 1] == "restaurant"
    h_lat = people["home_lat"].to_numpy()[person[eat] - 1]
    h_lon = people["home_lon"].to_numpy()[person[eat] - 1]
    lat, lon = venues["lat"].to_numpy(), venues["lon"].to_numpy()
    chosen = np.hypot((lat[venue[eat] - 1] - h_lat) * 111, (lon[venue[eat] - 1] - h_lon) * 101)
    all_r = kind == "restaurant"
    anyone = np.hypot(
        (lat[all_r][None, :] - h_lat[:, None]) * 111, (lon[all_r][None, :] - h_lon[:, None]) * 101
    )
    assert np.median(chosen) < 0.6 * np.median(anyone)


def test_pings_stay_in_the_box_and_belong_to_phone_owners(written):
    pings, people = written["pings"], written["people"]
    assert pings.num_rows == written["summary"]["pings"] > 0
    lat_min, lat_max, lon_min, lon_max = build_city(CFG).bbox
    assert lat_min <= pc.min(pings["lat"]).as_py() and pc.max(pings["lat"]).as_py() <= lat_max
    assert lon_min <= pc.min(pings["lon"]).as_py() and pc.max(pings["lon"]).as_py() <= lon_max
    owners = set(people.filter(pc.is_valid(people["phone"]))["person_id"].to_pylist())
    assert set(pc.unique(pings["person_id"]).to_pylist()) <= owners
    t = _seconds(pings["t"])
    first = (START - date(1970, 1, 1)).days
    assert _local_day(t).min() == first and _local_day(t).max() == first + CFG.days - 1


def test_pings_place_people_at_the_venue_they_checked_into(written):
    pings, checkins, venues = written["pings"], written["checkins"], written["venues"]
    one = checkins.filter(pc.is_valid(checkins["t_out"])).slice(0, 2000).to_pylist()
    lat = venues["lat"].to_numpy()
    lon = venues["lon"].to_numpy()
    by_person: dict[int, list] = {}
    for row in pings.to_pylist():
        by_person.setdefault(row["person_id"], []).append(row)
    close = total = 0
    for c in one:
        for p in by_person.get(c["person_id"], []):
            if c["t_in"] <= p["t"] <= c["t_out"]:
                total += 1
                d = np.hypot(
                    (p["lat"] - lat[c["venue_id"] - 1]) * 111,
                    (p["lon"] - lon[c["venue_id"] - 1]) * 101,
                )
                close += d < 0.2
    assert total > 50 and close / total > 0.9  # overlapping stops may pull a few elsewhere


def _digest(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    cfg = SynthConfig(people=1000, days=2, seed=11, pings=True)
    write_parquet(cfg, tmp_path / "a")
    write_parquet(cfg, tmp_path / "b")
    write_parquet(SynthConfig(people=1000, days=2, seed=12, pings=True), tmp_path / "c")
    a, b, c = (_digest(tmp_path / x) for x in "abc")
    assert a == b
    assert all(a[name] != c[name] for name in a)


def test_checkins_do_not_depend_on_pings(tmp_path):
    write_parquet(SynthConfig(people=600, days=2, seed=5), tmp_path / "a")
    write_parquet(SynthConfig(people=600, days=2, seed=5, pings=True), tmp_path / "b")
    assert (
        _digest(tmp_path / "a")["checkins.parquet"] == _digest(tmp_path / "b")["checkins.parquet"]
    )


def test_output_does_not_depend_on_threads():
    cfg = SynthConfig(people=900, days=2, seed=4, block_size=256)  # several blocks per day
    people, venues = generate_population(cfg), generate_venues(cfg)
    runs = [
        [(d, c, p) for d, c, p in simulate(cfg, people, venues, pings=True, threads=t)]
        for t in (1, 3)
    ]
    assert len(runs[0]) == len(runs[1]) == 2 * 4
    for (d1, c1, p1), (d2, c2, p2) in zip(*runs, strict=True):
        assert d1 == d2 and c1.equals(c2) and p1.equals(p2)


def test_cli_writes_four_files_with_the_documented_schemas(tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(
        ["--people", "1000", "--days", "2", "--seed", "3", "--out", str(out), "--pings",
         "--start", "2022-03-05", "--roots", "3502"]
    )  # fmt: skip
    assert code == 0
    captured = capsys.readouterr()
    assert "day 2/2 2022-03-06" in captured.err
    assert re.search(r"people=1000 venues=\d+ checkins=\d+ pings=\d+ seconds=", captured.out)
    expected = {
        "people.parquet": PEOPLE_SCHEMA,
        "venues.parquet": VENUE_SCHEMA,
        "checkins.parquet": CHECKIN_SCHEMA,
        "pings.parquet": PING_SCHEMA,
    }
    assert {p.name for p in out.iterdir()} == set(expected)
    for name, schema in expected.items():
        assert pq.read_schema(out / name).remove_metadata().equals(_as_stored(schema)), name
    assert str(CHECKIN_SCHEMA.field("t_in").type) == "timestamp[s, tz=Asia/Shanghai]"


def _as_stored(schema: pa.Schema) -> pa.Schema:
    """Parquet has no seconds unit, so second timestamps come back as milliseconds."""
    return pa.schema(
        pa.field(f.name, pa.timestamp("ms", tz=f.type.tz)) if pa.types.is_timestamp(f.type) else f
        for f in schema
    )


def test_another_city_gets_its_own_box():
    cfg = SynthConfig(people=500, days=0, roots=("350102",))  # 福州 鼓楼区
    city = build_city(cfg)
    people = generate_population(cfg)
    assert set(pc.utf8_slice_codeunits(people["home_grid"], 0, 6).to_pylist()) == {"350102"}
    assert not (24.40 <= city.bbox[0] and city.bbox[1] <= 24.75)


def test_engine_never_imports_django():
    code = "import sys, epicore.synth; sys.exit(any(m.split('.')[0] in ('django', 'fangkong') for m in sys.modules))"
    src = Path(__file__).resolve().parents[2] / "src"
    result = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(src)}, check=False)
    assert result.returncode == 0


def test_config_rejects_nonsense():
    with pytest.raises(ValueError):
        SynthConfig(people=0)
    with pytest.raises(ValueError):
        SynthConfig(people=10, missing_checkout_fraction=1.5)
    with pytest.raises(ValueError):
        SynthConfig(people=10, roots=())


@settings(max_examples=40, deadline=None)
@given(
    weights=st.lists(
        st.lists(st.sampled_from([0.0, 0.001, 0.5, 1.0, 7.0]), min_size=4, max_size=4).filter(any),
        min_size=1,
        max_size=5,
    ),
    seed=st.integers(0, 2**16),
)
def test_row_sampler_only_draws_columns_with_weight(weights, seed):
    w = np.array(weights)
    sampler = RowSampler.from_weights(w, np.tile(np.arange(4), (len(w), 1)))
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(w), 5000)
    cols = sampler.sample(rows, rng.random(5000))
    assert (w[rows, cols] > 0).all()


@given(st.lists(st.integers(0, 10**11 - 1), min_size=1, max_size=50))
def test_digits_match_string_formatting(values):
    got = digits(np.array(values, dtype=np.int64), 11)
    assert ["".join(map(str, row)) for row in got] == [f"{v:011d}" for v in values]


def test_the_start_date_moves_the_calendar():
    cfg = SynthConfig(people=300, days=1, seed=1, start=date(2022, 3, 5) + timedelta(days=0))
    batch = next(iter_checkins(cfg, generate_population(cfg), generate_venues(cfg)))
    days = set(_local_day(_seconds(pa.chunked_array([batch["t_in"]]))).tolist())
    assert days == {(date(2022, 3, 5) - date(1970, 1, 1)).days}
