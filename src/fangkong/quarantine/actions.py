"""Assigning people to rooms, one by one or a whole tracing run at once.

Concurrency: a room is taken by switching it from free to occupied with a conditional UPDATE
(`... WHERE state = 'free'`) inside the transaction; of two staff assigning the same room at
once, exactly one update matches, the other is refused. A person's second open stay is refused
by a partial unique index.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from epicore import placement
from fangkong.accounts import audit
from fangkong.accounts.roles import EDIT_CASES
from fangkong.cases.models import Contact, ContactStatus, Degree, TracingRun
from fangkong.errors import Refused
from fangkong.geo.models import in_subtree
from fangkong.quarantine.models import Room, RoomState, Site, Stay

CATEGORY = {Degree.CLOSE: "close", Degree.SECONDARY: "secondary", Degree.COMPANION: "companion"}


def _require(actor) -> None:
    if actor is not None and not actor.can(EDIT_CASES):
        raise PermissionError("your role may not assign rooms")


def assign(actor, person_id: int, room_id: int, category: str, group: str = "") -> Stay:
    """Put one person in one room, or refuse with the reason."""
    _require(actor)
    with transaction.atomic():
        taken = Room.objects.filter(pk=room_id, state=RoomState.FREE).update(
            state=RoomState.OCCUPIED
        )
        if not taken:
            room = Room.objects.filter(pk=room_id).first()
            if room is None:
                raise Refused("unknown_room", "no such room")
            raise Refused("room_not_free", f"room {room.number} is {room.get_state_display()}")
        try:
            with transaction.atomic():
                stay = Stay.objects.create(
                    person_id=person_id,
                    room_id=room_id,
                    category=category,
                    group=group,
                    started_at=timezone.now(),
                    assigned_by=actor,
                )
        except IntegrityError:
            raise Refused("already_staying", "this person already has a room") from None
        audit.record(
            actor, "quarantine.assign", object_type="person", object_id=person_id,
            details={"room": room_id, "category": category},
        )  # fmt: skip
    return stay


def _people_of_run(run: TracingRun) -> list[placement.Person]:
    contacts = Contact.objects.filter(
        case__in=run.cases.all(), status__in=(ContactStatus.TO_LOCATE, ContactStatus.LOCATED)
    ).select_related("person")
    staying = set(Stay.objects.filter(ended_at__isnull=True).values_list("person_id", flat=True))
    return [
        placement.Person(c.person_id, CATEGORY[c.degree], c.jurisdiction_id[:6])
        for c in contacts
        if c.person_id not in staying
    ]


def assign_run(actor, run: TracingRun) -> dict:
    """Place every contact of a tracing run still at home; report who could not be placed."""
    _require(actor)
    return place_people(actor, _people_of_run(run), f"run:{run.pk}")


def place_people(actor, people: list[placement.Person], reason: str) -> dict:
    """Plan with epicore.placement, then take the rooms in one transaction: rooms taken by
    someone else meanwhile, and people who got a room meanwhile, are reported, never forced."""
    sites = [
        placement.Site(s.pk, s.jurisdiction_id[:6], s.lat, s.lon)
        for s in Site.objects.filter(standby=False)
    ]
    rooms = [
        placement.Room(r.pk, r.site_id, r.beds)
        for r in Room.objects.filter(state=RoomState.FREE, site__standby=False)
    ]
    placed, unplaced = placement.place(people, rooms, sites)
    category = {p.person_id: p.category for p in people}
    group = {p.person_id: p.group for p in people}
    with transaction.atomic():
        free = set(
            Room.objects.select_for_update()
            .filter(pk__in={p.room_id for p in placed}, state=RoomState.FREE)
            .values_list("pk", flat=True)
        )
        staying = set(
            Stay.objects.filter(
                person_id__in=[p.person_id for p in placed], ended_at__isnull=True
            ).values_list("person_id", flat=True)
        )
        kept = [p for p in placed if p.room_id in free and p.person_id not in staying]
        lost = [(p.person_id, "room_not_free" if p.room_id not in free else "already_staying")
                for p in placed if p not in kept]  # fmt: skip
        Room.objects.filter(pk__in={p.room_id for p in kept}).update(state=RoomState.OCCUPIED)
        now = timezone.now()
        Stay.objects.bulk_create(
            Stay(
                person_id=p.person_id,
                room_id=p.room_id,
                category=category[p.person_id],
                group=group[p.person_id],
                started_at=now,
                assigned_by=actor,
            )
            for p in kept
        )
        audit.record(
            actor,
            "quarantine.assign_batch",
            object_type="stay",
            reason=reason,
            details={"placed": len(kept), "unplaced": len(unplaced) + len(lost)},
        )
    return {"placed": len(kept), "unplaced": [(u.person_id, u.reason) for u in unplaced] + lost}


def occupancy(scope_code: str) -> list[dict]:
    """Rooms by state per site inside a subtree, and the share occupied."""
    rows = (
        Room.objects.filter(in_subtree("site__jurisdiction_id", scope_code))
        .values("site_id", "site__name", "site__standby")
        .annotate(
            total=Count("id"),
            occupied=Count("id", filter=Q(state=RoomState.OCCUPIED)),
            free=Count("id", filter=Q(state=RoomState.FREE)),
        )
        .order_by("site__name")
    )
    return [dict(r, share=(r["occupied"] / r["total"]) if r["total"] else 0.0) for r in rows]
