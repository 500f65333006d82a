"""The Spark engine returns exactly what DuckDB (checked against the reference) returns.

One Spark run on everything at once keeps the suite fast: a synthetic city with pings, every
hand-made edge case, the busy venue and companions at a cell border, with disjoint ids.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from tracing_cases.helpers import (
    ORIGIN,
    T0,
    H,
    border_latitude,
    busy_venue,
    cases,
    combine,
    edge_cases,
    pings,
)

from epicore.synth import SynthConfig, write_parquet
from epicore.tracing import TraceParams, trace

pytest.importorskip("pyspark")

OFFSET = 10_000_000  # edge-case ids start here, far above the city's


@pytest.fixture(scope="session")
def spark():
    from epicore.tracing.spark import local_session

    session = local_session(2)
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def seconds(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Parquet timestamps (ms) as epoch seconds, so city and hand-made rows share one schema."""
    return column.cast(pa.timestamp("s", tz="Asia/Shanghai")).cast(pa.int64())


def shifted(table: pa.Table, columns: tuple[str, ...]) -> pa.Table:
    for name in columns:
        table = table.set_column(
            table.schema.get_field_index(name), name, pc.add(table[name], OFFSET)
        )
    return table


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("spark_city")
    write_parquet(
        SynthConfig(people=400, days=2, seed=21, start=date(2022, 3, 2), pings=True), folder
    )
    city = pq.read_table(folder / "checkins.parquet")
    city = city.set_column(2, "t_in", seconds(city["t_in"])).set_column(
        3, "t_out", seconds(city["t_out"])
    )
    city_pings = pq.read_table(folder / "pings.parquet")
    city_pings = city_pings.set_column(1, "t", seconds(city_pings["t"]))
    chosen = np.random.default_rng(5).choice(
        np.unique(city["person_id"].to_numpy()), 3, replace=False
    )
    city_cases = cases([(int(p), T0 + 8 * H, T0 + 14 * H) for p in sorted(chosen)])
    edges = combine([*edge_cases().values(), busy_venue(1_500, seed=2)])
    # companions at a cell border: OFFSET - 1 is a case, - 2 is 2e-7 degrees (~2 cm) north of
    # it across the border, - 3 is ~100 m south, in the case's cell
    lon = ORIGIN[1] + 0.05
    lat = border_latitude(lon) - 1e-7
    times = [T0 + 10 * H + 300 * i for i in range(5)]
    border = [(OFFSET - 1, lat), (OFFSET - 2, lat + 2e-7), (OFFSET - 3, lat - 1e-3)]
    border_pings = pings([(p, t, y, lon) for p, y in border for t in times])
    return {
        "checkins": pa.concat_tables([city, shifted(edges["checkins"], ("person_id", "venue_id"))]),
        "cases": pa.concat_tables(
            [
                city_cases,
                shifted(edges["cases"], ("person_id",)),
                cases([(OFFSET - 1, T0, T0 + 24 * H)]),
            ]
        ),
        "pings": pa.concat_tables([city_pings, border_pings]),
        "isolations": shifted(edges["isolations"], ("person_id",)),
        "venues": pq.read_table(folder / "venues.parquet"),
    }


def test_spark_equals_duckdb_on_city_edge_cases_and_companions(spark, inputs):
    params = TraceParams(grid_origin=ORIGIN, ping_max_gap_s=1800)
    kwargs = dict(
        pings=inputs["pings"],
        venues=inputs["venues"],
        isolations=inputs["isolations"],
        params=params,
    )
    duck = trace(inputs["checkins"], inputs["cases"], engine="duckdb", **kwargs)
    fast = trace(inputs["checkins"], inputs["cases"], engine="spark", spark=spark, **kwargs)
    assert fast.contacts.equals(duck.contacts)
    assert fast.report.repairs == duck.report.repairs
    degrees = set(duck.contacts["degree"].to_pylist())
    assert degrees == {"1", "2", "companion"}
    companions = {r["person_id"] for r in duck.contacts.to_pylist() if r["degree"] == "companion"}
    assert OFFSET - 3 in companions and OFFSET - 2 not in companions  # across the border: no
