"""Background jobs, stored in the platform's own database (SQLite or PostgreSQL).

A job is enqueued in the same transaction as the write that calls for it, so a committed write
always has its follow-up work queued, and a rolled-back one never does.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class JobState(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


class Job(models.Model):
    kind = models.CharField(max_length=64)
    args = models.JSONField(default=dict)
    state = models.CharField(max_length=8, choices=JobState.choices, default=JobState.QUEUED)
    run_after = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    # A running job whose lease has passed belongs to a worker that died: it is claimed again.
    lease_until = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=64, blank=True)
    dedupe_key = models.CharField(max_length=128, blank=True)
    priority = models.PositiveSmallIntegerField(default=5)  # queue.URGENT 0 .. BACKGROUND 9
    progress_done = models.BigIntegerField(default=0)
    progress_total = models.BigIntegerField(null=True, blank=True)
    progress_note = models.CharField(max_length=200, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["state", "run_after"], name="job_due"),
            models.Index(fields=["state", "priority", "run_after"], name="job_due_priority"),
        ]
        constraints = [
            # At most one queued job per dedupe key: asking twice for the same work queues it once.
            models.UniqueConstraint(
                fields=["dedupe_key"],
                condition=Q(state="queued") & ~Q(dedupe_key=""),
                name="job_one_queued_per_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}#{self.pk} {self.state}"
