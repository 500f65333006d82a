"""Twice-daily health monitoring in the sites, alerts for the site doctor, and the grid worker's
follow-up tasks after release."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils import timezone

from fangkong.accounts import audit
from fangkong.accounts.roles import FOLLOW_UP, OPERATE_SITES
from fangkong.errors import Refused
from fangkong.quarantine.actions import _require
from fangkong.quarantine.models import Alert, FollowUp, Reading, Slot, Stay

# 发热: axillary temperature ≥ 37.3 °C (《新型冠状病毒肺炎防控方案（第九版）》, 2022-06, 附件 重点
# 人群健康监测: 体温 ≥ 37.3℃ 视为发热).
FEVER_C = Decimal("37.3")
# What a clinical thermometer can read on a living person: ISO 80601-2-56 requires a rated range of
# at least 35.5–42.0 °C; values outside 34.0–43.0 °C are misreadings, refused rather than stored.
PLAUSIBLE_C = (Decimal("34.0"), Decimal("43.0"))
# Symptoms watched for (《新型冠状病毒肺炎诊疗方案（试行第九版）》, 2022-03, 临床表现: 发热、干咳、
# 乏力; 鼻塞、流涕、咽痛、嗅觉味觉减退或丧失、结膜炎、肌痛和腹泻). Any of them raises an alert.
SYMPTOMS = (
    "cough",
    "fatigue",
    "sore_throat",
    "nasal_congestion",
    "runny_nose",
    "loss_of_smell_or_taste",
    "conjunctivitis",
    "muscle_pain",
    "diarrhoea",
    "shortness_of_breath",
)


def parse_temperature(text) -> Decimal:
    try:
        value = Decimal(str(text).strip().replace("℃", "").replace("°C", ""))
    except InvalidOperation:
        raise Refused("bad_temperature", f"{text!r} is not a temperature in °C") from None
    if not value.is_finite() or not PLAUSIBLE_C[0] <= value <= PLAUSIBLE_C[1]:
        raise Refused(
            "temperature_out_of_range",
            f"{value} °C is outside what a thermometer reads on a person "
            f"({PLAUSIBLE_C[0]}–{PLAUSIBLE_C[1]} °C): measure again",
        )
    return value.quantize(Decimal("0.1"))


def _checked_symptoms(symptoms) -> list[str]:
    unknown = sorted(set(symptoms) - set(SYMPTOMS))
    if unknown:
        raise Refused("unknown_symptom", f"unknown symptom: {', '.join(unknown)}")
    return [s for s in SYMPTOMS if s in set(symptoms)]  # stable order


def abnormal_reasons(temperature: Decimal, symptoms: list[str]) -> list[str]:
    return (["fever"] if temperature >= FEVER_C else []) + symptoms


def record_reading(
    actor,
    stay: Stay,
    slot: str,
    temperature,
    symptoms=(),
    at: datetime | None = None,
    by_resident: bool = False,
) -> Reading:
    """Store one reading for a slot of a day; an abnormal one raises an alert at once."""
    if not by_resident:
        _require(actor, OPERATE_SITES)
    if slot not in Slot.values:
        raise Refused("bad_slot", f"slot must be am or pm, not {slot!r}")
    value = parse_temperature(temperature)
    found = _checked_symptoms(symptoms)
    at = at or timezone.now()
    if stay.ended_at is not None or stay.checked_in_at is None:
        raise Refused("not_in_room", "readings are taken from people checked in to a room")
    try:
        with transaction.atomic():
            reading = Reading.objects.create(
                stay=stay,
                day=timezone.localdate(at),
                slot=slot,
                taken_at=at,
                temperature=value,
                symptoms=found,
                by_resident=by_resident,
                entered_by=actor,
            )
            reasons = abnormal_reasons(value, found)
            if reasons:
                Alert.objects.create(stay=stay, reading=reading, reasons=reasons, raised_at=at)
            audit.record(actor, "quarantine.reading", object_type="stay", object_id=stay.pk,
                         details={"slot": slot, "abnormal": reasons})  # fmt: skip
    except IntegrityError:
        label = Slot(slot).label
        raise Refused(
            "reading_exists", f"the {label} reading of {timezone.localdate(at)} is already recorded"
        ) from None
    return reading


def acknowledge(actor, alert: Alert, note: str = "") -> None:
    _require(actor, OPERATE_SITES)
    if not Alert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
        acknowledged_at=timezone.now(), acknowledged_by=actor, note=note.strip()[:200]
    ):
        raise Refused("already_acknowledged", "this alert was already seen to")
    audit.record(actor, "quarantine.alert_ack", object_type="stay", object_id=alert.stay_id)


def missing_readings(stays, day: date, slot: str) -> list[Stay]:
    """Checked-in stays without a reading for this slot of the day."""
    have = set(
        Reading.objects.filter(stay__in=stays, day=day, slot=slot).values_list("stay_id", flat=True)
    )
    return [s for s in stays if s.checked_in_at is not None and s.pk not in have]


def complete_follow_up(actor, task: FollowUp, note: str = "") -> None:
    _require(actor, FOLLOW_UP)
    if task.due > timezone.localdate():
        raise Refused("not_due", f"this task is due on {task.due:%Y-%m-%d}")
    if not FollowUp.objects.filter(pk=task.pk, done_at__isnull=True).update(
        done_at=timezone.now(), done_by=actor, note=note.strip()[:200]
    ):
        raise Refused("already_done", "this task is already done")
    audit.record(actor, "quarantine.follow_up", object_type="person",
                 object_id=task.monitoring.person_id, details={"kind": task.kind, "due": str(task.due)})  # fmt: skip
