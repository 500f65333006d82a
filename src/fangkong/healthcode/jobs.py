"""Background work of health codes: recolour on new facts, on time (next_check_at), and when
another colour rule set comes into force."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction

from epicore import healthcode as engine
from fangkong.accounts import audit
from fangkong.batches import chunks
from fangkong.healthcode.models import CodeState, RuleSetSwitch
from fangkong.healthcode.recolour import recolour
from fangkong.jobs import queue

DUE_BATCH = 10_000


@queue.task("healthcode.recolour")
def recolour_job(job, person_ids: list[int], trigger_kind: str, trigger_ref: str = ""):
    return recolour(person_ids, trigger_kind, trigger_ref)


@queue.task("healthcode.due")
def due_job(job):
    """Recolour everyone whose colour may have changed by the passing of time."""
    from django.utils import timezone

    now = timezone.now()
    total = {"evaluated": 0, "changed": 0}
    for _round in range(1000):  # each round moves next_check_at past `now`; bounded anyway
        ids = list(
            CodeState.objects.filter(next_check_at__lte=now)
            .order_by("next_check_at")
            .values_list("person_id", flat=True)[:DUE_BATCH]
        )
        if not ids:
            return total
        counts = recolour(ids, "clock", at=now)
        for key in total:
            total[key] += counts[key]
        queue.report_progress(job, total["evaluated"], None, "recolouring on time")
    return total


@queue.periodic
def queue_due_recolouring(now: datetime) -> None:
    if CodeState.objects.filter(next_check_at__lte=now).exists():
        queue.enqueue("healthcode.due", dedupe_key="healthcode.due")


RECOLOUR_CHUNK = 5_000  # people per job: about a second of work each


def request_recolour(
    person_ids, trigger_kind: str, trigger_ref: str = "", priority: int = queue.NORMAL
) -> None:
    """Ask for these people to be recoloured (in the caller's transaction), in jobs of at most
    RECOLOUR_CHUNK people: a tracing run's million contacts spread over every worker instead
    of one job of minutes, and an urgent job never waits long behind a running one."""
    ids = sorted(set(person_ids))
    for chunk in chunks(ids, RECOLOUR_CHUNK):
        queue.enqueue(
            "healthcode.recolour",
            {
                "person_ids": chunk,
                "trigger_kind": trigger_kind,
                "trigger_ref": trigger_ref,
            },
            priority=priority,
        )


@queue.periodic
def queue_recolour_on_rule_set_switch(now: datetime) -> None:
    """When the rule set in force at `now` is one not seen before, recolour everyone once."""
    rule_set = engine.rule_set_for(now)
    if not RuleSetSwitch.objects.filter(version=rule_set.version).exists():
        record_rule_set_switch(rule_set, now)


def record_rule_set_switch(rule_set: engine.RuleSet, now: datetime) -> RuleSetSwitch | None:
    """Store the switch, queue the recolouring and audit it, all in one transaction; None when
    another worker recorded this switch first (the unique version makes it happen once)."""
    previous = RuleSetSwitch.objects.order_by("-detected_at", "-id").first()
    try:
        with transaction.atomic():
            switch = RuleSetSwitch.objects.create(
                version=rule_set.version,
                previous=previous.version if previous else "",
                effective_from=rule_set.effective_from,
                detected_at=now,
            )
            switch.job = queue.enqueue(
                "healthcode.rule_set_switch",
                {"version": rule_set.version},
                dedupe_key=f"healthcode.rule_set_switch:{rule_set.version}",
            )
            switch.save(update_fields=["job"])
            audit.record(
                None,
                "healthcode.rule_set_switch",
                object_type="rule_set",
                object_id=rule_set.version,
                details={
                    "previous": switch.previous,
                    "effective_from": rule_set.effective_from.isoformat(),
                    "job": switch.job_id,
                },
            )
    except IntegrityError:
        return None
    return switch


@queue.task("healthcode.rule_set_switch")
def rule_set_switch_job(job, version: str):
    """Recolour everyone whose stored colour was computed under another rule set. Keyset order
    by person makes a retried job carry on where the failed attempt stopped."""
    total = {"evaluated": 0, "changed": 0}
    after = 0
    while True:
        ids = list(
            CodeState.objects.filter(person_id__gt=after)
            .exclude(rule_set=version)
            .order_by("person_id")
            .values_list("person_id", flat=True)[:DUE_BATCH]
        )
        if not ids:
            return total
        counts = recolour(ids, "rule_set", f"rule_set:{version}")
        after = ids[-1]
        for key in total:
            total[key] += counts[key]
        queue.report_progress(job, total["evaluated"], None, f"recolouring under {version}")
