"""trace(): find close contacts, secondary contacts and companions of index cases."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from epicore.errors import ValidationError
from epicore.tracing import inputs
from epicore.tracing.params import TraceParams
from epicore.tracing.plan import RunFacts
from epicore.tracing.report import TraceReport

TIMESTAMP = pa.timestamp("s", tz=inputs.TZ)
OUTPUT_SCHEMA = pa.schema(
    [
        ("person_id", pa.int64()),
        ("degree", pa.string()),  # "1" close contact, "2" secondary contact, "companion"
        ("via_person_id", pa.int64()),  # the case (degree 1, companion) or close contact (2)
        ("venue_id", pa.int64()),  # null for companions
        ("cell", pa.string()),  # "column:row" of the grid cell, null for venue contacts
        ("exposure_start", TIMESTAMP),
        ("exposure_end", TIMESTAMP),
        ("overlap_seconds", pa.int64()),
    ]
)
# The degrees in the output's order (sorted as strings).
DEGREES = ("1", "2", "companion")
ENGINES = ("duckdb", "spark", "reference")
Source = inputs.Source


@dataclass
class TraceResult:
    """The contacts (OUTPUT_SCHEMA, sorted by degree then person) and what the run did."""

    contacts: pa.Table
    report: TraceReport
    params: TraceParams
    engine: str
    grid_origin: tuple[float, float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        degrees = self.contacts["degree"].to_pylist()
        return {d: degrees.count(d) for d in DEGREES}

    def summary(self) -> str:
        c = self.counts()
        total = sum(self.report.timings.get(k, 0.0) for k in ("load", "trace"))
        return (
            f"engine={self.engine} close={c['1']} secondary={c['2']} companions={c['companion']} "
            f"seconds={total:.1f} repairs: {self.report.summary()}"
        )


def to_output(raw: pa.Table) -> pa.Table:
    """Epoch-second rows from any engine -> OUTPUT_SCHEMA, in the documented order."""
    columns = []
    for f in OUTPUT_SCHEMA:
        column = raw[f.name]
        if f.type == TIMESTAMP:
            column = column.cast(pa.int64()).cast(TIMESTAMP)
        columns.append(column.cast(f.type))
    table = pa.Table.from_arrays(columns, schema=OUTPUT_SCHEMA)
    if in_output_order(table):  # as the compiled hops give it: no sort (0.15 s a million)
        return table
    return table.sort_by([("degree", "ascending"), ("person_id", "ascending")])


def in_output_order(table: pa.Table) -> bool:
    """Are the rows already sorted by degree, then person (ties in any order: the sort is
    stable, so it would leave them as they are)?"""
    if table.num_rows < 2:
        return True
    rank = pc.index_in(table["degree"], value_set=pa.array(DEGREES))
    if rank.null_count:
        return False
    rank = rank.to_numpy().astype(np.int64)
    person = table["person_id"].to_numpy()
    later_degree = rank[1:] > rank[:-1]
    same_degree_later_person = (rank[1:] == rank[:-1]) & (person[1:] >= person[:-1])
    return bool((later_degree | same_degree_later_person).all())


def trace(
    checkins: Source,
    cases: Source,
    *,
    pings: Source | None = None,
    venues: Source | None = None,
    isolations: Source | None = None,
    params: TraceParams | None = None,
    engine: str = "duckdb",
    spark: Any = None,
    progress: Callable[[str], None] | None = None,
    threads: int | None = None,
    memory_limit: str | None = None,
) -> TraceResult:
    """Trace contacts of the index cases. Sources are Parquet/CSV paths or Arrow tables."""
    params = params or TraceParams()
    if engine not in ENGINES:
        raise ValidationError("tracing.bad_param", f"unknown engine {engine!r}", name="engine")
    if engine == "spark":
        from epicore.tracing.spark import trace_spark

        return trace_spark(
            spark, checkins, cases, pings=pings, venues=venues, isolations=isolations,
            params=params, progress=progress,
        )  # fmt: skip
    report = TraceReport()
    loader, exclusive = None, contextlib.nullcontext()
    if engine == "duckdb" and params.compiled_hops:
        from epicore.tracing import sweep

        loader, exclusive = sweep.load_checkins, sweep.ONE_RUN_AT_A_TIME
    con = inputs.connect(threads, memory_limit)
    try:
        with exclusive:  # one compiled run per process at a time (see sweep)
            start = time.perf_counter()
            facts, origin = inputs.load_all(
                con, checkins, cases, params, report, pings=pings, venues=venues,
                isolations=isolations, checkin_loader=loader,
            )  # fmt: skip
            report.timings["load"] = time.perf_counter() - start
            start = time.perf_counter()
            raw = run_engine(con, engine, params, report, pings is not None, progress, facts)
            report.timings["trace"] = time.perf_counter() - start
    finally:
        con.close()
    return TraceResult(to_output(raw), report, params, engine, origin)


def run_engine(
    con, engine: str, params: TraceParams, report: TraceReport, with_pings: bool, progress, facts
) -> pa.Table:
    if engine == "duckdb" and not isinstance(facts, RunFacts):  # arrays: compiled hops
        from epicore.tracing import sweep

        return sweep.run(con, facts, params, report, with_pings, progress)
    if engine == "duckdb":
        from epicore.tracing.duck import run_duckdb

        return run_duckdb(con, params, report, with_pings, facts, progress)
    return run_reference_on(con, params, with_pings)


def run_reference_on(con, params: TraceParams, with_pings: bool) -> pa.Table:
    """The pure-Python reference on the loaded tables (small data only)."""
    from epicore.tracing.reference import trace_reference

    checkins = con.execute("SELECT person_id, venue_id, t_in, t_out FROM checkins").fetchall()
    cases = con.execute("SELECT person_id, t_from, t_to FROM cases").fetchall()
    isolations = dict(con.execute("SELECT person_id, t_isolated FROM isolations").fetchall())
    pings = (
        con.execute("SELECT person_id, t, cell FROM ping_cells").fetchall() if with_pings else None
    )
    rows = trace_reference(checkins, cases, params, isolations, pings)
    names = OUTPUT_SCHEMA.names
    return pa.table(
        {
            n: pa.array(
                [r[i] for r in rows], OUTPUT_SCHEMA.field(n).type if i not in (5, 6) else pa.int64()
            )
            for i, n in enumerate(names)
        }
    )


def write_contacts(table: pa.Table, path: str | Path) -> None:
    """Write the contacts as Parquet or CSV (ISO-8601 times with +08:00), by extension."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        pq.write_table(table, path, compression="zstd")
    elif suffix == ".csv":
        pacsv.write_csv(iso_times(table), path)
    else:
        raise ValidationError(
            "tracing.bad_format",
            f"{path}: unknown format {suffix!r} (use .parquet or .csv)",
            file=str(path),
        )


