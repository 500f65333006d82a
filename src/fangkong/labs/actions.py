"""Sampling into pooled tubes, lab results, retests; every refusal names its reason."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from fangkong.accounts import audit
from fangkong.accounts.roles import RECORD_RESULTS, TAKE_SAMPLES
from fangkong.errors import Refused
from fangkong.healthcode.jobs import request_recolour
from fangkong.jobs import queue
from fangkong.labs import campaigns
from fangkong.labs.models import Outcome, PersonTest, ResultUpload, Tube, TubeMember, TubeState
from fangkong.people.models import Person

# Per-tube counts used in practice (单管检测量): 1 (单采), 5, 10 and 20 (混采), 《区域新型冠状病毒
# 核酸检测组织实施指南（第三版）》 (国务院联防联控机制, 2022): pools of up to 10, 20 in low-risk areas.
ALLOWED_SIZES = (1, 5, 10, 20)


def _require(actor, capability: str) -> None:
    if actor is not None and not actor.can(capability):
        raise PermissionError("your role may not do this")


def _tube(barcode: str, lock: bool = False) -> Tube:
    tubes = Tube.objects.select_for_update() if lock else Tube.objects
    tube = tubes.filter(barcode=barcode.strip()).first()
    if tube is None:
        raise Refused("unknown_tube", f"tube {barcode!r} was never opened")
    return tube


def open_tube(
    actor, barcode: str, size: int, site: str, jurisdiction_code: str, at=None, campaign=None
) -> Tube:
    _require(actor, TAKE_SAMPLES)
    if campaign is not None and not campaigns.is_open(campaign, at):
        raise Refused("campaign_closed", f"campaign {campaign.name} is not running now")
    if size not in ALLOWED_SIZES:
        raise Refused("tube_size", f"a tube holds 1, 5, 10 or 20 people, not {size}")
    if Tube.objects.filter(barcode=barcode.strip()).exists():
        raise Refused("tube_exists", f"tube {barcode!r} is already in use")
    return Tube.objects.create(
        barcode=barcode.strip(),
        size=size,
        site=site,
        jurisdiction_id=jurisdiction_code,
        opened_at=at or timezone.now(),
        opened_by=actor,
        campaign=campaign,
    )


def scan_into(actor, barcode: str, person: Person, at: datetime | None = None) -> TubeMember:
    _require(actor, TAKE_SAMPLES)
    with transaction.atomic():
        tube = _tube(barcode, lock=True)
        if tube.state != TubeState.OPEN:
            raise Refused("tube_sealed", f"tube {tube.barcode} is sealed")
        if tube.members.filter(person=person).exists():
            raise Refused("already_in_tube", "this person is already in this tube")
        other = TubeMember.objects.filter(person=person, tube__state=TubeState.OPEN).first()
        if other is not None:
            raise Refused(
                "in_open_tube", f"this person is already in open tube {other.tube.barcode}"
            )
        if tube.members.count() >= tube.size:
            raise Refused("tube_full", f"tube {tube.barcode} already holds {tube.size} people")
        member = TubeMember.objects.create(
            tube=tube, person=person, sampled_at=at or timezone.now()
        )
        campaigns.record_sample(tube.campaign_id, person, member.sampled_at)
        return member


def seal(actor, barcode: str, at: datetime | None = None) -> dict:
    """Seal the tube; an under-filled tube is sealed but flagged (it wastes a test, no more)."""
    _require(actor, TAKE_SAMPLES)
    with transaction.atomic():
        tube = _tube(barcode, lock=True)
        if tube.state != TubeState.OPEN:
            raise Refused("tube_sealed", f"tube {tube.barcode} is already sealed")
        count = tube.members.count()
        if count == 0:
            raise Refused("tube_empty", f"tube {tube.barcode} holds nobody")
        tube.state, tube.sealed_at = TubeState.SEALED, at or timezone.now()
        tube.save(update_fields=["state", "sealed_at"])
    return {"members": count, "under_filled": count < tube.size}


def record_result(actor, barcode: str, outcome: str, ct_value: float | None, lab: str) -> str:
    """Apply a lab's result for a tube. Returns "applied", "duplicate" or "held" (conflict)."""
    _require(actor, RECORD_RESULTS)
    if outcome not in Outcome.values:
        raise Refused("bad_outcome", f"unknown result {outcome!r}")
    if ct_value is not None and not 0 < ct_value <= 50:
        raise Refused("bad_ct", f"Ct value {ct_value} is outside 0-50")
    with transaction.atomic():
        tube = _tube(barcode, lock=True)
        if tube.state == TubeState.OPEN:
            raise Refused("not_sealed", f"tube {tube.barcode} was never sealed")
        upload = ResultUpload.objects.create(tube=tube, outcome=outcome, ct_value=ct_value, lab=lab)
        if tube.state in (TubeState.RESULTED, TubeState.HELD):
            return _repeat(actor, tube, upload)
        _apply(actor, tube, upload)
        return "applied"


