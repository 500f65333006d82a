"""The cluster engine: the same SQL stages (epicore.tracing.plan) on Apache Spark.

Big inputs (check-ins, pings) are read and checked by Spark itself, so they never pass through
the driver; the small ones (cases, isolations, venues) are read on the driver with the DuckDB
loader, which keeps their checks identical, and shipped as small tables. Grid cells come from
the numpy projection in epicore.tracing.grid through mapInArrow, so borders agree with DuckDB.

    spark-submit --master spark://host:7077 --py-files epicore.zip \
        -m epicore.tracing --engine spark --checkins hdfs:///.../checkins.parquet ...

(see docs/tracing.md for the exact command).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from epicore.errors import ValidationError
from epicore.tracing import inputs
from epicore.tracing.grid import cell_labels, default_origin
from epicore.tracing.params import TraceParams
from epicore.tracing.plan import SPARK, RunFacts, stages
from epicore.tracing.report import TraceReport

# Local test/laptop settings; on a cluster spark-submit's own configuration wins.
LOCAL_CONF = {
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.enabled": "false",
    "spark.sql.session.timeZone": inputs.TZ,
    "spark.driver.memory": "2g",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


def local_session(cores: int = 2) -> Any:
    """The active SparkSession, or one for spark-submit's master, or a local one."""
    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.appName("epicore.tracing")
    if SparkConf().contains("spark.master"):  # under spark-submit: its settings win
        return builder.getOrCreate()
    builder = builder.master(f"local[{cores}]")
    for key, value in LOCAL_CONF.items():
        builder = builder.config(key, value)
    # Python workers must import epicore (mapInArrow) even when it is not installed as a wheel,
    # and with this interpreter (whose site-packages hold pyarrow and numpy), not PATH's.
    builder = builder.config("spark.executorEnv.PYTHONPATH", source_root())
    builder = builder.config("spark.pyspark.python", sys.executable)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return builder.getOrCreate()


def source_root() -> str:
    """The directory holding the epicore package (for local Python workers)."""
    import epicore

    return str(Path(epicore.__file__).resolve().parent.parent)


def spark_path(spark, source: inputs.Source, kind: str, scratch: Path) -> str:
    """A path Spark can read: files as they are, Arrow tables written to a scratch Parquet."""
    if isinstance(source, pa.Table):
        path = scratch / f"{kind}.parquet"
        pq.write_table(source, path)
        return str(path)
    return str(source)


def read_raw(spark, path: str, label: str):
    suffix = Path(path).suffix.lower()
    if suffix in (".parquet", ".pq"):
        return spark.read.parquet(path)
    if suffix == ".csv":
        return spark.read.option("header", True).csv(path)
    raise ValidationError(
        "tracing.bad_format",
        f"{label}: unknown format {suffix!r} (use .parquet or .csv)",
        file=label,
    )


def spark_type(field) -> str:
    """DuckDB's name for a Spark column type, so inputs.convert's checks apply unchanged."""
    name = field.dataType.typeName()
    return {
        "string": "VARCHAR", "long": "BIGINT", "integer": "INTEGER", "short": "SMALLINT",
        "byte": "TINYINT", "double": "DOUBLE", "float": "FLOAT", "timestamp": "TIMESTAMP WITH TIME ZONE",
        "timestamp_ntz": "TIMESTAMP", "decimal": "DECIMAL", "boolean": "BOOLEAN", "date": "DATE",
    }.get(name, name.upper())  # fmt: skip


def spark_convert(column: str, role: str, dtype: str, label: str) -> str:
    """Spark SQL for inputs.convert: the same rules, Spark's spelling."""
    inputs.convert(column, role, dtype, label)  # raises on a wrong type, same message
    col = f"`{column}`"
    text = f"nullif(trim({col}), '')"
    if dtype == "VARCHAR":
        return {
            "id": f"try_cast({text} AS BIGINT)",
            "number": f"try_cast({text} AS DOUBLE)",
            "text": text,
            "time": (
                f"CASE WHEN {text} RLIKE '^-?[0-9]+$' THEN try_cast({text} AS BIGINT) "
                f"ELSE unix_timestamp(try_cast({text} AS TIMESTAMP)) END"
            ),
        }[role]
    if role == "number":
        return f"CAST({col} AS DOUBLE)"
    if dtype == "TIMESTAMP":  # naive: Asia/Shanghai wall time, the session time zone
        return f"unix_timestamp(CAST({col} AS TIMESTAMP))"
    if dtype == "TIMESTAMP WITH TIME ZONE":
        return f"unix_timestamp({col})"
    return f"CAST({col} AS BIGINT)"


def converted(spark, path: str, kind: str, label: str, report: TraceReport):
    """The kind's columns converted; missing columns and unreadable values raise."""
    raw = read_raw(spark, path, label)
    types = {f.name: spark_type(f) for f in raw.schema.fields}
    inputs.check_columns(types, kind, label, report)
    exprs = {c: spark_convert(c, role, types[c], label) for c, role in inputs.COLUMNS[kind].items()}
    frame = raw.selectExpr(
        *[f"{e} AS {c}" for c, e in exprs.items()] + [f"`{c}` AS raw_{c}" for c in exprs]
    )
    for column, role in inputs.COLUMNS[kind].items():
        if types[column] == "VARCHAR" and role != "text":
            check_readable(frame, column, role, label)
    return frame.select(*exprs)


