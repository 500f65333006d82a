"""Contact tracing: DuckDB equals the pure-Python reference; definitions on hand-made cases."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tracing_cases.helpers import (
    ORIGIN,
    T0,
    H,
    border_latitude,
    busy_venue,
    by_person,
    cases,
    checkins,
    combine,
    edge_cases,
    pings,
    traced_both,
)

from epicore.errors import ValidationError
from epicore.synth import SynthConfig, write_parquet
from epicore.tracing import TraceParams, read_cases, read_checkins, trace
from epicore.tracing.cli import main
from epicore.tracing.grid import E2, WGS84_A, project
from epicore.tracing.plan import MAX_CHUNKS, RunFacts, chunk_bounds

EDGE = edge_cases()


def run_edge(name: str, params: TraceParams | None = None) -> dict[int, dict]:
    data = combine([EDGE[name]])
    return by_person(
        traced_both(data["checkins"], data["cases"], params, isolations=data["isolations"])
    )


# --- Definitions on hand-made cases ----------------------------------------------------------


def test_touching_stays_are_not_contacts_and_min_overlap_is_inclusive():
    found = run_edge("touching", TraceParams(hops=1))  # with 2 hops, 2 and 4 meet 3 later
    assert set(found) == {3}
    assert found[3]["overlap_seconds"] == 900 and found[3]["degree"] == "1"


def test_zero_min_overlap_still_needs_a_positive_overlap():
    assert set(run_edge("touching", TraceParams(min_overlap_s=0, hops=1))) == {3, 4}


def test_a_stay_across_midnight_is_traced_on_both_days():
    found = run_edge("midnight")
    assert set(found) == {2}
    assert found[2]["exposure_start"].timestamp() == T0
    assert found[2]["overlap_seconds"] == 1800


def test_a_person_exposed_twice_is_reported_once_at_the_earliest_exposure():
    found = run_edge("twice")
    assert set(found) == {2, 3}
    assert found[2]["venue_id"] == 2 and found[2]["exposure_start"].timestamp() == T0 + 8 * H
    assert found[3]["via_person_id"] == 5  # same start, same length: the smaller via


def test_among_equal_exposures_the_source_who_arrived_first_is_named():
    found = run_edge("arrived_first")
    assert {p: r["via_person_id"] for p, r in found.items()} == {3: 7, 4: 7, 5: 7}
    assert found[4]["overlap_seconds"] == 12 * H - (9 * H + 900)
    assert found[5]["exposure_start"].timestamp() == T0 + 9 * H


def test_cases_are_never_contacts_of_other_cases():
    found = run_edge("case_is_contact")
    assert set(found) == {3}
    assert found[3]["via_person_id"] == 2 and found[3]["degree"] == "1"


def test_a_case_without_checkins_has_no_contacts():
    assert run_edge("no_checkins") == {}


def test_secondary_contacts_count_from_first_exposure_until_isolation():
    found = run_edge("secondary")
    assert {p: r["degree"] for p, r in found.items()} == {2: "1", 3: "2"}
    assert found[3]["via_person_id"] == 2 and found[3]["venue_id"] == 3


def test_an_earlier_exposure_in_a_later_chunk_wins():
    # Chunks of an hour: person 3's stay at venue 1 starts in the first chunk but meets case 1
    # only from T0+5000 (second chunk); a stay starting in the second chunk meets case 2 at
    # T0+4000, earlier. Only people exposed before a chunk starts may be left out of it.
    ck = checkins(
        [
            (1, 1, T0 + 5000, T0 + 9000),
            (2, 2, T0 + 3700, T0 + 6000),
            (3, 1, T0 + 100, T0 + 9000),
            (3, 2, T0 + 4000, T0 + 6000),
            *[(p, 9, T0, T0 + H) for p in range(10, 14)],  # more others than cases: the
        ]  # others' check-ins are the side cut into chunks
    )
    params = TraceParams(hops=1, chunk_s=3600)
    found = by_person(traced_both(ck, cases([(1, T0, T0 + 9 * H), (2, T0, T0 + 9 * H)]), params))
    assert found[3]["exposure_start"].timestamp() == T0 + 4000
    assert (found[3]["via_person_id"], found[3]["venue_id"]) == (2, 2)


def test_chunks_follow_the_data_and_stay_few():
    day = 24 * 3600
    facts = lambda counts: RunFacts(people=10, reach_s=H, start_counts=tuple(counts))  # noqa: E731
    params = TraceParams()
    # 14 busy days: one chunk a day, open at both ends
    fortnight = chunk_bounds(facts((20_000 + d, 1000) for d in range(14)), params)
    assert len(fortnight) == 14
    assert fortnight[0] == (None, 20_001 * day) and fortnight[-1] == (20_013 * day, None)
    # old demo check-ins on 30 days and today's few scans, four years apart: a handful of
    # chunks cut only where check-ins start, not one per calendar day in between
    spread = facts([*((19_000 + d, 500) for d in range(30)), (20_460, 3)])
    bounds = chunk_bounds(spread, params)
    assert 2 <= len(bounds) <= MAX_CHUNKS + 1
    assert all(lo % day == 0 and 19_000 * day < lo <= 20_460 * day for lo, _ in bounds[1:])
    assert chunk_bounds(facts([]), params) == [(None, None)]


def test_checkins_years_apart_are_traced_like_any_others():
    year = 365 * 24 * H
    ck = checkins(
        [
            (1, 1, T0, T0 + H),  # the case, long ago
            (2, 1, T0 + 600, T0 + 2 * H),  # its close contact
            (2, 2, T0 + 3 * H, T0 + 4 * H),
            (3, 2, T0 + 3 * H, T0 + 5 * H),  # the contact's contact
            *[(p, 3, T0 + 4 * year + p, T0 + 4 * year + H) for p in range(10, 40)],  # today
            (1, 3, T0 + 4 * year, T0 + 4 * year + H),  # the case again, outside its window
        ]
    )
    found = by_person(traced_both(ck, cases([(1, T0, T0 + 2 * H)])))
    assert {p: r["degree"] for p, r in found.items()} == {2: "1", 3: "2"}


def test_hops_1_reports_close_contacts_only():
    assert set(run_edge("secondary", TraceParams(hops=1))) == {2}


def test_a_venue_with_ten_thousand_visitors_in_one_hour():
    data = combine([busy_venue()])
    rows = traced_both(data["checkins"], data["cases"], TraceParams(hops=1))
    assert 1000 < len(rows) < 10_000
    # Two hops: ~3,000 contacts x 10,000 stays is slow for the reference, so DuckDB alone here
    # (Spark is compared with it in test_tracing_spark) and the reference on 2,000 visitors.
    small = combine([busy_venue(2_000, seed=1)])
    assert {r["degree"] for r in traced_both(small["checkins"], small["cases"])} == {"1", "2"}
    rows = trace(data["checkins"], data["cases"]).contacts.to_pylist()
    degrees = [r["degree"] for r in rows]
    assert degrees.count("2") > 1000  # the others met close contacts there
    assert by_person(rows)[50_000]["degree"] == "2"  # only met contacts, at the second venue


def test_all_edge_cases_together_give_the_union():
    data = combine(list(EDGE.values()))
    rows = traced_both(data["checkins"], data["cases"], isolations=data["isolations"])
    assert len(rows) == sum(len(run_edge(name)) for name in EDGE)


# --- Spatio-temporal companions --------------------------------------------------------------


def companion_inputs(lat_other: float, lon: float, minutes: int = 20) -> dict:
    """A case and person 2 pinging every 5 min for `minutes`; 3 pings far away."""
    lat_case = border_latitude(lon) - 0.0005  # ~55 m south of a row border
    times = [T0 + 10 * H + 300 * i for i in range(minutes // 5 + 1)]
    rows = [(1, t, lat_case, lon) for t in times] + [(2, t, lat_other, lon) for t in times]
    rows += [(3, t, 24.9, 118.2) for t in times]
    return {"pings": pings(rows), "cases": cases([(1, T0, T0 + 24 * H)])}


def companions_of(data: dict, params: TraceParams) -> dict[int, dict]:
    rows = traced_both(checkins([]), data["cases"], params, pings=data["pings"])
    return by_person(rows)


def test_pings_just_inside_and_just_outside_a_cell_border():
    params = TraceParams(grid_origin=ORIGIN, ping_max_gap_s=300)
    lon = ORIGIN[1] + 0.05
    border = border_latitude(lon)
    inside = companions_of(companion_inputs(border - 1e-7, lon), params)  # ~1 cm south
    outside = companions_of(companion_inputs(border + 1e-7, lon), params)  # ~1 cm north
    assert set(inside) == {2} and inside[2]["degree"] == "companion"
    assert inside[2]["overlap_seconds"] == 5 * 300  # 5 pings, 5 min apart, the last capped
    assert outside == {}


def test_companion_time_must_exceed_the_minimum():
    params = TraceParams(grid_origin=ORIGIN, ping_max_gap_s=300, companion_min_s=10 * 60)
    lon = ORIGIN[1] + 0.05
    lat = border_latitude(lon) - 0.0005
    assert companions_of(companion_inputs(lat, lon, minutes=5), params) == {}  # 10 min exactly
    assert set(companions_of(companion_inputs(lat, lon, minutes=10), params)) == {2}


def test_projection_keeps_distances_near_the_origin():
    lat = np.radians(24.5)
    meridian = WGS84_A * (1 - E2) / (1 - E2 * np.sin(lat) ** 2) ** 1.5  # radius of curvature
    parallel = WGS84_A * np.cos(lat) / np.sqrt(1 - E2 * np.sin(lat) ** 2)
    x, y = project(np.array([24.5, 24.51, 24.5]), np.array([118.0, 118.0, 118.01]), (24.5, 118.0))
    assert abs((y[1] - y[0]) / (meridian * np.radians(0.01)) - 1) < 1e-4
    assert abs((x[2] - x[0]) / (parallel * np.radians(0.01)) - 1) < 1e-4


# --- Synthetic cities ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cities(tmp_path_factory) -> list[dict]:
    out = []
    for people, seed, with_pings in ((1200, 11, True), (1000, 12, False)):
        folder = tmp_path_factory.mktemp(f"city{seed}")
        write_parquet(
            SynthConfig(people=people, days=3, seed=seed, start=date(2022, 3, 3), pings=with_pings),
            folder,
        )
        out.append({"dir": folder, "pings": with_pings, "seed": seed})
    return out


def city_cases(folder, count: int, hours: int, seed: int) -> pa.Table:
    ck = pq.read_table(folder / "checkins.parquet", columns=["person_id"])
    rng = np.random.default_rng(seed)
    chosen = rng.choice(np.unique(ck["person_id"].to_numpy()), count, replace=False)
    start = 1_646_236_800 + 8 * H  # 2022-03-03 08:00 local
    return cases([(int(p), start, start + hours * H) for p in sorted(chosen)])


@pytest.mark.parametrize("index", [0, 1])
def test_duckdb_equals_reference_on_synthetic_cities(cities, index):
    city = cities[index]
    folder = city["dir"]
    params = TraceParams(hops=1 if city["pings"] else 2)
    case_table = city_cases(folder, 3, 6, city["seed"])
    extra = {"pings": folder / "pings.parquet"} if city["pings"] else {}
    rows = traced_both(
        folder / "checkins.parquet", case_table, params, venues=folder / "venues.parquet", **extra
    )
    degrees = {r["degree"] for r in rows}
    assert degrees == ({"1", "companion"} if city["pings"] else {"1", "2"})


# --- Bad input -------------------------------------------------------------------------------


def write_csv(path, table: pa.Table):
    pacsv.write_csv(table, path)
    return path


def test_reversed_stays_are_dropped_and_counted_or_rejected(tmp_path):
    ck = checkins([(1, 1, T0, T0 + H), (2, 1, T0 + H, T0), (3, 1, T0, T0 + H)])
    path = tmp_path / "ck.parquet"
    pq.write_table(ck, path)
    result = trace(path, cases([(1, T0, T0 + 9 * H)]))
    assert by_person(result.contacts.to_pylist()).keys() == {3}
    assert result.report.repairs == {f"{path}: with t_out before t_in, dropped": 1}
    with pytest.raises(ValidationError) as err:
        trace(path, cases([(1, T0, T0 + 9 * H)]), params=TraceParams(on_bad_rows="reject"))
    assert str(path) in err.value.message and "t_out" in err.value.message


def test_missing_t_out_takes_the_dwell_of_the_venue_kind():
    ck = pa.table(
        {"person_id": [1, 2], "venue_id": [7, 7], "t_in": [T0, T0 + 1800], "t_out": [T0 + H, None]}
    )
    venues = pa.table({"venue_id": [7], "kind": ["convenience_store"]})
    none = trace(ck, cases([(1, T0, T0 + 9 * H)]), venues=venues)
    assert none.contacts.num_rows == 0  # 5 minutes at a convenience store < 15 min
    mall = trace(
        ck,
        cases([(1, T0, T0 + 9 * H)]),
        venues=pa.table({"venue_id": [7], "kind": ["shopping_mall"]}),
    )
    assert mall.contacts["overlap_seconds"].to_pylist() == [1800]
    assert "without t_out" in mall.report.summary()


def test_missing_column_names_file_and_column(tmp_path):
    path = write_csv(
        tmp_path / "ck.csv", pa.table({"person_id": [1], "venue_id": [1], "t_in": [T0]})
    )
    with pytest.raises(ValidationError) as err:
        read_checkins(path)
    assert err.value.code == "tracing.missing_column" and err.value.params["column"] == "t_out"
    assert str(path) in err.value.message


def test_unreadable_values_are_rejected_with_an_example(tmp_path):
    table = pa.table(
        {
            "person_id": ["1", "x2"],
            "venue_id": ["1", "1"],
            "t_in": ["2022-03-02 08:00:00", "1646180000"],
            "t_out": ["", "later"],
        }
    )
    path = write_csv(tmp_path / "ck.csv", table)
    with pytest.raises(ValidationError) as err:
        read_checkins(path)
    assert err.value.code == "tracing.bad_value" and "'x2'" in err.value.message


def test_wrong_column_types_are_rejected():
    table = pa.table({"person_id": [1.5], "venue_id": [1], "t_in": [T0], "t_out": [T0 + 1]})
    with pytest.raises(ValidationError) as err:
        read_checkins(table)
    assert err.value.code == "tracing.bad_type" and err.value.params["column"] == "person_id"


def test_csv_times_as_iso_text_or_epoch_seconds(tmp_path):
    table = pa.table(
        {
            "person_id": [1, 2],
            "venue_id": [1, 1],
            "t_in": ["2022-03-02 08:00:00", str(T0 + 8 * H)],
            "t_out": ["2022-03-02T01:00:00Z", ""],
        }
    )
    got, report = read_checkins(write_csv(tmp_path / "ck.csv", table))
    assert got["t_in"].to_pylist() == [T0 + 8 * H] * 2
    assert got["t_out"].to_pylist() == [T0 + 9 * H, T0 + 8 * H + 1800]  # second: default dwell
    assert report.repairs


def test_duplicates_are_counted_and_change_nothing():
    ck = checkins([(1, 1, T0, T0 + H), (2, 1, T0, T0 + H), (2, 1, T0, T0 + H)])
    result = trace(ck, cases([(1, T0, T0 + 9 * H)]))
    assert result.contacts.num_rows == 1
    assert list(result.report.repairs.values()) == [1]
    with pytest.raises(ValidationError):
        trace(ck, cases([(1, T0, T0 + 9 * H)]), params=TraceParams(on_bad_rows="reject"))


def test_ids_and_times_beyond_32_bits_are_traced_exactly():
    # The check-ins are held as 32-bit integers when every value fits: a person id of 2^40
    # and a stay in 2040 (after 2^31 seconds) must make the engine fall back to 64 bits.
    big, later = 2**40, 2**31 + 7 * H
    for person, t in ((big, T0), (1, later)):
        ck = checkins([(person, 9, t, t + H), (2, 9, t + 60, t + H), (3, 9, t + H, t + 2 * H)])
        found = by_person(traced_both(ck, cases([(person, t, t + 9 * H)])))
        assert set(found) == {2}
        assert found[2]["via_person_id"] == person
        assert found[2]["exposure_start"].timestamp() == t + 60


def test_sub_second_parts_are_dropped_before_and_after_2038():
    # Check-ins before 2038 take the fast floating-point conversion, later ones the exact
    # integer one; both drop the fraction (floor), never round up to the next second.
    for t in (T0, 2**31 + 7 * H):
        for tz in ("Asia/Shanghai", None):
            just_before = [t * 10**6 + 999_999, (t + H) * 10**6 - 1, (t + 2 * H) * 10**6 - 1]
            stamps = pa.array(just_before, pa.timestamp("us", tz=tz))
            table = pa.table(
                {"person_id": [1, 2], "venue_id": [1, 1], "t_in": stamps[:2], "t_out": stamps[1:]}
            )
            got, _ = read_checkins(table)
            naive = 0 if tz else 8 * H  # naive times are Asia/Shanghai wall time
            assert got["t_in"].to_pylist() == [t - naive, t + H - 1 - naive]
            assert got["t_out"].to_pylist() == [t + H - 1 - naive, t + 2 * H - 1 - naive]


def test_duplicates_are_counted_exactly_and_near_copies_are_not():
    a, b = (2, 1, T0, T0 + H), (3, 1, T0, T0 + 2 * H)
    near = [(3, 1, T0, T0 + 2 * H + 1), (3, 2, T0, T0 + 2 * H), (4, 1, T0, T0 + 2 * H)]
    # a stay shorter than the minimum overlap is not kept in the compiled path's arrays:
    # its copies are found by reading the input again
    short = (6, 1, T0, T0 + 60)
    rows = [(1, 1, T0, T0 + H), a, a, a, b, b, *near, short, short]  # 2 + 1 + 1 copies
    for params in (TraceParams(), TraceParams(compiled_hops=False)):
        result = trace(checkins(rows), cases([(1, T0, T0 + 9 * H)]), params=params)
        assert list(result.report.repairs.values()) == [4]
        # 999 more copies: more than the loader's slab for their hash holds (placed again),
        # of a long stay, then of a short one (all rows read again)
        for copied in ((5, 1, T0 + 1, T0 + H), (7, 1, T0 + 1, T0 + 2)):
            ck = checkins(rows + [copied] * 1000)
            result = trace(ck, cases([(1, T0, T0 + 9 * H)]), params=params)
            assert list(result.report.repairs.values()) == [1003]


@pytest.mark.parametrize("keep_bits", [64, 10, 5])
def test_duplicate_count_is_exact_whatever_the_hashes_share(keep_bits):
    # Keeping 10 or 5 bits of hash (4 of them the bucket's), most rows share one with an
    # unequal row:
    # the count must still be exact (the rows with a repeated key are grouped on values).
    # 8,000 copies of one row overflow its bucket's slab (placed again at counted sizes).
    from epicore.tracing import sweep

    rng = np.random.default_rng(11)
    n = 40_000
    rows = np.stack(
        [rng.integers(0, 900, n), rng.integers(0, 30, n), rng.integers(0, 50, n)], axis=1
    )
    person, venue, t_in = rows.T
    t_out = t_in + rng.integers(-1, 3, n)  # t_out < t_in: a dropped row
    copies = np.full(8_000, 5)  # one row 8,000 times: more than its slab holds
    person, venue, t_in, t_out = (np.concatenate([a, copies]) for a in (person, venue, t_in, t_out))
    kept = t_out >= t_in
    values = np.stack([person, venue, t_in, t_out], axis=1)[kept]
    truth = len(values) - len(np.unique(values, axis=0))
    arrays = [np.ascontiguousarray(a, np.int32) for a in (person, venue, t_in, t_out)]
    ck = sweep.Checkins(*arrays, 0, 900, 0, 30, int(kept.sum()), True)
    for parts in (1, 2):
        assert sweep.count_duplicates(ck, parts, None, keep_bits) == truth > 8_000


def test_small_pages_arrays_are_writable_and_sized_like_numpys():
    # The big arrays of the compiled path come from an anonymous mapping of their own; small
    # ones, and empty ones (no mapping of 0 bytes), from numpy as usual.
    from epicore.tracing import sweep

    big = sweep.small_pages((3, sweep.SMALL_PAGES_FROM // 8), np.int64)
    assert big.shape == (3, sweep.SMALL_PAGES_FROM // 8) and big.dtype == np.int64
    assert big.flags.writeable and big.flags.c_contiguous and not big.flags.owndata
    big[2, -1] = 7
    assert big.ravel()[-1] == 7
    for shape in (0, 10, (2, 0)):
        small = sweep.small_pages(shape, np.int32)
        assert small.shape == np.empty(shape).shape and small.flags.owndata


def bad_checkins() -> pa.Table:
    """Every kind of bad row, in several Arrow chunks, the first sliced (an offset into its
    buffers and validity bitmaps): the compiled loader reads Arrow's buffers directly."""
    rows = [
        (1, 1, T0, T0 + 2 * H),  # the case
        (2, 1, T0 + 60, None),  # no t_out: the default dwell (30 min)
        (3, 1, T0, T0 - 1),  # reversed
        (None, 1, T0, T0 + H),  # no person
        (4, None, T0, T0 + H),  # no venue
        (5, 1, None, T0 + H),  # no t_in (not counted as reversed or to fill)
        (6, 1, None, None),
        (7, 1, T0 + 10, T0 + H),
        (7, 1, T0 + 10, T0 + H),  # a copy
        (8, 1, T0 + H, T0 + H),  # zero length: kept, never a contact
        (8, 1, T0 + H, T0 + H),  # and its copy
    ]
    cols = list(zip(*rows, strict=True))
    table = pa.table(
        {
            n: pa.array(c, pa.int64())
            for n, c in zip(("person_id", "venue_id", "t_in", "t_out"), cols, strict=True)
        }
    )
    head = pa.table({n: pa.array([9], pa.int64()) for n in table.column_names})
    chunked = pa.concat_tables([head, table.slice(0, 5), table.slice(5)])
    return chunked.slice(1)


