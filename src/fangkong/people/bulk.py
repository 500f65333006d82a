"""Loading many people at once (synthetic cities, benchmark data): COPY on PostgreSQL.

Row-by-row registration (actions.do_register_person) validates and audits each person; a bulk
load is one audited event naming its source, and trusts its input to be valid already
(epicore.synth writes only valid documents, and the loader checks every grid code exists).
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc
from django.db import transaction
from django.utils import timezone

from fangkong.accounts import audit
from fangkong.geo.models import Jurisdiction
from fangkong.people.models import Person
from fangkong.venues.bulk import copy_rows, reset_sequence

COLUMNS = (
    "id",
    "doc_type",
    "doc_number",
    "nationality",
    "name",
    "sex",
    "birth_date",
    "phone",
    "jurisdiction_id",
    "address",
    "created_at",
    "updated_at",
)
BATCH = 20_000


class UnknownGrids(ValueError):
    pass


def _rows(table: pa.Table) -> Iterator[tuple]:
    now = timezone.now()
    nationality = table.column("nationality") if "nationality" in table.column_names else None
    for start in range(0, table.num_rows, BATCH):
        chunk = table.slice(start, BATCH)
        columns = {
            name: chunk.column(name).to_pylist()
            for name in (
                "person_id",
                "doc_type",
                "doc_number",
                "name",
                "sex",
                "birth_date",
                "phone",
                "home_grid",
            )
        }
        nat = nationality.slice(start, BATCH).to_pylist() if nationality is not None else None
        for i in range(chunk.num_rows):
            yield (
                columns["person_id"][i],
                columns["doc_type"][i],
                columns["doc_number"][i],
                (nat[i] if nat and nat[i] else "CHN"),
                columns["name"][i],
                columns["sex"][i],
                columns["birth_date"][i],
                columns["phone"][i] or "",
                columns["home_grid"][i],
                "",
                now,
                now,
            )


def _check_grids(table: pa.Table) -> None:
    grids = set(pc.unique(table.column("home_grid")).to_pylist())
    known = set(Jurisdiction.objects.filter(code__in=grids).values_list("code", flat=True))
    if grids - known:
        missing = sorted(grids - known)
        raise UnknownGrids(
            f"{len(missing)} home grids are not loaded (e.g. {missing[0]}); "
            "run `fangkong load-divisions` with the same roots and seed first"
        )


def load_people(table: pa.Table, source: str, actor=None) -> int:
    """Insert a synthetic population into an empty register, keeping its person numbers."""
    if Person.objects.exists():
        raise ValueError("people are already registered; synthetic people go into an empty table")
    _check_grids(table)
    with transaction.atomic():
        copy_rows(Person, COLUMNS, _rows(table))
        reset_sequence(Person)
        audit.record(
            actor,
            "person.bulk_load",
            object_type="person",
            details={"rows": table.num_rows, "source": source},
        )
    return table.num_rows
