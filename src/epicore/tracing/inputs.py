"""Read and check the tracing inputs into a DuckDB connection, in one normalised shape.

Every engine sees the same tables, all times as BIGINT seconds since the Unix epoch:

    checkins(person_id, venue_id, t_in, t_out, t_out_missing)   t_out filled, t_out >= t_in
    cases(person_id, t_from, t_to)                 windows non-empty, overlapping ones merged
    isolations(person_id, t_isolated)              one per person (the earliest)
    ping_cells(person_id, t, cell)                 valid coordinates, one ping per person and t

Files are Parquet or CSV, chosen by extension; an Arrow table is accepted too. Times may be
timestamps (naive ones are Asia/Shanghai wall time, like epicore.synth writes), integers (epoch
seconds) or, in CSV, ISO-8601 strings (without an offset: Asia/Shanghai). Problems are either
repaired and counted in the report ("repair") or raised as ValidationError ("reject"); values
that cannot be read at all (a word in a time column) are always raised.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from epicore.errors import ValidationError
from epicore.tracing.grid import cell_labels, default_origin
from epicore.tracing.params import TraceParams
from epicore.tracing.plan import RunFacts
from epicore.tracing.report import TraceReport

Source = str | Path | pa.Table
TZ = "Asia/Shanghai"
# China Standard Time is UTC+8 all year (no daylight saving since 1991).
UTC_OFFSET_S = 8 * 3600

COLUMNS: dict[str, dict[str, str]] = {
    "checkins": {"person_id": "id", "venue_id": "id", "t_in": "time", "t_out": "time"},
    "cases": {"person_id": "id", "t_from": "time", "t_to": "time"},
    "pings": {"person_id": "id", "t": "time", "lat": "number", "lon": "number"},
    "venues": {"venue_id": "id", "kind": "text"},
    "isolations": {"person_id": "id", "t_isolated": "time"},
}
# Columns that may be empty in a valid row (a forgotten scan-out).
NULLABLE = {("checkins", "t_out")}
INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER")
NUMBER_TYPES = INTEGER_TYPES + ("FLOAT", "DOUBLE", "UBIGINT", "HUGEINT")
DESCRIBE = {"id": "an integer id", "time": "a time", "number": "a number", "text": "text"}


def connect(
    threads: int | None = None, memory_limit: str | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the session settings tracing relies on."""
    con = duckdb.connect()
    con.execute(f"SET TimeZone = '{TZ}'")  # strings without an offset are local wall time
    con.execute("SET preserve_insertion_order = false")  # lets big scans stream
    con.execute("SET enable_progress_bar = false")  # stdout is for results; stages go to stderr
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    return con


def label_of(source: Source, kind: str) -> str:
    return f"<{kind} table>" if isinstance(source, pa.Table) else str(source)


def source_relation(con: duckdb.DuckDBPyConnection, source: Source, kind: str) -> str:
    """SQL naming the raw rows of `source` (a file or an Arrow table)."""
    if isinstance(source, pa.Table):
        con.register(f"raw_{kind}", source)
        return f"raw_{kind}"
    path = Path(source)
    if not path.exists():
        raise ValidationError("tracing.no_file", f"{path}: no such file", file=str(path))
    quoted = str(path).replace("'", "''")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return f"read_parquet('{quoted}')"
    if suffix == ".csv":
        return f"read_csv('{quoted}', all_varchar = true, header = true)"
    raise ValidationError(
        "tracing.bad_format",
        f"{path}: unknown format {suffix!r} (use .parquet or .csv)",
        file=str(path),
    )


