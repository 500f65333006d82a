from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from epicore.healthcode.keys import KeyRing
from epicore.healthcode.tokens import verify_venue_token
from fangkong.healthcode.service import code_of
from fangkong.venues import scanning
from fangkong.venues.models import CheckIn


def _api(client, path, body):
    return client.post(path, body, content_type="application/json")


def test_poster_code_names_the_venue_and_verifies_with_the_published_keys(world, client):
    token = scanning.venue_token(world.venue_a)
    ring = KeyRing.from_jwks(client.get("/healthcode/keys.json").json())
    claims = verify_venue_token(token, ring, timezone.now())
    assert (claims.venue_id, claims.venue_kind, claims.jurisdiction) == (
        str(world.venue_a.pk),
        "restaurant",
        world.grid_a,
    )


def test_resident_scans_a_venue_poster_and_repeats_are_merged(world, login):
    client = login("resident_a")
    token = scanning.venue_token(world.venue_b)  # any venue, anywhere: residents travel
    first = _api(client, "/api/scan/venue", {"token": token}).json()
    again = _api(client, "/api/scan/venue", {"token": token}).json()
    assert (first["merged"], again["merged"]) == (False, True)
    assert first["checkin_id"] == again["checkin_id"]
    assert first["colour"] == "green"
    checkin = CheckIn.objects.get(pk=first["checkin_id"])
    assert (checkin.person_id, checkin.venue_id, checkin.source) == (
        world.person_a.pk,
        world.venue_b.pk,
        "venue_code",
    )


def test_a_scan_after_the_window_is_a_new_visit(world):
    at = timezone.now()
    user = world.users["venue_a"]
    token = code_of(world.person_a.pk, at=at).token
    first = scanning.venue_scans_person(user, world.venue_a, token, at=at)
    later = at + scanning.DUPLICATE_WINDOW + timedelta(seconds=1)
    token = code_of(world.person_a.pk, at=later).token
    second = scanning.venue_scans_person(user, world.venue_a, token, at=later)
    assert not second.merged and second.checkin.pk != first.checkin.pk


def test_venue_scans_a_residents_code_and_learns_the_colour_now(world, login):
    token = code_of(world.person_a2.pk).token  # person_a2 is the world's confirmed case
    body = _api(
        login("venue_a"), "/api/scan/person", {"venue_id": world.venue_a.pk, "token": token}
    ).json()
    assert body["colour"] == "red"
    assert body["name"] != world.person_a2.name


def test_checkpoint_types_an_id_number_for_someone_without_a_phone(world, login):
    body = _api(
        login("grid_a"),
        "/api/scan/person",
        {"venue_id": world.venue_a.pk, "doc_number": world.person_a.doc_number.lower()},
    ).json()
    assert CheckIn.objects.get(pk=body["checkin_id"]).source == "id_card"


def test_bad_scans_are_refused_with_the_reason_and_record_nothing(world, login):
    before = CheckIn.objects.count()
    client = login("venue_a")
    wrong_digit = world.person_a.doc_number[:-1] + (
        "0" if world.person_a.doc_number[-1] != "0" else "1"
    )
    refused = _api(
        client, "/api/scan/person", {"venue_id": world.venue_a.pk, "doc_number": wrong_digit}
    )
    assert (refused.status_code, refused.json()["error"]) == (400, "id_check_digit")
    forged = _api(
        client,
        "/api/scan/person",
        {"venue_id": world.venue_a.pk, "token": scanning.venue_token(world.venue_a)},
    )
    assert forged.json()["error"] == "token_wrong_type"
    resident = login("resident_a")
    health_token = code_of(world.person_a.pk).token
    wrong = _api(resident, "/api/scan/venue", {"token": health_token})
    assert wrong.json()["error"] == "token_wrong_type"
    assert CheckIn.objects.count() == before


def test_a_venue_outside_the_scope_is_404(world, login):
    token = code_of(world.person_a.pk).token
    response = _api(
        login("venue_a"), "/api/scan/person", {"venue_id": world.venue_b.pk, "token": token}
    )
    assert response.status_code == 404


def test_scanner_page_shows_the_colour(world, login):
    client = login("venue_a")
    page = client.post(
        f"/venues/{world.venue_a.pk}/scan/", {"token": code_of(world.person_a.pk).token}
    )
    assert page.status_code == 200
    assert b'data-colour="green"' in page.content
    poster = client.get(f"/venues/{world.venue_a.pk}/poster/")
    assert b"<svg" in poster.content and world.venue_a.name.encode() in poster.content
