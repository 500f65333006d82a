from __future__ import annotations

import pytest

from fangkong.labs import actions
from fangkong.labs.api import MAX_ROWS
from fangkong.labs.models import PersonTest, ResultUpload, Tube

LAB = "厦门市第一医院"


@pytest.fixture
def sealed(world):
    sampler = world.users["grid_a"]
    for barcode, person in (("A1", world.person_a), ("A2", world.person_b)):
        actions.open_tube(sampler, barcode, 5, "中山公园采样点", world.grid_a)
        actions.scan_into(sampler, barcode, person)
        actions.seal(sampler, barcode)
    actions.open_tube(sampler, "OPEN", 5, "中山公园采样点", world.grid_a)


def _post(client, rows):
    return client.post("/api/labs/results", rows, content_type="application/json")


def test_each_row_is_applied_on_its_own_and_answered(world, login, sealed):
    rows = [
        {"barcode": "A1", "result": "阴性", "lab": LAB},
        {"barcode": "A2", "result": "positive", "ct": 28.5, "lab": LAB},
        {"barcode": "NOPE", "result": "negative", "lab": LAB},
        {"barcode": "OPEN", "result": "negative", "lab": LAB},
        {"barcode": "A1", "result": "maybe", "lab": LAB},
        {"barcode": "A1", "result": "negative", "ct": "abc", "lab": LAB},
        {"barcode": "A1", "result": "negative", "ct": 70, "lab": LAB},
        {"barcode": "A1", "result": "negative"},
    ]
    response = _post(login("lab_a"), rows)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["applied"], body["duplicates"], body["held"], body["refused"]) == (2, 0, 0, 6)
    answers = [(r["row"], r["status"], r["code"]) for r in body["rows"]]
    assert answers == [
        (1, "applied", ""),
        (2, "applied", ""),
        (3, "refused", "unknown_tube"),
        (4, "refused", "not_sealed"),
        (5, "refused", "bad_outcome"),
        (6, "refused", "bad_ct"),
        (7, "refused", "bad_ct"),
        (8, "refused", "lab_missing"),
    ]
    assert all(r["message"] for r in body["rows"] if r["status"] == "refused")
    a2 = Tube.objects.get(barcode="A2")
    assert (a2.outcome, a2.ct_value, a2.lab) == ("positive", 28.5, LAB)
    assert actions.pending_retests().filter(person=world.person_b).exists()


def test_the_same_batch_twice_changes_nothing_and_a_conflict_is_held(world, login, sealed):
    client = login("lab_a")
    rows = [{"barcode": "A1", "result": "negative", "lab": LAB}]
    _post(client, rows)
    again = _post(client, rows).json()
    assert again["duplicates"] == 1 and again["rows"][0]["status"] == "duplicate"
    assert PersonTest.objects.filter(tube__barcode="A1").count() == 1
    conflict = _post(client, [{"barcode": "A1", "result": "阳性", "ct": "31", "lab": LAB}])
    assert conflict.json()["rows"][0]["status"] == "held"
    tube = Tube.objects.get(barcode="A1")
    assert (tube.state, tube.outcome) == ("held", "negative")
    assert ResultUpload.objects.filter(tube=tube).count() == 3


@pytest.mark.parametrize("persona", ["tracer_a", "grid_a", "command", "resident_a"])
def test_roles_without_results_get_403_and_nothing_changes(world, login, sealed, persona):
    response = _post(login(persona), [{"barcode": "A1", "result": "negative", "lab": LAB}])
    assert response.status_code == 403
    assert Tube.objects.get(barcode="A1").state == "sealed"


def test_anonymous_callers_get_401(world, login):
    assert _post(login(None), []).status_code == 401


def test_a_malformed_body_or_a_batch_too_big_is_refused_whole(world, login, sealed):
    client = login("lab_a")
    assert _post(client, {"barcode": "A1"}).status_code == 422  # not a list
    assert _post(client, [{"result": "negative"}]).status_code == 422  # no barcode
    too_many = [{"barcode": "A1", "result": "negative", "lab": LAB}] * (MAX_ROWS + 1)
    response = _post(client, too_many)
    assert response.status_code == 400 and str(MAX_ROWS) in response.json()["detail"]
    assert Tube.objects.get(barcode="A1").state == "sealed"


def test_the_endpoint_is_documented(world, login):
    schema = login("lab_a").get("/api/openapi.json").json()
    assert "post" in schema["paths"]["/api/labs/results"]