def column_types(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    return {row[0]: row[1] for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()}


def check_columns(types: dict[str, str], kind: str, label: str, report: TraceReport) -> None:
    """Missing columns are an error; extra ones are ignored, and the report says so."""
    missing = [c for c in COLUMNS[kind] if c not in types]
    if missing:
        raise ValidationError(
            "tracing.missing_column",
            f"{label}: missing column(s) {', '.join(missing)} (needs {', '.join(COLUMNS[kind])})",
            file=label,
            column=missing[0],
        )
    extra = [c for c in types if c not in COLUMNS[kind]]
    if extra:
        report.notes.append(f"{label}: ignored column(s) {', '.join(extra)}")


def zoned(dtype: str) -> bool:
    """Is a DuckDB timestamp type an instant (with a time zone) rather than wall time?"""
    return dtype in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ_NS")


def convert(column: str, role: str, dtype: str, label: str, fast_time: bool = False) -> str:
    """SQL turning a raw column into BIGINT ids/epoch seconds, DOUBLE numbers or text.

    `fast_time`: timestamps become seconds through the floating-point epoch (~0.4 s faster per
    column on 98 M rows than integer division of epoch_ms). Exact for every time before 2106:
    microseconds below 2^53 convert to a double exactly, and near 2^32 seconds doubles are spaced
    under a microsecond, so a time a microsecond before a whole second never rounds up to it.
    Callers use it only where the result must fit 32 bits (before 2038) anyway."""
    col = f'"{column}"'
    text = f"NULLIF(trim({col}), '')"
    if dtype == "VARCHAR":
        return {
            "id": f"TRY_CAST({text} AS BIGINT)",
            "number": f"TRY_CAST({text} AS DOUBLE)",
            "text": text,
            "time": (
                f"CASE WHEN regexp_full_match({text}, '-?[0-9]+') THEN TRY_CAST({text} AS BIGINT)"
                f" ELSE epoch_ms(TRY_CAST({text} AS TIMESTAMPTZ)) // 1000 END"
            ),
        }[role]
    if role == "text":
        return f"CAST({col} AS VARCHAR)"
    if role == "number" and (dtype in NUMBER_TYPES or dtype.startswith("DECIMAL")):
        return f"CAST({col} AS DOUBLE)"
    if role in ("id", "time") and dtype in INTEGER_TYPES + ("UBIGINT",):
        return f"CAST({col} AS BIGINT)"
    if role == "time" and dtype.startswith("TIMESTAMP"):
        # Not epoch_ms(): it rounds, so 08:00:00.9995 would become 08:00:01.
        seconds = f"floor(epoch({col}))" if fast_time else f"epoch_us({col}) // 1000000"
        if dtype.endswith("_NS"):  # nanoseconds: neither epoch() nor epoch_us() takes them
            seconds = f"epoch_ns({col}) // 1000000000"
        if zoned(dtype):
            return seconds
        # A naive timestamp is Asia/Shanghai wall time (docs/tracing.md, "Input").
        return f"{seconds} - {UTC_OFFSET_S}"
    raise ValidationError(
        "tracing.bad_type",
        f"{label}: column {column} has type {dtype}, expected {DESCRIBE[role]}",
        file=label,
        column=column,
    )


def converted_select(con, source: Source, kind: str, report: TraceReport) -> str:
    """A SELECT of the kind's columns, converted, after checking names and unreadable values."""
    return converted_selects(con, source, kind, report)[False]


def converted_selects(con, source: Source, kind: str, report: TraceReport) -> dict[bool, str]:
    """converted_select with timestamps converted exactly (False) and fast (True, see
    `convert`), the columns and their values checked once for both."""
    label, relation, types = checked_relation(con, source, kind, report)
    selects = {}
    for fast_time in (False, True):
        exprs = {
            c: convert(c, role, types[c], label, fast_time) for c, role in COLUMNS[kind].items()
        }
        selects[fast_time] = "SELECT " + ", ".join(f"{e} AS {c}" for c, e in exprs.items())
        selects[fast_time] += f" FROM {relation}"
    return selects


def checked_relation(
    con, source: Source, kind: str, report: TraceReport
) -> tuple[str, str, dict[str, str]]:
    """(label, SQL relation, column types) of a source whose columns are checked and whose
    text values all parse (text is converted alike however times are converted later)."""
    label = label_of(source, kind)
    relation = source_relation(con, source, kind)
    types = column_types(con, relation)
    check_columns(types, kind, label, report)
    for column, role in COLUMNS[kind].items():
        if types[column] == "VARCHAR" and role != "text":
            expr = convert(column, role, types[column], label)
            check_readable(con, relation, column, expr, kind, label)
    return label, relation, types


def check_readable(con, relation: str, column: str, expr: str, kind: str, label: str) -> None:
    """A text value that does not parse is never guessed at: raise, naming an example."""
    bad, example = con.execute(
        f'SELECT count(*), min("{column}") FROM {relation} '
        f"WHERE NULLIF(trim(\"{column}\"), '') IS NOT NULL AND ({expr}) IS NULL"
    ).fetchall()[0]
    if bad:
        role = COLUMNS[kind][column]
        raise ValidationError(
            "tracing.bad_value",
            f"{label}: column {column}: {bad:,} value(s) are not {DESCRIBE[role]} "
            f"(e.g. {example!r})",
            file=label,
            column=column,
            rows=bad,
        )


def settle(
    report: TraceReport, params: TraceParams, label: str, column: str, reason: str, rows: int
) -> None:
    """Count a repair, or raise when the rule set says bad rows are rejected."""
    if rows and params.on_bad_rows == "reject":
        raise ValidationError(
            "tracing.bad_rows",
            f"{label}: column {column}: {rows:,} row(s) {reason}",
            file=label,
            column=column,
            rows=rows,
        )
    report.count(label, reason, rows)


def count_where(con, table: str, condition: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table} WHERE {condition}").fetchall()[0][0]


def drop_where(con, table: str, condition: str, rows: int) -> None:
    if rows:
        con.execute(f"DELETE FROM {table} WHERE {condition}")


def load_venue_dwell(con, venues: Source | None, params: TraceParams, report: TraceReport) -> None:
    """venue_dwell(venue_id, dwell_s): the assumed stay at each known venue."""
    kinds = pa.table(
        {
            "kind": pa.array(list(params.dwell_by_kind), pa.string()),
            "dwell_s": pa.array(list(params.dwell_by_kind.values()), pa.int64()),
        }
    )
    con.register("dwell_by_kind", kinds)
    if venues is None:
        con.execute("CREATE OR REPLACE TABLE venue_dwell (venue_id BIGINT, dwell_s BIGINT)")
        return
    label = label_of(venues, "venues")
    select = converted_select(con, venues, "venues", report)
    con.execute(f"CREATE OR REPLACE TEMP TABLE venues_raw AS {select}")
    settle(
        report,
        params,
        label,
        "venue_id",
        "without a venue_id",
        count_where(con, "venues_raw", "venue_id IS NULL"),
    )
    clash = con.execute(
        "SELECT venue_id FROM venues_raw WHERE venue_id IS NOT NULL "
        "GROUP BY venue_id HAVING count(DISTINCT kind) > 1 LIMIT 1"
    ).fetchall()
    if clash:
        raise ValidationError(
            "tracing.conflicting_rows",
            f"{label}: column kind: venue {clash[0][0]} has more than one kind",
            file=label,
            column="kind",
        )
    unknown = count_where(
        con, "venues_raw", "venue_id IS NOT NULL AND kind NOT IN (SELECT kind FROM dwell_by_kind)"
    )
    if unknown:
        report.notes.append(f"{label}: {unknown:,} venue(s) of a kind without a dwell rule")
    con.execute(
        "CREATE OR REPLACE TABLE venue_dwell AS SELECT DISTINCT v.venue_id, d.dwell_s "
        "FROM venues_raw v JOIN dwell_by_kind d ON v.kind = d.kind WHERE v.venue_id IS NOT NULL"
    )


def start_counts(con, params: TraceParams) -> tuple[tuple[int, int], ...]:
    """How many valid check-ins start in each period of params.chunk_s (see RunFacts)."""
    rows = con.execute(
        f"SELECT t_in // {int(params.chunk_s)} AS period, count(*) FROM checkins "
        "GROUP BY period ORDER BY period"
    ).fetchall()
    return tuple((int(period), int(n)) for period, n in rows)


def load_checkins(con, source: Source, params: TraceParams, report: TraceReport) -> RunFacts:
    """checkins: the valid rows with t_out filled from the dwell rules, in memory.

    The input is read once, converted and copied into a table of 32-bit integers where the
    values fit (ids below 2^31, times before 2038), else 64-bit ones: every later stage scans
    that table instead of decoding the file again (measured on 98 M rows: a pass over the
    Parquet view with its conversions cost ~7 s, one over the table ~0.3 s; the copy ~2 s and
    1.6 GB). One aggregation then counts every kind of bad row before anything is changed.
    """
    label = label_of(source, "checkins")
    with report.timed("load.copy"):
        copy_checkins(con, source, report)
    empty = "person_id IS NULL OR venue_id IS NULL OR t_in IS NULL"
    with report.timed("load.checks"):
        total, missing, reversed_, to_fill, people, longest = checkin_counts(con, empty)
    report_checkin_counts(report, params, label, total, missing, reversed_, to_fill)
    with report.timed("load.repair"):
        drop_where(con, "checkins", f"({empty}) OR t_out < t_in", missing + reversed_)
        if to_fill:
            longest = max(longest, fill_missing_t_out(con, params))
    with report.timed("load.periods"):
        periods = start_counts(con, params)
    facts = RunFacts(
        int(people), int(min(longest, params.long_stay_s)), longest > params.long_stay_s, periods
    )
    if params.check_duplicates:
        with report.timed("load.duplicates"):
            duplicates = count_duplicates(con)
        report_duplicates(report, params, label, duplicates)
    return facts


def report_checkin_counts(
    report: TraceReport,
    params: TraceParams,
    label: str,
    total: int,
    missing: int,
    reversed_: int,
    to_fill: int,
) -> None:
    """The check-ins read, dropped and filled, into the report (or raised: "reject")."""
    report.rows_read["checkins"] = int(total)
    settle(
        report,
        params,
        label,
        "person_id/venue_id/t_in",
        "with an empty person_id, venue_id or t_in, dropped",
        int(missing),
    )
    settle(report, params, label, "t_out", "with t_out before t_in, dropped", int(reversed_))
    report.count(label, "without t_out, filled with the venue kind's assumed dwell", int(to_fill))


def report_duplicates(report: TraceReport, params: TraceParams, label: str, rows: int) -> None:
    settle(
        report,
        params,
        label,
        "all",
        "duplicated an earlier row (ignored: they cannot change the contacts)",
        int(rows),
    )


def checkin_counts(con, empty: str) -> tuple[int, int, int, int, int, int]:
    """Rows; rows with an empty key; t_out before t_in; without t_out (t_in given); distinct
    people (approximate); the longest valid stay given."""
    return con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {empty}), "
        "count(*) FILTER (WHERE t_out < t_in), "
        "count(*) FILTER (WHERE t_out IS NULL AND t_in IS NOT NULL), "
        "approx_count_distinct(person_id), "
        f"coalesce(max(t_out - t_in) FILTER (WHERE NOT ({empty}) AND t_out >= t_in), 0) "
        "FROM checkins"
    ).fetchall()[0]


