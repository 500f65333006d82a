from __future__ import annotations

from dataclasses import replace
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from epicore.divisions import default_divisions_dir
from fangkong.geo.actions import do_load_divisions
from fangkong.people.bulk import UnknownGrids, load_people
from fangkong.venues.bulk import load_checkins, load_venues


def populate(
    people: int, seed: int, roots: tuple[str, ...], days: int = 1, start: date | None = None
) -> dict[str, int]:
    """Load the divisions of `roots` and a synthetic city (people, venues, `days` of check-ins
    from `start`, by default the generator's first day)."""
    from epicore.synth import (
        SynthConfig,
        build_city,
        generate_population,
        generate_venues,
        iter_checkins,
    )

    do_load_divisions(default_divisions_dir(), roots, seed=0)
    config = SynthConfig(people=people, days=max(days, 1), seed=seed, roots=roots)
    if start is not None:
        config = replace(config, start=start)
    source = (
        f"synth people={people} days={days} seed={seed} roots={','.join(roots)} "
        f"start={config.start}"
    )
    city = build_city(config)
    venues = generate_venues(config, city)
    residents = generate_population(config, venues, city)
    return {
        "people": load_people(residents, source=source),
        "venues": load_venues(venues, source=source),
        "checkins": (
            load_checkins(iter_checkins(config, residents, venues), source=source) if days else 0
        ),
    }


class Command(BaseCommand):
    help = (
        "Synthetic city. With --out DIR: Parquet files (people, venues, check-ins, pings). "
        "With --db: the jurisdictions and residents into the platform's database."
    )

    def add_arguments(self, parser):
        parser.add_argument("--people", type=int, required=True)
        parser.add_argument("--days", type=int, default=14)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--start", type=date.fromisoformat, default=date(2022, 3, 1))
        parser.add_argument("--roots", default="3502")
        parser.add_argument("--out", default=None)
        parser.add_argument("--pings", action="store_true")
        parser.add_argument("--db", action="store_true")

    def handle(self, *args, **options):
        roots = tuple(r for r in options["roots"].split(",") if r)
        if not options["db"]:
            from epicore.synth import main

            argv = [
                "--people",
                str(options["people"]),
                "--days",
                str(options["days"]),
                "--seed",
                str(options["seed"]),
                "--out",
                options["out"] or "synth-out",
                "--roots",
                ",".join(roots),
                "--start",
                options["start"].isoformat(),
            ]
            raise SystemExit(main(argv + (["--pings"] if options["pings"] else [])))
        try:
            counts = populate(
                options["people"], options["seed"], roots, options["days"], options["start"]
            )
        except UnknownGrids as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            "{people} residents, {venues} venues, {checkins} check-ins written to the database".format(
                **counts
            )
        )
