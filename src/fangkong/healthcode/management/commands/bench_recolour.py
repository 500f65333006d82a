"""Benchmark (docs/benchmarks.md): recolouring N people after a rule change."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from fangkong.healthcode.models import CodeState
from fangkong.healthcode.recolour import recolour
from fangkong.people.models import Person


class Command(BaseCommand):
    help = "Time recolouring N people when every colour changes, next to a pass that changes none."

    def add_arguments(self, parser):
        parser.add_argument("--people", type=int, default=100_000)

    def handle(self, *args, **o):
        ids = list(Person.objects.order_by("id").values_list("id", flat=True)[: o["people"]])
        if len(ids) < o["people"]:
            raise CommandError(f"only {len(ids)} people: load more (fangkong synth --db)")
        recolour(ids, "rule_set", "bench: first assignment")
        start = time.perf_counter()
        recolour(ids, "rule_set", "bench: nothing changes")
        floor = time.perf_counter() - start
        CodeState.objects.filter(person_id__in=ids).update(colour="yellow")  # an old rule's colour
        start = time.perf_counter()
        counts = recolour(ids, "rule_set", "bench: rule change")
        seconds = time.perf_counter() - start
        self.stdout.write(
            f"| recolour {len(ids):,} people, every colour changes | {seconds:.1f} s | "
            f"{counts['changed']:,} changes stored and audited |\n"
            f"| same people, nothing changes (evaluation floor) | {floor:.1f} s | |"
        )
