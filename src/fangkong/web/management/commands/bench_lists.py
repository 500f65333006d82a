"""Benchmark: people list and search pages with a large register (docs/benchmarks.md).

Measures whole requests through Django's test client (middleware, access checks, audit writes
for searches, template rendering), each repeated; reports median and p95 in milliseconds. The
baseline in the same run is the usual OFFSET pagination at the same depth, on the same data.
"""

from __future__ import annotations

import statistics
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client

from fangkong.accounts.personas import COUNTY_A, ensure_personas
from fangkong.geo.models import in_subtree
from fangkong.people.management.commands.synth import populate
from fangkong.people.models import Person

PASSWORD = "fangkong-bench"


def _time(call, repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


class Command(BaseCommand):
    help = (
        "Time the people list/search pages and API with N residents (PostgreSQL for the figures)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--people", type=int, default=1_000_000)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--roots", default="35")
        parser.add_argument("--repeat", type=int, default=30)

    def handle(self, *args, **options):
        settings.ALLOWED_HOSTS = ["*"]
        call_command("migrate", verbosity=0)
        self._ensure_people(options)
        client, users = Client(), self._users()
        rows = [self._measure(client, users[name], name, options["repeat"]) for name in users]
        self._report(rows, options)

    def _ensure_people(self, options) -> None:
        have = Person.objects.count()
        if have >= options["people"]:
            return
        if have:
            raise CommandError(
                f"database holds {have} people, fewer than {options['people']}: use an empty one"
            )
        start = time.perf_counter()
        roots = tuple(options["roots"].split(","))
        populate(options["people"], options["seed"], roots, days=0)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        self.stdout.write(
            f"loaded {options['people']} people in {time.perf_counter() - start:.0f} s"
        )

    def _users(self):
        sample = (
            Person.objects.filter(in_subtree("jurisdiction_id", COUNTY_A)).order_by("id").first()
        )
        if sample is None:
            raise CommandError("no residents in 思明区 (350203): load roots 35 or 3502")
        users = ensure_personas(PASSWORD, sample.jurisdiction_id, sample)
        users["command"].jurisdiction_id = "35"  # the whole province
        users["command"].save()
        return {
            "command": users["command"],
            "tracer_a": users["tracer_a"],
            "grid_a": users["grid_a"],
        }

    def _measure(self, client, user, name, repeat):
        client.force_login(user)
        first = client.get("/people/")
        assert first.status_code == 200, first.status_code
        person = (
            Person.objects.filter(in_subtree("jurisdiction_id", user.scope_code))
            .order_by("id")
            .last()
        )
        cursor = self._deep_cursor(client, user)
        cases = {
            "page 1 (HTML)": "/people/",
            "page 1 (API)": "/api/people",
            "deep page, keyset (API)": f"/api/people?cursor={cursor}",
            "search by ID number": f"/people/?q={person.doc_number}",
            "search by mobile": f"/people/?q={person.phone or person.doc_number}",
            "search by name prefix": f"/people/?q={person.name[:2]}",
            "person page (audited)": f"/people/{person.pk}/",
        }
        results = {
            label: _time(lambda u=url: client.get(u), repeat) for label, url in cases.items()
        }
        results["deep page, OFFSET baseline"] = self._offset_baseline(user, repeat)
        scope = Person.objects.filter(in_subtree("jurisdiction_id", user.scope_code)).count()
        return name, scope, results

    def _deep_cursor(self, client, user) -> str:
        """A cursor halfway through the user's subtree."""
        people = Person.objects.filter(in_subtree("jurisdiction_id", user.scope_code)).order_by(
            "jurisdiction_id", "id"
        )
        middle = people.count() // 2
        row = people.values_list("jurisdiction_id", "id")[middle]
        return f"{row[0]}.{row[1]}"

    def _offset_baseline(self, user, repeat):
        """What most list pages do: ORDER BY ... OFFSET n LIMIT 50 at the same depth."""
        people = Person.objects.filter(in_subtree("jurisdiction_id", user.scope_code)).order_by(
            "jurisdiction_id", "id"
        )
        middle = people.count() // 2
        return _time(lambda: list(people[middle : middle + 50]), repeat)

    def _report(self, rows, options):
        self.stdout.write(
            f"\n{connection.vendor}, {Person.objects.count():,} people, "
            f"{options['repeat']} requests per figure, milliseconds (median / p95)\n"
        )
        labels = list(rows[0][2])
        header = "| request | " + " | ".join(f"{n} ({s:,} people)" for n, s, _ in rows) + " |"
        self.stdout.write(header)
        self.stdout.write("|---" * (len(rows) + 1) + "|")
        for label in labels:
            cells = " | ".join(f"{r[label][0]:.1f} / {r[label][1]:.1f}" for _, _, r in rows)
            self.stdout.write(f"| {label} | {cells} |")
