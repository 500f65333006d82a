from __future__ import annotations

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Serve the scan ingestion endpoint (POST /scan with a scanner device token): pre-forked "
        "asyncio workers with group commit. PostgreSQL only (DATABASE_URL). docs/ingest.md"
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8100)
        parser.add_argument("--workers", type=int, default=2, help="processes")
        parser.add_argument(
            "--writers", type=int, default=1, help="database connections per process"
        )

        parser.add_argument(
            "--linger-ms",
            type=float,
            default=3.0,
            help="wait this long after the first scan of a batch for more (default 3)",
        )

    def handle(self, *args, **options):
        from fangkong.ingest.server import run

        run(
            options["host"],
            options["port"],
            options["workers"],
            options["writers"],
            options["linger_ms"] / 1000,
            self.stdout,
        )
