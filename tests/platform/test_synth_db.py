"""`fangkong synth --db` / `demo`: the synthetic city loaded into the platform's database."""

from __future__ import annotations

import pytest

from epicore.synth import (
    SynthConfig,
    build_city,
    generate_population,
    generate_venues,
    iter_checkins,
)
from fangkong.accounts import audit
from fangkong.accounts.models import AuditEntry, User
from fangkong.cases.models import (
    AssistanceEvent,
    AssistanceItem,
    AssistanceRequest,
    Case,
    CaseEvent,
    Contact,
    Exposure,
    Investigation,
    ItineraryEntry,
    LikelySource,
    NamedContact,
)
from fangkong.geo.models import in_subtree
from fangkong.healthcode.models import Appeal, CodeState, ColourChange, ColourOverride
from fangkong.labs.models import (
    CampaignSample,
    CampaignTarget,
    PersonTest,
    ResultUpload,
    Tube,
    TubeMember,
)
from fangkong.people.bulk import load_people
from fangkong.people.management.commands.synth import populate
from fangkong.people.models import Person
from fangkong.quarantine.models import (
    Alert,
    FollowUp,
    HomeMonitoring,
    Reading,
    Stay,
    Transfer,
)
from fangkong.testing import COUNTY_A
from fangkong.venues.models import CheckIn, Venue

CITY = ("3502",)


@pytest.fixture
def empty_register(world):
    """The shared world without its three people (rolled back after the test)."""
    User.objects.update(person=None)
    for model in (
        FollowUp,
        HomeMonitoring,
        Alert,
        Reading,
        Transfer,
        Stay,
        CampaignSample,
        CampaignTarget,
        PersonTest,
        ResultUpload,
        TubeMember,
        Tube,
        AssistanceEvent,
        AssistanceItem,
        AssistanceRequest,
        Appeal,
        ColourOverride,
        ColourChange,
        CodeState,
        NamedContact,
        LikelySource,
        ItineraryEntry,
        Investigation,
        Exposure,
        Contact,
        CaseEvent,
        Case,
        CheckIn,
        Venue,
    ):
        model.objects.all().delete()
    Person.objects.all().delete()
    return world


def test_populate_loads_the_same_city_as_the_parquet_generator(empty_register):
    counts = populate(300, seed=3, roots=CITY, days=2)

    config = SynthConfig(people=300, days=2, seed=3, roots=CITY)
    city = build_city(config)
    venues = generate_venues(config, city)
    people = generate_population(config, venues, city)
    expected = sum(b.num_rows for b in iter_checkins(config, people, venues))
    assert counts == {"people": 300, "venues": venues.num_rows, "checkins": expected}
    assert (Person.objects.count(), Venue.objects.count(), CheckIn.objects.count()) == (
        300,
        venues.num_rows,
        expected,
    )
    first = people.slice(0, 1).to_pylist()[0]
    stored = Person.objects.get(pk=first["person_id"])
    assert (stored.doc_number, stored.jurisdiction_id) == (first["doc_number"], first["home_grid"])
    loads = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"person.bulk_load", "venue.bulk_load", "checkin.bulk_load"} <= loads
    assert audit.verify().ok


def test_later_registrations_continue_after_the_loaded_numbers(empty_register):
    populate(50, seed=1, roots=CITY, days=0)
    assert CheckIn.objects.count() == 0
    newcomer = Person.objects.create(
        doc_type="passport",
        doc_number="E12345678",
        nationality="USA",
        name="Ann Lee",
        jurisdiction_id=Person.objects.first().jurisdiction_id,
    )
    assert newcomer.pk > 50


def test_a_second_load_is_refused_and_changes_nothing(empty_register):
    populate(50, seed=1, roots=CITY, days=0)
    config = SynthConfig(people=50, days=1, seed=2, roots=CITY)
    with pytest.raises(ValueError, match="already registered"):
        load_people(generate_population(config), source="again")
    assert Person.objects.count() == 50


def test_person_page_lists_check_ins_with_translated_venue_kinds(empty_register, client):
    populate(400, seed=1, roots=CITY, days=2)
    resident = (
        Person.objects.filter(in_subtree("jurisdiction_id", COUNTY_A))
        .filter(pk__in=CheckIn.objects.values("person_id"))
        .order_by("id")
        .first()
    )
    checkin = CheckIn.objects.filter(person=resident).select_related("venue").first()
    client.force_login(empty_register.users["tracer_a"])
    page = client.get(f"/people/{resident.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert page.status_code == 200
    html = page.content.decode()
    assert checkin.venue.name in html
    assert checkin.venue.kind_label in html
    assert checkin.venue.kind_label != checkin.venue.kind  # a Chinese label, not the code
