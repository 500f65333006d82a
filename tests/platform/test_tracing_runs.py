"""A confirmed case in the platform is traced over its window; the staged pull finds exactly
what the engine finds over every check-in in the database."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from django.db import connection
from django.utils import timezone

from epicore import tracing as engine
from fangkong.cases import actions, tracing
from fangkong.cases.models import Contact, Exposure, TracingRun
from fangkong.cases.tracing import _cases_table, _venues_table, pull
from fangkong.jobs import queue
from fangkong.people.management.commands.synth import populate
from fangkong.venues.bulk import read_int64_columns
from fangkong.venues.models import CheckIn

from .test_synth_db import empty_register  # noqa: F401  (fixture)

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def city(empty_register):  # noqa: F811
    populate(1000, seed=5, roots=("3502",), days=2)
    return empty_register


def _all_checkins() -> tuple[pa.Table, dict]:
    rows = {
        r[0]: r for r in CheckIn.objects.values_list("id", "person_id", "venue_id", "t_in", "t_out")
    }
    seconds = lambda t: int(t.timestamp()) if t else None  # noqa: E731
    table = pa.table(
        {
            "person_id": pa.array([r[1] for r in rows.values()], pa.int64()),
            "venue_id": pa.array([r[2] for r in rows.values()], pa.int64()),
            "t_in": pa.array([seconds(r[3]) for r in rows.values()], pa.int64()),
            "t_out": pa.array([seconds(r[4]) for r in rows.values()], pa.int64()),
        }
    )
    return table, rows


def _busiest_person() -> int:
    from django.db.models import Count

    return (
        CheckIn.objects.values("person_id")
        .annotate(n=Count("id"))
        .order_by("-n", "person_id")
        .first()["person_id"]
    )


@pytest.mark.parametrize("piece", [100_000, 7], ids=["one piece", "pieces of 7"])
def test_a_confirmed_case_is_traced_and_its_contacts_recorded(city, piece, monkeypatch):
    """Recorded in one piece or in many committed ones, the contacts are the same."""
    monkeypatch.setattr(tracing, "RECORD_PIECE", piece)
    tracer = city.users["tracer_a"]
    person_id = _busiest_person()
    tracer.jurisdiction_id = "3502"  # a city-level tracer, so any resident can be opened
    tracer.save()
    clean = actions.check_case(
        tracer,
        person_id,
        {
            "classification": "confirmed",
            "onset_date": "2022-03-03",
            "reported_at": "2022-03-04 09:00",
        },
    )
    case = actions.do_open_case(tracer, clean)
    actions.do_isolate(tracer, case, datetime(2022, 3, 1, 21, tzinfo=SHANGHAI))
    queue.run_pending()

    run = TracingRun.objects.get(cases=case)
    assert run.state == "done", run.error
    found = {(c.person_id, c.degree) for c in Contact.objects.all()}
    assert found, "the busiest resident of a synthetic city has contacts"

    table, rows = _all_checkins()
    windows = [(person_id, case.window_start, case.isolated_at)]
    expected = engine.trace(
        table,
        _cases_table(windows),
        venues=_venues_table(r[2] for r in rows.values()),
        params=engine.TraceParams(min_overlap_s=run.min_overlap_s, hops=run.hops),
    ).contacts.to_pylist()
    assert found == {(r["person_id"], int(r["degree"])) for r in expected}
    assert run.counts["rows_pulled"] < len(rows)  # it did not read the whole table
    assert run.counts["1"] == sum(1 for r in expected if r["degree"] == "1")
    # Close contacts were recorded as soon as hop 1 found them, and not again with the rest.
    early = run.report["pull"]["close contacts recorded (during the pull)"]
    assert early["rows"] == run.counts["1"]
    assert run.counts["created"] == len(found) == Exposure.objects.count()
    # The stages overlap; each check-in is pulled once all the same, as it is in the table.
    params = engine.TraceParams(min_overlap_s=run.min_overlap_s, hops=run.hops)
    pulled = pull(windows, params, timezone.now())  # as the run did: contacts' windows run on
    ids = pulled["id"].to_pylist()
    assert len(ids) == len(set(ids)) == run.counts["rows_pulled"]
    people, venues = pulled["person_id"].to_pylist(), pulled["venue_id"].to_pylist()
    assert all(rows[i][1:3] == (p, v) for i, p, v in zip(ids, people, venues, strict=True))


def test_tracers_rerun_with_other_parameters_and_watch_the_run(world, login):
    client = login("tracer_a")
    response = client.post(
        f"/cases/{world.case_a.pk}/trace/", {"min_overlap_minutes": "5", "hops": "1"}
    )
    run = TracingRun.objects.latest("id")
    assert response.url == f"/tracing/{run.pk}/"
    assert (run.min_overlap_s, run.hops, run.state) == (300, 1, "queued")
    queue.run_pending()
    page = client.get(f"/tracing/{run.pk}/").content.decode()
    assert 'data-testid="close"' in page
    # where the time went: one row per timed stage, in the interface language
    stages = page.split('data-testid="stages"')[1].split("</table>")[0]
    assert stages.count("<tr>") == 1 + len(TracingRun.objects.get(pk=run.pk).report["pull"])
    assert "追踪引擎" in stages and "记录接触者" in stages
    refused = client.post(f"/cases/{world.case_a.pk}/trace/", {"hops": "3"}, follow=True)
    assert TracingRun.objects.latest("id").pk == run.pk
    assert refused.status_code == 200


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's binary COPY")
def test_pulled_times_arrive_as_floored_seconds_and_missing_ones_as_null(db):
    """The pull reads PostgreSQL's binary COPY with numpy (venues.bulk.read_int64_columns):
    sub-second parts dropped the way the engine's loader drops them, before 2000 and 1970 too,
    '-infinity' for a missing time; anything but 8-byte fields is refused, not misread."""
    query = (
        "SELECT v.id, v.t_in, coalesce(v.t_out, '-infinity') FROM (VALUES "
        "(1::bigint, timestamptz '2022-03-01 08:00:00.9995+00', NULL::timestamptz), "
        "(2, timestamptz '1999-12-31 23:59:59.5+00', timestamptz '1969-12-31 23:59:59.25+00')"
        ") v(id, t_in, t_out) ORDER BY v.id"
    )
    table = read_int64_columns(query, ("id", "t_in", "t_out"), times=("t_in", "t_out"))
    first = int(datetime(2022, 3, 1, 8, tzinfo=ZoneInfo("UTC")).timestamp())
    assert table.to_pylist() == [
        {"id": 1, "t_in": first, "t_out": None},
        {"id": 2, "t_in": 946684799, "t_out": -1},
    ]
    empty = read_int64_columns(f"{query} LIMIT 0", ("id", "t_in", "t_out"))
    assert empty.num_rows == 0 and empty.column_names == ["id", "t_in", "t_out"]
    with pytest.raises(ValueError, match="8-byte fields"):
        read_int64_columns("SELECT 1::int", ("n",))
    with pytest.raises(ValueError, match="8-byte fields"):
        read_int64_columns("SELECT NULL::bigint", ("n",))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's snapshots")
def test_readers_beside_see_the_exported_snapshot_and_nothing_later(db):
    """venues.bulk.read_beside: other connections, in C++, read exactly what the exporting
    transaction sees; a row committed after the export is not there, errors come back."""
    import psycopg

    from fangkong.venues import bulk

    info = bulk._conninfo()
    with psycopg.connect(info, autocommit=True) as other, psycopg.connect(info) as exporter:
        other.execute("DROP TABLE IF EXISTS beside_probe")
        other.execute("CREATE TABLE beside_probe (n bigint, t timestamptz)")
        try:
            other.execute("INSERT INTO beside_probe VALUES (1, '2022-03-01 08:00+00'), (2, NULL)")
            exporter.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            snapshot = exporter.execute("SELECT pg_export_snapshot()").fetchone()[0]
            other.execute("INSERT INTO beside_probe VALUES (3, now())")  # after the export
            queries = [
                "SELECT n, t FROM beside_probe ORDER BY n",
                "SELECT count(*) AS c FROM beside_probe",
            ]
            rows, count = bulk.read_beside(queries, snapshot, {"enable_nestloop": "off"})
            assert rows["n"].to_pylist() == [1, 2] and rows["t"].null_count == 1
            assert count["c"].to_pylist() == [2]
            with pytest.raises(Exception, match="no_such_table"):
                bulk.read_beside(queries + ["SELECT * FROM no_such_table"], snapshot)
            with pytest.raises(ValueError, match="not a snapshot"):
                bulk.read_beside(queries, "1'; DROP TABLE beside_probe; --")
        finally:
            exporter.rollback()
            other.execute("DROP TABLE beside_probe")


def test_rows_read_beside_get_the_pulled_schema_with_floored_seconds():
    """The readers' timestamps become what read_int64_columns gives: whole seconds floored
    (before 1970 too), a missing t_out null."""
    utc = ZoneInfo("UTC")
    given = pa.table(
        {
            "id": pa.array([1, 2], pa.int64()),
            "person_id": pa.array([10, 20], pa.int64()),
            "venue_id": pa.array([5, 6], pa.int64()),
            "t_in": pa.array(
                [
                    datetime(2022, 3, 1, 8, 0, 0, 999500, utc),
                    datetime(1969, 12, 31, 23, 59, 59, 250000, utc),
                ],
                pa.timestamp("us", tz="UTC"),
            ),
            "t_out": pa.array(
                [None, datetime(1999, 12, 31, 23, 59, 59, 500000, utc)],
                pa.timestamp("us", tz="UTC"),
            ),
        }
    )
    table = tracing._pulled_from_timestamps(given)
    assert table.schema == tracing.PULLED_SCHEMA
    first = int(datetime(2022, 3, 1, 8, tzinfo=utc).timestamp())
    assert table.to_pylist() == [
        {"id": 1, "person_id": 10, "venue_id": 5, "t_in": first, "t_out": None},
        {"id": 2, "person_id": 20, "venue_id": 6, "t_in": -1, "t_out": 946684799},
    ]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the readers' query")
def test_the_readers_spans_and_page_ranges_find_what_the_spans_table_finds(city):
    """Stage D read beside: the spans as array literals, the table split into page ranges,
    give exactly the rows the query over the trace_spans table gives; stays too short to
    hold an exposure are left out by both."""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS trace_spans")
        cursor.execute(
            "CREATE TEMPORARY TABLE trace_spans AS SELECT venue_id, min(t_in) + interval '2 hours' "
            "AS lo, min(t_in) + interval '30 hours' AS hi FROM venues_checkin "
            "WHERE venue_id % 3 <> 0 GROUP BY venue_id"
        )
        cursor.execute(f"SELECT id FROM ({tracing._at_spans(900)}) s ORDER BY id")
        expected = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT count(*) FILTER (WHERE t_out > '-infinity' AND t_out < t_in + interval "
            f"'15 minutes'), count(*) FROM ({tracing._at_spans(1)}) s(id, p, v, t_in, t_out)"
        )
        short, any_length = cursor.fetchone()
        cursor.execute("SELECT venue_id, lo::text, hi::text FROM trace_spans ORDER BY venue_id")
        spans = cursor.fetchall()
        cursor.execute(
            "SELECT pg_relation_size('venues_checkin') / current_setting('block_size')::int"
        )
        pages = cursor.fetchone()[0]
        found = []
        for first, end in [(0, pages // 3), (pages // 3, None)]:
            cursor.execute(f"SELECT id FROM ({tracing._at_spans_of(spans, first, end, 900)}) s")
            found += [row[0] for row in cursor.fetchall()]
        share = tracing._share_at_spans(cursor)
    assert len(expected) > 1000 and sorted(found) == expected
    assert short > 0 and any_length == len(expected) + short
    assert 0.0 <= share <= 1.0


def test_pieces_keep_close_contacts_apart_and_each_person_whole_in_id_ranges(monkeypatch):
    monkeypatch.setattr(tracing, "RECORD_PIECE", 2)
    people = [5, 1, 2, 3, 2, 4, 6, 3]
    degrees = [1, 2, 2, 2, 2, 2, 1, 2]
    table = pa.table({"person_id": pa.array(people, pa.int64()), "degree": degrees})
    close, secondary = tracing._pieces(table)
    assert close.to_pydict() == {"person_id": [5, 6], "degree": [1, 1]}
    seen = [set(p["person_id"].to_pylist()) for p in secondary]
    assert seen == [{1, 2}, {3, 4}]  # ranges of person ids, each person in one
    assert close.num_rows + sum(p.num_rows for p in secondary) == len(people)


def _hop_one(people: list[int]) -> pa.Table:
    """Hop 1's contacts of the stand-in case, as the engine reports them."""
    n = len(people)
    return pa.table(
        {
            "person_id": pa.array(people, pa.int64()),
            "degree": ["1"] * n,
            "via_person_id": pa.array([100] * n, pa.int64()),
            "venue_id": pa.array([1] * n, pa.int64()),
            "exposure_start": pa.array([1_646_000_000] * n, pa.timestamp("s", tz="UTC")),
            "exposure_end": pa.array([1_646_001_000] * n, pa.timestamp("s", tz="UTC")),
        }
    )


