"""A small world for the tests: Xiamen's tree, three people, one account per persona."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from epicore.divisions import default_divisions_dir
from epicore.idcard import make_resident_id
from fangkong.accounts.personas import CITY, COUNTY_A, COUNTY_B, ensure_personas
from fangkong.cases.models import AssistanceRequest, Case, Contact
from fangkong.geo.actions import do_load_divisions
from fangkong.geo.models import Jurisdiction
from fangkong.jobs import queue
from fangkong.people.models import Person
from fangkong.venues.models import Venue

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
    case_a: Case  # person_a2's case, reported in county A
    contact_b: Contact  # person_b, a close contact of case_a living in county B
    venue_a: Venue  # a restaurant in grid_a
    venue_b: Venue  # a supermarket in grid_b
    override_id: int  # tracer_a asked to turn person_a yellow; awaiting a second person
    appeal_id: int  # resident_a (person_a) appealed their code
    assist_id: int  # county A pushed contact_b to county B (区域协查)


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
    case_a, contact_b = _case_with_contact(users["tracer_a"], person_a2, person_b)
    queue.run_pending()  # colour the world's people now; tests start with an empty queue
    venue_a = Venue.objects.create(kind="restaurant", name="沙茶面馆", jurisdiction_id=grids_a[0])
    venue_b = Venue.objects.create(kind="supermarket", name="湖里超市", jurisdiction_id=grids_b[0])
    return World(
        grids_a[0],
        grids_a[-1],
        grids_b[0],
        person_a,
        person_a2,
        person_b,
        users,
        case_a,
        contact_b,
        venue_a,
        venue_b,
        *_override_and_appeal(users, person_a),
        AssistanceRequest.objects.get(case=case_a).pk,
    )


def _override_and_appeal(users, person: Person) -> tuple[int, int]:
    from django.utils import timezone

    from fangkong.healthcode import actions

    override = actions.request_override(
        users["tracer_a"],
        person.pk,
        "yellow",
        "核酸结果录入错误",
        timezone.now() + timedelta(days=3),
    )
    appeal = actions.file_appeal(users["resident_a"], "我没有去过该场所")
    return override.pk, appeal.pk


def _case_with_contact(tracer, case_person: Person, contact_person: Person):
    from fangkong.cases import actions

    clean = actions.check_case(
        tracer,
        case_person.pk,
        {
            "classification": "confirmed",
            "onset_date": "2022-03-05",
            "reported_at": "2022-03-07 09:00",
        },
    )
    case = actions.do_open_case(tracer, clean)
    start = case.window_start + timedelta(days=1, hours=12)
    actions.do_record_exposures(
        tracer,
        case,
        [
            actions.ExposureIn(
                contact_person.pk, case_person.pk, 1, start, start + timedelta(hours=1)
            )
        ],
    )
    return case, Contact.objects.get(person=contact_person)
