"""Loading synthetic venues and check-ins: COPY on PostgreSQL, batched inserts on SQLite.

The synthetic city numbers people and venues from 1; the loaders keep those numbers as primary
keys (into empty tables only), so check-ins need no lookup to find their person and venue.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime

import adbc_driver_postgresql.dbapi as adbc
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from django.core.management.color import no_style
from django.db import connection, transaction
from django.utils import timezone

from fangkong.accounts import audit
from fangkong.batches import in_threads
from fangkong.venues.models import CheckIn, CheckInSource, Venue

BATCH = 5000


def copy_rows(model, columns: tuple[str, ...], rows: Iterable[tuple], lines=None) -> None:
    """Insert rows into `model`'s table: COPY on PostgreSQL, bulk_create elsewhere. `lines`, when
    given, are the same rows already in COPY text format (the hot million-row paths)."""
    if connection.vendor == "postgresql":
        copy_text(model._meta.db_table, columns, lines if lines is not None else rows)
        return
    batch = []
    for row in rows:
        batch.append(model(**dict(zip(columns, row, strict=True))))
        if len(batch) >= BATCH:
            model.objects.bulk_create(batch)
            batch = []
    model.objects.bulk_create(batch)


@contextmanager
def _copy(sql: str) -> Iterator:
    """psycopg's COPY on Django's connection, its errors wrapped as Django's (a duplicate key
    is an IntegrityError, as from the ORM)."""
    with (
        connection.wrap_database_errors,
        connection.cursor() as cursor,
        cursor.cursor.copy(sql) as copy,
    ):
        yield copy


def copy_text(table: str, columns: tuple[str, ...], rows) -> None:
    """PostgreSQL COPY in text format written in large chunks (psycopg's per-row writer costs
    ~7 µs a row, several seconds for a million rows). Rows are tuples or ready text lines."""
    with _copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        lines: list[str] = []
        for row in rows:
            lines.append(row if isinstance(row, str) else "\t".join(map(copy_value, row)))
            if len(lines) >= 20_000:
                copy.write("\n".join(lines) + "\n")
                lines = []
        if lines:
            copy.write("\n".join(lines) + "\n")


def copy_arrow(table: str, columns: tuple[str, ...], rows: pa.Table) -> None:
    """PostgreSQL COPY of an Arrow table (its columns in `columns`' order), as CSV written by
    pyarrow in C++: a million exposures in ~1 s where copy_text's per-value Python took ~17 s
    (timestamps through isoformat above all). Nulls go as empty fields, strings quoted, so an
    empty string stays one."""
    with _copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT csv)") as copy:
        for batch in rows.to_batches(max_chunksize=50_000):
            buffer = io.BytesIO()
            pacsv.write_csv(batch, buffer, pacsv.WriteOptions(include_header=False))
            copy.write(buffer.getbuffer())


# COPY … TO STDOUT (FORMAT binary): a signature, flags, a header extension, then per row the
# field count and per field its length and bytes, then -1 (PostgreSQL docs, "COPY", "Binary
# Format"). Rows of only 8-byte fields without nulls all have one size, so numpy reads them as
# one array: the server sends bigints and timestamps without formatting them as text (CSV of
# a dense outbreak's 18 M pulled check-ins: 12.7 s of server time; binary 7.0 s).
COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
PG_EPOCH_S = 946_684_800  # 2000-01-01T00:00:00Z, where PostgreSQL's timestamps count from
PG_NO_BEGIN = np.iinfo(np.int64).min  # '-infinity': how the queries send a missing time


def read_int64_columns(query: str, names: tuple[str, ...], times: tuple[str, ...] = ()):
    """Run `query` (bigint and timestamptz columns named `names`, no nulls: send a missing
    time as '-infinity') on PostgreSQL through a binary COPY, into an Arrow table of int64
    columns; the columns in `times` become epoch seconds (floored), '-infinity' null."""
    data = bytearray()
    with _copy(f"COPY ({query}) TO STDOUT (FORMAT binary)") as copy:
        for chunk in copy:
            data += chunk
    rows = _binary_rows(data, len(names))
    columns = {}
    for i, name in enumerate(names):
        values = rows[f"c{i}"].astype(np.int64)  # from big-endian
        if name in times:
            missing = values == PG_NO_BEGIN
            seconds = np.floor_divide(values, 1_000_000) + PG_EPOCH_S
            columns[name] = pa.array(seconds, pa.int64(), mask=missing if missing.any() else None)
        else:
            columns[name] = pa.array(values, pa.int64())
    return pa.table(columns)


def _binary_rows(data: bytearray, width: int) -> np.ndarray:
    layout = [("fields", ">i2")]
    for i in range(width):
        layout += [(f"_length{i}", ">i4"), (f"c{i}", ">i8")]
    row = np.dtype(layout)
    if data[: len(COPY_SIGNATURE)] != COPY_SIGNATURE or data[-2:] != b"\xff\xff":
        raise ValueError("not a complete binary COPY stream")
    flags_end = len(COPY_SIGNATURE) + 4  # then the header extension's length, 4 bytes
    extension = int.from_bytes(data[flags_end : flags_end + 4], "big")
    start = flags_end + 4 + extension
    body = len(data) - 2 - start
    if body % row.itemsize:
        raise ValueError("binary COPY rows are not all 8-byte fields without nulls")
    rows = np.frombuffer(data, row, count=body // row.itemsize, offset=start)
    lengths = [rows[f"_length{i}"] for i in range(width)]
    if (rows["fields"] != width).any() or any((length != 8).any() for length in lengths):
        raise ValueError("binary COPY rows are not all 8-byte fields without nulls")
    return rows


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_value(value) -> str:
    """One value in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def reset_sequence(model) -> None:
    """After inserting explicit keys, let the next automatic key follow the largest."""
    statements = connection.ops.sequence_reset_sql(no_style(), [model])
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def _venue_rows(table: pa.Table) -> Iterator[tuple]:
    now = timezone.now()
    columns = {
        c: table.column(c).to_pylist()
        for c in ("venue_id", "kind", "name", "grid_code", "lat", "lon", "capacity")
    }
    for i in range(table.num_rows):
        yield (
            columns["venue_id"][i],
            columns["kind"][i],
            columns["name"][i][:100],
            columns["grid_code"][i],
            "",
            columns["lat"][i],
            columns["lon"][i],
            columns["capacity"][i],
            now,
        )


VENUE_COLUMNS = (
    "id",
    "kind",
    "name",
    "jurisdiction_id",
    "address",
    "lat",
    "lon",
    "capacity",
    "created_at",
)
CHECKIN_COLUMNS = ("person_id", "venue_id", "t_in", "t_out", "source")


def load_venues(table: pa.Table, source: str) -> int:
    if Venue.objects.exists():
        raise ValueError("venues are already loaded; synthetic venues go into an empty table")
    with transaction.atomic():
        copy_rows(Venue, VENUE_COLUMNS, _venue_rows(table))
        reset_sequence(Venue)
        audit.record(
            None,
            "venue.bulk_load",
            object_type="venue",
            details={"rows": table.num_rows, "source": source},
        )
    return table.num_rows


def _checkin_rows(batches: Iterable[pa.RecordBatch]) -> Iterator[tuple]:
    for batch in batches:
        people = batch.column("person_id").to_pylist()
        venues = batch.column("venue_id").to_pylist()
        t_in = batch.column("t_in").to_pylist()
        t_out = batch.column("t_out").to_pylist()
        for i in range(batch.num_rows):
            yield people[i], venues[i], t_in[i], t_out[i], CheckInSource.SYNTHETIC


def load_checkins(batches: Iterable[pa.RecordBatch], source: str) -> int:
    counted = _Counter(batches)
    with transaction.atomic():
        copy_rows(CheckIn, CHECKIN_COLUMNS, _checkin_rows(counted))
        audit.record(
            None,
            "checkin.bulk_load",
            object_type="checkin",
            details={"rows": counted.rows, "source": source},
        )
    return counted.rows


class _Counter:
    def __init__(self, batches: Iterable[pa.RecordBatch]) -> None:
        self.batches, self.rows = batches, 0

    def __iter__(self):
        for batch in self.batches:
            self.rows += batch.num_rows
            yield batch


# Reading a query into Arrow on other connections, in C++ (adbc-driver-postgresql), that see
# exactly what the caller's transaction sees. psycopg's COPY hands Python one message per row:
# a dense outbreak's last pull stage, 24 M rows, took 32 s through read_int64_columns; the ADBC
# driver read the same rows in 14.5 s with the server's 10.7 s included (docs/benchmarks.md).


def export_snapshot() -> str:
    """The snapshot of the caller's transaction (PostgreSQL, REPEATABLE READ), for read_beside.
    Other connections see the rows committed in it, not the ones the transaction wrote itself:
    a caller inside a transaction it did not start (a test's) reads on its own connection."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_export_snapshot()")
        return cursor.fetchone()[0]


def read_beside(
    queries: list[str], snapshot: str, settings: dict[str, str] | None = None
) -> list[pa.Table]:
    """Each query on its own connection and thread, all in `snapshot` (export_snapshot; the
    exporting transaction must stay open until this returns), with the planner `settings`, as
    Arrow tables in order (batches.in_threads)."""
    return in_threads(lambda query: _read_in_snapshot(query, snapshot, settings or {}), queries)


def _read_in_snapshot(query: str, snapshot: str, settings: dict[str, str]) -> pa.Table:
    with adbc.connect(_conninfo(), autocommit=True) as conn, conn.cursor() as cursor:
        # SET TRANSACTION SNAPSHOT must come first in a REPEATABLE READ transaction.
        cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        cursor.execute(f"SET TRANSACTION SNAPSHOT '{_snapshot_id(snapshot)}'")
        for name, value in settings.items():
            cursor.execute(f"SELECT set_config('{name}', '{value}', true)")
        cursor.execute(query)
        table = cursor.fetch_arrow_table()
        cursor.execute("COMMIT")
        return table


def _snapshot_id(snapshot: str) -> str:
    """pg_export_snapshot's identifier (hex and dashes), checked before it goes into SQL."""
    if not snapshot or any(ch not in "0123456789ABCDEFabcdef-" for ch in snapshot):
        raise ValueError(f"not a snapshot identifier: {snapshot!r}")
    return snapshot


def _conninfo() -> str:
    """Django's connection parameters as a libpq connection string, for other drivers."""
    from psycopg.conninfo import make_conninfo

    params = connection.get_connection_params()
    keys = ("dbname", "user", "password", "host", "port", "sslmode", "options")
    return make_conninfo(**{k: str(params[k]) for k in keys if params.get(k) not in (None, "")})