def test_close_contacts_recorded_in_a_thread_hand_back_their_people_or_error(monkeypatch):
    """The PostgreSQL path's thread, without a database: what it wrote comes back to the run,
    and so does its failure (the run fails and is retried) instead of being lost."""
    from types import SimpleNamespace

    case = SimpleNamespace(pk=1, person_id=100)
    written = []
    monkeypatch.setattr(
        tracing, "_write", lambda actor, pieces: written.append(1) or {"created": 2}
    )
    early = tracing._CloseContactsFirst(SimpleNamespace(created_by=None), [case])
    early.threaded = True
    early.start(_hop_one([7, 8]))
    clock = tracing._Clock()
    assert early.finish(clock).to_pylist() == [7, 8]
    assert written == [1] and early.counts == {"created": 2}
    assert clock.stages["close contacts recorded (during the pull)"]["rows"] == 2

    def fail(actor, pieces):
        raise RuntimeError("database went away")

    monkeypatch.setattr(tracing, "_write", fail)
    early = tracing._CloseContactsFirst(SimpleNamespace(created_by=None), [case])
    early.threaded = True
    early.start(_hop_one([7]))
    with pytest.raises(RuntimeError, match="database went away"):
        early.finish(tracing._Clock())


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_secondary_pieces_written_by_two_connections_sum_up_or_fail_whole(monkeypatch):
    """The PostgreSQL path's threads, without a database: every piece is written once, by one
    of them, the counts add up, and one thread's failure fails the recording."""
    import threading

    shares = []

    def write(actor, pieces):
        shares.append((threading.current_thread().name, [n for _case, n in pieces]))
        return {"created": len(pieces)}

    monkeypatch.setattr(tracing, "_write", write)
    pieces = [(None, n) for n in range(5)]
    assert tracing._write_beside(None, pieces, threaded=True) == {"created": 5}
    assert sorted(n for _name, share in shares for n in share) == [0, 1, 2, 3, 4]
    assert len({name for name, _share in shares}) == 2
    assert threading.current_thread().name not in {name for name, _share in shares}

    def fail_one(actor, pieces):
        if pieces[0][1] == 1:
            raise RuntimeError("piece 1 failed")
        return {"created": len(pieces)}

    monkeypatch.setattr(tracing, "_write", fail_one)
    with pytest.raises(RuntimeError, match="piece 1 failed"):
        tracing._write_beside(None, pieces, threaded=True)


def test_the_run_page_lists_stages_in_the_order_they_run():
    """PostgreSQL's jsonb gives the report's keys back sorted by length, not as written."""
    from types import SimpleNamespace

    from fangkong.cases.views import STAGE_LABELS, run_stages

    written = list(STAGE_LABELS)
    stored = sorted(written, key=lambda name: (len(name), name)) + ["a stage not known yet"]
    run = SimpleNamespace(report={"pull": {name: {"seconds": 1.0, "rows": 1} for name in stored}})
    labels = [stage["label"] for stage in run_stages(run)]
    assert labels == [STAGE_LABELS[name] for name in written] + ["a stage not known yet"]
    assert run_stages(SimpleNamespace(report=None)) == []
