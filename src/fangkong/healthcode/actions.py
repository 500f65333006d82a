"""Manual colour changes (two people, a reason, an end) and residents' appeals (with a deadline)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from fangkong.accounts import audit
from fangkong.accounts.roles import OVERRIDE_CODES, Role
from fangkong.errors import FieldErrors
from fangkong.geo.models import in_subtree
from fangkong.healthcode.jobs import request_recolour
from fangkong.healthcode.models import (
    Appeal,
    AppealState,
    CodeState,
    ColourChoice,
    ColourOverride,
    OverrideState,
)
from fangkong.people.queries import access_person_by_id

# Operational default, not a protocol figure: local governments promised to resolve code appeals
# within a working day; FANGKONG_APPEAL_HOURS changes it.
APPEAL_HOURS = int(getattr(settings, "FANGKONG_APPEAL_HOURS", 24))
MAX_OVERRIDE = timedelta(days=30)


class Refused(FieldErrors):
    pass


def _require(actor) -> None:
    if not actor.can(OVERRIDE_CODES):
        raise PermissionError(_("Your role may not change health-code colours."))


def _until(value, now: datetime, errors: dict[str, str]) -> datetime | None:
    moment = value if isinstance(value, datetime) else None
    if moment is None and value:
        try:
            moment = parse_datetime(str(value).strip())
        except ValueError:
            moment = None
    if moment is not None and timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    if moment is None or not now < moment <= now + MAX_OVERRIDE:
        errors["until"] = _("Give an end within the next 30 days.")
    return moment


def request_override(actor, person_id: int, colour: str, reason: str, until) -> ColourOverride:
    _require(actor)
    person = access_person_by_id(actor, person_id, reason="colour override")
    now, errors = timezone.now(), {}
    if colour not in ColourChoice.values:
        errors["colour"] = _("Choose green, yellow or red.")
    if len(reason.strip()) < 4:
        errors["reason"] = _("Explain the reason (at least a few words).")
    end = _until(until, now, errors)
    if errors:
        raise Refused(errors)
    with transaction.atomic():
        override = ColourOverride.objects.create(
            person=person, colour=colour, reason=reason.strip()[:300], until=end, requested_by=actor
        )
        audit.record(
            actor,
            "healthcode.override_requested",
            object_type="person",
            object_id=person.pk,
            jurisdiction_code=person.jurisdiction_id,
            reason=override.reason,
            details={"override": override.pk, "colour": colour, "until": end.isoformat()},
        )
    return override


def access_overrides(user):
    if not user.can(OVERRIDE_CODES) or not user.scope_code:
        return ColourOverride.objects.none()
    return ColourOverride.objects.filter(in_subtree("person__jurisdiction_id", user.scope_code))


def decide_override(actor, override_id: int, approve: bool) -> ColourOverride:
    """The second person's decision; the requester can never approve their own request."""
    _require(actor)
    override = access_overrides(actor).filter(pk=override_id).first()
    if override is None:
        raise Http404
    if override.requested_by_id == actor.pk:
        raise Refused({"decided_by": _("A second person must approve this change.")})
    if override.state != OverrideState.PENDING:
        raise Refused({"state": _("This request was already decided.")})
    with transaction.atomic():
        override.state = OverrideState.APPROVED if approve else OverrideState.REJECTED
        override.decided_by, override.decided_at = actor, timezone.now()
        override.save(update_fields=["state", "decided_by", "decided_at"])
        audit.record(
            actor,
            "healthcode.override_" + ("approved" if approve else "rejected"),
            object_type="person",
            object_id=override.person_id,
            details={"override": override.pk},
        )
        if approve:
            request_recolour([override.person_id], "override", f"override:{override.pk}")
    return override


def file_appeal(user, text: str) -> Appeal:
    if user.role != Role.RESIDENT or not user.person_id:
        raise PermissionError(_("Only residents appeal their own code."))
    if len(text.strip()) < 4:
        raise Refused({"text": _("Say what is wrong with your code.")})
    state = CodeState.objects.filter(person_id=user.person_id).first()
    with transaction.atomic():
        appeal = Appeal.objects.create(
            person_id=user.person_id,
            colour=state.colour if state else ColourChoice.GREEN,
            text=text.strip()[:1000],
            due_at=timezone.now() + timedelta(hours=APPEAL_HOURS),
        )
        audit.record(user, "healthcode.appeal_filed", object_type="appeal", object_id=appeal.pk)
    return appeal


def access_appeals(user):
    if not user.can(OVERRIDE_CODES) or not user.scope_code:
        return Appeal.objects.none()
    return Appeal.objects.filter(in_subtree("person__jurisdiction_id", user.scope_code))


def answer_appeal(actor, appeal_id: int, answer: str) -> Appeal:
    _require(actor)
    appeal = access_appeals(actor).filter(pk=appeal_id).first()
    if appeal is None:
        raise Http404
    if appeal.state != AppealState.OPEN:
        raise Refused({"state": _("This appeal was already answered.")})
    if len(answer.strip()) < 4:
        raise Refused({"answer": _("Write the answer the resident will read.")})
    with transaction.atomic():
        appeal.state, appeal.answer = AppealState.ANSWERED, answer.strip()[:1000]
        appeal.answered_by, appeal.answered_at = actor, timezone.now()
        appeal.save(update_fields=["state", "answer", "answered_by", "answered_at"])
        audit.record(
            actor,
            "healthcode.appeal_answered",
            object_type="appeal",
            object_id=appeal.pk,
            details={"late": appeal.answered_at > appeal.due_at},
        )
    return appeal