def test_compiled_hops_count_and_repair_bad_rows_like_the_sql_stages():
    ck, cs = bad_checkins(), cases([(1, T0, T0 + 9 * H)])
    compiled = trace(ck, cs)
    sql = trace(ck, cs, params=TraceParams(compiled_hops=False))
    assert compiled.contacts.equals(sql.contacts)
    assert compiled.report.repairs == sql.report.repairs
    assert compiled.report.rows_read == sql.report.rows_read == {"checkins": 11, "cases": 1}
    assert sorted(compiled.report.repairs.values()) == [1, 1, 2, 4]  # reversed, fill, copies, empty
    assert set(by_person(compiled.contacts.to_pylist())) == {2, 7}
    assert "sweep.hop1" in compiled.report.timings
    with pytest.raises(ValidationError, match="row"):
        trace(ck, cs, params=TraceParams(on_bad_rows="reject"))


def as_parquet(table: pa.Table, path, unit: str, tz: str | None, id_type=None):
    """The rows of bad_checkins() in a Parquet file: ids of `id_type`, times as timestamps of
    `unit` with a sub-second part (floored away by every reader), naive when tz is None."""
    table = table.combine_chunks()
    id_type = id_type or pa.int64()
    scale = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    naive = 0 if tz else 8 * H  # a naive timestamp is Asia/Shanghai wall time
    columns = {n: table[n].cast(id_type) for n in ("person_id", "venue_id")}
    for n in ("t_in", "t_out"):
        seconds = pa.compute.add(table[n], naive)
        stamps = pa.compute.add(pa.compute.multiply(seconds, scale), scale - 1)
        columns[n] = stamps.cast(pa.timestamp(unit, tz=tz))
    pq.write_table(pa.table(columns), path, row_group_size=4)  # several row groups
    return path


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("tz", ["Asia/Shanghai", None])
def test_parquet_read_directly_counts_and_repairs_like_the_sql_stages(tmp_path, unit, tz):
    # A Parquet file of integers and timestamps is decoded by pyarrow and converted in the
    # compiled loop (sweep.direct_reading), not by DuckDB: same rows, repairs and answer.
    from epicore.tracing import sweep

    path = as_parquet(bad_checkins(), tmp_path / "ck.parquet", unit, tz)
    assert sweep.direct_reading(path, "read_parquet(") is not None
    cs = cases([(1, T0, T0 + 9 * H)])
    compiled = trace(path, cs)
    sql = trace(path, cs, params=TraceParams(compiled_hops=False))
    assert compiled.contacts.equals(sql.contacts)
    assert compiled.report.repairs == sql.report.repairs
    assert sorted(compiled.report.repairs.values()) == [1, 1, 2, 4]
    assert set(by_person(compiled.contacts.to_pylist())) == {2, 7}
    exposure = by_person(compiled.contacts.to_pylist())[7]["exposure_start"]
    assert exposure.timestamp() == T0 + 10  # the fraction floored away