def _repeat(actor, tube: Tube, upload: ResultUpload) -> str:
    if tube.state == TubeState.RESULTED and tube.outcome == upload.outcome:
        return "duplicate"  # the same answer again changes nothing
    tube.state = TubeState.HELD
    tube.save(update_fields=["state"])
    audit.record(
        actor,
        "labs.result_conflict",
        object_type="tube",
        object_id=tube.pk,
        details={"kept": tube.outcome, "received": upload.outcome},
    )
    return "held"


def _apply(actor, tube: Tube, upload: ResultUpload) -> None:
    now = timezone.now()
    tube.state, tube.outcome, tube.ct_value, tube.resulted_at = (
        TubeState.RESULTED,
        upload.outcome,
        upload.ct_value,
        now,
    )
    tube.lab = upload.lab[:100]  # who resulted it: turnaround per lab
    tube.save(update_fields=["state", "outcome", "ct_value", "resulted_at", "lab"])
    upload.applied = True
    upload.save(update_fields=["applied"])
    members = list(tube.members.all())
    negative = upload.outcome == Outcome.NEGATIVE
    PersonTest.objects.bulk_create(
        PersonTest(
            person_id=m.person_id,
            sampled_at=m.sampled_at,
            reported_at=now if negative else None,
            outcome=Outcome.NEGATIVE if negative else "",
            pooled=True,
            tube=tube,
            retest_of=None if negative else tube,
        )
        for m in members
    )
    audit.record(
        actor,
        "labs.tube_result",
        object_type="tube",
        object_id=tube.pk,
        details={"outcome": upload.outcome, "members": len(members), "lab": upload.lab},
    )
    # A recall turns codes yellow: it jumps the queue ahead of routine negatives.
    urgent = queue.URGENT if upload.outcome != Outcome.NEGATIVE else queue.NORMAL
    request_recolour([m.person_id for m in members], "fact", f"tube:{tube.pk}", priority=urgent)


def record_individual(actor, person: Person, sampled_at: datetime, outcome: str) -> PersonTest:
    """A person's own test (a retest of a positive pool closes that recall). A positive opens
    a case, which starts tracing."""
    _require(actor, RECORD_RESULTS)
    if outcome not in Outcome.values:
        raise Refused("bad_outcome", f"unknown result {outcome!r}")
    with transaction.atomic():
        due = PersonTest.objects.filter(person=person, outcome="", retest_of__isnull=False)
        recall = due.order_by("sampled_at").first()
        test = PersonTest.objects.create(
            person=person,
            sampled_at=sampled_at,
            reported_at=timezone.now(),
            outcome=outcome,
            retest_of=recall.retest_of if recall else None,
        )
        if recall is not None:
            recall.delete()  # the recall is answered by this test
        audit.record(
            actor,
            "labs.person_result",
            object_type="person",
            object_id=person.pk,
            details={"outcome": outcome},
        )
        request_recolour([person.pk], "fact", f"test:{test.pk}")
        if outcome == Outcome.POSITIVE:
            _open_case(person, sampled_at)
    return test


def _open_case(person: Person, sampled_at: datetime) -> None:
    from fangkong.cases import actions as cases
    from fangkong.cases.models import Case, Classification

    if Case.objects.filter(person=person).exclude(classification=Classification.EXCLUDED).exists():
        return
    # Reported as an asymptomatic infection until a clinician assesses symptoms (reclassifying
    # keeps the history); either way it is traced at once.
    clean = cases.CleanCase(
        person=person,
        classification=Classification.ASYMPTOMATIC,
        onset_date=None,
        sampled_date=timezone.localdate(sampled_at),
        reported_at=timezone.now(),
        isolation_place="",
    )
    cases.do_open_case(None, clean)


def pending_retests(person_ids=None):
    tests = PersonTest.objects.filter(outcome="", retest_of__isnull=False)
    return tests.filter(person_id__in=person_ids) if person_ids is not None else tests
