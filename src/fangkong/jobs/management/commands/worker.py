from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from fangkong.jobs import queue


class Command(BaseCommand):
    help = "Run background jobs (tracing runs, recolouring, imports) until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--burst", action="store_true", help="run what is due, then exit")
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls")

    def handle(self, *args, **options):
        worker = queue.worker_name()
        self.stdout.write(f"worker {worker} started")
        while True:
            queue.tick()
            ran = queue.run_pending()
            if ran:
                self.stdout.write(f"{ran} job(s) run")
            if options["burst"]:
                return
            time.sleep(options["interval"])
