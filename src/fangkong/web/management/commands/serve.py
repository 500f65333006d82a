from __future__ import annotations

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve the web application with waitress (production WSGI server, pure Python)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8)
        parser.add_argument(
            "--with-worker",
            action="store_true",
            help="also run background jobs in this process (one-process setups and demos)",
        )

    def handle(self, *args, **options):
        from waitress import serve

        from fangkong.wsgi import application

        if options["with_worker"]:
            from fangkong.jobs import queue

            queue.start_background_worker()

        self.stdout.write(f"Serving on http://{options['host']}:{options['port']}/", ending="\n")
        self.stdout.flush()
        serve(
            application,
            host=options["host"],
            port=options["port"],
            threads=options["threads"],
            ident="fangkong",
        )
