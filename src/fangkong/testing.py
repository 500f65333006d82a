"""A small world for the tests: Xiamen's tree, three people, one account per persona."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from epicore.divisions import default_divisions_dir
from epicore.idcard import make_resident_id
from fangkong.accounts.personas import CITY, COUNTY_A, COUNTY_B, ensure_personas
from fangkong.geo.actions import do_load_divisions
from fangkong.geo.models import Jurisdiction
from fangkong.people.models import Person

__all__ = ["CITY", "COUNTY_A", "COUNTY_B", "PASSWORD", "World", "build_world"]
PASSWORD = "fangkong-test-pass"


@dataclass
class World:
    grid_a: str
    grid_a2: str
    grid_b: str
    person_a: Person  # lives in grid_a
    person_a2: Person  # lives in county A, another grid
    person_b: Person  # lives in county B
    users: dict


def _grids_of(county: str) -> list[str]:
    return list(
        Jurisdiction.objects.filter(level="grid", code__startswith=county)
        .order_by("code")
        .values_list("code", flat=True)
    )


def _person(name: str, grid: str, birth: date, seq: int, phone: str) -> Person:
    return Person.objects.create(
        doc_type="resident_id",
        doc_number=make_resident_id(grid[:6], birth, seq),
        name=name,
        sex="M" if seq % 2 else "F",
        birth_date=birth,
        phone=phone,
        jurisdiction_id=grid,
    )


def build_world(password: str = PASSWORD) -> World:
    do_load_divisions(default_divisions_dir(), [CITY], seed=0)
    grids_a, grids_b = _grids_of(COUNTY_A), _grids_of(COUNTY_B)
    person_a = _person("张伟", grids_a[0], date(1985, 4, 12), 11, "13800138000")
    person_a2 = _person("王芳", grids_a[-1], date(1992, 9, 3), 24, "13900139000")
    person_b = _person("李娜", grids_b[0], date(1978, 1, 30), 36, "13700137000")
    users = ensure_personas(password, grids_a[0], person_a)
    return World(grids_a[0], grids_a[-1], grids_b[0], person_a, person_a2, person_b, users)
