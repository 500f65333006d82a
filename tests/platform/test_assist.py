from __future__ import annotations

from datetime import timedelta

import pytest
from django.http import Http404
from django.utils import timezone

from fangkong.cases import actions, assist
from fangkong.cases.models import AssistanceRequest, ItemState


def _request(world):
    return AssistanceRequest.objects.get(pk=world.assist_id)


def test_contacts_living_in_another_county_are_pushed_there(world):
    request = _request(world)
    assert (request.from_jurisdiction_id, request.to_jurisdiction_id) == (
        world.grid_a[:6],
        world.grid_b[:6],
    )
    assert [i.person_id for i in request.items.all()] == [world.person_b.pk]
    assert request.number.startswith(f"XC{world.grid_a[:6]}-")
    assert request.complete_by - request.sent_at == timedelta(hours=assist.DONE_HOURS)


def test_an_item_says_how_and_when_the_person_was_exposed(world):
    """The receiver reads the degree and the last exposure in local time (the PostgreSQL path
    writes this text in SQL: it must read as the ORM path's)."""
    item = _request(world).items.get()
    assert item.exposure == assist._exposure_text(item.contact)
    assert " · " in item.exposure and item.exposure.split(" · ")[0]


def test_pushing_again_sends_nothing_new(world):
    assert assist.push_contacts(world.users["tracer_a"], world.case_a) == []


def test_receiver_acknowledges_locates_and_reports_back(world):
    tracer_b = world.users["tracer_b"]
    item = _request(world).items.get()
    with pytest.raises(actions.CaseInvalid):
        assist.complete(tracer_b, world.assist_id)  # nobody has an outcome yet
    assist.acknowledge(tracer_b, world.assist_id)
    assist.set_item_state(tracer_b, world.assist_id, item.pk, ItemState.CONTROLLED, "已集中隔离")
    done = assist.complete(tracer_b, world.assist_id)
    assert done.state == "completed" and done.acknowledged_at <= done.completed_at
    kinds = list(done.events.values_list("kind", flat=True))
    assert kinds == ["sent", "acknowledged", "controlled", "completed"]


def test_the_sender_sees_but_cannot_act(world):
    with pytest.raises(Http404):
        assist.acknowledge(world.users["tracer_a"], world.assist_id)
    assert assist.access_requests(world.users["tracer_a"]).filter(pk=world.assist_id).exists()
    assert not assist.access_requests(world.users["lab_a"]).exists()


def test_overdue_requests_are_flagged_on_both_sides_and_rolled_up(world, login):
    AssistanceRequest.objects.filter(pk=world.assist_id).update(
        acknowledge_by=timezone.now() - timedelta(minutes=5)
    )
    assert AssistanceRequest.objects.filter(assist.overdue()).count() == 1
    for persona in ("tracer_a", "tracer_b", "command"):
        page = login(persona).get("/assist/").content.decode()
        assert 'data-overdue="1"' in page
    assert 'data-testid="rollup"' in login("command").get("/assist/").content.decode()


def test_receiver_pages_walk_the_request(world, login):
    client = login("tracer_b")
    item = _request(world).items.get()
    assert client.post(f"/assist/{world.assist_id}/ack/").status_code == 302
    client.post(f"/assist/{world.assist_id}/items/{item.pk}/", {"state": "located"})
    page = client.get(f"/assist/{world.assist_id}/").content.decode()
    assert "已落位" in page or "located" in page
    assert _request(world).state == "acknowledged"


def test_receiver_downloads_the_list_with_full_identifiers_and_the_sender_masked(world, login):
    import csv
    import io

    from openpyxl import load_workbook

    from fangkong.accounts.models import AuditEntry

    receiver = login("tracer_b").get(f"/assist/{world.assist_id}/list.xlsx")
    sheet = load_workbook(io.BytesIO(receiver.content)).active
    header, row = [c.value for c in sheet[1]], [c.value for c in sheet[2]]
    assert header[:5] == ["协查编号", "序号", "姓名", "证件类型", "证件号码"]
    assert (row[2], row[4]) == (world.person_b.name, world.person_b.doc_number)
    sender = login("tracer_a").get(f"/assist/{world.assist_id}/list.csv")
    rows = list(csv.reader(io.StringIO(sender.content.decode("utf-8-sig"))))
    assert rows[1][4] != world.person_b.doc_number and "*" in rows[1][4]
    assert AuditEntry.objects.filter(action="assist.export").count() == 2


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_big_pushes_are_sent_by_two_connections_in_the_counties_order_or_fail_whole():
    """The PostgreSQL path's threads, without a database: every county is sent once, by one of
    two threads whose shares of people are even, the requests come back in the counties' order,
    and one thread's failure fails the push."""
    import threading

    sent_by: dict[str, str] = {}

    def send(county, people):
        sent_by[county] = threading.current_thread().name
        return f"request for {county}"

    counties = [("350203", 207), ("350205", 113), ("350211", 200), ("350212", 163), ("350213", 110)]
    assert assist._send_beside(send, counties, threaded=True) == [
        f"request for {county}" for county, _ in counties
    ]
    assert sorted(sent_by) == [county for county, _ in counties]
    threads = set(sent_by.values())
    assert len(threads) == 2 and threading.current_thread().name not in threads
    people = {name: sum(n for c, n in counties if sent_by[c] == name) for name in threads}
    assert max(people.values()) - min(people.values()) <= 110  # no share holds two big ones

    def fail_one(county, people):
        if county == "350211":
            raise RuntimeError("county 350211 failed")
        return county

    with pytest.raises(RuntimeError, match="350211 failed"):
        assist._send_beside(fail_one, counties, threaded=True)
