import json

import pytest
from django.utils import translation

from epicore.idcard import make_resident_id
from fangkong.accounts.models import AuditEntry
from fangkong.people import actions
from fangkong.people.models import Person

VALID = "11010519491231002X"


def person_data(world, **overrides):
    data = {
        "doc_type": "resident_id",
        "doc_number": VALID,
        "name": "赵敏",
        "phone": "13612345678",
        "jurisdiction": world.grid_a,
        "address": "1号楼101",
    }
    return {**data, **overrides}


def test_register_derives_birth_and_sex_and_audits(world):
    tracer = world.users["tracer_a"]
    person = actions.do_register_person(tracer, actions.check_person(tracer, person_data(world)))
    assert (person.birth_date.isoformat(), person.sex) == ("1949-12-31", "F")
    entry = AuditEntry.objects.order_by("-seq").first()
    assert (entry.action, entry.object_id) == ("person.create", str(person.pk))


def test_second_record_for_the_same_document_is_refused(world):
    tracer = world.users["tracer_a"]
    clean = actions.check_person(tracer, person_data(world))
    actions.do_register_person(tracer, clean)
    with pytest.raises(actions.DuplicatePerson):
        actions.do_register_person(
            tracer,
            actions.check_person(
                tracer, person_data(world, doc_number="１１０１０５１９４９１２３１００２ｘ")
            ),
        )
    assert Person.objects.filter(doc_number=VALID).count() == 1


def test_every_bad_field_is_named(world):
    with pytest.raises(actions.PersonInvalid) as caught:
        actions.check_person(
            world.users["tracer_a"],
            person_data(
                world,
                doc_number="110105194912310021",
                phone="12345",
                jurisdiction="999999",
                name="",
            ),
        )
    assert set(caught.value.errors) == {"doc_number", "phone", "jurisdiction", "name"}


def test_messages_follow_the_users_language(world):
    bad = person_data(world, doc_number="110105194912310021")
    for language, expected in (
        ("en", "check character is 1 but should be X"),
        ("zh-hans", "校验码"),
    ):
        with translation.override(language), pytest.raises(actions.PersonInvalid) as caught:
            actions.check_person(world.users["tracer_a"], bad)
        assert expected in caught.value.errors["doc_number"]


def test_place_outside_the_actors_jurisdiction_is_refused(world):
    with pytest.raises(actions.PersonInvalid) as caught:
        actions.check_person(world.users["tracer_a"], person_data(world, jurisdiction=world.grid_b))
    assert "jurisdiction" in caught.value.errors


def test_foreigners_need_a_nationality(world):
    tracer = world.users["tracer_a"]
    with pytest.raises(actions.PersonInvalid) as caught:
        actions.check_person(tracer, person_data(world, doc_type="passport", doc_number="E1234567"))
    assert "nationality" in caught.value.errors
    clean = actions.check_person(
        tracer, person_data(world, doc_type="passport", doc_number="e1234567", nationality="usa")
    )
    assert (clean.doc_number, clean.nationality, clean.birth_date) == ("E1234567", "USA", None)


def test_same_passport_number_from_two_countries_is_two_people(world):
    tracer = world.users["tracer_a"]
    for country in ("USA", "GBR"):
        actions.do_register_person(
            tracer,
            actions.check_person(
                tracer,
                person_data(world, doc_type="passport", doc_number="E1234567", nationality=country),
            ),
        )
    assert Person.objects.filter(doc_number="E1234567").count() == 2


def test_update_records_changed_fields(world):
    tracer = world.users["tracer_a"]
    person = world.person_a
    clean = actions.check_person(
        tracer,
        {
            "doc_number": person.doc_number,
            "name": person.name,
            "phone": "13611112222",
            "jurisdiction": person.jurisdiction_id,
        },
    )
    assert actions.do_update_person(tracer, person, clean, reason="换号") == ["phone"]
    entry = AuditEntry.objects.order_by("-seq").first()
    assert json.loads(entry.details) == {"fields": ["phone"]}


def test_roles_without_the_capability_cannot_write(world):
    with pytest.raises(PermissionError):
        actions.do_register_person(
            world.users["command"], actions.check_person(world.users["command"], person_data(world))
        )


# API


def test_api_register_and_errors(login, world):
    client = login("tracer_a")
    response = client.post("/api/people", person_data(world), content_type="application/json")
    assert response.status_code == 201
    assert response.json()["doc_number"] == "1101**********002X"
    again = client.post("/api/people", person_data(world), content_type="application/json")
    assert again.status_code == 409
    bad = client.post(
        "/api/people",
        person_data(world, doc_number="123"),
        content_type="application/json",
        headers={"accept-language": "en"},
    )
    assert bad.status_code == 422 and "18" in bad.json()["errors"]["doc_number"]


def test_api_detail_is_masked_and_reveal_needs_a_reason(login, world):
    client = login("tracer_a")
    shown = client.get(f"/api/people/{world.person_a.pk}").json()
    assert shown["doc_number"].count("*") == 10 and shown["phone"] == "138****8000"
    assert (
        client.post(
            f"/api/people/{world.person_a.pk}/reveal",
            {"reason": " "},
            content_type="application/json",
        ).status_code
        == 422
    )
    full = client.post(
        f"/api/people/{world.person_a.pk}/reveal",
        {"reason": "电话流调"},
        content_type="application/json",
    ).json()
    assert full == {"doc_number": world.person_a.doc_number, "phone": "13800138000"}
    entry = AuditEntry.objects.filter(action="person.reveal").order_by("-seq").first()
    assert entry.reason == "电话流调" and entry.actor_username == "tracer_a"


def test_keyset_pages_cover_the_subtree_once(login, world):
    tracer = world.users["tracer_a"]
    grids = [world.grid_a, world.grid_a2]
    for i in range(23):
        doc = make_resident_id("350203", __import__("datetime").date(1990, 1, 1 + i), i)
        Person.objects.create(
            doc_type="resident_id", doc_number=doc, name=f"测试{i}", jurisdiction_id=grids[i % 2]
        )
    client = login("tracer_a")
    seen, cursor = [], None
    while True:
        url = "/api/people?limit=7" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    expected = Person.objects.filter(jurisdiction__code__startswith="350203").count()
    assert len(seen) == len(set(seen)) == expected == 25
    assert tracer.role == "tracer"


def test_search_by_id_phone_and_name(login, world):
    client = login("command")
    for query in (world.person_a.doc_number, "138 0013 8000", "张"):
        items = client.get("/api/people/search", {"q": query}).json()["items"]
        assert [p["id"] for p in items] == [world.person_a.pk], query
    assert AuditEntry.objects.filter(action="person.search", actor_username="command").count() == 3


def test_search_does_not_cross_jurisdictions(login, world):
    client = login("tracer_b")
    assert client.get("/api/people/search", {"q": world.person_a.doc_number}).json()["items"] == []


def test_openapi_document_lists_the_api(client):
    schema = client.get("/api/openapi.json").json()
    assert "/api/people" in schema["paths"] and "/api/people/{person_id}/reveal" in schema["paths"]
