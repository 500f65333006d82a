"""Reads of check-ins: a person's recent whereabouts, shown only with their audited record."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Max

from fangkong.venues.models import CheckIn

# China's protocol, 9th edition (2022), traces close contacts over the 4 days before onset or
# sampling; 14 days covers every edition's look-back with room for the incubation period.
RECENT_DAYS = 14


def recent_checkins_of(person, days: int = RECENT_DAYS, limit: int = 100) -> list[CheckIn]:
    """The person's check-ins over the `days` before their latest one, newest first.

    Call only with a person obtained through `access_person_by_id` (scope checked, read audited).
    Anchored on the latest check-in rather than today so historical data still shows.
    """
    checkins = CheckIn.objects.filter(person=person)
    latest = checkins.aggregate(latest=Max("t_in"))["latest"]
    if latest is None:
        return []
    since = latest - timedelta(days=days)
    return list(checkins.filter(t_in__gte=since).select_related("venue").order_by("-t_in")[:limit])