def iso_times(table: pa.Table) -> pa.Table:
    """Timestamps as ISO-8601 text with the UTC offset, for CSV readers without time zones."""
    for name in ("exposure_start", "exposure_end"):
        i = table.schema.get_field_index(name)
        text = pc.strftime(table[name], format="%Y-%m-%dT%H:%M:%S%z")
        text = pc.replace_substring_regex(text, r"([+-]\d\d)(\d\d)$", r"\1:\2")
        table = table.set_column(i, name, text)
    return table


def read_table(
    kind: str, source: Source, params: TraceParams | None = None
) -> tuple[pa.Table, TraceReport]:
    """One input normalised and checked (times as epoch seconds), with its report."""
    params = params or TraceParams()
    report = TraceReport()
    con = inputs.connect()
    try:
        if kind == "checkins":
            inputs.load_venue_dwell(con, None, params, report)
            inputs.load_checkins(con, source, params, report)
            query = "SELECT person_id, venue_id, t_in, t_out FROM checkins"
            return con.sql(query).to_arrow_table(), report
        loader = {
            "cases": inputs.load_cases,
            "isolations": inputs.load_isolations,
            "pings": inputs.load_pings,
        }[kind]
        loader(con, source, params, report)
        name = "ping_cells" if kind == "pings" else kind
        return con.sql(f"SELECT * FROM {name}").to_arrow_table(), report
    finally:
        con.close()


def read_checkins(path: Source, params: TraceParams | None = None) -> tuple[pa.Table, TraceReport]:
    return read_table("checkins", path, params)


def read_cases(path: Source, params: TraceParams | None = None) -> tuple[pa.Table, TraceReport]:
    return read_table("cases", path, params)


def read_pings(path: Source, params: TraceParams | None = None) -> tuple[pa.Table, TraceReport]:
    return read_table("pings", path, params)
