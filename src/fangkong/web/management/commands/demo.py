from __future__ import annotations

from django.core.management import call_command
from django.core.management.base import BaseCommand

from fangkong.accounts.personas import CITY, COUNTY_A, PERSONAS, ensure_personas
from fangkong.geo.models import in_subtree
from fangkong.labs.demo import seed_boxes
from fangkong.people.management.commands.synth import populate
from fangkong.people.models import Person
from fangkong.quarantine.demo import seed_sites

DEMO_PASSWORD = "fangkong-demo"


class Command(BaseCommand):
    help = "Set up the demo city on the embedded database and serve the platform."

    def add_arguments(self, parser):
        parser.add_argument("--people", type=int, default=5000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--days", type=int, default=3, help="days of check-ins to generate")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-serve", action="store_true", help="set up, print, and exit")

    def handle(self, *args, **options):
        call_command("migrate", verbosity=0)
        if not Person.objects.exists():
            self.stdout.write(
                f"Generating the demo city: Xiamen, {options['people']} residents, "
                f"{options['days']} days of check-ins ..."
            )
            counts = populate(options["people"], options["seed"], (CITY,), options["days"])
            self.stdout.write(
                "{people} residents, {venues} venues, {checkins} check-ins".format(**counts)
            )
        first = (
            Person.objects.filter(in_subtree("jurisdiction_id", COUNTY_A)).order_by("id").first()
        )
        users = ensure_personas(DEMO_PASSWORD, first.jurisdiction_id, first)
        seed_sites(users["quarantine_a"], COUNTY_A)
        seed_boxes(users["grid_a"], users["lab_a"])
        self._print_logins(options)
        if not options["no_serve"]:
            # One process for the embedded demo: background jobs run in a thread beside the web
            # server (production runs `fangkong worker` processes instead).
            call_command("serve", host=options["host"], port=options["port"], with_worker=True)

    def _print_logins(self, options) -> None:
        url = f"http://{options['host']}:{options['port']}/"
        self.stdout.write("")
        self.stdout.write(f"Fangkong demo: {url}  (API docs: {url}api/docs)")
        self.stdout.write(f"Demo logins, password '{DEMO_PASSWORD}' for all:")
        for username, (role, scope) in PERSONAS.items():
            self.stdout.write(f"  {username:<14} {role:<15} {scope or 'own record'}")
        self.stdout.write("")
