"""The scan ingestion endpoint (fangkong.ingest), called in-process as a WSGI application.

On SQLite the simple ORM path runs; with DATABASE_URL=postgres://... the same requests go through
the batch SQL the group-commit server uses (core.record_batch_sync).
"""

from __future__ import annotations

import io
import json
import os
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from epicore.healthcode.rules import Colour
from epicore.healthcode.tokens import issue_health_token
from fangkong.healthcode.keys import ensure_signing_keys, key_ring
from fangkong.healthcode.service import code_of
from fangkong.ingest import core
from fangkong.ingest.device import device_key, issue_device, revoke_device, sign_device_token
from fangkong.ingest.server import DeviceRegistry, HttpConnection
from fangkong.ingest.wsgi import make_app
from fangkong.venues.models import CheckIn


def _call(app, body, authorization=None, method="POST", path="/scan"):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "CONTENT_LENGTH": str(len(raw)),
        "wsgi.input": io.BytesIO(raw),
    }
    if authorization is not None:
        environ["HTTP_AUTHORIZATION"] = authorization
    seen = {}

    def start_response(status, headers):
        seen["status"] = int(status.split()[0])

    payload = b"".join(app(environ, start_response))
    return seen["status"], json.loads(payload)


@pytest.fixture
def scanner(world):
    device, token = issue_device(world.venue_a, "door 1")
    return device, f"Bearer {token}"


def test_a_scan_records_a_check_in_and_answers_the_colour_now(world, scanner):
    before = CheckIn.objects.count()
    status, body = _call(make_app(), {"token": code_of(world.person_a.pk).token}, scanner[1])
    assert status == 200, body
    checkin = CheckIn.objects.get(pk=body["checkin_id"])
    assert (checkin.person_id, checkin.venue_id, checkin.source) == (
        world.person_a.pk,
        world.venue_a.pk,
        "health_code",
    )
    assert (body["merged"], body["colour"], body["venue_id"]) == (False, "green", world.venue_a.pk)
    assert body["name"] != world.person_a.name and CheckIn.objects.count() == before + 1
    # person_a2 is the world's confirmed case: the stored colour answers, whatever the token says
    status, body = _call(make_app(), {"token": code_of(world.person_a2.pk).token}, scanner[1])
    assert (status, body["colour"]) == (200, "red")


def test_a_repeat_within_ten_minutes_merges_and_a_later_one_does_not(world, scanner):
    app = make_app()
    first = _call(app, {"token": code_of(world.person_a.pk).token}, scanner[1])[1]
    again = _call(app, {"token": code_of(world.person_a.pk).token}, scanner[1])[1]
    assert (again["merged"], again["checkin_id"]) == (True, first["checkin_id"])
    CheckIn.objects.filter(pk=first["checkin_id"]).update(
        t_in=timezone.now() - timedelta(minutes=10, seconds=5)
    )
    later = _call(app, {"token": code_of(world.person_a.pk).token}, scanner[1])[1]
    assert later["merged"] is False and later["checkin_id"] != first["checkin_id"]


def test_refused_requests_say_why_and_record_nothing(world, scanner):
    app = make_app()
    device, auth = scanner
    token = code_of(world.person_a.pk).token
    key = device_key(settings.SECRET_KEY)
    future = datetime.now(UTC) + timedelta(days=1)
    before = CheckIn.objects.count()
    forged_mac = auth[:-1] + ("0" if auth[-1] != "0" else "1")
    other_venue = sign_device_token(key, device.pk, world.venue_b.pk, future)
    unknown_venue = sign_device_token(key, 10**9, 10**9, future)
    unknown_device = sign_device_token(key, 10**9, world.venue_a.pk, future)
    expired = sign_device_token(key, device.pk, world.venue_a.pk, datetime.now(UTC) - timedelta(1))
    ensure_signing_keys(timezone.now())
    stranger = issue_health_token(key_ring(), os.urandom(16), Colour.GREEN, timezone.now())
    old = code_of(world.person_a.pk, at=timezone.now() - timedelta(minutes=6)).token
    cases = [
        (None, {"token": token}, 401, "device_unauthenticated"),
        ("Basic dXNlcjpwYXNz", {"token": token}, 401, "device_unauthenticated"),
        ("Bearer fkd1.1.2", {"token": token}, 401, "device_token_malformed"),
        (forged_mac, {"token": token}, 401, "device_token_forged"),
        (f"Bearer {expired}", {"token": token}, 401, "device_token_expired"),
        (f"Bearer {other_venue}", {"token": token}, 403, "unknown_venue"),  # no scanner there
        (f"Bearer {unknown_device}", {"token": token}, 403, "unknown_device"),
        (f"Bearer {unknown_venue}", {"token": token}, 403, "unknown_venue"),
        (auth, b"{not json", 400, "bad_request"),
        (auth, {"doc_number": "x"}, 400, "bad_request"),
        (auth, {"token": token[:-3] + "AAA"}, 400, "token_bad_signature"),
        (auth, {"token": old}, 400, "token_expired"),
        (auth, {"token": "HC1:whatever"}, 400, "token_wrong_prefix"),
        (auth, {"token": stranger}, 400, "unknown_subject"),
    ]
    for authorization, body, status, code in cases:
        got = _call(app, body, authorization)
        assert (got[0], got[1]["error"]) == (status, code), (authorization, body, got)
    assert _call(app, {"token": token}, auth, method="GET")[0] == 405
    assert _call(app, {"token": token}, auth, path="/other")[0] == 404
    revoke_device(device.pk)
    assert _call(app, {"token": token}, auth)[1]["error"] == "device_revoked"
    assert CheckIn.objects.count() == before