def test_parquet_with_32_bit_ids_or_ids_beyond_32_bits_is_read_directly(tmp_path):
    from epicore.tracing import sweep

    small = as_parquet(bad_checkins(), tmp_path / "small.parquet", "ms", None, pa.int32())
    assert sweep.direct_reading(small, "read_parquet(") is not None
    cs = cases([(1, T0, T0 + 9 * H)])
    assert set(by_person(trace(small, cs).contacts.to_pylist())) == {2, 7}
    # an id of 2^40 does not fit the 32-bit arrays: counted, and the file read again at 64
    big = 2**40
    rows = [(big, 9, T0, T0 + H), (2, 9, T0 + 60, T0 + H), (3, 9, T0 + H, T0 + 2 * H)]
    pq.write_table(checkins(rows), tmp_path / "big.parquet")
    found = by_person(traced_both(tmp_path / "big.parquet", cases([(big, T0, T0 + 9 * H)])))
    assert set(found) == {2} and found[2]["via_person_id"] == big


def test_other_column_types_are_still_read_through_duckdb(tmp_path):
    from epicore.tracing import sweep

    # t_out as text; t_in in nanoseconds, which DuckDB's epoch_us() does not take
    rows = checkins([(1, 1, T0, T0 + H), (2, 1, T0 + 60, T0 + H)])
    nanos = pa.compute.add(pa.compute.multiply(rows["t_in"], 10**9), 10**9 - 1)
    rows = rows.set_column(2, "t_in", nanos.cast(pa.timestamp("ns", tz="Asia/Shanghai")))
    as_text = rows.set_column(3, "t_out", rows["t_out"].cast(pa.string()))
    pq.write_table(as_text, tmp_path / "text.parquet")
    assert sweep.direct_reading(tmp_path / "text.parquet", "read_parquet(") is None
    assert sweep.direct_reading(tmp_path / "x.csv", "read_csv(") is None
    for compiled in (True, False):
        params = TraceParams(compiled_hops=compiled)
        found = trace(tmp_path / "text.parquet", cases([(1, T0, T0 + 9 * H)]), params=params)
        assert found.contacts["person_id"].to_pylist() == [2]
        assert found.contacts["exposure_start"][0].as_py().timestamp() == T0 + 60


