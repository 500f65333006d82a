"""Benchmark (docs/benchmarks.md, issue 6) on PostgreSQL:

1. import 1,000,000 tube-member results (100,000 tubes of 10) through the bulk path, members
   resolved to people by ID number and campaign completion updated;
2. campaign completion over 1,000,000 people by jurisdiction (city, then one district);
3. a positive tube's result to all its members recoloured, with a real `fangkong worker`
   process busy with the import's background recolouring.
The baseline in the same run: the per-tube path (actions.record_result) on 1,000 tubes.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import time
from datetime import timedelta

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection
from django.utils import timezone

from fangkong.healthcode.models import CodeState
from fangkong.labs import actions, bulk, campaigns
from fangkong.labs.models import CampaignSample, Tube, TubeMember
from fangkong.people.importing import read_table_file
from fangkong.people.management.commands.synth import populate
from fangkong.people.models import Person

CITY = "3502"


class Command(BaseCommand):
    help = "Time bulk member results, campaign completion and a positive tube's recolouring."

    def add_arguments(self, parser):
        parser.add_argument("--people", type=int, default=1_000_000)
        parser.add_argument("--tube-size", type=int, default=10)
        parser.add_argument("--positive-share", type=float, default=0.001)
        parser.add_argument("--seed", type=int, default=6)

    def handle(self, *args, **o):
        if connection.vendor != "postgresql":
            raise CommandError("run on PostgreSQL (DATABASE_URL): the figures are PostgreSQL's")
        call_command("migrate", verbosity=0)
        if Tube.objects.exists():
            raise CommandError("use a database without tubes")
        if Person.objects.count() < o["people"]:
            if Person.objects.exists():
                raise CommandError("use an empty database or one with enough people")
            self.stdout.write(f"populating {o['people']:,} people ...")
            populate(o["people"], o["seed"], (CITY,), days=0)
        now = timezone.now()
        campaign = campaigns.create(None, "bench 全员核酸", "area", CITY,
                                    now - timedelta(hours=1), now + timedelta(hours=12), o["tube_size"])  # fmt: skip
        rng = random.Random(o["seed"])
        data = self._member_file(rng, o)
        self._checkpoint()
        self._import(data, campaign)
        self._completion(campaign)
        self._baseline(rng)
        self._positive_latency(rng, o)

    def _member_file(self, rng, o) -> bytes:
        docs = list(
            Person.objects.order_by("id").values_list("doc_number", flat=True)[: o["people"]]
        )
        rng.shuffle(docs)
        lines = ["采样管条码,证件号码,采样时间,检测结果,Ct值,检测机构"]
        size = o["tube_size"]
        for t in range(len(docs) // size):
            positive = rng.random() < o["positive_share"]
            result, ct = ("阳性", f"{rng.uniform(20, 35):.1f}") if positive else ("阴性", "")
            minute = t % 600
            stamp = f"2026-11-23 {8 + minute // 60:02d}:{minute % 60:02d}"
            for doc in docs[t * size : (t + 1) * size]:
                lines.append(f"BX{t:07d},{doc},{stamp},{result},{ct},厦门市第一医院")
        return ("\n".join(lines) + "\n").encode()

    def _checkpoint(self) -> None:
        """Write out what populating the city left dirty, so that the import is not charged
        for it (CHECKPOINT needs a superuser or pg_checkpoint; without, the run goes on)."""
        try:
            with connection.cursor() as cursor:
                cursor.execute("CHECKPOINT")
        except DatabaseError:
            self.stdout.write("(no CHECKPOINT before the import: not allowed for this user)")

    def _import(self, data: bytes, campaign) -> None:
        start = time.perf_counter()
        records = read_table_file("members.csv", data, bulk.MEMBER_RESULTS)
        read = time.perf_counter() - start
        report = bulk.import_member_results(None, records, "", CITY, campaign)
        total = time.perf_counter() - start
        samples = CampaignSample.objects.filter(campaign=campaign).count()
        self.stdout.write(
            f"| bulk member results | {report.rows:,} rows, {report.tubes_new:,} tubes, "
            f"{report.members:,} members | {total:.1f} s (reading the file {read:.1f} s) | "
            f"rejected rows {report.rejected_rows}, campaign samples {samples:,}, "
            f"stored members {TubeMember.objects.count():,} |"
        )

    def _completion(self, campaign) -> None:
        for under in (CITY, self._busiest_district()):
            times = []
            for _ in range(7):
                start = time.perf_counter()
                units = campaigns.completion(campaign, under)
                campaigns.totals(campaign)
                times.append(time.perf_counter() - start)
            sampled = sum(u.sampled for u in units)
            self.stdout.write(
                f"| completion under {under} ({len(units)} units, {sampled:,} sampled) | "
                f"median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms |"
            )

    def _busiest_district(self) -> str:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT SUBSTR(jurisdiction_id, 1, 6), COUNT(*) FROM {Person._meta.db_table} "
                "GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
            )
            return cursor.fetchone()[0]

    def _baseline(self, rng) -> None:
        """The per-tube path (sampling page + result upload), on 100 new tubes of 10."""
        tubes = 100
        people = list(Person.objects.order_by("-id").values_list("pk", flat=True)[: tubes * 10])
        people_by_id = Person.objects.in_bulk(people)
        start = time.perf_counter()
        for t in range(tubes):
            barcode = f"BASE{t:05d}"
            actions.open_tube(None, barcode, 10, "bench", CITY)
            for pk in people[t * 10 : (t + 1) * 10]:
                actions.scan_into(None, barcode, people_by_id[pk])
            actions.seal(None, barcode)
            actions.record_result(None, barcode, "negative", None, "bench")
        seconds = time.perf_counter() - start
        self.stdout.write(
            f"| baseline: per-tube actions (open, scan 10, seal, result) | {tubes * 10:,} members | "
            f"{seconds:.1f} s, i.e. {seconds * 1_000_000 / (tubes * 10):,.0f} s per 1,000,000 |"
        )

    def _positive_latency(self, rng, o) -> None:
        """Result in, worker recolours: time until every member's code shows the recall."""
        env = dict(os.environ)
        worker = subprocess.Popen([sys.executable, "-m", "fangkong", "worker"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            time.sleep(3)  # the worker is up and busy with the import's background recolouring
            latencies = [self._one_positive(t, rng) for t in range(5)]
        finally:
            worker.terminate()
            worker.wait(timeout=30)
        backlog = self._queued_jobs()
        self.stdout.write(
            f"| positive tube result -> 10 members recoloured (worker busy, {backlog} jobs still "
            f"queued) | median {statistics.median(latencies):.2f} s, max {max(latencies):.2f} s |"
        )

    def _one_positive(self, t: int, rng) -> float:
        barcode = f"POS{t:03d}"
        people = list(Person.objects.filter(pk__in=rng.sample(range(1, 900_000), 10)))
        actions.open_tube(None, barcode, 10, "bench", CITY)
        for person in people:
            actions.scan_into(None, barcode, person)
        actions.seal(None, barcode)
        ids = [p.pk for p in people]
        start = time.perf_counter()
        actions.record_result(None, barcode, "positive", 30.0, "bench")
        while True:
            if self._recalled(ids) == len(ids):
                return time.perf_counter() - start
            if time.perf_counter() - start > 120:
                raise CommandError(f"tube {barcode}: members not recoloured within 120 s")
            time.sleep(0.02)

    @staticmethod
    def _recalled(ids) -> int:
        states = CodeState.objects.filter(person_id__in=ids).values_list("reasons", flat=True)
        return sum(
            1 for reasons in states if any(r["code"] == "pooled_positive_recall" for r in reasons)
        )

    def _queued_jobs(self) -> int:
        from fangkong.jobs.models import Job

        return Job.objects.filter(state="queued").count()
