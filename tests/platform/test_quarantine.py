from __future__ import annotations

import pytest
from django.db import connection

from fangkong.cases.models import TracingRun
from fangkong.quarantine import actions, planning
from fangkong.quarantine.models import Room, Site, Stay


@pytest.fixture
def sites(world):
    near = Site.objects.create(
        name="湖里隔离酒店", jurisdiction_id=world.grid_b, lat=24.51, lon=118.14
    )
    far = Site.objects.create(
        name="思明隔离点", jurisdiction_id=world.grid_a, lat=24.45, lon=118.08
    )
    reserve = Site.objects.create(name="备用方舱", jurisdiction_id=world.grid_a, standby=True)
    for site in (near, far, reserve):
        for n in range(3):
            Room.objects.create(site=site, number=f"{n + 101}")
    return near, far, reserve


def test_a_run_is_placed_in_rooms_near_where_people_are(world, sites):
    near, far, _ = sites
    run = TracingRun.objects.filter(cases=world.case_a).first()
    result = actions.assign_run(world.users["tracer_a"], run)
    stay = Stay.objects.get(person=world.person_b)  # lives in county B: the county B site
    assert (result["placed"], result["unplaced"]) == (1, [])
    assert stay.room.site == near and stay.category == "close"
    assert actions.assign_run(world.users["tracer_a"], run)["placed"] == 0  # nobody left


def test_an_occupied_or_closed_room_and_a_second_stay_are_refused(world, sites):
    room, other = Room.objects.filter(site=sites[0])[:2]
    actions.assign(world.users["tracer_a"], world.person_a.pk, room.pk, "close")
    with pytest.raises(actions.Refused) as refused:
        actions.assign(world.users["tracer_a"], world.person_b.pk, room.pk, "close")
    assert refused.value.code == "room_not_free"
    with pytest.raises(actions.Refused) as refused:
        actions.assign(world.users["tracer_a"], world.person_a.pk, other.pk, "close")
    assert refused.value.code == "already_staying"
    assert Room.objects.get(pk=other.pk).state == "free"  # the refused assignment left no trace
    Room.objects.filter(pk=other.pk).update(state="out_of_service")
    with pytest.raises(actions.Refused):
        actions.assign(world.users["tracer_a"], world.person_b.pk, other.pk, "close")


def test_occupancy_counts_rooms_by_site(world, sites, login):
    room = Room.objects.filter(site=sites[1]).first()
    actions.assign(world.users["tracer_a"], world.person_a.pk, room.pk, "close")
    page = login("command").get("/quarantine/").content.decode()
    assert "已用 1 间" in page
    rows = {r["site__name"]: r for r in planning.occupancy("3502")}
    assert rows["思明隔离点"]["occupied"] == 1 and rows["思明隔离点"]["total"] == 3


@pytest.mark.skipif(
    not connection.features.has_select_for_update_skip_locked, reason="PostgreSQL only"
)
def test_two_staff_assigning_one_room_at_once_never_both_succeed(world, sites):
    from .test_jobs import _in_threads

    room_ids = []
    _in_threads(lambda: room_ids.append(_fresh_room()))
    outcomes: list[str] = []
    people = [world.person_a.pk, world.person_b.pk]

    def work():
        person = people.pop()
        try:
            actions.assign(None, person, room_ids[0], "close")
            outcomes.append("ok")
        except actions.Refused as refused:
            outcomes.append(refused.code)

    try:
        _in_threads(work, count=2)
        assert sorted(outcomes) == ["ok", "room_not_free"]
    finally:
        _in_threads(_cleanup)


def _fresh_room() -> int:
    from fangkong.geo.models import Jurisdiction

    code = Jurisdiction.objects.filter(level="grid").values_list("code", flat=True).first()
    site = Site.objects.create(name="并发测试", jurisdiction_id=code)
    return Room.objects.create(site=site, number="1").pk


def _cleanup() -> None:
    Stay.objects.filter(room__site__name="并发测试").delete()
    Room.objects.filter(site__name="并发测试").delete()
    Site.objects.filter(name="并发测试").delete()
