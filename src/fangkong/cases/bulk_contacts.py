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
from django.db import connection

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
        _load(cursor, exposures)
        cursor.execute(
            f"SELECT count(*) FROM rec_people p WHERE NOT EXISTS "
            f"(SELECT 1 FROM {PEOPLE} pe WHERE pe.id = p.person_id)"
        )
        if cursor.fetchone()[0]:
            raise LookupError("unregistered person")
        # Contacts already known are locked first (as select_for_update does in the ORM path).
        cursor.execute(
            "SELECT count(*) FILTER (WHERE pd < cd) FROM (SELECT c.degree AS cd, p.degree AS pd "
            f"FROM {CONTACTS} c JOIN rec_people p ON p.person_id = c.person_id "
            "FOR UPDATE OF c) known"
        )
        closer_known = cursor.fetchone()[0]
        cursor.execute(
            f"WITH added AS (INSERT INTO {CONTACTS} (person_id, jurisdiction_id, degree, case_id, "
            "last_exposure, status, created_at, updated_at) "
            "SELECT p.person_id, pe.jurisdiction_id, p.degree, %s, p.last_exposure, %s, now(), "
            f"now() FROM rec_people p JOIN {PEOPLE} pe ON pe.id = p.person_id "
            # ON CONFLICT skips contacts known already (it probes the unique index before it
            # inserts; a NOT EXISTS beside it hashed the whole contact table for every piece,
            # 0.3-0.4 s of each 2 s) and those another writer inserts meanwhile. An advisory
            # lock held by every recorder instead would deadlock with the audit chain's lock: a
            # Go.Data import audits, then records; a tracing run records, then audits.
            "ORDER BY p.person_id ON CONFLICT (person_id) DO NOTHING RETURNING person_id) "
            "SELECT count(*), count(*) FILTER (WHERE p.degree < p.first_degree) "
            "FROM added a JOIN rec_people p ON p.person_id = a.person_id",
            [case.pk, ContactStatus.TO_LOCATE],
        )
        counts["created"], closer_new = cursor.fetchone()
        counts["closer"] = closer_known + closer_new
        # Known contacts (and any created by another writer meanwhile): closer moves them to
        # this case; a later exposure extends their last one.
        cursor.execute(
            f"UPDATE {CONTACTS} c SET degree = least(c.degree, p.degree), "
            "case_id = CASE WHEN p.degree < c.degree THEN %s ELSE c.case_id END, "
            "last_exposure = greatest(c.last_exposure, p.last_exposure), updated_at = now() "
            "FROM rec_people p WHERE c.person_id = p.person_id "
            "AND (p.degree < c.degree OR p.last_exposure > c.last_exposure)",
            [case.pk],
        )
        counts["exposures"] = _add_exposures(cursor, case)


def _load(cursor, exposures: pa.Table) -> None:
    for table in ("rec_people", "rec_exposures"):
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
    # in the list (min of [n, degree] pairs is the pair with the smallest n).
    cursor.execute(
        "CREATE TEMPORARY TABLE rec_people ON COMMIT DROP AS SELECT person_id, "
        'min(degree) AS degree, max("end") AS last_exposure, '
        "(min(ARRAY[n, degree::bigint]))[2]::smallint AS first_degree "
        "FROM rec_exposures GROUP BY person_id"
    )
    cursor.execute("ALTER TABLE rec_people ADD PRIMARY KEY (person_id)")
    cursor.execute("ANALYZE rec_people")
    cursor.execute("ANALYZE rec_exposures")


def _add_exposures(cursor, case) -> int:
    """Exposures not recorded yet; of repeats within the list, the first one."""
    cursor.execute(
        f"INSERT INTO {EXPOSURES} (contact_id, case_id, via_person_id, degree, venue_id, place, "
        'start, "end", source) '
        "SELECT DISTINCT ON (c.id, r.via_person_id, r.venue_id, r.start) c.id, %s, "
        'r.via_person_id, r.degree, r.venue_id, r.place, r.start, r."end", r.source '
        f"FROM rec_exposures r JOIN {CONTACTS} c ON c.person_id = r.person_id "
        f"WHERE NOT EXISTS (SELECT 1 FROM {EXPOSURES} x WHERE x.contact_id = c.id "
        "AND x.via_person_id = r.via_person_id AND x.venue_id IS NOT DISTINCT FROM r.venue_id "
        "AND x.start = r.start) "
        "ORDER BY c.id, r.via_person_id, r.venue_id, r.start, r.n",
        [case.pk],
    )
    return cursor.rowcount
