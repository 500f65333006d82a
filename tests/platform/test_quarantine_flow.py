"""A stay from room to release: regimen by rule set, transfer, check-in, readings and alerts,
release by the rules into home follow-up, hand-over to the case workflow; rooms and reserve."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fangkong.cases.models import Contact, TracingRun
from fangkong.errors import Refused
from fangkong.healthcode.models import CodeState
from fangkong.healthcode.recolour import recolour
from fangkong.jobs.models import Job
from fangkong.labs.models import PersonTest
from fangkong.quarantine import actions, monitoring, planning, stays
from fangkong.quarantine.models import (
    Alert,
    FollowUp,
    HomeMonitoring,
    Room,
    Site,
    SiteStaff,
    Stay,
    Transfer,
)

TZ = ZoneInfo("Asia/Shanghai")
EXPOSED = datetime(2026, 11, 1, 15, 0, tzinfo=TZ)


@pytest.fixture
def site(world, settings):
    settings.FANGKONG_QUARANTINE_RULES = "2022-06"  # "7+3", tests on days 1, 2, 3, 5, 7
    site = Site.objects.create(
        name="湖里隔离酒店", jurisdiction_id=world.grid_a, lat=24.5, lon=118.1
    )
    for n in range(3):
        Room.objects.create(site=site, number=f"{n + 101}")
    SiteStaff.objects.create(site=site, user=world.users["quarantine_a"], duty="doctor")
    return site


@pytest.fixture
def stay(world, site):
    room = site.rooms.order_by("number").first()
    return actions.assign(
        world.users["quarantine_a"], world.person_a.pk, room.pk, "close", last_exposure=EXPOSED
    )


def _negative(person, *days):
    for day in days:
        PersonTest.objects.create(
            person=person, sampled_at=datetime(2026, 11, day, 9, tzinfo=TZ), outcome="negative"
        )


def test_the_regimen_is_fixed_at_entry_from_the_rule_set_and_the_last_exposure(stay):
    assert (stay.rules, stay.planned_end_at) == ("2022-06", EXPOSED + timedelta(days=7))
    assert [t.due.day for t in stays.schedule_of(stay)] == [2, 3, 4, 6, 8]


def test_the_rules_decide_who_goes_to_a_site(world, site, settings):
    room = site.rooms.first()
    with pytest.raises(Refused) as refused:  # 第九版: 密接的密接 7天居家隔离
        actions.assign(None, world.person_b.pk, room.pk, "secondary")
    assert refused.value.code == "home_quarantine"
    settings.FANGKONG_QUARANTINE_RULES = "2022-11"
    with pytest.raises(Refused) as refused:  # 二十条: 不再判定密接的密接
        actions.assign(None, world.person_b.pk, room.pk, "secondary")
    assert refused.value.code == "not_quarantined"
    assert Room.objects.get(pk=room.pk).state == "free"


def test_a_transfer_needs_a_destination_and_arrival_checks_in_once(world, stay):
    staff = world.users["quarantine_a"]
    with pytest.raises(Refused) as refused:
        stays.order_transfer(staff, None, "闽D·12345", "王医生", "湖里区某小区", EXPOSED)
    assert refused.value.code == "no_destination"
    with pytest.raises(Refused) as refused:
        stays.order_transfer(staff, stay.pk, " ", "王医生", "湖里区某小区", EXPOSED)
    assert refused.value.code == "no_vehicle"
    transfer = stays.order_transfer(staff, stay.pk, "闽D·12345", "王医生", "湖里区某小区", EXPOSED)
    with pytest.raises(Refused) as refused:
        stays.order_transfer(staff, stay.pk, "闽D·99999", "李医生", "湖里区某小区", EXPOSED)
    assert refused.value.code == "transfer_exists"
    stays.move_transfer(staff, transfer.pk, "depart")
    stays.move_transfer(staff, transfer.pk, "arrive")
    stay.refresh_from_db()
    transfer.refresh_from_db()
    assert stay.checked_in_at is not None and transfer.state == "arrived"
    assert transfer.departed_at <= transfer.arrived_at
    with pytest.raises(Refused) as refused:
        stays.move_transfer(staff, transfer.pk, "arrive")
    assert refused.value.code == "bad_step"
    with pytest.raises(Refused) as refused:
        stays.check_in(staff, stay.pk)
    assert refused.value.code == "already_checked_in"
    assert Contact.objects.filter(person=world.person_a).count() == 0  # not a contact: no change


def test_readings_out_of_range_are_refused_and_abnormal_ones_alert_the_doctor(world, stay):
    staff = world.users["quarantine_a"]
    with pytest.raises(Refused) as refused:
        monitoring.record_reading(staff, stay, "am", "36.5")
    assert refused.value.code == "not_in_room"
    stays.check_in(staff, stay.pk)
    stay.refresh_from_db()
    for bad, code in (("365", "temperature_out_of_range"), ("abc", "bad_temperature"),
                      ("NaN", "temperature_out_of_range"), ("33.9", "temperature_out_of_range")):  # fmt: skip
        with pytest.raises(Refused) as refused:
            monitoring.record_reading(staff, stay, "am", bad)
        assert refused.value.code == code
    with pytest.raises(Refused) as refused:
        monitoring.record_reading(staff, stay, "noon", "36.5")
    assert refused.value.code == "bad_slot"
    with pytest.raises(Refused) as refused:
        monitoring.record_reading(staff, stay, "am", "36.5", ["headache!"])
    assert refused.value.code == "unknown_symptom"
    at = datetime(2026, 11, 3, 8, tzinfo=TZ)
    monitoring.record_reading(staff, stay, "am", "36.6 ℃", at=at)
    assert not Alert.objects.exists()
    with pytest.raises(Refused) as refused:
        monitoring.record_reading(staff, stay, "am", "36.8", at=at)
    assert refused.value.code == "reading_exists"
    evening = at.replace(hour=19)
    monitoring.record_reading(None, stay, "pm", "37.3", ["cough"], at=evening, by_resident=True)
    alert = Alert.objects.get()
    assert alert.reasons == ["fever", "cough"] and alert.reading.by_resident
    monitoring.acknowledge(staff, alert, "已复测，转发热门诊")
    with pytest.raises(Refused):
        monitoring.acknowledge(staff, alert)


def test_release_waits_for_the_period_and_every_scheduled_negative(world, stay):
    staff = world.users["quarantine_a"]
    stays.check_in(staff, stay.pk, at=datetime(2026, 11, 1, 22, tzinfo=TZ))
    _negative(world.person_a, 2, 3, 4, 6)
    early = datetime(2026, 11, 8, 10, tzinfo=TZ)
    with pytest.raises(Refused) as refused:
        stays.release(staff, stay.pk, at=early)
    assert "2026-11-08 15:00" in refused.value.message and "day-7" in refused.value.message
    _negative(world.person_a, 8)
    released_at = datetime(2026, 11, 8, 16, tzinfo=TZ)
    home = stays.release(staff, stay.pk, at=released_at)
    stay.refresh_from_db()
    assert (stay.outcome, stay.room.state) == ("released", "cleaning")
    assert (home.setting, home.ends_at) == ("health_monitoring", released_at + timedelta(days=3))
    tasks = FollowUp.objects.filter(monitoring=home)
    assert sorted((t.kind, t.due.day) for t in tasks) == [
        ("test", 11),
        ("visit", 9),
        ("visit", 10),
        ("visit", 11),
    ]
    assert home.jurisdiction_id == world.person_a.jurisdiction_id
    assert Job.objects.filter(kind="healthcode.recolour").exists()
    with pytest.raises(Refused) as refused:
        stays.release(staff, stay.pk, at=released_at)
    assert refused.value.code == "stay_ended"


def test_a_room_and_the_home_phase_colour_the_code(world, stay):
    from django.utils import timezone

    recolour([world.person_b.pk, world.person_a.pk], "test")
    assert CodeState.objects.get(person=world.person_a).colour == "red"  # must not go out
    staff = world.users["quarantine_a"]
    stays.check_in(staff, stay.pk, at=datetime(2026, 11, 1, 22, tzinfo=TZ))
    _negative(world.person_a, 2, 3, 4, 6, 8)
    stays.release(staff, stay.pk)
    recolour([world.person_a.pk], "test", at=timezone.now() + timedelta(minutes=1))
    state = CodeState.objects.get(person=world.person_a)
    assert state.colour == "yellow" and "health_monitoring" in str(state.reasons)


def test_a_positive_hands_the_person_over_to_the_case_workflow(world, stay):
    from fangkong.labs import actions as labs

    stays.check_in(world.users["quarantine_a"], stay.pk)
    labs.record_individual(None, world.person_a, datetime(2026, 11, 3, 9, tzinfo=TZ), "positive")
    stay.refresh_from_db()
    assert stay.outcome == "became_case" and stay.room.state == "cleaning"
    blockers = [b.code for b in stays.blockers(stay, datetime(2026, 12, 1, tzinfo=TZ))]
    assert "positive" in blockers


def test_rooms_move_between_states_by_hand_but_never_out_of_occupied(world, site, stay):
    staff = world.users["quarantine_a"]
    occupied, free = stay.room, site.rooms.exclude(pk=stay.room_id).first()
    with pytest.raises(Refused) as refused:
        actions.set_room_state(staff, occupied, "free")
    assert refused.value.code == "room_occupied"
    actions.set_room_state(staff, free, "out_of_service")
    with pytest.raises(Refused) as refused:
        actions.set_room_state(staff, Room.objects.get(pk=free.pk), "cleaning")
    assert refused.value.code == "bad_move"
    with pytest.raises(PermissionError):
        actions.set_room_state(world.users["tracer_a"], free, "free")


def test_reserve_sites_are_activated_and_stood_down(world, site, stay):
    reserve = Site.objects.create(name="备用方舱", jurisdiction_id=world.grid_a, standby=True)
    Room.objects.create(site=reserve, number="1")
    command = world.users["command"]
    assert planning.capacity("3502")["reserve_free"] == 1
    actions.activate_site(command, reserve)
    reserve.refresh_from_db()
    assert not reserve.standby and reserve.activated_at is not None
    with pytest.raises(Refused):
        actions.activate_site(command, reserve)
    with pytest.raises(Refused) as refused:
        actions.stand_down_site(command, site)
    assert refused.value.code == "site_in_use"
    actions.stand_down_site(command, reserve)
    with pytest.raises(PermissionError):
        actions.activate_site(world.users["quarantine_a"], reserve)


def test_capacity_counts_days_left_at_the_current_intake(world, site, stay):
    numbers = planning.capacity("3502")
    # One stay started in the last three days, none ended: 1/3 per day against 2 free rooms.
    assert (numbers["free"], numbers["intake_per_day"], numbers["days_left"]) == (2, 0.3, 6)
    counties = planning.by_county(planning.occupancy("3502"))
    assert counties == [
        {"code": world.grid_a[:6], "total": 3, "occupied": 1, "free": 2, "reserve_free": 0}
    ]


def test_a_run_tells_how_many_rooms_it_needs_and_who_stays_home(world, site, settings):
    run = TracingRun.objects.filter(cases=world.case_a).first()
    assert planning.rooms_needed(run) == {"total": 1, "by_category": {"close": 1}, "at_home": 0}
    settings.FANGKONG_QUARANTINE_RULES = "2022-12"  # close contacts may still choose a site
    assert planning.rooms_needed(run)["total"] == 1


def test_site_staff_work_the_site_page(world, site, stay, login):
    client = login("quarantine_a")
    page = client.get(f"/quarantine/sites/{site.pk}/").content.decode()
    assert "101" in page and "check-in-" in page
    client.post(f"/quarantine/stays/{stay.pk}/check-in/", {"back": "site"})
    response = client.post(
        f"/quarantine/stays/{stay.pk}/reading/", {"slot": "am", "temperature": "38.2"}
    )
    assert response.status_code == 302 and Alert.objects.filter(stay=stay).exists()
    page = client.get(f"/quarantine/stays/{stay.pk}/").content.decode()
    assert "38.2" in page and "7+3" in page
    response = client.post(f"/quarantine/stays/{stay.pk}/release/", follow=True)
    assert "day-7 test due" in response.content.decode()  # the refusal names what is missing
    assert Stay.objects.get(pk=stay.pk).ended_at is None


def test_grid_workers_see_and_close_their_follow_up_tasks(world, stay, login):
    stays.check_in(world.users["quarantine_a"], stay.pk, at=datetime(2026, 11, 1, 22, tzinfo=TZ))
    _negative(world.person_a, 2, 3, 4, 6, 8)
    stays.release(world.users["quarantine_a"], stay.pk, at=datetime(2026, 11, 8, 16, tzinfo=TZ))
    client = login("grid_a")
    page = client.get("/quarantine/follow-ups/").content.decode()
    task = FollowUp.objects.filter(kind="visit").order_by("due").first()
    assert f"done-{task.pk}" in page
    client.post(f"/quarantine/follow-ups/{task.pk}/done/", {"note": "体温正常"})
    task.refresh_from_db()
    assert task.done_at is not None and task.done_by == world.users["grid_a"]
    assert HomeMonitoring.objects.get().person_id == world.person_a.pk


def test_a_resident_enters_their_own_reading(world, stay, login):
    stays.check_in(world.users["quarantine_a"], stay.pk)
    client = login("resident_a")
    client.post("/me/quarantine/", {"slot": "pm", "temperature": "36.4"})
    page = client.get("/me/quarantine/").content.decode()
    assert "36.4" in page
    assert stay.readings.get().by_resident


def test_transfers_are_ordered_from_the_stay_page(world, stay, login):
    client = login("quarantine_a")
    client.post(
        f"/quarantine/stays/{stay.pk}/transfer/",
        {"vehicle": "闽D·12345", "escort": "王医生", "pickup_place": "某小区",
         "pickup_at": "2026-11-02T09:30"},
    )  # fmt: skip
    transfer = Transfer.objects.get()
    assert transfer.pickup_at.astimezone(TZ).hour == 9
    client.post(f"/quarantine/transfers/{transfer.pk}/arrive/")
    assert Stay.objects.get(pk=stay.pk).checked_in_at is not None
