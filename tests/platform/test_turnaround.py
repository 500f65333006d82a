from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from fangkong.labs import boxes, turnaround
from fangkong.labs.models import Box, Tube, TubeMember, TubeState

HOUR = timedelta(hours=1)


def _tube(world, n, site, sampled, resulted=None, lab="", box=None, sealed=None):
    """A tube made directly: turnaround reads times the actions stamp with now()."""
    tube = Tube.objects.create(
        barcode=f"TA{n}",
        size=1,
        site=site,
        lab=lab,
        box=box,
        jurisdiction_id=world.grid_a,
        state=TubeState.RESULTED if resulted else TubeState.SEALED,
        opened_at=sampled,
        sealed_at=sealed or sampled,
        resulted_at=resulted,
        outcome="negative" if resulted else "",
    )
    people = (world.person_a, world.person_b)
    for offset, person in enumerate(people):  # the first swab starts the clock
        TubeMember.objects.create(tube=tube, person=person, sampled_at=sampled + offset * HOUR)
    return tube


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=0)


def test_median_and_p90_per_site_and_lab_are_nearest_rank(world, now):
    start = now - timedelta(days=2)
    for n in range(10):  # site A: 1..10 hours, lab X
        _tube(world, n, "A", start, start + (n + 1) * HOUR, lab="X")
    for n in range(10, 13):  # site B: 2, 4, 30 hours, lab Y
        _tube(world, n, "B", start, start + [2, 4, 30][n - 10] * HOUR, lab="Y")
    _tube(world, 99, "B", start)  # not resulted: no turnaround, but late
    tubes = Tube.objects.all()
    sites = {g.name: g for g in turnaround.by_site(tubes, now)}
    assert (sites["A"].resulted, sites["A"].median, sites["A"].p90) == (10, 5 * HOUR, 9 * HOUR)
    assert (sites["B"].resulted, sites["B"].median, sites["B"].p90) == (3, 4 * HOUR, 30 * HOUR)
    assert (sites["A"].late, sites["B"].late) == (0, 2)  # 30 h resulted late, one overdue
    labs = {g.name: g for g in turnaround.by_lab(tubes, now)}
    assert set(labs) == {"X", "Y"} and labs["Y"].median == 4 * HOUR


def test_late_tubes_are_overdue_or_resulted_after_the_target(world, now, settings):
    settings.FANGKONG_RESULT_TARGET_HOURS = "6"
    _tube(world, 1, "A", now - 10 * HOUR, now - 5 * HOUR)  # 5 h: on time
    _tube(world, 2, "A", now - 10 * HOUR, now - 2 * HOUR)  # 8 h: resulted late
    _tube(world, 3, "A", now - 7 * HOUR)  # waiting 7 h: overdue
    _tube(world, 4, "A", now - 3 * HOUR)  # waiting 3 h: not yet late
    late = turnaround.late_stages(Tube.objects.all(), now)
    assert [t.barcode for t in late] == ["TA2", "TA3"]
    assert late[1].taken(now) == 7 * HOUR and late[1].resulted is None


def test_stages_come_from_the_box_when_the_tube_travelled_in_one(world, now):
    box = Box.objects.create(
        code="BX", jurisdiction_id=world.grid_a, site="A", lab="X", opened_at=now - 30 * HOUR,
        state="received", handed_over_at=now - 26 * HOUR, received_at=now - 25 * HOUR,
    )  # fmt: skip
    _tube(world, 1, "A", now - 30 * HOUR, sealed=now - 29 * HOUR, box=box)
    (stages,) = turnaround.late_stages(Tube.objects.all(), now)
    assert (stages.sampled, stages.sealed) == (now - 30 * HOUR, now - 29 * HOUR)
    assert (stages.handed_over, stages.received, stages.lab) == (
        now - 26 * HOUR,
        now - 25 * HOUR,
        "X",
    )


def test_the_period_is_by_the_tubes_opening(world, now):
    _tube(world, 1, "A", now - timedelta(days=10), now - timedelta(days=9))
    _tube(world, 2, "A", now - timedelta(days=1), now - timedelta(hours=20))
    recent = turnaround.in_period(Tube.objects.all(), now - timedelta(days=7), now)
    (group,) = turnaround.by_site(recent, now)
    assert group.resulted == 1 and group.median == 4 * HOUR


def test_a_target_that_is_not_hours_is_a_configuration_error(settings):
    settings.FANGKONG_RESULT_TARGET_HOURS = "twelve"
    with pytest.raises(ImproperlyConfigured):
        turnaround.target()
    settings.FANGKONG_RESULT_TARGET_HOURS = ""
    assert turnaround.target() == 12 * HOUR


def test_the_lab_page_shows_turnaround_and_late_tubes(world, login, now):
    _tube(world, 1, "中山公园采样点", now - 20 * HOUR, now - 1 * HOUR, lab="一院")
    _tube(world, 2, "中山公园采样点", now - 3 * HOUR, now - 1 * HOUR, lab="一院")
    boxes.open_box(None, "BOXT", "中山公园采样点", "一院", world.grid_a)
    page = login("lab_a").get("/labs/")
    html = page.content.decode()
    assert 'data-testid="turnaround"' in html and "TA1" in html
    late = page.context["turnaround"]["late"]
    assert [row["tube"].barcode for row in late] == ["TA1"] and late[0]["hours"] == 19.0
    (site,) = page.context["turnaround"]["by_site"]
    assert (site["resulted"], site["median"], site["p90"], site["late"]) == (2, 2.0, 19.0, 1)


def test_the_lab_page_of_another_county_does_not_see_these_tubes(world, now):
    from fangkong.labs.box_views import lab_page_context

    _tube(world, 1, "A", now - 20 * HOUR, now - 1 * HOUR, lab="一院")
    other = world.users["lab_a"]
    other.jurisdiction_id = world.grid_b
    assert lab_page_context(other, now)["turnaround"]["late"] == []


@pytest.mark.slow
def test_turnaround_of_100000_tubes_stays_fast(world, now, request):
    """Scale check (run with -m slow): 100,000 tubes of one member, grouped by the database."""
    import time

    if "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("scale test: run with -m slow")

    start = now - timedelta(days=1)
    tubes = [
        Tube(barcode=f"S{n}", size=1, site=f"site{n % 50}", lab=f"lab{n % 7}",
             jurisdiction_id=world.grid_a, state=TubeState.RESULTED, opened_at=start,
             sealed_at=start, resulted_at=start + timedelta(minutes=60 + n % 900))
        for n in range(100_000)
    ]  # fmt: skip
    Tube.objects.bulk_create(tubes, batch_size=5000)
    members = [
        TubeMember(tube_id=t.pk, person=world.person_a, sampled_at=start)
        for t in Tube.objects.filter(barcode__startswith="S").only("pk")
    ]
    TubeMember.objects.bulk_create(members, batch_size=5000)
    began = time.perf_counter()
    sites = turnaround.by_site(Tube.objects.all(), now)
    labs = turnaround.by_lab(Tube.objects.all(), now)
    late = turnaround.late_stages(Tube.objects.all(), now)
    elapsed = time.perf_counter() - began
    assert len(sites) == 50 and len(labs) == 7 and late
    assert elapsed < 10, elapsed