@pytest.mark.parametrize("side", ["sources", "candidates"])
def test_both_ways_of_the_compiled_second_hop_equal_the_reference(monkeypatch, side):
    # The second hop indexes whichever side has fewer stays: force each on the same data.
    from epicore.tracing import sweep

    monkeypatch.setattr(sweep, "index_sources", lambda _s, _c: side == "sources")
    # and recompute the dense way's settled starts at every row (real runs: every million)
    monkeypatch.setattr(sweep, "settled_block", lambda _c, _v: 1)
    # and find the cases' rows in two passes (more than a part's room of them)
    monkeypatch.setattr(sweep, "CASE_ROWS_ROOM", 1)
    rng = np.random.default_rng(7)
    for _ in range(20):
        n = 120
        t_in = T0 + rng.integers(0, 8 * H, n)
        rows = [
            (int(p), int(v), int(a), int(a + d))
            for p, v, a, d in zip(
                rng.integers(0, 40, n),
                rng.integers(0, 4, n),
                t_in,
                rng.choice([0, 600, 3 * H], n),
                strict=True,
            )
        ]
        params = TraceParams(min_overlap_s=int(rng.choice([0, 900])))
        traced_both(checkins(rows), cases([(0, T0, T0 + 4 * H), (1, T0 + H, T0 + 9 * H)]), params)


