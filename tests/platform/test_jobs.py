from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from fangkong.jobs import queue
from fangkong.jobs.models import Job, JobState

CALLS: list = []


@queue.task("test.record")
def _record(job, value, fail_times=0):
    CALLS.append(value)
    if job.attempts <= fail_times:
        raise RuntimeError(f"boom {job.attempts}")
    queue.report_progress(job, 1, 1, "done")
    return {"value": value}


@pytest.fixture(autouse=True)
def _clean_calls():
    CALLS.clear()


def test_a_job_runs_once_and_keeps_its_result(db):
    job = queue.enqueue("test.record", {"value": 7})
    assert queue.run_pending() == 1
    job.refresh_from_db()
    assert (job.state, job.result, job.attempts, CALLS) == (JobState.DONE, {"value": 7}, 1, [7])
    assert (job.progress_done, job.progress_total, job.progress_note) == (1, 1, "done")
    assert queue.run_pending() == 0


def test_a_rolled_back_write_queues_nothing(db):
    with pytest.raises(RuntimeError), transaction.atomic():
        queue.enqueue("test.record", {"value": 1})
        raise RuntimeError("the write failed")
    assert not Job.objects.filter(kind="test.record").exists()


def test_unknown_kinds_are_refused_when_queued(db):
    with pytest.raises(KeyError):
        queue.enqueue("no.such.job")


def test_the_same_key_queues_the_work_once_and_the_earlier_time_wins(db):
    later = timezone.now() + timedelta(hours=1)
    first = queue.enqueue("test.record", {"value": 1}, run_after=later, dedupe_key="k")
    second = queue.enqueue("test.record", {"value": 1}, dedupe_key="k")
    assert first.pk == second.pk
    assert Job.objects.get(pk=first.pk).run_after <= timezone.now()


def test_a_scheduled_job_waits_for_its_time(db):
    queue.enqueue("test.record", {"value": 1}, run_after=timezone.now() + timedelta(minutes=5))
    assert queue.run_pending() == 0
    assert queue.claim("w", now=timezone.now() + timedelta(minutes=6)) is not None


def test_failures_are_retried_with_backoff_then_marked_failed(db):
    job = queue.enqueue("test.record", {"value": 1, "fail_times": 5}, max_attempts=2)
    queue.run_one()
    job.refresh_from_db()
    assert job.state == JobState.QUEUED and "boom 1" in job.error
    assert job.run_after > timezone.now()
    Job.objects.filter(pk=job.pk).update(run_after=timezone.now())
    queue.run_one()
    job.refresh_from_db()
    assert (job.state, job.attempts) == (JobState.FAILED, 2)
    assert "boom 2" in job.error


def test_a_job_whose_worker_died_is_taken_over_after_its_lease(db):
    queue.enqueue("test.record", {"value": 3})
    dead = queue.claim("dead-worker")
    assert queue.claim("other") is None  # leased
    later = timezone.now() + queue.LEASE + timedelta(seconds=1)
    taken = queue.claim("other", now=later)
    assert (taken.pk, taken.worker, taken.attempts) == (dead.pk, "other", 2)


def _in_threads(function, count: int = 1) -> None:
    """Run `function` in threads: each has its own connection, outside the test's transaction."""

    def wrapped():
        try:
            function()
        finally:
            connection.close()  # the thread's own connection

    threads = [threading.Thread(target=wrapped, name=f"w{i}") for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@pytest.mark.skipif(
    not connection.features.has_select_for_update_skip_locked, reason="PostgreSQL only"
)
def test_concurrent_workers_never_claim_the_same_job(db):
    _in_threads(lambda: [queue.enqueue("test.record", {"value": i}) for i in range(20)])
    claimed: list[int] = []
    lock = threading.Lock()

    def work():
        while (job := queue.claim(threading.current_thread().name)) is not None:
            with lock:
                claimed.append(job.pk)

    try:
        _in_threads(work, count=4)
        assert len(claimed) == len(set(claimed)) == 20
    finally:
        _in_threads(lambda: Job.objects.filter(kind="test.record").delete())


@queue.task("test.slow")
def _slow(job, seconds):
    import time

    time.sleep(seconds)
    return {}


@pytest.mark.skipif(
    not connection.features.has_select_for_update_skip_locked, reason="PostgreSQL only"
)
def test_a_long_job_keeps_its_lease_so_no_other_worker_runs_it_again(db, monkeypatch):
    monkeypatch.setattr(queue, "LEASE", timedelta(seconds=0.6))
    _in_threads(lambda: queue.enqueue("test.slow", {"seconds": 2.0}))
    taken: list = []

    def other_worker():
        import time

        time.sleep(1.2)  # two leases later: without the heartbeat it would take the job over
        taken.append(queue.claim("other"))

    try:
        runner = threading.Thread(target=lambda: _in_threads(lambda: queue.run_one("busy")))
        runner.start()
        _in_threads(other_worker)
        runner.join()
        assert taken == [None]
        _in_threads(lambda: taken.append(Job.objects.get(kind="test.slow").attempts))
        assert taken[-1] == 1
    finally:
        _in_threads(lambda: Job.objects.filter(kind="test.slow").delete())


def test_urgent_jobs_run_before_older_routine_ones(db):
    from fangkong.jobs import queue
    from fangkong.jobs.models import Job

    routine = queue.enqueue("healthcode.recolour", {"person_ids": []}, priority=queue.BACKGROUND)
    urgent = queue.enqueue("healthcode.recolour", {"person_ids": []}, priority=queue.URGENT)
    Job.objects.exclude(pk__in=[routine.pk, urgent.pk]).update(state="done")
    assert queue.claim("w").pk == urgent.pk
    assert queue.claim("w").pk == routine.pk