def check_readable(frame, column: str, role: str, label: str) -> None:
    bad = frame.where(f"nullif(trim(raw_{column}), '') IS NOT NULL AND {column} IS NULL")
    row = bad.selectExpr("count(*) AS n", f"min(raw_{column}) AS example").collect()[0]
    if row["n"]:
        raise ValidationError(
            "tracing.bad_value",
            f"{label}: column {column}: {row['n']:,} value(s) are not {inputs.DESCRIBE[role]} "
            f"(e.g. {row['example']!r})",
            file=label,
            column=column,
            rows=row["n"],
        )


def load_checkins(
    spark, path: str, label: str, dwell: pa.Table, params: TraceParams, report: TraceReport
):
    """Check-ins with t_out filled, bad rows counted (or raised) and dropped, as in DuckDB."""
    from pyspark.sql import functions as F

    frame = converted(spark, path, "checkins", label, report)
    dwell_df = F.broadcast(
        spark.createDataFrame(dwell.to_pylist(), "venue_id BIGINT, dwell_s BIGINT")
    )
    frame = frame.join(dwell_df, "venue_id", "left").selectExpr(
        "person_id", "venue_id", "t_in",
        f"coalesce(t_out, t_in + coalesce(dwell_s, {int(params.default_dwell_s)})) AS t_out",
        "t_out IS NULL AS t_out_missing",
    ).cache()  # fmt: skip
    empty = "person_id IS NULL OR venue_id IS NULL OR t_in IS NULL"
    counts = frame.selectExpr(
        "count(*) AS total",
        f"count_if({empty}) AS missing",
        "count_if(t_out < t_in) AS reversed",
        "count_if(t_out_missing AND t_in IS NOT NULL) AS filled",
        "approx_count_distinct(person_id) AS people",
        f"coalesce(max(CASE WHEN NOT ({empty}) AND t_out >= t_in THEN t_out - t_in END), 0) AS longest",
    ).collect()[0]
    report.rows_read["checkins"] = counts["total"]
    inputs.settle(
        report,
        params,
        label,
        "person_id/venue_id/t_in",
        "with an empty person_id, venue_id or t_in, dropped",
        counts["missing"],
    )
    inputs.settle(
        report, params, label, "t_out", "with t_out before t_in, dropped", counts["reversed"]
    )
    report.count(
        label, "without t_out, filled with the venue kind's assumed dwell", counts["filled"]
    )
    clean = frame.where(f"NOT ({empty}) AND t_out >= t_in").select(
        "person_id", "venue_id", "t_in", "t_out"
    )
    periods = (
        clean.selectExpr(f"t_in DIV {int(params.chunk_s)} AS period")
        .groupBy("period")
        .count()
        .orderBy("period")
        .collect()
    )
    longest = int(counts["longest"])
    facts = RunFacts(
        int(counts["people"]),
        min(longest, params.long_stay_s),
        longest > params.long_stay_s,
        tuple((int(r["period"]), int(r["count"])) for r in periods),
    )
    groups = clean.groupBy("person_id", "venue_id", "t_in", "t_out").count()
    duplicates = (
        groups.where("count > 1").selectExpr("coalesce(sum(count - 1), 0) AS n").collect()[0]["n"]
    )
    inputs.settle(
        report,
        params,
        label,
        "all",
        "duplicated an earlier row (ignored: they cannot change the contacts)",
        duplicates,
    )
    return clean, facts


def load_pings(spark, path: str, label: str, params: TraceParams, report: TraceReport):
    """Valid pings with their grid cell (numpy projection via mapInArrow); and the origin."""
    frame = converted(spark, path, "pings", label, report).cache()
    empty = "person_id IS NULL OR t IS NULL OR lat IS NULL OR lon IS NULL"
    impossible = "isnan(lat) OR isnan(lon) OR lat < -90 OR lat > 90 OR lon < -180 OR lon > 180"
    counts = frame.selectExpr(
        "count(*) AS total", f"count_if({empty}) AS missing",
        f"count_if(NOT ({empty}) AND ({impossible})) AS impossible",
    ).collect()[0]  # fmt: skip
    report.rows_read["pings"] = counts["total"]
    inputs.settle(
        report,
        params,
        label,
        "person_id/t/lat/lon",
        "with an empty value, dropped",
        counts["missing"],
    )
    inputs.settle(
        report,
        params,
        label,
        "lat/lon",
        "with impossible coordinates, dropped",
        counts["impossible"],
    )
    valid = frame.where(f"NOT ({empty}) AND NOT ({impossible})")
    ok = (
        valid.groupBy("person_id", "t")
        .agg({"*": "count", "lat": "min"})
        .withColumnRenamed("count(1)", "n")
    )
    firsts = (
        valid.selectExpr("person_id", "t", "struct(lat, lon) AS ll")
        .groupBy("person_id", "t")
        .agg({"ll": "min"})
    )
    firsts = firsts.selectExpr(
        "person_id", "t", "`min(ll)`.lat AS lat", "`min(ll)`.lon AS lon"
    ).cache()
    repeats = ok.selectExpr("coalesce(sum(n - 1), 0) AS r").collect()[0]["r"]
    inputs.settle(
        report,
        params,
        label,
        "t",
        "repeating a person's time, one kept (smallest lat, lon)",
        repeats,
    )
    origin = params.grid_origin
    if origin is None:
        low = firsts.selectExpr("min(lat) AS lat", "min(lon) AS lon").collect()[0]
        origin = default_origin(
            np.array([low["lat"]] if low["lat"] is not None else []),
            np.array([low["lon"]] if low["lon"] is not None else []),
        )
    return firsts.mapInArrow(
        cells_for(origin, params.cell_m), "person_id BIGINT, t BIGINT, cell STRING"
    ), origin