def test_compiled_hops_floor_sub_second_times():
    for t in (T0, 2**31 + 7 * H):
        for tz in ("Asia/Shanghai", None):
            starts = [t * 10**6 + 999_999, t * 10**6 + 500_000]
            ends = [(t + H) * 10**6 - 1, (t + 2 * H) * 10**6 - 1]
            table = pa.table(
                {
                    "person_id": [1, 2],
                    "venue_id": [1, 1],
                    "t_in": pa.array(starts, pa.timestamp("us", tz=tz)),
                    "t_out": pa.array(ends, pa.timestamp("us", tz=tz)),
                }
            )
            naive = 0 if tz else 8 * H
            window = cases([(1, t - naive - H, t - naive + 9 * H)])
            got = trace(table, window, params=TraceParams(min_overlap_s=0)).contacts.to_pylist()
            assert got[0]["exposure_start"].timestamp() == t - naive
            assert got[0]["exposure_end"].timestamp() == t + H - 1 - naive


def test_empty_case_windows_are_dropped_and_overlapping_ones_merged():
    table = cases([(1, T0, T0), (2, T0 + H, T0), (3, T0, T0 + 2 * H), (3, T0 + H, T0 + 3 * H)])
    got, report = read_cases(table)
    assert got.to_pylist() == [{"person_id": 3, "t_from": T0, "t_to": T0 + 3 * H}]
    assert report.repairs["<cases table>: with an empty window (t_to <= t_from), dropped"] == 2
    with pytest.raises(ValidationError) as err:
        read_cases(table, TraceParams(on_bad_rows="reject"))
    assert "t_to" in err.value.message


