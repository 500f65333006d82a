"""Assigning people to rooms, one by one or a whole tracing run at once; rooms and sites.

Concurrency: a room is taken by switching it from free to occupied with a conditional UPDATE
(`... WHERE state = 'free'`) inside the transaction; of two staff assigning the same room at
once, exactly one update matches, the other is refused. A person's second open stay is refused
by a partial unique index.

The regimen (how long, which tests) is fixed at assignment from the quarantine rule set in force
(epicore.regimens), counted from the person's last exposure.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from epicore import placement, regimens
from fangkong.accounts import audit
from fangkong.accounts.roles import EDIT_CASES, MANAGE_SITES, OPERATE_SITES
from fangkong.cases.models import Contact, ContactStatus, Degree, TracingRun
from fangkong.errors import Refused
from fangkong.healthcode.jobs import request_recolour
from fangkong.quarantine.models import Room, RoomState, Site, Stay

# Spatio-temporal companions are not quarantined: they get a yellow code and tests (3天2检), so
# a run's companions are never placed in rooms.
CATEGORY = {Degree.CLOSE: "close", Degree.SECONDARY: "secondary"}
CASE = "case"  # a case awaiting transfer to hospital: held in a room, no regimen


def _require(actor, *capabilities: str) -> None:
    if actor is not None and not any(actor.can(c) for c in capabilities):
        raise PermissionError("your role may not do this")


def rule_set(at: datetime) -> regimens.RuleSet:
    """The quarantine rule set in force: pinned by the deployment, else by the date."""
    pinned = getattr(settings, "FANGKONG_QUARANTINE_RULES", "")
    return (
        regimens.rule_set_by_key(pinned) if pinned else regimens.rule_set_on(timezone.localdate(at))
    )


def entry_terms(category: str, last_exposure: datetime, at: datetime) -> dict:
    """The stay's regimen fields, or Refused when the rules do not put this person in a site."""
    if category == CASE:
        return {"rules": "", "last_exposure_at": None, "planned_end_at": None}
    rules = rule_set(at)
    regimen = regimens.regimen_for(rules, category)
    if regimen is None:
        raise Refused(
            "not_quarantined", f"rule set {rules.key} does not quarantine {category} people"
        )
    if not regimen.first.centralized:
        raise Refused(
            "home_quarantine", f"under rule set {rules.key}, {category} people quarantine at home"
        )
    return {
        "rules": rules.key,
        "last_exposure_at": last_exposure,
        "planned_end_at": regimens.phase_end(regimen.first, last_exposure),
    }


def assign(
    actor,
    person_id: int,
    room_id: int,
    category: str,
    group: str = "",
    last_exposure: datetime | None = None,
) -> Stay:
    """Hold one room for one person (they check in on arrival), or refuse with the reason."""
    _require(actor, EDIT_CASES, OPERATE_SITES)
    now = timezone.now()
    terms = entry_terms(category, last_exposure or now, now)
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
                    started_at=now,
                    assigned_by=actor,
                    **terms,
                )
        except IntegrityError:
            raise Refused("already_staying", "this person already has a room") from None
        audit.record(
            actor, "quarantine.assign", object_type="person", object_id=person_id,
            details={"room": room_id, "category": category, "rules": terms["rules"]},
        )  # fmt: skip
        request_recolour([person_id], "fact", f"stay:{stay.pk}")
    return stay


def people_of_run(run: TracingRun) -> tuple[list[placement.Person], dict[int, datetime]]:
    """A run's contacts still at home who are to be placed, and each one's last exposure."""
    contacts = Contact.objects.filter(
        case__in=run.cases.all(),
        status__in=(ContactStatus.TO_LOCATE, ContactStatus.LOCATED),
        degree__in=list(CATEGORY),
    )
    staying = set(Stay.objects.filter(ended_at__isnull=True).values_list("person_id", flat=True))
    people, exposures = [], {}
    for c in contacts:
        if c.person_id not in staying:
            people.append(placement.Person(c.person_id, CATEGORY[c.degree], c.jurisdiction_id[:6]))
            exposures[c.person_id] = c.last_exposure
    return people, exposures


def assign_run(actor, run: TracingRun) -> dict:
    """Place every contact of a tracing run still at home; report who could not be placed."""
    _require(actor, EDIT_CASES, OPERATE_SITES)
    people, exposures = people_of_run(run)
    return place_people(actor, people, f"run:{run.pk}", exposures)


