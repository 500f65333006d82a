"""Testing campaigns: population, sampling into campaign tubes, completion by area, who is
missing, rosters, bulk member results with every bad row reported, pool-size advice."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from fangkong.errors import Refused
from fangkong.jobs.models import Job
from fangkong.labs import actions, bulk, campaigns
from fangkong.labs.models import CampaignSample, PersonTest, Tube
from fangkong.people.importing import read_table_file
from fangkong.testing import COUNTY_A

TZ = ZoneInfo("Asia/Shanghai")
FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


@pytest.fixture
def campaign(world):
    now = timezone.now()
    return campaigns.create(
        world.users["command"], "思明区第一轮全员核酸", "area", COUNTY_A,
        now - timedelta(hours=1), now + timedelta(hours=12),
    )  # fmt: skip


def _sample(world, campaign, barcode, *people):
    lab = world.users["lab_a"]
    actions.open_tube(lab, barcode, 10, "思明区采样点", COUNTY_A, campaign=campaign)
    for person in people:
        actions.scan_into(lab, barcode, person)
    actions.seal(lab, barcode)


def test_an_area_campaign_counts_everyone_registered_below_it(world, campaign):
    population = campaigns.population(campaign)
    assert campaign.expected == population.count() >= 2
    assert set(population.values_list("pk", flat=True)) >= {world.person_a.pk, world.person_a2.pk}
    assert world.person_b.pk not in set(population.values_list("pk", flat=True))


def test_sampling_into_a_campaign_tube_updates_completion_and_the_missing_list(world, campaign):
    _sample(world, campaign, "T-0001", world.person_a)
    totals = campaigns.totals(campaign)
    assert (totals["sampled"], totals["target"]) == (1, campaign.expected)
    grid_township = world.grid_a[:9]
    units = {u.code: u for u in campaigns.completion(campaign)}
    assert units[grid_township].sampled == 1
    missing = campaigns.missing_people(campaign, world.person_a2.jurisdiction_id[:9])
    assert world.person_a2.pk in [p.pk for p in missing]
    assert world.person_a.pk not in [
        p.pk for p in campaigns.missing_people(campaign, grid_township)
    ]
    # People from elsewhere sampled here count in the campaign, not in the area's completion.
    _sample(world, campaign, "T-0002", world.person_b)
    assert campaigns.totals(campaign)["sampled_all"] == 2
    assert campaigns.totals(campaign)["sampled"] == 1


def test_a_campaign_outside_its_period_takes_no_tubes(world):
    now = timezone.now()
    past = campaigns.create(world.users["command"], "上周", "area", COUNTY_A,
                            now - timedelta(days=8), now - timedelta(days=7))  # fmt: skip
    with pytest.raises(Refused) as refused:
        actions.open_tube(world.users["lab_a"], "T-9", 10, "x", COUNTY_A, campaign=past)
    assert refused.value.code == "campaign_closed"
    with pytest.raises(Refused) as refused:
        campaigns.create(world.users["command"], "x", "area", COUNTY_A, now, now)
    assert refused.value.code == "bad_period"
    with pytest.raises(PermissionError):
        campaigns.create(world.users["tracer_a"], "x", "area", COUNTY_A, now, now + timedelta(1))


def test_a_key_group_roster_reports_every_bad_line(world):
    now = timezone.now()
    cold_chain = campaigns.create(world.users["command"], "冷链从业人员", "key_group", COUNTY_A,
                                  now, now + timedelta(days=1))  # fmt: skip
    lines = [
        world.person_a.doc_number,
        world.person_a2.doc_number.translate(FULL_WIDTH),  # full-width digits: normalised
        "350203198504120000",  # wrong check character
        "",
        world.person_a.doc_number,  # twice: once on the roster
        "110105194912310029",  # valid, nobody registered
    ]
    report = campaigns.add_roster(world.users["command"], cold_chain, lines)
    assert (report.added, report.already) == (2, 0)
    assert [line for line, _m in report.problems] == [3, 6]
    cold_chain.refresh_from_db()
    assert cold_chain.expected == 2
    assert sum(u.target for u in campaigns.completion(cold_chain)) == 2


def _csv(*rows) -> list:
    header = "采样管条码,证件号码,采样时间,检测结果,Ct值,检测机构"
    text = "\n".join([header, *rows]) + "\n"
    return read_table_file("members.csv", text.encode("gbk"), bulk.MEMBER_RESULTS)


def test_bulk_member_results_keep_good_rows_and_report_each_bad_one(world, campaign):
    a, a2, b = world.person_a.doc_number, world.person_a2.doc_number, world.person_b.doc_number
    records = _csv(
        f"B-1,{a},2026-11-23 09:00,阴性,,厦门市第一医院",
        f"B-1,{a2},2026/11/23 9:05,阴性,,厦门市第一医院",
        f"B-2,{b},2026-11-23T09:10,阳性,28.5,厦门市第一医院",
        "B-3,350203198504120000,2026-11-23 09:00,阴性,,",  # bad check character
        "B-3,110105194912310029,2026-11-23 09:00,阴性,,",  # nobody registered
        f"B-4,{a},yesterday,阴性,,",  # bad time
        f"B-5,{a},2026-11-23 09:00,弱阳,,",  # unknown result
        f"B-6,{a},2026-11-23 09:00,阳性,99,",  # Ct out of range
        f"B-7,{a2},2026-11-23 09:00,阴性,,",  # a tube whose rows disagree
        f"B-7,{b},2026-11-23 09:00,阳性,,",
        f"B-8,{a}",  # truncated
    )
    report = bulk.import_member_results(world.users["lab_a"], records, "", COUNTY_A, campaign)
    assert (report.rows, report.tubes_new, report.members, report.positives) == (11, 2, 3, 1)
    assert sorted({row for row, _c, _m in report.problems}) == [5, 6, 7, 8, 9, 10, 11, 12]
    assert report.rejected_rows == 8
    assert Tube.objects.get(barcode="B-1").size == 5 and Tube.objects.get(barcode="B-2").lab
    assert PersonTest.objects.filter(person=world.person_a, outcome="negative").count() == 1
    assert PersonTest.objects.filter(
        person=world.person_b, outcome="", retest_of__isnull=False
    ).exists()
    assert CampaignSample.objects.filter(campaign=campaign).count() == 3
    assert campaigns.totals(campaign)["sampled"] == 2  # person_b lives in county B
    queued = Job.objects.filter(kind="healthcode.recolour", state="queued").order_by("id")
    assert [j.args["person_ids"] for j in queued] == [  # recalls first, then negatives
        [world.person_b.pk],
        sorted([world.person_a.pk, world.person_a2.pk]),
    ]
    again = bulk.import_member_results(world.users["lab_a"], records, "", COUNTY_A, campaign)
    assert (again.tubes_new, dict(again.tubes_existing)) == (0, {"duplicate": 2})
    assert PersonTest.objects.filter(person=world.person_a).count() == 1  # nothing doubled


def test_a_different_result_for_a_known_tube_is_held(world, campaign):
    _sample(world, campaign, "T-0003", world.person_a)
    actions.record_result(world.users["lab_a"], "T-0003", "negative", None, "一院")
    records = _csv(f"T-0003,{world.person_a.doc_number},2026-11-23 09:00,阳性,30,二院")
    report = bulk.import_member_results(world.users["lab_a"], records, "", COUNTY_A, campaign)
    assert dict(report.tubes_existing) == {"held": 1}
    assert Tube.objects.get(barcode="T-0003").state == "held"


def test_pool_advice_follows_the_positivity_seen(world, campaign):
    assert campaigns.pool_advice(campaign).advice is None
    a, b = world.person_a.doc_number, world.person_b.doc_number
    rows = [f"P-{n},{a if n % 2 else b},2026-11-23 09:00,阴性,," for n in range(40)]
    rows[0] = f"P-0,{b},2026-11-23 09:00,阳性,30,"
    bulk.import_member_results(world.users["lab_a"], _csv(*rows), "", COUNTY_A, campaign)
    advice = campaigns.pool_advice(campaign)
    assert (advice.tubes, advice.positive_tubes) == (40, 1)
    assert 0 < advice.prevalence < 0.01 and advice.advice.best.pool_size >= 5


def test_campaign_pages_for_headquarters_and_the_grid(world, campaign, login):
    page = login("command").get("/labs/campaigns/").content.decode()
    assert campaign.name in page
    page = login("grid_a").get(f"/labs/campaigns/{campaign.pk}/").content.decode()
    assert 'data-testid="missing"' in page  # a grid is deep enough to list names (masked)
    assert login("tracer_b").get(f"/labs/campaigns/{campaign.pk}/").status_code == 404
    client = login("lab_a")
    upload = SimpleUploadedFile(
        "m.csv",
        f"采样管条码,证件号码,采样时间,检测结果\nU-1,{world.person_a.doc_number},2026-11-23 09:00,阴性\n".encode(),
    )
    client.post(f"/labs/campaigns/{campaign.pk}/results/", {"file": upload})
    assert Tube.objects.filter(barcode="U-1", campaign=campaign).exists()
    response = login("command").post(
        "/labs/campaigns/",
        {"name": "湖里区", "kind": "area", "jurisdiction": "350206",
         "starts_at": "2026-11-24T08:00", "ends_at": "2026-11-24T20:00"},
    )  # fmt: skip
    assert response.status_code == 302


def test_bulk_times_are_local_when_no_zone_is_given(world, campaign):
    records = _csv(f"Z-1,{world.person_a.doc_number},2026-11-23 09:00,阴性,,")
    bulk.import_member_results(world.users["lab_a"], records, "", COUNTY_A, campaign)
    sampled = PersonTest.objects.get(tube__barcode="Z-1").sampled_at
    assert sampled == datetime(2026, 11, 23, 9, tzinfo=TZ)


def test_a_key_group_on_a_schedule_gets_its_next_round_a_day_ahead(world):
    from fangkong.labs import jobs
    from fangkong.labs.models import Campaign

    start = timezone.now() - timedelta(days=6, hours=1)
    weekly = campaigns.create(world.users["command"], "冷链每周", "key_group", COUNTY_A, start,
                              start + timedelta(hours=10), repeat_days=7)  # fmt: skip
    campaigns.add_roster(world.users["command"], weekly, [world.person_a.doc_number])
    site = campaigns.add_site(world.users["command"], weekly, "冷库采样点", COUNTY_A)
    campaigns.add_slot(world.users["command"], site, start, start + timedelta(hours=2), 30)
    jobs.create_due_rounds(timezone.now())
    jobs.create_due_rounds(timezone.now())  # once only
    successor = Campaign.objects.get(previous=weekly)
    assert successor.starts_at == weekly.starts_at + timedelta(days=7)
    assert list(successor.targets.values_list("person_id", flat=True)) == [world.person_a.pk]
    slot = successor.sites.get().slots.get()
    assert (slot.starts_at, slot.expected) == (start + timedelta(days=7), 30)
    assert campaigns.due_rounds(timezone.now()) == []