def test_impossible_coordinates_are_dropped_and_counted():
    data = pings(
        [
            (1, T0, 24.5, 118.0),
            (2, T0, 91.0, 118.0),
            (3, T0, 24.5, float("nan")),
            (4, T0, 24.5, -181.0),
        ]
    )
    result = trace(checkins([]), cases([(1, T0, T0 + H)]), pings=data)
    assert result.report.repairs == {"<pings table>: with impossible coordinates, dropped": 3}


def test_unknown_format_and_missing_file(tmp_path):
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ValidationError, match="unknown format"):
        read_checkins(tmp_path / "x.json")
    with pytest.raises(ValidationError, match="no such file"):
        read_checkins(tmp_path / "nothing.parquet")


# --- Command line ----------------------------------------------------------------------------


def test_cli_writes_csv_and_a_summary(tmp_path, capsys):
    data = combine([EDGE["secondary"]])
    pq.write_table(data["checkins"], tmp_path / "ck.parquet")
    write_csv(tmp_path / "cases.csv", data["cases"])
    code = main(
        [
            "--checkins",
            str(tmp_path / "ck.parquet"),
            "--cases",
            str(tmp_path / "cases.csv"),
            "--out",
            str(tmp_path / "out.csv"),
            "--report",
            str(tmp_path / "r.json"),
        ]
    )
    assert code == 0
    out = pacsv.read_csv(tmp_path / "out.csv")
    assert out["degree"].to_pylist() == [1, 2, 2]  # 4 and 5 are secondary without isolations
    assert "close=1 secondary=2" in capsys.readouterr().out
    assert "timings" in json.loads((tmp_path / "r.json").read_text())