def copy_checkins(con, source: Source, report: TraceReport) -> None:
    """checkins(person_id, venue_id, t_in, t_out) from the converted rows, t_out as given (NULL
    where missing); INTEGER columns if every value fits, else BIGINT.

    Missing t_out values are filled afterwards, only on those rows (fill_missing_t_out):
    joining every row to venue_dwell while copying cost ~1.6 s on 98 M rows, for files (like
    most) in which few or no t_out are missing."""
    selects = converted_selects(con, source, "checkins", report)
    for sql_type in ("INTEGER", "BIGINT"):
        # 32-bit times end in 2038: the fast conversion is exact for them.
        select = selects[sql_type == "INTEGER"]
        columns = ", ".join(
            f"CAST({c} AS {sql_type}) AS {c}" for c in ("person_id", "venue_id", "t_in", "t_out")
        )
        try:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE checkins AS SELECT {columns} FROM ({select})"
            )
            return
        except duckdb.ConversionException:
            if sql_type == "BIGINT":
                raise


def fill_missing_t_out(con, params: TraceParams) -> int:
    """t_out = t_in + the venue kind's assumed dwell (the default for an unknown venue) where
    t_out is missing; returns the longest stay so made (it can set the run's reach).

    An UPDATE joined to venue_dwell (0.7 s for 2 M of 98 M rows; a correlated subquery per
    row took 2.4 s)."""
    default = int(params.default_dwell_s)
    longest = con.execute(
        f"SELECT coalesce(max(coalesce(d.dwell_s, {default})), 0) FROM "
        "(SELECT DISTINCT venue_id FROM checkins WHERE t_out IS NULL) c "
        "LEFT JOIN venue_dwell d ON d.venue_id = c.venue_id"
    ).fetchall()[0][0]
    con.execute(
        "UPDATE checkins SET t_out = checkins.t_in + d.dwell_s FROM venue_dwell d "
        "WHERE d.venue_id = checkins.venue_id AND checkins.t_out IS NULL"
    )
    con.execute(f"UPDATE checkins SET t_out = t_in + {default} WHERE t_out IS NULL")
    return int(longest)


