from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from epicore.divisions import default_divisions_dir
from fangkong.geo.actions import do_load_divisions


def _range(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    return int(low), int(high or low)


class Command(BaseCommand):
    help = "Load jurisdictions from the GB/T 2260 division files, with generated communities and grids."

    def add_arguments(self, parser):
        parser.add_argument(
            "--roots", default="", help="comma-separated codes, e.g. 35 or 3502,3506 (default: all)"
        )
        parser.add_argument(
            "--dir",
            type=Path,
            default=None,
            help="folder with provinces.csv, cities.csv, areas.csv, streets.csv",
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--communities", type=_range, default=(3, 8), help="per township, e.g. 3-8"
        )
        parser.add_argument("--grids", type=_range, default=(2, 5), help="per community, e.g. 2-5")

    def handle(self, *args, **options):
        directory = options["dir"] or default_divisions_dir()
        if not (Path(directory) / "streets.csv").exists():
            raise CommandError(f"no division files in {directory}")
        roots = [r.strip() for r in options["roots"].split(",") if r.strip()]
        counts = do_load_divisions(
            directory, roots, options["seed"], options["communities"], options["grids"]
        )
        if not counts:
            raise CommandError(f"no divisions match {options['roots']}")
        self.stdout.write(", ".join(f"{level}: {n}" for level, n in counts.items()))
