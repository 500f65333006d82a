"""Background work of health codes: recolour on new facts, and on time (next_check_at)."""

from __future__ import annotations

from datetime import datetime

from fangkong.healthcode.models import CodeState
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


def request_recolour(person_ids, trigger_kind: str, trigger_ref: str = "") -> None:
    """Ask for these people to be recoloured (in the caller's transaction)."""
    ids = sorted(set(person_ids))
    if ids:
        queue.enqueue(
            "healthcode.recolour",
            {"person_ids": ids, "trigger_kind": trigger_kind, "trigger_ref": trigger_ref},
        )