def count_duplicates(con) -> int:
    """Rows equal to another row. They are kept: contacts are a set, so copies change nothing.

    Exact, without grouping every row (on 98 M rows a GROUP BY of the four columns took
    ~11-15 s): each row's 64-bit hash is computed, the hashes sorted (numpy), and only the rows
    whose hash occurs more than once are grouped exactly. Equal rows have equal hashes, so no
    duplicate is missed; unequal rows sharing a hash fall apart in the grouping. (Tried and not
    kept on 98 M rows: fetching and sorting in four slices by hash range, a sorting thread
    overlapping DuckDB, 2.5-3.5 s; 32-bit hashes, half the bytes to sort but ~1.1 M chance
    collisions to check exactly, 3.1 s.)
    """
    row_hash = "hash(person_id, venue_id, t_in, t_out)"
    hashes = con.execute(f"SELECT {row_hash} AS h FROM checkins").fetchnumpy()["h"]
    hashes.sort()
    repeated = np.unique(hashes[1:][hashes[1:] == hashes[:-1]])
    del hashes
    if not repeated.size:
        return 0
    con.register("repeated_hashes", pa.table({"h": repeated}))
    try:
        return con.execute(
            "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM checkins "
            f"WHERE {row_hash} IN (SELECT h FROM repeated_hashes) "
            "GROUP BY person_id, venue_id, t_in, t_out HAVING count(*) > 1)"
        ).fetchall()[0][0]
    finally:
        con.unregister("repeated_hashes")


