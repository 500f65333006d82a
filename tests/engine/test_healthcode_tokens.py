"""FK1 tokens: round trip, every rejection reason, key rotation and the published test vectors."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from epicore.base45 import Base45Error, b45decode, b45encode
from epicore.healthcode.keys import KeyRing, key_id, new_key
from epicore.healthcode.rules import Colour
from epicore.healthcode.tokens import (
    DEFAULT_LIFETIME,
    DEFAULT_SKEW,
    PREFIX,
    MemoryReplayCache,
    Rejected,
    TokenRejected,
    issue_health_token,
    issue_venue_token,
    subject_pseudonym,
    verify_health_token,
    verify_venue_token,
)

NOT_BEFORE = datetime(2022, 11, 1, tzinfo=UTC)
AT = datetime(2022, 11, 20, 8, 0, tzinfo=UTC)
HEALTH_SEED = bytes(range(32))
VENUE_SEED = bytes(range(32, 64))
SECRET = b"fangkong test vector secret"
SUBJECT = subject_pseudonym(SECRET, "person-0001")

# Test vectors, also printed in docs/healthcode.md: Ed25519 is deterministic (RFC 8032), so the
# same key, subject, colour and times give the same token on every machine.
VECTOR_SUBJECT = "dd263f0c123e7e0539290070d08cc3e8"
VECTOR_HEALTH = (
    "FK1:IA0-HG9 MDIFHAGEIFNXL4/RU/7ZD2--F8A7M20IGQMYO94O6V0CE9 XGECWQ425KE1*IVSSWHE84TAEQ%SO2-"
    "5.7B41R60KBDPQ%3.V9D%5X87$NFC-VU$HHXG-U2P-H63QI6SV/P1/H"
)
VECTOR_HEALTH_PAYLOAD = "01d481b6b46379de806379dfac01dd263f0c123e7e0539290070d08cc3e8"
VECTOR_VENUE = (
    "FK1:JB0: 84VCDIFJAGQUBB8GIO1QW6NF69L6746646296B+AEL68469463W5A46WJ65/OGJ8OAONHFE06E*JC:C+ME7"
    "GSDHU70W26AHWTJ52KLCH.I8%NYV79ZQ*LFZSA459F0N -4 KLSOBAR5 XTIZT862IGS20"
)
VECTOR_JWKS = {
    "keys": [
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": "EdDSA",
            "use": "sig",
            "kid": "d481b6b4",
            "x": "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg",
            "fk_purpose": "health",
            "fk_not_before": 1667260800,
        },
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": "EdDSA",
            "use": "sig",
            "kid": "0245c864",
            "x": "Kay64UG8yvCyLhqU000LxzYeUm0L_hLIl5S8kyKWbdc",
            "fk_purpose": "venue",
            "fk_not_before": 1667260800,
        },
    ]
}


def vector_ring() -> KeyRing:
    return KeyRing(
        [new_key("health", NOT_BEFORE, HEALTH_SEED), new_key("venue", NOT_BEFORE, VENUE_SEED)]
    )


def rejection(text: str, ring: KeyRing, at: datetime = AT, **options) -> str:
    with pytest.raises(TokenRejected) as caught:
        verify_health_token(text, ring, at, **options)
    return caught.value.code


def test_vectors_are_reproduced():
    ring = vector_ring()
    assert SUBJECT.hex() == VECTOR_SUBJECT
    assert issue_health_token(ring, SUBJECT, Colour.YELLOW, AT) == VECTOR_HEALTH
    assert b45decode(VECTOR_HEALTH[4:])[:-64].hex() == VECTOR_HEALTH_PAYLOAD
    venue = issue_venue_token(ring, "V-350203-0042", "restaurant", "350203001001", AT)
    assert venue == VECTOR_VENUE
    assert ring.to_jwks() == VECTOR_JWKS


def test_vectors_verify_offline_with_the_published_key_set_only():
    published = KeyRing.from_jwks(json.loads(json.dumps(VECTOR_JWKS)))
    claims = verify_health_token(VECTOR_HEALTH, published, AT + timedelta(minutes=4))
    assert (claims.kid, claims.colour, claims.subject) == ("d481b6b4", Colour.YELLOW, SUBJECT)
    assert claims.expires_at - claims.issued_at == DEFAULT_LIFETIME
    venue = verify_venue_token(VECTOR_VENUE, published, AT + timedelta(days=200))
    assert (venue.venue_id, venue.venue_kind, venue.jurisdiction) == (
        "V-350203-0042",
        "restaurant",
        "350203001001",
    )


def test_base45_matches_rfc_9285_examples():
    assert b45encode(b"AB") == "BB8"
    assert b45encode(b"Hello!!") == "%69 VD92EX0"
    assert b45encode(b"base-45") == "UJCLQE7W581"
    assert b45decode("QED8WEX0") == b"ietf!"
    for bad in ("GGW", "A", "abc"):  # overflow, lone character, lower case
        with pytest.raises(Base45Error):
            b45decode(bad)


@pytest.mark.parametrize("colour", list(Colour))
def test_round_trip_keeps_colour_and_pseudonym(colour):
    token = issue_health_token(vector_ring(), SUBJECT, colour, AT)
    assert verify_health_token(token, vector_ring(), AT).colour == colour
    assert token.startswith(PREFIX) and len(token) == 145


def test_the_token_carries_no_identity_number_and_pseudonyms_need_the_secret():
    assert subject_pseudonym(SECRET, "person-0001") == SUBJECT
    assert subject_pseudonym(b"another secret", "person-0001") != SUBJECT
    assert subject_pseudonym(SECRET, "person-0002") != SUBJECT
    raw = b45decode(VECTOR_HEALTH[4:])
    assert b"person" not in raw and b"0001" not in raw


def flip_signature_bit(token: str) -> str:
    raw = bytearray(b45decode(token[4:]))
    raw[-1] ^= 1
    return PREFIX + b45encode(bytes(raw))


def change_colour(token: str, colour: Colour) -> str:
    raw = bytearray(b45decode(token[4:]))
    raw[13] = colour
    return PREFIX + b45encode(bytes(raw))


def test_each_rejection_has_its_own_code():
    ring = vector_ring()
    assert rejection(flip_signature_bit(VECTOR_HEALTH), ring) == Rejected.BAD_SIGNATURE
    assert rejection(change_colour(VECTOR_HEALTH, Colour.GREEN), ring) == Rejected.BAD_SIGNATURE
    assert rejection(VECTOR_HEALTH[:-3], ring) == Rejected.TRUNCATED
    assert rejection(VECTOR_HEALTH[:22], ring) == Rejected.TRUNCATED
    assert rejection(VECTOR_HEALTH[:-1], ring) == Rejected.MALFORMED  # not base45 any more
    assert rejection(VECTOR_HEALTH.lower(), ring) == Rejected.WRONG_PREFIX
    assert rejection("HC1:" + VECTOR_HEALTH[4:], ring) == Rejected.WRONG_PREFIX
    assert rejection("FK2:" + VECTOR_HEALTH[4:], ring) == Rejected.UNSUPPORTED_VERSION
    assert rejection(VECTOR_VENUE, ring) == Rejected.WRONG_TYPE
    assert rejection(VECTOR_HEALTH, KeyRing([new_key("health", NOT_BEFORE)])) == (
        Rejected.UNKNOWN_KEY
    )


def test_expiry_and_clock_skew():
    ring = vector_ring()
    expires = AT + DEFAULT_LIFETIME
    assert verify_health_token(VECTOR_HEALTH, ring, expires + DEFAULT_SKEW - timedelta(seconds=1))
    assert rejection(VECTOR_HEALTH, ring, expires + DEFAULT_SKEW) == Rejected.EXPIRED
    assert verify_health_token(VECTOR_HEALTH, ring, AT - DEFAULT_SKEW)
    assert rejection(VECTOR_HEALTH, ring, AT - DEFAULT_SKEW - timedelta(seconds=1)) == (
        Rejected.NOT_YET_VALID
    )
    assert rejection(VECTOR_HEALTH, ring, AT - timedelta(seconds=5), skew=timedelta(0)) == (
        Rejected.NOT_YET_VALID
    )


def test_rotation_keeps_old_tokens_valid_during_the_overlap_only():
    ring = vector_ring()
    old_token = issue_health_token(ring, SUBJECT, Colour.GREEN, AT)
    rotated_at = AT + timedelta(minutes=1)
    fresh = ring.rotate(new_key("health", rotated_at), rotated_at, overlap=timedelta(hours=1))
    new_token = issue_health_token(ring, SUBJECT, Colour.GREEN, rotated_at)
    assert verify_health_token(new_token, ring, rotated_at).kid == fresh.kid
    published = KeyRing.from_jwks(ring.to_jwks())  # what checkpoints download
    assert verify_health_token(old_token, published, AT + timedelta(minutes=3)).kid == "d481b6b4"
    long_lived = issue_health_token(vector_ring(), SUBJECT, Colour.GREEN, AT, timedelta(hours=3))
    assert rejection(long_lived, published, rotated_at + timedelta(hours=2)) == (
        Rejected.RETIRED_KEY
    )


def test_a_rotated_out_key_may_not_sign_new_tokens():
    thief = vector_ring()  # holds the old private key
    ring = vector_ring()
    ring.rotate(new_key("health", AT), AT, overlap=timedelta(days=1))
    later = AT + timedelta(hours=2)
    assert rejection(issue_health_token(thief, SUBJECT, Colour.GREEN, later), ring, later) == (
        Rejected.RETIRED_KEY
    )


def test_revoked_keys_are_refused_by_name_even_for_fresh_tokens():
    ring = vector_ring()
    ring.revoke("d481b6b4", AT - timedelta(minutes=1))
    published = KeyRing.from_jwks(ring.to_jwks())
    assert rejection(VECTOR_HEALTH, published) == Rejected.REVOKED_KEY
    with pytest.raises(LookupError):
        issue_health_token(ring, SUBJECT, Colour.GREEN, AT)


def test_a_venue_key_cannot_sign_health_codes():
    ring = vector_ring()
    venue_key = next(e for e in ring if e.purpose == "venue")
    from epicore.healthcode.tokens import HEALTH_BODY, TYPE_HEALTH, sign_token

    body = HEALTH_BODY.pack(Colour.GREEN, SUBJECT)
    forged = sign_token(venue_key, TYPE_HEALTH, AT, AT + DEFAULT_LIFETIME, body)
    assert rejection(forged, ring) == Rejected.WRONG_KEY_PURPOSE


def test_replay_cache_accepts_a_token_once_within_its_lifetime():
    ring, cache = vector_ring(), MemoryReplayCache()
    assert verify_health_token(VECTOR_HEALTH, ring, AT, replay_cache=cache)
    assert rejection(VECTOR_HEALTH, ring, replay_cache=cache) == Rejected.REPLAYED
    assert len(cache) == 1


def test_jwks_refuses_a_key_whose_id_does_not_match():
    document = json.loads(json.dumps(VECTOR_JWKS))
    document["keys"][0]["kid"] = "00000000"
    with pytest.raises(ValueError, match="does not match"):
        KeyRing.from_jwks(document)
    with pytest.raises(ValueError, match="already"):
        KeyRing([new_key("health", AT, HEALTH_SEED), new_key("health", AT, HEALTH_SEED)])
    key = new_key("health", AT, HEALTH_SEED)
    assert key_id(key.public_key) == key.kid == "d481b6b4"


def test_venue_tokens_validate_their_fields():
    ring = vector_ring()
    with pytest.raises(ValueError):
        issue_venue_token(ring, "V1", "restaurant", "35-02", AT)
    with pytest.raises(ValueError):
        issue_venue_token(ring, "V1", "casino", "3502", AT)
    with pytest.raises(TokenRejected) as caught:
        verify_venue_token(VECTOR_HEALTH, ring, AT)
    assert caught.value.code == Rejected.WRONG_TYPE