def cells_for(
    origin: tuple[float, float], cell_m: float
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    def add_cells(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            lat = batch.column("lat").to_numpy(zero_copy_only=False)
            lon = batch.column("lon").to_numpy(zero_copy_only=False)
            cells = cell_labels(lat, lon, origin, cell_m)
            yield pa.RecordBatch.from_arrays(
                [batch.column("person_id"), batch.column("t"), cells],
                names=["person_id", "t", "cell"],
            )

    return add_cells


def small_tables(
    cases, venues, isolations, params: TraceParams, report: TraceReport
) -> dict[str, pa.Table]:
    """Cases, isolations and venue dwell times, read and checked by the DuckDB loader."""
    con = inputs.connect()
    try:
        inputs.load_venue_dwell(con, venues, params, report)
        inputs.load_cases(con, cases, params, report)
        inputs.load_isolations(con, isolations, params, report)
        return {
            name: con.sql(f"SELECT * FROM {name}").to_arrow_table()
            for name in ("venue_dwell", "cases", "isolations")
        }
    finally:
        con.close()


def to_spark(spark, table: pa.Table, schema: str):
    return spark.createDataFrame(table.to_pylist(), schema)


def trace_spark(
    spark,
    checkins: inputs.Source,
    cases: inputs.Source,
    *,
    pings: inputs.Source | None = None,
    venues: inputs.Source | None = None,
    isolations: inputs.Source | None = None,
    params: TraceParams,
    progress: Callable[[str], None] | None = None,
):
    """trace() on Spark; returns a TraceResult equal to the DuckDB engine's."""
    from epicore.tracing.api import TraceResult, to_output

    spark = spark or local_session()
    report = TraceReport()
    start = time.perf_counter()
    cached = []
    with tempfile.TemporaryDirectory(prefix="tracing-spark-") as scratch:
        small = small_tables(cases, venues, isolations, params, report)
        path = spark_path(spark, checkins, "checkins", Path(scratch))
        checkins_df, facts = load_checkins(
            spark,
            path,
            inputs.label_of(checkins, "checkins"),
            small["venue_dwell"],
            params,
            report,
        )
        frames = {
            "checkins": checkins_df,
            "cases": to_spark(
                spark, small["cases"], "person_id BIGINT, t_from BIGINT, t_to BIGINT"
            ),
            "isolations": to_spark(
                spark, small["isolations"], "person_id BIGINT, t_isolated BIGINT"
            ),
        }
        origin = None
        if pings is not None:
            ping_path = spark_path(spark, pings, "pings", Path(scratch))
            frames["ping_cells"], origin = load_pings(
                spark, ping_path, inputs.label_of(pings, "pings"), params, report
            )
        for name, frame in frames.items():
            frame = frame.cache()
            cached.append(frame)
            frame.createOrReplaceTempView(name)
        report.timings["load"] = time.perf_counter() - start
        start = time.perf_counter()

        def count(table: str) -> int:
            return spark.table(table).count()

        def span(table: str) -> tuple[int | None, int | None]:
            row = spark.table(table).selectExpr("min(s)", "max(e)").collect()[0]
            return row[0], row[1]

        for name, sql in stages(params, SPARK, pings is not None, facts, count, span):
            mark = time.perf_counter()
            if progress:
                progress(name)
            # Computed now and kept, its lineage cut: a chunk of a hop reads every earlier
            # chunk, and views of views would grow the plan exponentially with the chunks.
            frame = spark.sql(sql).localCheckpoint(eager=True)
            cached.append(frame)
            frame.createOrReplaceTempView(name)
            report.timings[f"spark.{name}"] = time.perf_counter() - mark
        raw = spark.table("contacts").toArrow()
        report.timings["trace"] = time.perf_counter() - start
        for frame in cached:
            frame.unpersist()
    return TraceResult(to_output(raw), report, params, "spark", origin)