def load_cases(con, source: Source, params: TraceParams, report: TraceReport) -> None:
    """Index cases with non-empty infectious windows; a person's overlapping windows merged."""
    label = label_of(source, "cases")
    rows = con.execute(converted_select(con, source, "cases", report)).fetchall()
    report.rows_read["cases"] = len(rows)
    complete = [r for r in rows if None not in r]
    settle(
        report,
        params,
        label,
        "person_id/t_from/t_to",
        "with an empty value, dropped",
        len(rows) - len(complete),
    )
    windows = [r for r in complete if r[2] > r[1]]
    settle(
        report,
        params,
        label,
        "t_to",
        "with an empty window (t_to <= t_from), dropped",
        len(complete) - len(windows),
    )
    distinct = sorted(set(windows))
    settle(
        report,
        params,
        label,
        "all",
        "duplicated an earlier row, dropped",
        len(windows) - len(distinct),
    )
    merged = merge_windows(distinct)
    report.count(
        label,
        "windows overlapping another window of the same case, merged",
        len(distinct) - len(merged),
    )
    table = pa.table(
        {
            name: pa.array([r[i] for r in merged], pa.int64())
            for i, name in enumerate(("person_id", "t_from", "t_to"))
        }
    )
    con.register("cases_arrow", table)
    con.execute("CREATE OR REPLACE TABLE cases AS SELECT * FROM cases_arrow")


