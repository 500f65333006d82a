"""The scan ingestion endpoint (fangkong.ingest), called in-process as a WSGI application.

On SQLite the simple ORM path runs; with DATABASE_URL=postgres://... the same requests go through
the batch SQL the group-commit server uses (core.record_batch_sync).
"""

from __future__ import annotations

import io
import json
import os
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from epicore.base45 import ALPHABET, b45decode, b45encode
from epicore.healthcode.keys import KeyRing, new_key
from epicore.healthcode.rules import Colour
from epicore.healthcode.tokens import (
    TokenRejected,
    issue_health_token,
    issue_venue_token,
    verify_health_token,
)
from fangkong.healthcode.keys import ensure_signing_keys, key_ring
from fangkong.healthcode.service import code_of
from fangkong.ingest import core, healthtoken
from fangkong.ingest.device import device_key, issue_device, revoke_device, sign_device_token
from fangkong.ingest.healthtoken import HealthTokenVerifier
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


# -- the hot path's health-token check (ingest/healthtoken.py) against epicore's --------------

T = datetime(2026, 11, 23, 11, 20, tzinfo=UTC)
_DAY = timedelta(days=1)


def _rings():
    """A ring as the platform has it, and variants where its health key is revoked or retired,
    plus a token of each kind that the variants must refuse."""
    health = new_key("health", T - timedelta(days=1), seed=b"h" * 32)
    venue = new_key("venue", T - timedelta(days=1), seed=b"v" * 32)
    ring = KeyRing([health, venue])
    revoked = KeyRing([health, venue])
    revoked.revoke(health.kid, T - timedelta(minutes=1))
    retired = KeyRing([replace(health, verify_until=T - timedelta(seconds=1)), venue])
    token = issue_health_token(ring, b"s" * 16, Colour.GREEN, T)
    poster = issue_venue_token(ring, "v1", "market", "3502", T)
    return {"ok": ring, "revoked": revoked, "retired": retired, "empty": KeyRing()}, token, poster


def _outcome(check, text, ring, at):
    try:
        return ("ok", check(text, ring, at))
    except TokenRejected as rejected:
        return ("refused", rejected.code)


def _reference(text, ring, at):
    return verify_health_token(text, ring, at).subject


def _fast(text, ring, at):
    return HealthTokenVerifier(lambda: ring).subject(text, at)


def _assert_same(text, ring, at):
    assert _outcome(_fast, text, ring, at) == _outcome(_reference, text, ring, at), text


def test_the_fast_check_accepts_and_refuses_exactly_like_epicore():
    rings, token, poster = _rings()
    for ring in rings.values():
        for at in (T - timedelta(minutes=1), T, T + timedelta(minutes=5, seconds=29), T + _DAY):
            for text in (
                token,
                poster,
                token[:-3],
                token + "AB",
                token.lower(),
                "FK2:" + token[4:],
            ):
                _assert_same(text, ring, at)
    assert _outcome(_fast, token, rings["ok"], T) == ("ok", b"s" * 16)
    assert _outcome(_fast, token, rings["revoked"], T) == ("refused", "token_revoked_key")


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.integers(4, 144), st.sampled_from(ALPHABET + "a~é\x00"))
def test_a_changed_character_gets_epicores_verdict(position, char):
    rings, token, _ = _rings()
    _assert_same(token[:position] + char + token[position + 1 :], rings["ok"], T)


def test_a_valid_token_takes_the_fast_path_with_either_signature_library(monkeypatch):
    rings, token, _ = _rings()

    def no_reference(*args, **kwargs):
        raise AssertionError("the fast path fell back")

    monkeypatch.setattr(healthtoken, "verify_health_token", no_reference)
    assert _fast(token, rings["ok"], T) == b"s" * 16
    monkeypatch.setattr(healthtoken, "crypto_sign_open", None)  # OpenSSL, as without PyNaCl
    assert _fast(token, rings["ok"], T) == b"s" * 16
    forged = token[:-3] + ("000" if token[-3:] != "000" else "111")
    assert (
        healthtoken.HealthTokenVerifier(lambda: rings["ok"])._fast(forged, rings["ok"], T) is None
    )


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.binary(min_size=0, max_size=120).filter(lambda b: len(b) % 2 == 0))
def test_the_fast_base45_decoder_agrees_with_epicores(data):
    text = b45encode(data)
    assert healthtoken.b45decode_health(text) == b45decode(text) == data
    for bad in ("GGW" + text, text + "a", text + "0"):  # overflow, foreign char, bad length
        assert healthtoken.b45decode_health(bad) is None


def test_batch_parameters_are_postgresql_array_literals():
    at = datetime(2026, 11, 23, 11, 20, 5, 123456, tzinfo=UTC)
    scans = [
        core.Scan("ab" * 16, 17, 1, at),
        core.Scan("ab" * 16, 17, 2, at),
        core.Scan("cd", 9, 3, at),
    ]
    assert core.plan(scans).record_params() == (
        "{0,2}",
        "{" + "ab" * 16 + ",cd}",
        "{17,9}",
        "{2026-11-23T11:20:05.123456+00:00,2026-11-23T11:20:05.123456+00:00}",
    )


# -- the load generator (ingest/loadgen.py) ---------------------------------------------------


def test_the_load_generator_counts_answers_and_broken_connections():
    """Every 7th request is answered by closing the connection: an error, never acknowledged."""
    import asyncio

    from fangkong.ingest import loadgen

    seen = []

    class Server(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport

        def data_received(self, data):
            for _ in range(data.count(b"POST ")):
                seen.append(1)
                if len(seen) % 7 == 0:
                    self.transport.close()
                    return
                body = b'{"checkin_id":%d,"merged":false}' % len(seen)
                self.transport.write(
                    b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
                )

    async def main():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Server, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        start = time.time() + 0.05
        request = b"POST /scan HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
        items = [(start + n / 1000, request) for n in range(60)]
        result = await loadgen._drive("127.0.0.1", port, items, 4)
        server.close()
        return result

    result = asyncio.run(main())
    assert result.statuses == {200: 60 - 8} and result.errors == {"ConnectionError": 8}
    assert len(result.acked) == 52 and len(result.latencies) == 52
    assert all(latency >= 0 for latency in result.latencies), sorted(result.latencies)[:3]
