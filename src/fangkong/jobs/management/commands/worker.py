from __future__ import annotations

from django.core.management.base import BaseCommand

from fangkong.jobs import queue


class Command(BaseCommand):
    help = "Run background jobs (tracing runs, recolouring, imports) until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--burst", action="store_true", help="run what is due, then exit")
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls")

    def handle(self, *args, **options):
        if not options["burst"]:
            # The tracing loops are compiled on a machine's first use (~15 s, then cached on
            # disk, ~0.5 s to load): before the first positive result, not while it waits.
            from epicore.tracing.sweep import warm_up

            warm_up()
        self.stdout.write(f"worker {queue.worker_name()} started")
        queue.run_forever(options["interval"], burst=options["burst"])
