"""Database triggers that make the audit table append-only, per backend.

Defence in depth: the hash chain already makes any change visible; the triggers stop the
application (or a slip in a shell) from making one. Someone with rights to drop triggers can
still do so, which is why `audit verify` and the published head exist.
"""

from __future__ import annotations

TABLE = "accounts_auditentry"

_SQLITE_ON = [
    f"CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON {TABLE} "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    f"CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON {TABLE} "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
]
_SQLITE_OFF = ["DROP TRIGGER IF EXISTS audit_no_update", "DROP TRIGGER IF EXISTS audit_no_delete"]

_POSTGRES_ON = [
    "CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$",
    f"DROP TRIGGER IF EXISTS audit_no_change ON {TABLE}",
    f"CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON {TABLE} "
    "FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
    f"DROP TRIGGER IF EXISTS audit_no_truncate ON {TABLE}",
    f"CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON {TABLE} "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()",
]
_POSTGRES_OFF = [
    f"DROP TRIGGER IF EXISTS audit_no_change ON {TABLE}",
    f"DROP TRIGGER IF EXISTS audit_no_truncate ON {TABLE}",
]


def statements(vendor: str, enable: bool) -> list[str]:
    if vendor == "postgresql":
        return _POSTGRES_ON if enable else _POSTGRES_OFF
    if vendor == "sqlite":
        return _SQLITE_ON if enable else _SQLITE_OFF
    return []


def set_append_only(connection, enable: bool) -> None:
    with connection.cursor() as cursor:
        for sql in statements(connection.vendor, enable):
            cursor.execute(sql)
