"""Recording contacts and their exposures set-wise on PostgreSQL: what actions._contacts_of and
actions._add_exposures do row by row through the ORM, as one COPY and a few statements.

A tracing run in a dense outbreak records a million contacts; through the ORM that took 510 µs
per contact (issue 4's end-to-end benchmark: 508 s of the 830 s, docs/benchmarks.md). Both
paths give the same records and counts (tests/platform/test_cases.py runs on both databases).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.db import IntegrityError, connection, transaction

from fangkong.cases.models import Contact, ContactStatus, Exposure
from fangkong.people.models import Person
from fangkong.venues.bulk import copy_arrow

CONTACTS = Contact._meta.db_table
EXPOSURES = Exposure._meta.db_table
PEOPLE = Person._meta.db_table


def record(case, exposures: pa.Table, counts: dict) -> None:
    """Contacts at the lowest degree of their exposures (made closer: moved to `case`), and
    each exposure once per (contact, via, venue, start), in the caller's transaction.

    `exposures` is a table of actions.EXPOSURE_SCHEMA; a person's first exposure in it gives
    the degree the count of contacts made closer compares with (as the ORM path does).
    Raises LookupError when someone is not registered (nothing is written then)."""
    with connection.cursor() as cursor:
        # Grouping and de-duplicating a million exposures spills to disk with the default
        # work_mem (4 MB), as labs.bulk found for a million members.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        ids = _id_range(exposures)
        _load(cursor, exposures, ids)
        cursor.execute("SELECT count(*) FROM rec_people WHERE jurisdiction_id IS NULL")
        if cursor.fetchone()[0]:
            raise LookupError("unregistered person")
        # Contacts already known are locked first (as select_for_update does in the ORM path).
        cursor.execute(
            "SELECT count(*) FILTER (WHERE pd < cd) FROM (SELECT c.degree AS cd, p.degree AS pd "
            f"FROM {CONTACTS} c JOIN rec_people p ON p.person_id = c.person_id "
            "WHERE c.person_id BETWEEN %s AND %s FOR UPDATE OF c) known",
            ids,
        )
        closer_known = cursor.fetchone()[0]
        counts["created"], closer_new = _insert_new(cursor, case, ids)
        counts["closer"] = closer_known + closer_new
        known = _split_known(cursor)
        if known:
            # Known contacts (and any created by another writer meanwhile): closer moves them
            # to this case; a later exposure extends their last one.
            cursor.execute(
                f"UPDATE {CONTACTS} c SET degree = least(c.degree, p.degree), "
                "case_id = CASE WHEN p.degree < c.degree THEN %s ELSE c.case_id END, "
                "last_exposure = greatest(c.last_exposure, p.last_exposure), updated_at = now() "
                "FROM rec_known p WHERE c.person_id = p.person_id "
                "AND (p.degree < c.degree OR p.last_exposure > c.last_exposure)",
                [case.pk],
            )
        counts["exposures"] = _add_new_exposures(cursor, case)
        if known:
            counts["exposures"] += _add_exposures(cursor, case)


def _insert_new(cursor, case, ids: tuple[int, int]) -> tuple[int, int]:
    """Contacts not known yet, inserted, with their ids in rec_added; how many, and how many of
    them have a lower degree than their first exposure's."""
    cursor.execute("CREATE TEMPORARY TABLE rec_added (id bigint, person_id bigint) ON COMMIT DROP")
    try:
        # A plain insert of the people not found among the contacts of the piece's id range
        # (an index range scan): 0.2-0.27 s less per 100,000 contacts than ON CONFLICT's
        # speculative insertion (one more WAL record and index probe a row). Should another
        # writer insert one of them meanwhile, the unique index refuses the insert; it is
        # rolled back to its savepoint and done again with ON CONFLICT.
        with transaction.atomic():
            cursor.execute(
                _INSERT_NEW.format(unknown=_UNKNOWN_IN_RANGE, conflicts=""),
                [case.pk, ContactStatus.TO_LOCATE, *ids],
            )
    except IntegrityError:
        cursor.execute(
            # ON CONFLICT skips contacts known already and those another writer inserts
            # meanwhile. An advisory lock held by every recorder instead would deadlock with
            # the audit chain's lock: a Go.Data import audits, then records; a tracing run
            # records, then audits.
            _INSERT_NEW.format(unknown="", conflicts="ON CONFLICT (person_id) DO NOTHING"),
            [case.pk, ContactStatus.TO_LOCATE],
        )
    cursor.execute(
        "SELECT count(*), count(*) FILTER (WHERE p.degree < p.first_degree) "
        "FROM rec_added a JOIN rec_people p ON p.person_id = a.person_id"
    )
    return cursor.fetchone()


_UNKNOWN_IN_RANGE = (
    f"WHERE NOT EXISTS (SELECT 1 FROM {CONTACTS} c WHERE c.person_id = p.person_id "
    "AND c.person_id BETWEEN %s AND %s)"
)
# In person order: two writers lock the people they share in the same order.
_INSERT_NEW = (
    f"WITH added AS (INSERT INTO {CONTACTS} (person_id, jurisdiction_id, degree, case_id, "
    "last_exposure, status, created_at, updated_at) "
    "SELECT p.person_id, p.jurisdiction_id, p.degree, %s, p.last_exposure, %s, now(), now() "
    "FROM rec_people p {unknown} ORDER BY p.person_id {conflicts} RETURNING id, person_id) "
    "INSERT INTO rec_added SELECT id, person_id FROM added"
)


