"""The embedded engine: the SQL stages of epicore.tracing.plan run on DuckDB."""

from __future__ import annotations

import time
from collections.abc import Callable

import duckdb
import pyarrow as pa

from epicore.tracing.params import TraceParams
from epicore.tracing.plan import CONTACTS_IN_ORDER, DUCKDB, RunFacts, stages
from epicore.tracing.report import TraceReport

Progress = Callable[[str], None]


def run_duckdb(
    con: duckdb.DuckDBPyConnection,
    params: TraceParams,
    report: TraceReport,
    with_pings: bool,
    facts: RunFacts,
    progress: Progress | None = None,
) -> pa.Table:
    """Run every stage on the tables loaded by epicore.tracing.inputs; the raw contact rows."""

    def count(table: str) -> int:
        return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]

    def span(table: str) -> tuple[int | None, int | None]:
        return con.execute(f"SELECT min(s), max(e) FROM {table}").fetchall()[0]

    for name, sql in stages(params, DUCKDB, with_pings, facts, count, span):
        start = time.perf_counter()
        if progress:
            progress(name)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")
        report.timings[f"duckdb.{name}"] = time.perf_counter() - start
    return con.sql(CONTACTS_IN_ORDER).to_arrow_table()
