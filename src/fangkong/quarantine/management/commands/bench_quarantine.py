"""Benchmark (docs/benchmarks.md): batch room assignment and the occupancy overview."""

from __future__ import annotations

import random
import statistics
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from epicore import placement
from fangkong.geo.models import in_subtree
from fangkong.people.management.commands.synth import populate
from fangkong.people.models import Person
from fangkong.quarantine import actions, planning
from fangkong.quarantine.models import Room, Site, Stay

CATEGORIES = ("close", "secondary", "inbound")


class Command(BaseCommand):
    help = "Time batch assignment (10,000 people, 200 sites, 20,000 rooms) and occupancy."

    def add_arguments(self, parser):
        parser.add_argument("--people", type=int, default=100_000)
        parser.add_argument("--batch", type=int, default=10_000)
        parser.add_argument("--sites", type=int, default=200)
        parser.add_argument("--rooms-per-site", type=int, default=100)
        parser.add_argument("--seed", type=int, default=3)

    def handle(self, *args, **o):
        call_command("migrate", verbosity=0)
        if Site.objects.exists() or Stay.objects.exists():
            raise CommandError("use an empty database (sites or stays exist)")
        if Person.objects.count() < o["people"]:
            if Person.objects.exists():
                raise CommandError("use an empty database")
            populate(o["people"], o["seed"], ("3502",), days=0)
        # The 8th edition quarantines all three categories in sites (14+7, secondary 7 days):
        # every person of the benchmark is placeable, as in the figures of docs/benchmarks.md.
        settings.FANGKONG_QUARANTINE_RULES = "2021-05"
        rng = random.Random(o["seed"])
        self._sites(rng, o["sites"], o["rooms_per_site"])
        people = self._people(rng, o["people"])
        start = time.perf_counter()
        first = actions.place_people(None, people[: o["batch"]], "bench")
        seconds = time.perf_counter() - start
        problems = self._violations()
        self.stdout.write(
            f"| batch assignment, {o['batch']:,} people, {o['sites']} sites, "
            f"{Room.objects.count():,} rooms | {seconds:.2f} s | placed {first['placed']:,}, "
            f"unplaced {len(first['unplaced']):,}, constraint violations {problems} |"
        )
        self._fill(people[o["batch"] :], o, rng)
        self._occupancy(Stay.objects.count())

    def _sites(self, rng, count: int, per_site: int) -> None:
        counties = ["350203", "350205", "350206", "350211", "350212", "350213"]
        grids = {
            c: Person.objects.filter(in_subtree("jurisdiction_id", c))
            .values_list("jurisdiction_id", flat=True)
            .first()
            for c in counties
        }
        sites = Site.objects.bulk_create(
            Site(
                name=f"隔离点{i:03d}",
                jurisdiction_id=grids[counties[i % len(counties)]],
                lat=24.4 + rng.random() * 0.3,
                lon=117.9 + rng.random() * 0.4,
            )
            for i in range(count)
        )
        Room.objects.bulk_create(
            Room(site=site, number=str(n), beds=2 if n % 20 == 0 else 1)
            for site in sites
            for n in range(per_site)
        )

    def _people(self, rng, count: int) -> list[placement.Person]:
        rows = Person.objects.order_by("id").values_list("id", "jurisdiction_id")[:count]
        return [
            placement.Person(
                pid,
                rng.choice(CATEGORIES),
                code[:6],
                24.4 + rng.random() * 0.3,
                117.9 + rng.random() * 0.4,
                group=f"g{pid // 2}" if pid % 50 < 2 else "",
            )
            for pid, code in rows
        ]

    def _violations(self) -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM (SELECT s.room_id FROM quarantine_stay s "
                "JOIN quarantine_room r ON r.id = s.room_id WHERE s.ended_at IS NULL "
                "GROUP BY s.room_id, r.beds HAVING count(*) > r.beds "
                "OR count(DISTINCT s.category) > 1) v"
            )
            return cursor.fetchone()[0]

    def _fill(self, rest, o, rng) -> None:
        """More sites and stays until the occupancy overview has the stays it should count."""
        needed = len(rest) - Room.objects.filter(state="free").count()
        if needed > 0:
            self._sites(rng, needed // o["rooms_per_site"] + 1, o["rooms_per_site"])
        actions.place_people(None, rest, "bench fill")

    def _occupancy(self, stays: int) -> None:
        samples = []
        for _ in range(15):
            start = time.perf_counter()
            planning.occupancy("3502")
            samples.append((time.perf_counter() - start) * 1000)
        self.stdout.write(
            f"| occupancy overview over {stays:,} stays | median {statistics.median(samples):.0f} ms "
            f"(max {max(samples):.0f} ms, 15 runs) | |"
        )