def _split_by_rules(people, exposures, now):
    """People the rules send to a site, with their stay terms; the others with the reason."""
    placeable, terms, refused = [], {}, []
    for p in people:
        try:
            terms[p.person_id] = entry_terms(p.category, exposures.get(p.person_id, now), now)
            placeable.append(p)
        except Refused as refusal:
            refused.append((p.person_id, refusal.code))
    return placeable, terms, refused


def place_people(
    actor, people: list[placement.Person], reason: str, exposures: dict | None = None
) -> dict:
    """Plan with epicore.placement, then take the rooms in one transaction: rooms taken by
    someone else meanwhile, and people who got a room meanwhile, are reported, never forced.
    People the rule set quarantines at home (or not at all) are reported with that reason."""
    now = timezone.now()
    people, terms, not_for_sites = _split_by_rules(people, exposures or {}, now)
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
        kept_ids = {p.person_id for p in kept}  # a set: 90,000 placements, not 90,000² compares
        lost = [(p.person_id, "room_not_free" if p.room_id not in free else "already_staying")
                for p in placed if p.person_id not in kept_ids]  # fmt: skip
        Room.objects.filter(pk__in={p.room_id for p in kept}).update(state=RoomState.OCCUPIED)
        Stay.objects.bulk_create(
            Stay(
                person_id=p.person_id,
                room_id=p.room_id,
                category=category[p.person_id],
                group=group[p.person_id],
                started_at=now,
                assigned_by=actor,
                **terms[p.person_id],
            )
            for p in kept
        )
        audit.record(
            actor,
            "quarantine.assign_batch",
            object_type="stay",
            reason=reason,
            details={
                "placed": len(kept),
                "unplaced": len(unplaced) + len(lost) + len(not_for_sites),
            },
        )
        request_recolour([p.person_id for p in kept], "fact", reason)
    unplaced_all = [(u.person_id, u.reason) for u in unplaced] + lost + not_for_sites
    return {"placed": len(kept), "unplaced": unplaced_all}


# Rooms change state by hand only between these; occupied is entered and left through stays.
ROOM_MOVES = {
    RoomState.CLEANING: {RoomState.FREE, RoomState.OUT_OF_SERVICE},
    RoomState.FREE: {RoomState.OUT_OF_SERVICE},
    RoomState.OUT_OF_SERVICE: {RoomState.FREE},
}


def set_room_state(actor, room: Room, state: str) -> None:
    _require(actor, OPERATE_SITES)
    if state not in RoomState.values:
        raise Refused("bad_state", f"unknown room state {state!r}")
    if room.state == RoomState.OCCUPIED:
        raise Refused("room_occupied", f"room {room.number} is occupied: release its stay first")
    allowed = {s for s, moves in ROOM_MOVES.items() if state in moves}
    moved = Room.objects.filter(pk=room.pk, state__in=allowed).update(state=state)
    if not moved:
        raise Refused(
            "bad_move", f"room {room.number} cannot go from {room.get_state_display()} to {state}"
        )
    audit.record(actor, "quarantine.room_state", object_type="room", object_id=room.pk,
                 details={"from": room.state, "to": state})  # fmt: skip


def activate_site(actor, site: Site) -> None:
    """Bring a reserve site into service (启用备用隔离点): its free rooms are assignable."""
    _require(actor, MANAGE_SITES)
    if not Site.objects.filter(pk=site.pk, standby=True).update(
        standby=False, activated_at=timezone.now()
    ):
        raise Refused("already_active", f"{site.name} is already in service")
    audit.record(actor, "quarantine.activate_site", object_type="site", object_id=site.pk)


def stand_down_site(actor, site: Site) -> None:
    """Return an empty site to the reserve."""
    _require(actor, MANAGE_SITES)
    with transaction.atomic():
        if Stay.objects.filter(room__site=site, ended_at__isnull=True).exists():
            raise Refused("site_in_use", f"{site.name} still has people in it")
        if not Site.objects.filter(pk=site.pk, standby=False).update(standby=True):
            raise Refused("already_in_reserve", f"{site.name} is already in reserve")
    audit.record(actor, "quarantine.stand_down_site", object_type="site", object_id=site.pk)