def test_the_servers_registry_refuses_like_the_database(world, scanner):
    device, _ = scanner
    registry = DeviceRegistry()
    registry.load()
    registry.check(device.pk, world.venue_a.pk)  # registered: no exception
    for device_id, venue_id, code in [
        (device.pk, world.venue_b.pk, "unknown_venue"),  # venue_b has no scanner
        (10**9, world.venue_a.pk, "unknown_device"),
    ]:
        with pytest.raises(core.Refused) as refused:
            registry.check(device_id, venue_id)
        assert refused.value.code == code
    revoke_device(device.pk)
    registry.load()
    with pytest.raises(core.Refused, match="revoked"):
        registry.check(device.pk, world.venue_a.pk)


def test_one_batch_merges_repeats_inside_it_and_with_the_table(world):
    if connection.vendor != "postgresql":
        pytest.skip("the batch SQL is PostgreSQL's (run with DATABASE_URL)")
    at = timezone.now()
    subject = {p.pk: code_of(p.pk).state.subject for p in (world.person_a, world.person_b)}
    earlier = CheckIn.objects.create(
        person=world.person_b, venue=world.venue_b, t_in=at - timedelta(minutes=3), source="id_card"
    )
    scans = [
        core.Scan(subject[world.person_a.pk], world.venue_a.pk, 1, at),
        core.Scan(subject[world.person_a.pk], world.venue_a.pk, 2, at + timedelta(seconds=1)),
        core.Scan(subject[world.person_a.pk], world.venue_b.pk, 3, at),
        core.Scan(subject[world.person_b.pk], world.venue_b.pk, 4, at),
        core.Scan("00" * 16, world.venue_a.pk, 5, at),
    ]
    before = CheckIn.objects.count()
    with connection.cursor() as cursor:
        answers = core.record_batch_sync(cursor, scans)
    assert [a.status for a in answers] == [200, 200, 200, 200, 400]
    assert [a.body["merged"] for a in answers[:4]] == [False, True, False, True]
    assert answers[0].body["checkin_id"] == answers[1].body["checkin_id"]
    assert answers[3].body["checkin_id"] == earlier.pk
    assert CheckIn.objects.count() == before + 2


class _Transport:
    def __init__(self):
        self.out, self.closed = b"", False

    def write(self, data):
        self.out += data

    def close(self):
        self.closed = True


class _Worker:
    def __init__(self, answer):
        self.answer, self.seen = answer, []

    def handle(self, method, target, authorization, body):
        self.seen.append((method, target, authorization, body))
        return self.answer


def test_the_http_parser_handles_split_and_pipelined_requests():
    worker = _Worker(core.Reply(200, {"ok": True}))
    conn, transport = HttpConnection(worker), _Transport()
    conn.connection_made(transport)
    request = b"POST /scan HTTP/1.1\r\nAuthorization: Bearer x\r\nContent-Length: 2\r\n\r\n{}"
    conn.data_received(request[:20])
    conn.data_received(request[20:] + request)
    assert worker.seen == [("POST", "/scan", "Bearer x", b"{}")] * 2
    assert transport.out.count(b"HTTP/1.1 200 OK") == 2 and not transport.closed
    conn.data_received(b"GET /scan HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert b"411" in transport.out and transport.closed