def _split_known(cursor) -> int:
    """rec_known: the people of rec_people who were contacts already (or became contacts by
    another writer meanwhile); how many."""
    cursor.execute("ANALYZE rec_added")
    cursor.execute(
        "CREATE TEMPORARY TABLE rec_known ON COMMIT DROP AS SELECT p.* FROM rec_people p "
        "WHERE NOT EXISTS (SELECT 1 FROM rec_added a WHERE a.person_id = p.person_id)"
    )
    cursor.execute("ANALYZE rec_known")
    cursor.execute("SELECT count(*) FROM rec_known")
    return cursor.fetchone()[0]


def _id_range(exposures: pa.Table) -> tuple[int, int]:
    """The smallest and largest person id of the exposures. Given to the joins with the people
    and contact tables as literals, they let the planner read only that range of the table
    through its primary key when the ids are close together, as a tracing run's pieces are
    (cases.tracing._pieces): joining a piece of 100,000 people with the whole people table
    took 0.5 s, with its range 0.2 s (docs/benchmarks.md)."""
    bounds = pc.min_max(exposures["person_id"])
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    return (0, -1) if low is None else (low, high)


def _load(cursor, exposures: pa.Table, ids: tuple[int, int]) -> None:
    for table in ("rec_people", "rec_exposures", "rec_added", "rec_known"):
        cursor.execute(f"DROP TABLE IF EXISTS {table}")  # an earlier call in this connection
    cursor.execute(
        "CREATE TEMPORARY TABLE rec_exposures (n bigint, person_id bigint, via_person_id bigint, "
        'degree smallint, venue_id bigint, place text, start timestamptz, "end" timestamptz, '
        "source text) ON COMMIT DROP"
    )
    columns = (
        "n", "person_id", "via_person_id", "degree", "venue_id", "place", "start", "end", "source"
    )  # fmt: skip
    numbered = exposures.append_column("n", pa.array(np.arange(exposures.num_rows)))
    numbered = numbered.set_column(
        numbered.schema.get_field_index("place"),
        "place",
        pc.utf8_slice_codeunits(exposures["place"], 0, 200),
    )
    copy_arrow(
        "rec_exposures",
        tuple(f'"{name}"' for name in columns),
        numbered.select(list(columns)),
    )
    # Per person: the lowest degree, the latest end, and the degree of their first exposure
    # in the list (min of [n, degree] pairs is the pair with the smallest n), and where they
    # are registered (null: nobody by that id).
    cursor.execute(
        "CREATE TEMPORARY TABLE rec_people ON COMMIT DROP AS SELECT g.*, pe.jurisdiction_id "
        "FROM (SELECT person_id, "
        'min(degree) AS degree, max("end") AS last_exposure, '
        "(min(ARRAY[n, degree::bigint]))[2]::smallint AS first_degree "
        f"FROM rec_exposures GROUP BY person_id) g LEFT JOIN {PEOPLE} pe ON pe.id = g.person_id "
        "AND pe.id BETWEEN %s AND %s",
        ids,
    )
    cursor.execute("ALTER TABLE rec_people ADD PRIMARY KEY (person_id)")
    cursor.execute("ANALYZE rec_people")
    cursor.execute("ANALYZE rec_exposures")


def _add_new_exposures(cursor, case) -> int:
    """The exposures of the contacts created here (rec_added): none is recorded yet, so none
    is looked up (probing the exposure table for each took 1.5-2 s of each 100,000-contact
    piece, more as the table grew); of repeats within the list, the first one."""
    return _insert_exposures(cursor, case, "JOIN rec_added c ON c.person_id = r.person_id", "")


def _add_exposures(cursor, case) -> int:
    """The exposures of contacts known before (rec_known) not recorded yet; of repeats within
    the list, the first one."""
    return _insert_exposures(
        cursor,
        case,
        f"JOIN rec_known k ON k.person_id = r.person_id JOIN {CONTACTS} c "
        "ON c.person_id = k.person_id",
        f"WHERE NOT EXISTS (SELECT 1 FROM {EXPOSURES} x WHERE x.contact_id = c.id "
        "AND x.via_person_id = r.via_person_id AND x.venue_id IS NOT DISTINCT FROM r.venue_id "
        "AND x.start = r.start)",
    )


def _insert_exposures(cursor, case, joined: str, where: str) -> int:
    """Exposures of rec_exposures whose contact (c) is `joined`, the first of each (contact,
    via, venue, start) in the list."""
    cursor.execute(
        f"INSERT INTO {EXPOSURES} (contact_id, case_id, via_person_id, degree, venue_id, place, "
        'start, "end", source) '
        "SELECT DISTINCT ON (c.id, r.via_person_id, r.venue_id, r.start) c.id, %s, "
        'r.via_person_id, r.degree, r.venue_id, r.place, r.start, r."end", r.source '
        f"FROM rec_exposures r {joined} {where} "
        "ORDER BY c.id, r.via_person_id, r.venue_id, r.start, r.n",
        [case.pk],
    )
    return cursor.rowcount