def test_cli_reports_bad_input_with_status_2(tmp_path, capsys):
    write_csv(
        tmp_path / "cases.csv", pa.table({"person_id": [1], "t_from": ["soon"], "t_to": [T0]})
    )
    pq.write_table(checkins([(1, 1, T0, T0 + H)]), tmp_path / "ck.parquet")
    code = main(
        [
            "--checkins",
            str(tmp_path / "ck.parquet"),
            "--cases",
            str(tmp_path / "cases.csv"),
            "--out",
            str(tmp_path / "o.parquet"),
        ]
    )
    assert code == 2
    assert "cases.csv: column t_from" in capsys.readouterr().err


# --- Property: DuckDB equals the reference on random small inputs ----------------------------

stays = st.lists(
    st.tuples(
        st.integers(0, 11),
        st.integers(0, 3),
        st.integers(0, 20_000),
        st.integers(0, 5_000),
        st.booleans(),
    ),
    max_size=40,
)
windows = st.lists(
    st.tuples(st.integers(0, 11), st.integers(0, 20_000), st.integers(1, 20_000)),
    min_size=1,
    max_size=4,
)
ping_rows = st.lists(
    st.tuples(st.integers(0, 11), st.integers(0, 20_000), st.integers(0, 6), st.integers(0, 6)),
    max_size=30,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    stays=stays,
    windows=windows,
    ping_rows=ping_rows,
    min_overlap=st.sampled_from([0, 1, 300, 900]),
    hops=st.sampled_from([1, 2]),
    bucket=st.sampled_from([7, 600, 1800]),
    long_stay=st.sampled_from([60, 1200, 86_400]),
    chunk=st.sampled_from([300, 3600, 86_400]),
    isolate=st.lists(st.tuples(st.integers(0, 11), st.integers(0, 20_000)), max_size=3),
)
def test_duckdb_equals_reference_on_random_inputs(
    stays, windows, ping_rows, min_overlap, hops, bucket, long_stay, chunk, isolate
):
    ck = pa.table(
        {
            "person_id": pa.array([s[0] for s in stays], pa.int64()),
            "venue_id": pa.array([s[1] for s in stays], pa.int64()),
            "t_in": pa.array([T0 + s[2] for s in stays], pa.int64()),
            "t_out": pa.array([None if s[4] else T0 + s[2] + s[3] for s in stays], pa.int64()),
        }
    )
    cs = cases([(p, T0 + a, T0 + a + d) for p, a, d in windows])
    iso = pa.table(
        {
            "person_id": pa.array([i[0] for i in isolate], pa.int64()),
            "t_isolated": pa.array([T0 + i[1] for i in isolate], pa.int64()),
        }
    )
    # pings on a 7 x 7 lattice of ~500 m steps: several share a cell, some straddle borders
    pg = (
        pings(
            [(p, T0 + t, ORIGIN[0] + 0.0045 * y, ORIGIN[1] + 0.005 * x) for p, t, x, y in ping_rows]
        )
        if ping_rows
        else None
    )
    params = TraceParams(
        min_overlap_s=min_overlap,
        hops=hops,
        bucket_s=bucket,
        long_stay_s=long_stay,
        chunk_s=chunk,
        companion_min_s=600,
        grid_origin=ORIGIN,
    )
    traced_both(ck, cs, params, isolations=iso, pings=pg)


