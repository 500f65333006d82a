"""Benchmark (docs/benchmarks.md, issue 5) on PostgreSQL with 100,000 cases and 1,000,000
contacts: list pages filtered by jurisdiction and status, the contact export to xlsx, and a
50,000-row push from a higher level with bad rows among them.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import timedelta

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.utils import timezone

from fangkong.accounts.models import User
from fangkong.cases import export, pushes
from fangkong.cases.models import Case, Contact
from fangkong.jobs import queue
from fangkong.people.importing import read_table_file
from fangkong.people.management.commands.synth import populate
from fangkong.people.models import Person
from fangkong.venues.bulk import copy_rows

CITY, COUNTY = "3502", "350203"
STATUSES = ("to_locate", "located", "quarantined", "released")


class Command(BaseCommand):
    help = "Time case/contact lists, the contact export and a 50,000-row push import."

    def add_arguments(self, parser):
        parser.add_argument("--cases", type=int, default=100_000)
        parser.add_argument("--contacts", type=int, default=1_000_000)
        parser.add_argument("--push-rows", type=int, default=50_000)
        parser.add_argument("--seed", type=int, default=5)
        parser.add_argument("--repeat", type=int, default=20)
        parser.add_argument("--only", choices=("lists", "export", "push"), help="one part only")

    def handle(self, *args, **o):
        if connection.vendor != "postgresql":
            raise CommandError("run on PostgreSQL (DATABASE_URL): the figures are PostgreSQL's")
        settings.ALLOWED_HOSTS = ["*"]
        call_command("migrate", verbosity=0)
        rng = random.Random(o["seed"])
        self._load(rng, o)
        users = self._users()
        if o["only"] in (None, "lists"):
            self._lists(users, o["repeat"])
        if o["only"] in (None, "export"):
            self._export(users["tracer"])
        if o["only"] in (None, "push"):
            self._push(rng, users["city_tracer"], o["push_rows"])

    def _load(self, rng, o) -> None:
        needed = o["cases"] + o["contacts"]
        if Case.objects.count() >= o["cases"]:
            return
        if Person.objects.count() < needed:
            if Person.objects.exists():
                raise CommandError(f"use an empty database or one with {needed:,} people")
            self.stdout.write(f"populating {needed:,} people ...")
            populate(needed, o["seed"], (CITY,), days=0)
        start = time.perf_counter()
        people = list(Person.objects.order_by("id").values_list("id", "jurisdiction_id")[:needed])
        now = timezone.now()
        cases = people[: o["cases"]]
        copy_rows(Case, ("number", "person_id", "jurisdiction_id", "classification", "reported_at",
                         "window_start", "protocol", "isolation_place", "outcome"),
                  ((f"B{pid}", pid, place, rng.choice(("confirmed", "asymptomatic")),
                    now - timedelta(hours=rng.randrange(1, 24 * 30)), now - timedelta(days=10),
                    "9", "", "") for pid, place in cases))  # fmt: skip
        case_ids = list(Case.objects.order_by("id").values_list("id", flat=True))
        copy_rows(Contact, ("person_id", "jurisdiction_id", "degree", "case_id", "last_exposure",
                            "status", "created_at", "updated_at"),
                  ((pid, place, rng.choice((1, 1, 2)), rng.choice(case_ids),
                    now - timedelta(hours=rng.randrange(1, 24 * 14)), rng.choice(STATUSES), now, now)
                   for pid, place in people[o["cases"]:]))  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        self.stdout.write(f"loaded {len(cases):,} cases and {needed - len(cases):,} contacts "
                          f"in {time.perf_counter() - start:.0f} s")  # fmt: skip

    def _users(self) -> dict[str, User]:
        def user(name, role, scope):
            account, _ = User.objects.get_or_create(username=name, defaults={"role": role})
            account.role, account.jurisdiction_id = role, scope
            account.save()
            return account

        return {
            "command": user("bench_command", "command", CITY),
            "tracer": user("bench_tracer", "tracer", COUNTY),
            "city_tracer": user("bench_city_tracer", "tracer", CITY),
        }

    def _lists(self, users, repeat: int) -> None:
        client = Client()
        for name in ("command", "tracer"):
            client.force_login(users[name])
            deep = Contact.objects.order_by("id").values_list("id", flat=True)[100_000]
            pages = {
                "case list": "/cases/",
                "case list, confirmed": "/cases/?classification=confirmed",
                "contact list": "/contacts/",
                "contact list, to locate": "/contacts/?status=to_locate",
                "contact list, released, deep page": f"/contacts/?status=released&after={deep}",
            }
            for label, url in pages.items():
                assert client.get(url).status_code == 200
                times = []
                for _ in range(repeat):
                    start = time.perf_counter()
                    client.get(url)
                    times.append((time.perf_counter() - start) * 1000)
                self.stdout.write(
                    f"| {label} ({name}, scope {users[name].scope_code}) | median "
                    f"{statistics.median(times):.0f} ms, max {max(times):.0f} ms |"
                )

    def _export(self, user) -> None:
        job = export.request_export(user)
        start = time.perf_counter()
        queue.run_pending()
        seconds = time.perf_counter() - start
        job.refresh_from_db()
        rows = (job.result or {}).get("rows", 0)
        self.stdout.write(
            f"| contact export to xlsx ({user.scope_code}) | {rows:,} rows in {seconds:.1f} s "
            f"({seconds / max(rows, 1) * 100_000:.1f} s per 100,000), progress every 5,000 rows |"
        )

    def _push(self, rng, user, rows: int) -> None:
        people = list(
            Person.objects.order_by("?").values_list("name", "doc_number", "jurisdiction_id")[:rows]
        )
        lines = [
            "协查编号,序号,姓名,证件类型,证件号码,手机号码,现住址编码,详细地址,暴露情况,核查状态,备注"
        ]
        bad = 0
        for n, (name, doc, place) in enumerate(people, 1):
            if n % 100 == 0 and len(doc) == 18:  # 1 % bad rows: a broken check character
                doc, bad = doc[:17] + ("0" if doc[17] != "0" else "1"), bad + 1
            lines.append(
                f"SJ-1,{n},{name},居民身份证,{doc},,{place},,密切接触者 · 2022-03-02 04:00,,"
            )
        data = ("\n".join(lines) + "\n").encode("gbk")
        start = time.perf_counter()
        report = pushes.import_push(user, read_table_file("push.csv", data, pushes.PUSH), "bench")
        seconds = time.perf_counter() - start
        self.stdout.write(
            f"| push import, {rows:,} rows ({bad} bad) | {seconds:.1f} s | {report.bad_rows} rows "
            f"reported, {len(report.parts)} county requests, {report.people_known:,} people matched |"
        )
