"""Benchmark (docs/benchmarks.md, issue 4): tracing end to end in the platform, on PostgreSQL.

On the benchmark city (1,000,000 synthetic residents with their check-ins in the database), a
lab records a positive individual result for a resident; the clock runs until the case is open,
its tracing run has finished, every contact found is recorded, every contact's health code has
been recoloured by the workers, and the assistance requests for contacts registered in other
counties exist. Real `fangkong worker` processes do the queued work, as in production.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from fangkong.cases.assist import county_of
from fangkong.cases.models import AssistanceItem, AssistanceRequest, Case, Contact, TracingRun
from fangkong.healthcode.models import CodeState
from fangkong.jobs.models import Job
from fangkong.labs import actions as labs
from fangkong.people.management.commands.synth import populate
from fangkong.people.models import Person
from fangkong.venues.models import CheckIn

CITY = "3502"
BUSY = ("queued", "running")


class Command(BaseCommand):
    help = "Time a positive result to traced, recoloured and pushed contacts, end to end."

    def add_arguments(self, parser):
        parser.add_argument("--people", type=int, default=1_000_000)
        parser.add_argument("--days", type=int, default=4)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--cases", type=int, default=3, help="positives, one after another")
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument("--timeout", type=float, default=600.0)

    def handle(self, *args, **o):
        if connection.vendor != "postgresql":
            raise CommandError("run on PostgreSQL (DATABASE_URL): the figures are PostgreSQL's")
        call_command("migrate", verbosity=0)
        self._city(o)
        people = self._index_people(o)
        workers = [self._worker() for _ in range(o["workers"])]
        try:
            self._wait_until_started(workers)
            times = [self._one_positive(person, o["timeout"]) for person in people]
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(timeout=60)
        self.stdout.write(
            f"| median of {len(times)} positives | {statistics.median(times):.1f} s "
            f"(max {max(times):.1f} s, {o['workers']} workers) |"
        )

    def _city(self, o) -> None:
        if Person.objects.count() >= o["people"] and CheckIn.objects.exists():
            return
        if Person.objects.exists():
            raise CommandError("use an empty database or one with the city and its check-ins")
        # The check-ins end yesterday: exposures are recent, so the rules in force colour them.
        start = timezone.localdate() - timedelta(days=o["days"])
        self.stdout.write(f"populating {o['people']:,} people, {o['days']} days from {start} ...")
        populate(o["people"], o["seed"], (CITY,), days=o["days"], start=start)

    def _index_people(self, o) -> list[Person]:
        """Residents active on the last day of the data (seeded), not yet cases or contacts."""
        last = CheckIn.objects.order_by("-t_in").values_list("t_in", flat=True).first()
        rng = random.Random(o["seed"])
        highest = Person.objects.order_by("-id").values_list("pk", flat=True).first()
        chosen: list[Person] = []
        while len(chosen) < o["cases"]:
            candidate = rng.randint(1, highest)
            busy = CheckIn.objects.filter(person_id=candidate, t_in__date=last.date()).exists()
            taken = Case.objects.filter(person_id=candidate).exists()
            if busy and not taken and not Contact.objects.filter(person_id=candidate).exists():
                chosen.append(Person.objects.get(pk=candidate))
        return chosen

    def _worker(self) -> subprocess.Popen:
        command = [sys.executable, "-m", "fangkong", "worker", "--interval", "0.1"]
        output = tempfile.TemporaryFile()  # where it says it has started (a pipe could fill)
        environment = {**os.environ, "PYTHONUNBUFFERED": "1"}  # the line arrives at once
        worker = subprocess.Popen(command, env=environment, stdout=output)
        worker.output = output
        return worker

    @staticmethod
    def _wait_until_started(workers: list[subprocess.Popen], timeout: float = 300.0) -> None:
        """Until every worker is polling the queue. Production workers run all the time, so
        the clock starts with them ready: their start-up (Django, the compiled tracing loops
        loaded from numba's cache) took ~2.4 s and was inside the figure until 2026-12-07's
        eighth session (docs/benchmarks.md)."""
        deadline = time.monotonic() + timeout
        for worker in workers:
            while True:
                worker.output.seek(0)
                if b" started" in worker.output.read():
                    break
                if worker.poll() is not None:
                    raise CommandError(f"a worker exited with {worker.returncode} before starting")
                if time.monotonic() > deadline:
                    raise CommandError(f"the workers did not start within {timeout:.0f} s")
                time.sleep(0.1)

    def _one_positive(self, person: Person, timeout: float) -> float:
        last = CheckIn.objects.filter(person=person).order_by("-t_in").first()
        sampled_at = last.t_out or last.t_in  # found at the end of the data: the window covers it
        start = time.perf_counter()
        labs.record_individual(None, person, sampled_at, "positive")
        case = Case.objects.get(person=person)
        stages = self._wait(case, start, timeout)
        total = time.perf_counter() - start
        run = TracingRun.objects.filter(cases=case).latest("id")
        contacts = Contact.objects.filter(case=case)
        outside = _outside(case)
        requests = AssistanceRequest.objects.filter(case=case)
        items = AssistanceItem.objects.filter(request__case=case).count()
        self.stdout.write(
            f"| person {person.pk} | {total:.1f} s | run {run.counts.get('rows_pulled', 0):,} "
            f"check-ins pulled, {run.counts.get('1', 0):,} close + {run.counts.get('2', 0):,} "
            f"secondary; {contacts.count():,} contacts of this case, {outside:,} outside its "
            f"county → {requests.count()} requests, {items:,} items; stages: "
            + ", ".join(f"{name} {at:.1f} s" for name, at in stages)
            + "; inside the run: "
            + ", ".join(
                f"{name} {v['seconds']} s ({v['rows']:,})"
                for name, v in run.report.get("pull", {}).items()
            )
            + " |"
        )
        return total

    def _wait(self, case: Case, start: float, timeout: float) -> list[tuple[str, float]]:
        """Poll until traced, recorded, recoloured and pushed; when each became true."""
        stages: list[tuple[str, float]] = []
        polls = 0
        while True:
            elapsed = time.perf_counter() - start
            if elapsed > timeout:
                raise CommandError(f"case {case.pk}: not done within {timeout:.0f} s: {stages}")
            run = TracingRun.objects.filter(cases=case).order_by("-id").first()
            if run is not None and run.state == "failed":
                raise CommandError(f"tracing run {run.pk} failed: {run.error}")
            polls += 1
            if not stages and polls % 5 == 0 and self._close_red(case):  # ~once a second
                stages.append(("close contacts red", elapsed))
            done = run is not None and run.state == "done"
            if done and not any(name == "traced and recorded" for name, _ in stages):
                stages.append(("traced and recorded", elapsed))
            if done and self._recoloured(case) and self._pushed(case):
                stages.append(("recoloured and pushed", elapsed))
                return stages
            time.sleep(0.2)

    @staticmethod
    def _close_red(case: Case) -> bool:
        """The close contacts are recorded (in one transaction, before the secondary ones) and
        every one of them is red: the figure that matters most to the people around them."""
        close, red = _close_and_red(case)
        return close > 0 and red == close

    @staticmethod
    def _recoloured(case: Case) -> bool:
        """Every recolouring queued has run (the run queued its contacts' before it finished),
        and every close contact's code is red (every rule set makes them red; what secondary
        contacts get depends on the rule set in force)."""
        if Job.objects.filter(kind="healthcode.recolour", state__in=BUSY).exists():
            return False
        close, red = _close_and_red(case)
        return red == close

    @staticmethod
    def _pushed(case: Case) -> bool:
        return AssistanceItem.objects.filter(request__case=case).count() == _outside(case)


def _close_and_red(case: Case) -> tuple[int, int]:
    """How many close contacts the case has, and how many of them are red."""
    close = Contact.objects.filter(case=case, degree=1).values("person_id")
    return close.count(), CodeState.objects.filter(person_id__in=close, colour="red").count()


def _outside(case: Case) -> int:
    """Contacts of the case registered outside its county: each one is pushed there."""
    home = county_of(case.jurisdiction_id)
    places = Contact.objects.filter(case=case).values_list("jurisdiction_id", flat=True)
    return sum(1 for place in places if county_of(place) != home)
