"""Small builders shared by the tracing tests: tables from tuples, hand-made edge cases."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyarrow as pa

from epicore.tracing import TraceParams, trace
from epicore.tracing.grid import cell_index

T0 = 1_646_150_400  # 2022-03-02 00:00 Asia/Shanghai
H = 3600
ORIGIN = (24.4, 117.9)


def checkins(rows) -> pa.Table:
    cols = list(zip(*rows, strict=True)) if rows else [[], [], [], []]
    return pa.table(
        {
            n: pa.array(c, pa.int64())
            for n, c in zip(("person_id", "venue_id", "t_in", "t_out"), cols, strict=True)
        }
    )


def cases(rows) -> pa.Table:
    cols = list(zip(*rows, strict=True)) if rows else [[], [], []]
    return pa.table(
        {
            n: pa.array(c, pa.int64())
            for n, c in zip(("person_id", "t_from", "t_to"), cols, strict=True)
        }
    )


def pings(rows) -> pa.Table:
    cols = list(zip(*rows, strict=True))
    return pa.table(
        {
            "person_id": pa.array(cols[0], pa.int64()),
            "t": pa.array(cols[1], pa.int64()),
            "lat": pa.array(cols[2], pa.float64()),
            "lon": pa.array(cols[3], pa.float64()),
        }
    )


def traced_both(ck, cs, params=None, **kw) -> list[dict]:
    """DuckDB's rows, after checking they equal the reference's: with the compiled hops (the
    default), and with the SQL stages both with their usual choice between pairs and lookups
    and with lookups wherever the sources are the small side (asof_min_sources=0: small
    inputs would otherwise never take that path)."""
    params = params or TraceParams()
    ref = trace(ck, cs, params=params, engine="reference", **kw).contacts
    fast = trace(ck, cs, params=params, engine="duckdb", **kw).contacts
    assert fast.equals(ref), (fast.to_pylist(), ref.to_pylist())
    sql = replace(params, compiled_hops=False)
    for variant in (sql, replace(sql, asof_min_sources=0)):
        got = trace(ck, cs, params=variant, engine="duckdb", **kw).contacts
        assert got.equals(ref), (got.to_pylist(), ref.to_pylist())
    return fast.to_pylist()


def by_person(rows: list[dict]) -> dict[int, dict]:
    return {r["person_id"]: r for r in rows}


def border_latitude(lon: float, cell_m: float = 800.0) -> float:
    """A latitude where the cell row changes (found by bisection), at this longitude."""
    low, high = ORIGIN[0] + 0.001, ORIGIN[0] + 0.012
    row = cell_index(np.array([low]), np.array([lon]), ORIGIN, cell_m)[1][0]
    for _ in range(60):
        mid = (low + high) / 2
        if cell_index(np.array([mid]), np.array([lon]), ORIGIN, cell_m)[1][0] == row:
            low = mid
        else:
            high = mid
    return high


def edge_cases() -> dict[str, dict]:
    """Each edge case as inputs (ids are small; combine() offsets them)."""
    out: dict[str, dict] = {}
    # touching: 2 touches the case's stay (0 s), 3 overlaps exactly 900 s, 4 overlaps 899 s.
    out["touching"] = dict(
        checkins=[(1, 1, T0, T0 + H), (2, 1, T0 + H, T0 + 2 * H), (3, 1, T0 + H - 900, T0 + 2 * H),
                  (4, 1, T0 + H - 899, T0 + 2 * H)],
        cases=[(1, T0 - 10 * H, T0 + 10 * H)],
    )  # fmt: skip
    # midnight: the case's stay spans midnight; 2 arrives after midnight.
    out["midnight"] = dict(
        checkins=[(1, 1, T0 - 1800, T0 + 1800), (2, 1, T0, T0 + H), (3, 1, T0 - 2 * H, T0 - 1800)],
        cases=[(1, T0 - 24 * H, T0 + 24 * H)],
    )
    # twice: 2 meets the case at venue 1 at 10:00 and at venue 2 at 08:00; 3 meets two cases
    # (5 and 6) at the same time for the same length: the smaller via wins.
    out["twice"] = dict(
        checkins=[(1, 1, T0 + 10 * H, T0 + 11 * H), (2, 1, T0 + 10 * H, T0 + 11 * H),
                  (1, 2, T0 + 8 * H, T0 + 9 * H), (2, 2, T0 + 8 * H, T0 + 8 * H + 1800),
                  (6, 3, T0 + 12 * H, T0 + 13 * H), (5, 3, T0 + 12 * H, T0 + 13 * H),
                  (3, 3, T0 + 12 * H, T0 + 13 * H)],
        cases=[(1, T0, T0 + 24 * H), (5, T0, T0 + 24 * H), (6, T0, T0 + 24 * H)],
    )  # fmt: skip
    # arrived_first: cases 7 (there since 09:00) and 6 (since 09:30) both cover 3's stay from
    # 10:00 to 11:00: same start, same length; 7 arrived first and wins over the smaller via.
    # 4 arrives at 09:15, when only 7 is there: exposed from then until 7 leaves at 12:00.
    # 5 is there before both: exposed from 7's arrival at 09:00.
    out["arrived_first"] = dict(
        checkins=[(7, 4, T0 + 9 * H, T0 + 12 * H), (6, 4, T0 + 9 * H + 1800, T0 + 11 * H),
                  (3, 4, T0 + 10 * H, T0 + 11 * H), (4, 4, T0 + 9 * H + 900, T0 + 13 * H),
                  (5, 4, T0 + 8 * H, T0 + 10 * H)],
        cases=[(6, T0, T0 + 24 * H), (7, T0, T0 + 24 * H)],
    )  # fmt: skip
    # case_is_contact: cases 1 and 2 meet; 3 meets 2; nobody reports 1 or 2.
    out["case_is_contact"] = dict(
        checkins=[(1, 1, T0, T0 + H), (2, 1, T0, T0 + H), (2, 2, T0 + 2 * H, T0 + 3 * H),
                  (3, 2, T0 + 2 * H, T0 + 3 * H)],
        cases=[(1, T0 - H, T0 + 5 * H), (2, T0 - H, T0 + 5 * H)],
    )  # fmt: skip
    # no_checkins: case 9 has a window and no check-ins at all.
    out["no_checkins"] = dict(checkins=[(1, 1, T0, T0 + H)], cases=[(9, T0, T0 + 9 * H)])
    # secondary: 2 meets the case at 10:00; 2 met 4 at 08:00 (before exposure: no), 3 at
    # 12:00 (yes) and 5 at 20:00, after 2's isolation at 18:00 (no).
    out["secondary"] = dict(
        checkins=[(1, 1, T0 + 10 * H, T0 + 11 * H), (2, 1, T0 + 10 * H, T0 + 11 * H),
                  (2, 2, T0 + 8 * H, T0 + 9 * H), (4, 2, T0 + 8 * H, T0 + 9 * H),
                  (2, 3, T0 + 12 * H, T0 + 13 * H), (3, 3, T0 + 12 * H, T0 + 13 * H),
                  (2, 4, T0 + 20 * H, T0 + 21 * H), (5, 4, T0 + 20 * H, T0 + 21 * H)],
        cases=[(1, T0, T0 + 24 * H)],
        isolations=[(2, T0 + 18 * H)],
    )  # fmt: skip
    return out


def busy_venue(visitors: int = 10_000, seed: int = 0) -> dict:
    """A venue with `visitors` stays of 5-40 min inside one hour, and a case there 30 min."""
    rng = np.random.default_rng(seed)
    start = T0 + 12 * H + rng.integers(0, H, visitors)
    rows = [(1, 1, T0 + 12 * H + 900, T0 + 12 * H + 2700)]
    rows += [
        (int(100 + i), 1, int(s), int(s + d))
        for i, (s, d) in enumerate(zip(start, rng.integers(300, 2400, visitors), strict=True))
    ]
    # a few visitors go on to a second venue together, for a second hop
    rows += [(int(100 + i), 2, T0 + 15 * H, T0 + 16 * H) for i in range(0, visitors, 500)]
    rows += [(50_000, 2, T0 + 15 * H, T0 + 16 * H)]
    return dict(checkins=rows, cases=[(1, T0, T0 + 24 * H)])


def combine(sets: list[dict], stride: int = 1_000_000) -> dict[str, pa.Table]:
    """Disjoint copies of several edge cases in one input (ids shifted by i * stride)."""
    ck, cs, iso = [], [], []
    for i, s in enumerate(sets):
        o = i * stride
        ck += [(p + o, v + o, a, b) for p, v, a, b in s["checkins"]]
        cs += [(p + o, a, b) for p, a, b in s["cases"]]
        iso += [(p + o, t) for p, t in s.get("isolations", [])]
    return {"checkins": checkins(ck), "cases": cases(cs), "isolations": isolation_table(iso)}


def isolation_table(rows) -> pa.Table:
    cols = list(zip(*rows, strict=True)) if rows else [[], []]
    return pa.table(
        {"person_id": pa.array(cols[0], pa.int64()), "t_isolated": pa.array(cols[1], pa.int64())}
    )