def test_warm_up_compiles_both_ways_of_the_second_hop(monkeypatch):
    from epicore.tracing import sweep

    chosen, seen = sweep.index_sources, []
    monkeypatch.setattr(sweep, "index_sources", lambda s, c: seen.append(chosen(s, c)) or seen[-1])
    sweep.warm_up()
    assert sorted(bool(x) for x in seen) == [False, True]


def test_compiled_runs_from_several_threads_give_the_same_answer():
    from concurrent.futures import ThreadPoolExecutor

    data = combine(list(EDGE.values()))
    params = TraceParams()

    def run(_):
        return trace(data["checkins"], data["cases"], params=params, isolations=data["isolations"])

    with ThreadPoolExecutor(3) as pool:
        results = [r.contacts for r in pool.map(run, range(6))]
    assert all(r.equals(results[0]) for r in results)
    assert results[0].num_rows > 0


def test_output_order_is_checked_before_sorting():
    # api.to_output skips its sort only for rows already sorted by degree, then person.
    from epicore.tracing.api import in_output_order

    def table(rows):
        degree, person = zip(*rows, strict=True) if rows else ((), ())
        return pa.table({"degree": pa.array(degree, pa.string()), "person_id": person})

    assert in_output_order(table([("1", 3), ("1", 3), ("1", 7), ("2", 1), ("companion", 0)]))
    assert not in_output_order(table([("1", 7), ("1", 3)]))
    assert not in_output_order(table([("2", 1), ("1", 9)]))
    assert not in_output_order(table([("companion", 1), ("2", 9)]))
    assert not in_output_order(table([("1", 1), ("x", 2)]))  # an unknown degree: sorted anyway
    assert in_output_order(table([]))
