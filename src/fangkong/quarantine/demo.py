"""Quarantine sites for `fangkong demo`: two hotels in service, a reserve site, and two people
on their way through (one arriving, one in a room), so every page has something to show."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from fangkong.geo.models import Jurisdiction, in_subtree
from fangkong.people.models import Person
from fangkong.quarantine import actions, stays
from fangkong.quarantine.models import Room, Site, SiteStaff

# (name, county, kind, rooms, family rooms, in reserve, lat, lon)
SITES = (
    ("思明区集中隔离酒店", "350203", "hotel", 24, 2, False, 24.455, 118.085),
    ("湖里区集中隔离酒店", "350206", "hotel", 24, 2, False, 24.512, 118.146),
    ("思明区备用方舱隔离点", "350203", "purpose_built", 40, 0, True, 24.472, 118.120),
)


def seed_sites(doctor, county_a: str) -> None:
    """Create the demo sites once; the site staff persona is the first site's doctor."""
    if Site.objects.exists():
        return
    for name, county, kind, rooms, family, reserve, lat, lon in SITES:
        site = Site.objects.create(
            name=name,
            kind=kind,
            jurisdiction_id=_first_grid(county),
            lat=lat,
            lon=lon,
            standby=reserve,
        )
        Room.objects.bulk_create(
            Room(
                site=site,
                number=f"{100 * (1 + n // 12) + 1 + n % 12}",
                kind="family" if n < family else "single",
                beds=2 if n < family else 1,
            )
            for n in range(rooms)
        )
        if county == county_a and not reserve:
            SiteStaff.objects.create(site=site, user=doctor, duty="doctor")
            _two_stays(site, county_a)


def _first_grid(county: str) -> str:
    grid = Jurisdiction.objects.filter(in_subtree("code", county), level="grid").order_by("code")
    return grid.values_list("code", flat=True).first()


def _two_stays(site: Site, county: str) -> None:
    """Two residents of the county (not the resident persona): one in a room since yesterday,
    one assigned and waiting for the transfer."""
    people = Person.objects.filter(in_subtree("jurisdiction_id", county)).order_by("-id")[:2]
    rooms = site.rooms.filter(kind="single").order_by("number")[:2]
    now = timezone.now()
    for n, (person, room) in enumerate(zip(people, rooms, strict=True)):
        stay = actions.assign(
            None, person.pk, room.pk, "close", last_exposure=now - timedelta(days=2)
        )
        if n == 0:
            stays.check_in(None, stay.pk, at=now - timedelta(days=1))
