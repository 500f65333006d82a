"""A stay from arrival to release: closed-loop transfer, check-in, release by the rules, and the
hand-over to the case workflow when someone turns positive.

Release follows the regimen fixed at entry (epicore.regimens): not before the period counted
from the last exposure has passed, and only with a negative result for every scheduled test.
Release frees the room for cleaning (终末消毒) and opens the next phase (home quarantine or home
health monitoring) with daily follow-up tasks for the grid worker of the person's grid.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from epicore import regimens
from fangkong.accounts import audit
from fangkong.accounts.roles import OPERATE_SITES
from fangkong.cases.models import Contact, ContactStatus
from fangkong.errors import Refused
from fangkong.healthcode.jobs import request_recolour
from fangkong.labs.models import Outcome, PersonTest
from fangkong.quarantine.actions import _require
from fangkong.quarantine.models import (
    FollowUp,
    FollowUpKind,
    HomeMonitoring,
    Room,
    RoomState,
    Stay,
    StayOutcome,
    Transfer,
    TransferState,
)


def _open_stay(stay_id: int) -> Stay:
    stay = Stay.objects.select_for_update().filter(pk=stay_id).first()
    if stay is None:
        raise Refused("unknown_stay", "no such stay")
    if stay.ended_at is not None:
        raise Refused(
            "stay_ended", f"this stay ended on {timezone.localtime(stay.ended_at):%Y-%m-%d}"
        )
    return stay


def check_in(actor, stay_id: int, at: datetime | None = None) -> Stay:
    """The person is in the room (arrival or walk-in); a second check-in is refused."""
    _require(actor, OPERATE_SITES)
    at = at or timezone.now()
    with transaction.atomic():
        stay = _open_stay(stay_id)
        if stay.checked_in_at is not None:
            raise Refused(
                "already_checked_in",
                f"checked in already at {timezone.localtime(stay.checked_in_at):%Y-%m-%d %H:%M}",
            )
        stay.checked_in_at = at
        stay.save(update_fields=["checked_in_at"])
        Contact.objects.filter(
            person_id=stay.person_id, status__in=(ContactStatus.TO_LOCATE, ContactStatus.LOCATED)
        ).update(status=ContactStatus.QUARANTINED)
        audit.record(actor, "quarantine.check_in", object_type="stay", object_id=stay.pk)
    return stay


def order_transfer(
    actor, stay_id: int | None, vehicle: str, escort: str, pickup_place: str, pickup_at: datetime
) -> Transfer:
    """A point-to-point transfer to the room held for the person (the stay is the destination)."""
    _require(actor, OPERATE_SITES)
    if stay_id is None:
        raise Refused("no_destination", "a transfer needs a destination: assign a room first")
    for field, value in (("vehicle", vehicle), ("escort", escort), ("pickup_place", pickup_place)):
        if not value.strip():
            raise Refused(f"no_{field}", f"the transfer needs a {field.replace('_', '-')}")
    with transaction.atomic():
        stay = _open_stay(stay_id)
        if stay.checked_in_at is not None:
            raise Refused("already_checked_in", "this person is already in the room")
        try:
            with transaction.atomic():
                transfer = Transfer.objects.create(
                    stay=stay,
                    vehicle=vehicle.strip(),
                    escort=escort.strip(),
                    pickup_place=pickup_place.strip(),
                    pickup_at=pickup_at,
                    created_by=actor,
                )
        except IntegrityError:
            raise Refused(
                "transfer_exists", "a transfer for this person is already under way"
            ) from None
        audit.record(actor, "quarantine.transfer", object_type="stay", object_id=stay.pk,
                     details={"transfer": transfer.pk, "vehicle": transfer.vehicle})  # fmt: skip
    return transfer


# Where a transfer may go next, and the time it records.
TRANSFER_STEPS = {
    "depart": ({TransferState.PLANNED}, TransferState.EN_ROUTE),
    "arrive": ({TransferState.PLANNED, TransferState.EN_ROUTE}, TransferState.ARRIVED),
    "cancel": ({TransferState.PLANNED, TransferState.EN_ROUTE}, TransferState.CANCELLED),
}


def move_transfer(actor, transfer_id: int, step: str, at: datetime | None = None) -> Transfer:
    """Depart, arrive (checks the person in) or cancel, each time-stamped."""
    _require(actor, OPERATE_SITES)
    if step not in TRANSFER_STEPS:
        raise Refused("bad_step", f"unknown transfer step {step!r}")
    at = at or timezone.now()
    sources, target = TRANSFER_STEPS[step]
    with transaction.atomic():
        transfer = Transfer.objects.select_for_update().filter(pk=transfer_id).first()
        if transfer is None:
            raise Refused("unknown_transfer", "no such transfer")
        if transfer.state not in sources:
            raise Refused(
                "bad_step", f"the transfer is {transfer.get_state_display()}: cannot {step}"
            )
        transfer.state = target
        if step == "depart":
            transfer.departed_at = at
        if step == "arrive":
            transfer.arrived_at = at
            check_in(actor, transfer.stay_id, at)
        transfer.save(update_fields=["state", "departed_at", "arrived_at"])
        audit.record(actor, f"quarantine.transfer_{step}", object_type="stay",
                     object_id=transfer.stay_id, details={"transfer": transfer.pk})  # fmt: skip
    return transfer


def regimen_of(stay: Stay) -> regimens.Regimen | None:
    if not stay.rules:
        return None
    return regimens.regimen_for(regimens.rule_set_by_key(stay.rules), stay.category)


def results_of(person_id: int) -> list[regimens.Result]:
    tests = PersonTest.objects.filter(person_id=person_id).exclude(outcome="")
    return [
        regimens.Result(timezone.localdate(t.sampled_at), t.outcome == Outcome.POSITIVE)
        for t in tests
    ]


def _local_start(stay: Stay) -> datetime:
    """The exposure in local time: test days are local calendar days."""
    return timezone.localtime(stay.last_exposure_at)


def blockers(stay: Stay, now: datetime | None = None) -> list[regimens.Blocker]:
    """Why the stay may not be released now (empty: it may)."""
    regimen = regimen_of(stay)
    if regimen is None:
        return [regimens.Blocker("no_regimen", "no release rule: hand over to the case workflow")]
    if stay.checked_in_at is None:
        return [regimens.Blocker("not_checked_in", "the person never checked in")]
    checked_in = timezone.localdate(stay.checked_in_at)
    return regimens.release_blockers(
        regimen.first,
        _local_start(stay),
        checked_in,
        now or timezone.now(),
        results_of(stay.person_id),
    )


def schedule_of(stay: Stay) -> list[regimens.DueTest]:
    regimen = regimen_of(stay)
    if regimen is None:
        return []
    checked_in = timezone.localdate(stay.checked_in_at) if stay.checked_in_at else None
    return regimens.schedule(regimen.first, _local_start(stay), checked_in)


def release(actor, stay_id: int, at: datetime | None = None) -> HomeMonitoring | None:
    """Release by the rules, or refuse with every reason; returns the home phase opened."""
    _require(actor, OPERATE_SITES)
    at = at or timezone.now()
    with transaction.atomic():
        stay = _open_stay(stay_id)
        found = blockers(stay, at)
        if found:
            raise Refused("release_blocked", "; ".join(b.message for b in found))
        _end_stay(stay, at, StayOutcome.RELEASED)
        Contact.objects.filter(person_id=stay.person_id, status=ContactStatus.QUARANTINED).update(
            status=ContactStatus.RELEASED
        )
        home = _open_home_phase(stay, at)
        audit.record(actor, "quarantine.release", object_type="stay", object_id=stay.pk,
                     details={"rules": stay.rules, "home_until": home and home.ends_at.isoformat()})  # fmt: skip
        request_recolour([stay.person_id], "fact", f"release:{stay.pk}")
    return home


def _end_stay(stay: Stay, at: datetime, outcome: str) -> None:
    stay.ended_at, stay.outcome = at, outcome
    stay.save(update_fields=["ended_at", "outcome"])
    # The room is disinfected before the next person (终末消毒): cleaning, not free.
    Room.objects.filter(pk=stay.room_id).update(state=RoomState.CLEANING)


def _open_home_phase(stay: Stay, released_at: datetime) -> HomeMonitoring | None:
    regimen = regimen_of(stay)
    if regimen is None or not regimen.after_release:
        return None
    phase = regimen.after_release[0]
    home = HomeMonitoring.objects.create(
        person_id=stay.person_id,
        stay=stay,
        jurisdiction_id=stay.person.jurisdiction_id,
        setting=phase.setting,
        rules=stay.rules,
        phase=1,
        starts_at=released_at,
        ends_at=regimens.phase_end(phase, released_at),
    )
    FollowUp.objects.bulk_create(_follow_ups(home, phase, timezone.localtime(released_at)))
    return home


def _follow_ups(home: HomeMonitoring, phase: regimens.Phase, start: datetime) -> list[FollowUp]:
    """A health check for every day of the phase, and the phase's tests on their days."""
    tasks = [
        FollowUp(monitoring=home, due=start.date() + timedelta(days=day), kind=FollowUpKind.VISIT)
        for day in range(1, phase.days + 1)
    ]
    tasks += [
        FollowUp(monitoring=home, due=t.due, kind=FollowUpKind.TEST, test_day=t.day)
        for t in regimens.schedule(phase, start)
    ]
    return tasks


def hand_over_to_case(person_id: int, at: datetime | None = None) -> None:
    """A person in quarantine or home follow-up became a case: the stay ends (they go to a
    designated hospital), the room is disinfected, the home phase stops. Called by the case
    workflow inside its transaction."""
    at = at or timezone.now()
    stay = (
        Stay.objects.select_for_update().filter(person_id=person_id, ended_at__isnull=True).first()
    )
    if stay is not None:
        _end_stay(stay, at, StayOutcome.BECAME_CASE)
        audit.record(None, "quarantine.became_case", object_type="stay", object_id=stay.pk)
    HomeMonitoring.objects.filter(
        person_id=person_id, ended_at__isnull=True, ends_at__gt=at
    ).update(ended_at=at)
