"""Loading the jurisdiction tree from the division files."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from django.db import transaction

from epicore import divisions
from fangkong.accounts import audit
from fangkong.geo.models import Jurisdiction

BATCH = 5000


def do_load_divisions(
    directory: Path,
    roots: Iterable[str] = (),
    seed: int = 0,
    communities: tuple[int, int] = (3, 8),
    grids: tuple[int, int] = (2, 5),
    actor=None,
) -> dict[str, int]:
    """Insert or rename the divisions under `roots` (with generated communities and grids).

    Idempotent: loading the same subset again changes nothing; loading a wider one adds the rest.
    """
    counts: dict[str, int] = {}
    batch: list[Jurisdiction] = []
    with transaction.atomic():
        for division in divisions.read_with_generated(directory, roots, seed, communities, grids):
            counts[division.level] = counts.get(division.level, 0) + 1
            batch.append(
                Jurisdiction(
                    code=division.code,
                    name=division.name,
                    level=division.level,
                    parent_id=division.parent_code,
                )
            )
            if len(batch) >= BATCH:
                _upsert(batch)
                batch = []
        _upsert(batch)
        audit.record(
            actor,
            "geo.load",
            object_type="jurisdiction",
            object_id=",".join(roots) or "*",
            details={"counts": counts, "seed": seed},
        )
    return counts


def _upsert(batch: list[Jurisdiction]) -> None:
    if batch:
        Jurisdiction.objects.bulk_create(
            batch,
            update_conflicts=True,
            unique_fields=["code"],
            update_fields=["name", "level", "parent"],
        )
