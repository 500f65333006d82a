"""Occupancy and planning for headquarters: rooms by site and jurisdiction, days of capacity
left at the current intake, the reserve, and the rooms a tracing run will need."""

from __future__ import annotations

import math
from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone

from epicore import placement
from fangkong.cases.models import TracingRun
from fangkong.geo.models import in_subtree
from fangkong.quarantine.actions import _split_by_rules, people_of_run
from fangkong.quarantine.models import Room, RoomState, Stay

# Intake and releases are averaged over the last three days: long enough to smooth one busy
# morning, short enough to follow an outbreak that is growing.
RATE_DAYS = 3


def occupancy(scope_code: str) -> list[dict]:
    """Rooms by state per site inside a subtree, and the share occupied."""
    rows = (
        Room.objects.filter(in_subtree("site__jurisdiction_id", scope_code))
        .values("site_id", "site__name", "site__standby", "site__jurisdiction_id")
        .annotate(
            total=Count("id"),
            occupied=Count("id", filter=Q(state=RoomState.OCCUPIED)),
            free=Count("id", filter=Q(state=RoomState.FREE)),
            cleaning=Count("id", filter=Q(state=RoomState.CLEANING)),
        )
        .order_by("site__name")
    )
    return [dict(r, share=(r["occupied"] / r["total"]) if r["total"] else 0.0) for r in rows]


def by_county(rows: list[dict]) -> list[dict]:
    """The site rows rolled up to counties (the level that runs the sites)."""
    counties: dict[str, dict] = {}
    for row in rows:
        code = row["site__jurisdiction_id"][:6]
        county = counties.setdefault(
            code, {"code": code, "total": 0, "occupied": 0, "free": 0, "reserve_free": 0}
        )
        if row["site__standby"]:
            county["reserve_free"] += row["free"]
        else:
            for key in ("total", "occupied", "free"):
                county[key] += row[key]
    return [counties[c] for c in sorted(counties)]


def capacity(scope_code: str, rows: list[dict] | None = None) -> dict:
    """Free rooms in service, the reserve, intake and releases per day, and days left."""
    rows = occupancy(scope_code) if rows is None else rows
    active = [r for r in rows if not r["site__standby"]]
    since = timezone.now() - timedelta(days=RATE_DAYS)
    stays = Stay.objects.filter(in_subtree("room__site__jurisdiction_id", scope_code))
    intake = stays.filter(started_at__gte=since).count() / RATE_DAYS
    releases = stays.filter(ended_at__gte=since).count() / RATE_DAYS
    free = sum(r["free"] + r["cleaning"] for r in active)  # cleaning rooms are back within hours
    net = intake - releases
    return {
        "free": free,
        "reserve_free": sum(r["free"] for r in rows if r["site__standby"]),
        "intake_per_day": round(intake, 1),
        "releases_per_day": round(releases, 1),
        # None: not filling up at the current rates.
        "days_left": math.floor(free / net) if net > 0 else None,
    }


def rooms_needed(run: TracingRun) -> dict:
    """Rooms the contacts of a run still at home will take, and who the rules keep at home."""
    people, exposures = people_of_run(run)
    placeable, _terms, at_home = _split_by_rules(people, exposures, timezone.now())
    by_category = placement.rooms_needed(placeable)
    return {"total": sum(by_category.values()), "by_category": by_category, "at_home": len(at_home)}