def merge_windows(rows: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Merge overlapping or touching windows of one person; rows sorted by (person, t_from)."""
    merged: list[list[int]] = []
    for person, start, end in rows:
        if merged and merged[-1][0] == person and start <= merged[-1][2]:
            merged[-1][2] = max(merged[-1][2], end)
        else:
            merged.append([person, start, end])
    return [tuple(m) for m in merged]  # type: ignore[misc]


def load_isolations(con, source: Source | None, params: TraceParams, report: TraceReport) -> None:
    """isolations(person_id, t_isolated): when each contact was isolated (earliest if several)."""
    if source is None:
        con.execute("CREATE OR REPLACE TABLE isolations (person_id BIGINT, t_isolated BIGINT)")
        return
    label = label_of(source, "isolations")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE isolations_raw AS {converted_select(con, source, 'isolations', report)}"
    )
    empty = count_where(con, "isolations_raw", "person_id IS NULL OR t_isolated IS NULL")
    settle(report, params, label, "person_id/t_isolated", "with an empty value, dropped", empty)
    con.execute(
        "CREATE OR REPLACE TABLE isolations AS SELECT person_id, min(t_isolated) AS t_isolated "
        "FROM isolations_raw WHERE person_id IS NOT NULL AND t_isolated IS NOT NULL GROUP BY person_id"
    )
    kept = con.execute("SELECT count(*) FROM isolations").fetchall()[0][0]
    report.count(
        label,
        "more than one isolation time for a person, earliest kept",
        len_of(con, "isolations_raw") - empty - kept,
    )


def len_of(con, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def load_pings(
    con, source: Source | None, params: TraceParams, report: TraceReport
) -> tuple[float, float] | None:
    """ping_cells(person_id, t, cell): valid pings with their grid cell; returns the grid origin."""
    if source is None:
        con.execute("CREATE OR REPLACE TABLE ping_cells (person_id BIGINT, t BIGINT, cell VARCHAR)")
        return None
    label = label_of(source, "pings")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE pings_raw AS {converted_select(con, source, 'pings', report)}"
    )
    report.rows_read["pings"] = len_of(con, "pings_raw")
    empty = "person_id IS NULL OR t IS NULL OR lat IS NULL OR lon IS NULL"
    missing = count_where(con, "pings_raw", empty)
    settle(report, params, label, "person_id/t/lat/lon", "with an empty value, dropped", missing)
    drop_where(con, "pings_raw", empty, missing)
    impossible = "isnan(lat) OR isnan(lon) OR lat < -90 OR lat > 90 OR lon < -180 OR lon > 180"
    bad = count_where(con, "pings_raw", impossible)
    settle(report, params, label, "lat/lon", "with impossible coordinates, dropped", bad)
    drop_where(con, "pings_raw", impossible, bad)
    # Two pings of one person at one second: keep the one with the smallest (lat, lon).
    con.execute(
        "CREATE OR REPLACE TEMP TABLE pings_ok AS SELECT person_id, t, arg_min(lat, (lat, lon)) AS lat, "
        "arg_min(lon, (lat, lon)) AS lon, count(*) AS n FROM pings_raw GROUP BY person_id, t"
    )
    repeats = con.execute("SELECT coalesce(sum(n - 1), 0) FROM pings_ok").fetchall()[0][0]
    settle(
        report,
        params,
        label,
        "t",
        "repeating a person's time, one kept (smallest lat, lon)",
        repeats,
    )
    table = con.sql("SELECT person_id, t, lat, lon FROM pings_ok").to_arrow_table()
    origin = params.grid_origin or default_origin(
        np.asarray(table["lat"]), np.asarray(table["lon"])
    )
    cells = cell_labels(np.asarray(table["lat"]), np.asarray(table["lon"]), origin, params.cell_m)
    con.register(
        "ping_cells_arrow",
        pa.table({"person_id": table["person_id"], "t": table["t"], "cell": cells}),
    )
    con.execute("CREATE OR REPLACE TABLE ping_cells AS SELECT * FROM ping_cells_arrow")
    return origin


def load_all(
    con,
    checkins: Source,
    cases: Source,
    params: TraceParams,
    report: TraceReport,
    *,
    pings: Source | None = None,
    venues: Source | None = None,
    isolations: Source | None = None,
    checkin_loader=None,
):
    """Load every input into `con`; returns what `checkin_loader` returned (by default
    load_checkins: the facts for the plan) and the grid origin (None without pings)."""
    load_venue_dwell(con, venues, params, report)
    facts = (checkin_loader or load_checkins)(con, checkins, params, report)
    load_cases(con, cases, params, report)
    load_isolations(con, isolations, params, report)
    return facts, load_pings(con, pings, params, report)
