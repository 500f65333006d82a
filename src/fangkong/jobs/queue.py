"""A small database-backed job queue: enqueue inside a transaction, claim with a lease, retry.

Why not a library: django-tasks-db (the backport of Django 6's task framework) leaves a job
RUNNING forever when its worker is killed and has no progress or de-duplication; huey and rq keep
jobs outside the database, so a job could be queued for a write that then rolled back. Here:
- `enqueue` writes a row in the caller's transaction (committed together or not at all);
- `claim` takes the oldest due job with a lease (SKIP LOCKED on PostgreSQL; SQLite serialises
  writers), and takes over jobs whose lease ran out (their worker died);
- a failing job is retried with exponential back-off, then marked failed with its error;
- long jobs report progress, which also renews their lease.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from fangkong.jobs.models import Job, JobState

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
RETRY_BASE = timedelta(seconds=10)  # 10 s, 20 s, 40 s, ...
TASKS: dict[str, Callable[..., Any]] = {}


def task(kind: str):
    """Register `function(job, **args)` as the handler of jobs of `kind`."""

    def register(function):
        TASKS[kind] = function
        return function

    return register


# A positive result's recolouring must not wait behind a million negatives' (issue 6: members
# flagged and recoloured within 5 s of the result).
URGENT, NORMAL, BACKGROUND = 0, 5, 9


def enqueue(
    kind: str,
    args: dict | None = None,
    *,
    run_after: datetime | None = None,
    dedupe_key: str = "",
    max_attempts: int = 3,
    priority: int = NORMAL,
) -> Job:
    """Queue a job; with `dedupe_key`, a job already queued under that key is reused. Lower
    `priority` runs first among due jobs (URGENT, NORMAL, BACKGROUND)."""
    if kind not in TASKS:
        raise KeyError(f"no handler registered for job kind {kind!r}")
    when = run_after or timezone.now()
    if dedupe_key:
        existing = _queued_with_key(dedupe_key, when)
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            return Job.objects.create(
                kind=kind,
                args=args or {},
                run_after=when,
                dedupe_key=dedupe_key,
                max_attempts=max_attempts,
                priority=priority,
            )
    except IntegrityError:  # queued concurrently by another writer under the same key
        return _queued_with_key(dedupe_key, when)


def _queued_with_key(dedupe_key: str, when: datetime) -> Job | None:
    job = Job.objects.filter(dedupe_key=dedupe_key, state=JobState.QUEUED).first()
    if job is not None and when < job.run_after:
        Job.objects.filter(pk=job.pk).update(run_after=when)  # the earlier request wins
        job.run_after = when
    return job


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _due(now: datetime) -> Q:
    queued = Q(state=JobState.QUEUED, run_after__lte=now)
    abandoned = Q(state=JobState.RUNNING, lease_until__lt=now)
    return queued | abandoned


def claim(worker: str, now: datetime | None = None) -> Job | None:
    """Take the most urgent, then oldest, due job (or one whose worker died) and lease it."""
    now = now or timezone.now()
    with transaction.atomic():
        candidates = Job.objects.filter(_due(now)).order_by("priority", "run_after", "id")
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True)
        job = candidates.first()
        if job is None:
            return None
        job.state, job.worker = JobState.RUNNING, worker
        job.attempts += 1
        job.lease_until = now + LEASE
        job.started_at = job.started_at or now
        job.save(update_fields=["state", "worker", "attempts", "lease_until", "started_at"])
        return job


def report_progress(job: Job, done: int, total: int | None = None, note: str = "") -> None:
    """Record progress of a running job and renew its lease (a sign of life)."""
    job.progress_done, job.progress_total, job.progress_note = done, total, note[:200]
    job.lease_until = timezone.now() + LEASE
    Job.objects.filter(pk=job.pk).update(
        progress_done=done,
        progress_total=total,
        progress_note=note[:200],
        lease_until=job.lease_until,
    )


def run_one(worker: str | None = None) -> Job | None:
    """Claim one due job and run it; returns the job (None when nothing was due)."""
    job = claim(worker or worker_name())
    if job is None:
        return None
    handler = TASKS.get(job.kind)
    beat = _Heartbeat(job.pk) if connection.vendor == "postgresql" else None
    if beat is not None:
        beat.start()
    try:
        if handler is None:
            raise LookupError(f"no handler registered for job kind {job.kind!r}")
        result = handler(job, **job.args)
    except Exception as error:  # a job's failure must not stop the worker
        _failed(job, error)
    else:
        _done(job, result)
    finally:
        if beat is not None:
            beat.stop.set()
            beat.join()
    return job


class _Heartbeat(threading.Thread):
    """Renews a running job's lease while its handler works. A tracing run of a dense outbreak
    spends minutes inside one engine call without reporting progress; without this, a second
    worker took the job over after LEASE and ran it again beside the first. A worker that
    dies stops beating, so its job is still taken over. (PostgreSQL: the beat needs its own
    connection; the embedded SQLite default runs one worker.)"""

    def __init__(self, job_pk: int) -> None:
        super().__init__(daemon=True, name=f"lease-{job_pk}")
        self.job_pk, self.stop = job_pk, threading.Event()

    def run(self) -> None:
        try:
            while not self.stop.wait(LEASE.total_seconds() / 3):
                Job.objects.filter(pk=self.job_pk, state=JobState.RUNNING).update(
                    lease_until=timezone.now() + LEASE
                )
        finally:
            connection.close()  # this thread's own connection


def _done(job: Job, result: Any) -> None:
    job.state, job.result, job.finished_at = JobState.DONE, result, timezone.now()
    job.lease_until = None
    job.save(update_fields=["state", "result", "finished_at", "lease_until"])


def _failed(job: Job, error: Exception) -> None:
    job.error = "".join(traceback.format_exception_only(error)).strip()[:4000]
    job.lease_until = None
    if job.attempts < job.max_attempts:
        job.state = JobState.QUEUED
        job.run_after = timezone.now() + RETRY_BASE * 2 ** (job.attempts - 1)
        log.warning("job %s failed (attempt %s), retrying: %s", job, job.attempts, job.error)
    else:
        job.state, job.finished_at = JobState.FAILED, timezone.now()
        log.error("job %s failed for good: %s", job, job.error)
    try:
        job.save(update_fields=["error", "lease_until", "state", "run_after", "finished_at"])
    except IntegrityError:
        # The same work was queued again meanwhile under the dedupe key: that job will do it.
        Job.objects.filter(pk=job.pk).update(state=JobState.FAILED, finished_at=timezone.now())


def run_pending(limit: int = 10_000) -> int:
    """Run due jobs until none is left (tests, `fangkong worker --burst`); returns how many."""
    count = 0
    while count < limit and run_one() is not None:
        count += 1
    return count


PERIODIC: list[Callable[[datetime], Any]] = []


def periodic(function):
    """Register `function(now)`, called by every worker loop to queue work that falls due."""
    PERIODIC.append(function)
    return function


def tick(now: datetime | None = None) -> None:
    now = now or timezone.now()
    for function in PERIODIC:
        function(now)


def run_forever(interval: float = 1.0, stop=None, burst: bool = False) -> None:
    """The worker loop: queue what fell due, run what is queued, sleep; `stop` is an Event."""
    import threading

    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            tick()
            run_pending()
        finally:
            connection.close_if_unusable_or_obsolete()
        if burst:
            return
        stop.wait(interval)


def start_background_worker(interval: float = 1.0):
    """A worker thread inside this process (the embedded demo: one process, no extra command)."""
    import threading

    stop = threading.Event()
    thread = threading.Thread(
        target=run_forever, args=(interval, stop), name="fangkong-worker", daemon=True
    )
    thread.start()
    return stop
