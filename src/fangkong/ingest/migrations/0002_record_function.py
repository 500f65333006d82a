"""The batch transaction of the ingestion server as one PostgreSQL function (docs/ingest.md).

One call records a batch of scans: lock the people (FOR NO KEY UPDATE, in id order: batches
cannot deadlock, and the Django path's SELECT ... FOR UPDATE of the person conflicts with it),
then, in a second statement and so a fresh snapshot (a VOLATILE function under READ COMMITTED),
read the colour now, find the check-in of (person, venue) in [t - 10 min, t + 10 s], insert
where there is none, and return one row per scan. Called in autocommit mode it is one round
trip and one implicit transaction; the caller acknowledges after it returned, i.e. after COMMIT.
Nothing on SQLite: the simple path (ingest/wsgi.py) uses the ORM there.
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION ingest_record_scans(
    p_k integer[], p_subject text[], p_venue bigint[], p_t timestamptz[]
) RETURNS TABLE (
    k integer, person_id bigint, colour text, name text, venue_ok boolean,
    checkin_id bigint, merged boolean, t_in timestamptz
) LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
    PERFORM 1 FROM people_person p JOIN healthcode_codestate s ON s.person_id = p.id
    WHERE s.subject = ANY(p_subject) ORDER BY p.id FOR NO KEY UPDATE OF p;

    RETURN QUERY
    WITH req AS (
        SELECT * FROM unnest(p_k, p_subject, p_venue, p_t) AS r(k, subject, venue_id, t_in)
    ), res AS (
        SELECT req.k, req.venue_id, req.t_in, s.person_id, s.colour, p.name,
               v.id IS NOT NULL AS venue_ok
        FROM req
        LEFT JOIN healthcode_codestate s ON s.subject = req.subject
        LEFT JOIN people_person p ON p.id = s.person_id
        LEFT JOIN venues_venue v ON v.id = req.venue_id
    ), ok AS (
        SELECT res.k, res.person_id, res.venue_id, res.t_in, prev.id AS prev_id,
               prev.t_in AS prev_t
        FROM res LEFT JOIN LATERAL (
            SELECT c.id, c.t_in FROM venues_checkin c
            WHERE c.person_id = res.person_id AND c.venue_id = res.venue_id
              AND c.t_in >= res.t_in - interval '10 minutes'
              AND c.t_in <= res.t_in + interval '10 seconds'
            ORDER BY c.t_in DESC LIMIT 1
        ) prev ON true
        WHERE res.person_id IS NOT NULL AND res.venue_ok
    ), ins AS (
        INSERT INTO venues_checkin (person_id, venue_id, t_in, source)
        SELECT ok.person_id, ok.venue_id, ok.t_in, 'health_code' FROM ok WHERE ok.prev_id IS NULL
        RETURNING venues_checkin.id, venues_checkin.person_id, venues_checkin.venue_id,
                  venues_checkin.t_in
    )
    SELECT res.k, res.person_id, res.colour::text, res.name::text, res.venue_ok,
           coalesce(ok.prev_id, ins.id), ok.prev_id IS NOT NULL, coalesce(ok.prev_t, ins.t_in)
    FROM res
    LEFT JOIN ok ON ok.k = res.k
    LEFT JOIN ins ON ins.person_id = ok.person_id AND ins.venue_id = ok.venue_id;
END
$$;
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "DROP FUNCTION IF EXISTS ingest_record_scans(integer[], text[], bigint[], timestamptz[])"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0001_initial"),
        ("venues", "0001_initial"),
        ("healthcode", "0001_initial"),
        ("people", "0001_initial"),
    ]

    operations = [migrations.RunPython(create, drop)]
