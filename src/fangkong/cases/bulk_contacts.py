"""Recording contacts and their exposures set-wise on PostgreSQL: what actions._contacts_of and
actions._add_exposures do row by row through the ORM, as one COPY and a few statements.

A tracing run in a dense outbreak records a million contacts; through the ORM that took 510 µs
per contact (issue 4's end-to-end benchmark: 508 s of the 830 s, docs/benchmarks.md). Both
paths give the same records and counts (tests/platform/test_cases.py runs on both databases).
"""

from __future__ import annotations

from django.db import connection

from fangkong.cases.models import Contact, ContactStatus, Exposure
from fangkong.people.models import Person
from fangkong.venues.bulk import copy_text

CONTACTS = Contact._meta.db_table
EXPOSURES = Exposure._meta.db_table
PEOPLE = Person._meta.db_table


def record(case, exposures, lowest: dict, first: dict, counts: dict) -> None:
    """Contacts at the lowest degree of their exposures (made closer: moved to `case`), and
    each exposure once per (contact, via, venue, start), in the caller's transaction.

    `lowest` maps person -> (lowest degree, last exposure end); `first` person -> the degree
    of their first exposure in the list (the count of contacts made closer counts as before).
    Raises LookupError when someone is not registered (nothing is written then)."""
    with connection.cursor() as cursor:
        _load(cursor, exposures, lowest, first)
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
            f"WHERE NOT EXISTS (SELECT 1 FROM {CONTACTS} c WHERE c.person_id = p.person_id) "
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


def _load(cursor, exposures, lowest: dict, first: dict) -> None:
    for table in ("rec_people", "rec_exposures"):
        cursor.execute(f"DROP TABLE IF EXISTS {table}")  # an earlier call in this connection
    cursor.execute(
        "CREATE TEMPORARY TABLE rec_people (person_id bigint PRIMARY KEY, degree smallint, "
        "last_exposure timestamptz, first_degree smallint) ON COMMIT DROP"
    )
    cursor.execute(
        "CREATE TEMPORARY TABLE rec_exposures (n bigint, person_id bigint, via_person_id bigint, "
        'degree smallint, venue_id bigint, place text, start timestamptz, "end" timestamptz, '
        "source text) ON COMMIT DROP"
    )
    copy_text(
        "rec_people",
        ("person_id", "degree", "last_exposure", "first_degree"),
        ((p, degree, end, first[p]) for p, (degree, end) in lowest.items()),
    )
    copy_text(
        "rec_exposures",
        ("n", "person_id", "via_person_id", "degree", "venue_id", "place", "start", '"end"',
         "source"),
        ((n, e.person_id, e.via_person_id, e.degree, e.venue_id, e.place[:200], e.start, e.end,
          e.source) for n, e in enumerate(exposures)),
    )  # fmt: skip
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
