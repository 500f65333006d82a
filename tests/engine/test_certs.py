"""epicore.certs: EU Digital COVID Certificates and SMART Health Cards.

Most certificates here are built by the tests themselves (keys, X.509, COSE, JWS, base45, numeric
QR text), so every layer can be broken on purpose. The published test vectors in certs_data/
(sources in certs_data/README.md) check the same code against other implementations.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess
import sys
import zlib
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from epicore.certs import CertError, TrustList, load_trust_files, parse_trust_bytes, verify
from epicore.certs.cli import main
from epicore.certs.encoding import BASE45_ALPHABET, base45_decode
from epicore.certs.trust import dcc_kid_of, jwk_thumbprint

DATA = Path(__file__).parent / "certs_data"

ISSUED = datetime(2021, 6, 1, 12, 0, tzinfo=UTC)
EXPIRES = datetime(2022, 6, 1, 12, 0, tzinfo=UTC)
DURING = datetime(2021, 9, 1, tzinfo=UTC)
AFTER = datetime(2023, 1, 1, tzinfo=UTC)
BEFORE = datetime(2021, 5, 1, tzinfo=UTC)

DCC_PAYLOAD = {
    "ver": "1.3.0",
    "nam": {"fn": "Zhang", "fnt": "ZHANG", "gn": "Wei", "gnt": "WEI"},
    "dob": "1990-01-01",
    "v": [
        {
            "tg": "840539006",
            "vp": "1119349007",
            "mp": "EU/1/20/1528",
            "ma": "ORG-100030215",
            "dn": 2,
            "sd": 2,
            "dt": "2021-05-20",
            "co": "DE",
            "is": "Robert Koch-Institut",
            "ci": "URN:UVCI:01:DE:TEST0001#X",
        }
    ],
}


# ---------------------------------------------------------------------------------------------
# Building certificates


def ec_key(name: str = "signer") -> ec.EllipticCurvePrivateKey:
    return _ec_key(name)  # one key per name, however the name is passed


@cache
def _ec_key(name: str) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@cache
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def self_signed(key_name: str = "signer", rsa_signer: bool = False) -> x509.Certificate:
    return _self_signed(key_name, rsa_signer)


@cache
def _self_signed(key_name: str, rsa_signer: bool) -> x509.Certificate:
    key = rsa_key() if rsa_signer else ec_key(key_name)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Test DSC {key_name}")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime(2021, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2031, 1, 1, tzinfo=UTC))
        .sign(key, hashes.SHA256())
    )


def trust_of(*certificates: x509.Certificate) -> TrustList:
    trust = TrustList()
    for certificate in certificates:
        for key in parse_trust_bytes(certificate.public_bytes(Encoding.DER), "test.der"):
            trust.add(key)
    return trust


def raw_es256(key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    r, s = decode_dss_signature(key.sign(message, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def base45_encode(data: bytes) -> str:
    """RFC 9285 section 4: the encoder, written independently of the decoder under test."""
    out = []
    for i in range(0, len(data), 2):
        chunk = data[i : i + 2]
        value = int.from_bytes(chunk, "big")
        for _ in range(3 if len(chunk) == 2 else 2):
            value, digit = divmod(value, 45)
            out.append(BASE45_ALPHABET[digit])
    return "".join(out)


def cwt_claims(
    payload=None, iss="DE", iat=ISSUED, exp: datetime | None = EXPIRES, extra=None
) -> dict:
    claims = {1: iss, 6: int(iat.timestamp()), -260: {1: payload or DCC_PAYLOAD}}
    if exp is not None:
        claims[4] = int(exp.timestamp())
    claims.update(extra or {})
    return claims


def cose_sign1(
    claims=None,
    *,
    alg: int = -7,
    kid: bytes | None = None,
    kid_unprotected: bool = False,
    signer=None,
    payload_bytes: bytes | None = None,
    tamper_payload: bytes | None = None,
) -> bytes:
    """Tagged COSE_Sign1 bytes; by default ES256 by ec_key() with the kid of self_signed()."""
    kid = dcc_kid_of(self_signed()) if kid is None else kid
    protected = {1: alg} if kid_unprotected else {1: alg, 4: kid}
    unprotected = {4: kid} if kid_unprotected else {}
    protected_bytes = cbor2.dumps(protected)
    payload = payload_bytes if payload_bytes is not None else cbor2.dumps(claims or cwt_claims())
    to_be_signed = cbor2.dumps(["Signature1", protected_bytes, b"", payload])
    if alg == -37:
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        signature = (signer or rsa_key()).sign(to_be_signed, pss, hashes.SHA256())
    else:
        signature = raw_es256(signer or ec_key(), to_be_signed)
    sent_payload = tamper_payload if tamper_payload is not None else payload
    return cbor2.dumps(cbor2.CBORTag(18, [protected_bytes, unprotected, sent_payload, signature]))


def hc1(cose: bytes) -> str:
    """QR text for any bytes in the COSE position (broken ones too)."""
    return "HC1:" + base45_encode(zlib.compress(cose))


def shc_payload(nbf=ISSUED, exp: datetime | None = None, bundle=True) -> dict:
    payload = {
        "iss": "https://issuer.example.org",
        "nbf": nbf.timestamp(),
        "vc": {
            "type": ["https://smarthealth.cards#health-card"],
            "credentialSubject": {
                "fhirVersion": "4.0.1",
                "fhirBundle": {"resourceType": "Bundle", "type": "collection", "entry": []},
            },
        },
    }
    if not bundle:
        del payload["vc"]["credentialSubject"]["fhirBundle"]
    if exp is not None:
        payload["exp"] = exp.timestamp()
    return payload


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def deflate_raw(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def jws(payload=None, *, header=None, signer=None, payload_part: str | None = None) -> str:
    signer = signer or ec_key()
    header = header or {
        "zip": "DEF",
        "alg": "ES256",
        "kid": jwk_thumbprint(ec_key().public_key()),
    }
    header_part = b64url(json.dumps(header).encode())
    if payload_part is None:
        body = json.dumps(payload or shc_payload(), separators=(",", ":")).encode()
        payload_part = b64url(deflate_raw(body))
    signature = raw_es256(signer, f"{header_part}.{payload_part}".encode())
    return f"{header_part}.{payload_part}.{b64url(signature)}"


def numeric(jws_text: str) -> str:
    return "".join(f"{ord(c) - 45:02d}" for c in jws_text)


def shc(jws_text: str) -> str:
    return "shc:/" + numeric(jws_text)


def shc_chunks(jws_text: str, count: int) -> list[str]:
    digits = numeric(jws_text)
    size = -(-len(digits) // count)
    size += size % 2
    parts = [digits[i : i + size] for i in range(0, len(digits), size)]
    return [f"shc:/{i}/{len(parts)}/{part}" for i, part in enumerate(parts, 1)]


def error_code(result) -> str | None:
    return result.error["code"] if result.error else None


# ---------------------------------------------------------------------------------------------
# EU Digital COVID Certificates built here


def test_dcc_es256_verifies_and_reports_claims():
    result = verify(hc1(cose_sign1()), trust_of(self_signed()), DURING)
    assert result.verified and result.signature_valid and result.error is None
    assert (result.format, result.algorithm, result.issuer) == ("dcc", "ES256", "DE")
    assert result.kid == base64.b64encode(dcc_kid_of(self_signed())).decode()
    assert result.issued_at == "2021-06-01T12:00:00Z"
    assert result.expires_at == "2022-06-01T12:00:00Z"
    assert result.checked_at == "2021-09-01T00:00:00Z"
    assert (result.expired, result.not_yet_valid) == (False, False)
    assert result.payload == DCC_PAYLOAD
    assert result.signer.startswith("CN=Test DSC signer")
    json.dumps(result.to_dict())  # serialisable as it is


def test_dcc_kid_is_first_8_bytes_of_sha256_of_der():
    certificate = self_signed()
    expected = hashlib.sha256(certificate.public_bytes(Encoding.DER)).digest()[:8]
    assert dcc_kid_of(certificate) == expected


def test_dcc_kid_in_unprotected_header_is_accepted():
    result = verify(hc1(cose_sign1(kid_unprotected=True)), trust_of(self_signed()), DURING)
    assert result.verified, result.error


def test_dcc_ps256_verifies():
    certificate = self_signed("rsa", rsa_signer=True)
    cose = cose_sign1(alg=-37, kid=dcc_kid_of(certificate))
    result = verify(hc1(cose), trust_of(certificate), DURING)
    assert result.verified, result.error
    assert result.algorithm == "PS256"


def test_dcc_untagged_and_cwt_tagged_messages_are_accepted():
    tagged = cbor2.loads(cose_sign1())
    for message in (cbor2.dumps(tagged.value), cbor2.dumps(cbor2.CBORTag(61, tagged))):
        assert verify(hc1(message), trust_of(self_signed()), DURING).verified


def test_dcc_expired_after_exp_but_signature_still_valid():
    result = verify(hc1(cose_sign1()), trust_of(self_signed()), AFTER)
    assert not result.verified and result.signature_valid
    assert result.expired is True
    assert error_code(result) == "expired"
    assert "2022-06-01T12:00:00Z" in result.error["message"]


def test_dcc_expires_exactly_at_exp():
    assert verify(hc1(cose_sign1()), trust_of(self_signed()), EXPIRES).expired is True
    just_before = EXPIRES - timedelta(seconds=1)
    assert verify(hc1(cose_sign1()), trust_of(self_signed()), just_before).verified


def test_dcc_issued_after_the_checking_time_is_not_yet_valid():
    result = verify(hc1(cose_sign1()), trust_of(self_signed()), BEFORE)
    assert (result.verified, result.not_yet_valid, error_code(result)) == (
        False,
        True,
        "not_yet_valid",
    )


def test_dcc_without_exp_has_unknown_expiry():
    result = verify(hc1(cose_sign1(cwt_claims(exp=None))), trust_of(self_signed()), AFTER)
    assert result.verified and result.expired is None and result.expires_at is None


def test_time_without_zone_is_utc():
    naive = datetime(2022, 6, 1, 11, 59, 59)
    assert verify(hc1(cose_sign1()), trust_of(self_signed()), naive).verified


def test_dcc_bytes_and_dates_in_payload_become_text():
    payload = {**DCC_PAYLOAD, "x-bytes": b"\x01\x02", "x-date": datetime(2021, 1, 2, tzinfo=UTC)}
    result = verify(hc1(cose_sign1(cwt_claims(payload))), trust_of(self_signed()), DURING)
    assert result.payload["x-bytes"] == "AQI="
    assert result.payload["x-date"] == "2021-01-02T00:00:00Z"
    json.dumps(result.to_dict())


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "input_invalid"),
        ("   \n  ", "input_invalid"),
        ("HC2:6BFOXN", "unknown_prefix"),
        ("https://example.org/", "unknown_prefix"),
        ("HC1:6BFOXN*", "base45_invalid"),  # length 7: 7 mod 3 == 1
        ("HC1:6BFOX~", "base45_invalid"),  # "~" is not in the alphabet
        ("HC1:GGW", "base45_invalid"),  # 16 + 16*45 + 32*45^2 = 65536 > 65535
        ("HC1:" + base45_encode(b"not zlib at all"), "zlib_invalid"),
        ("HC1:" + base45_encode(zlib.compress(b"\xa1\x01\x02")[:-6]), "zlib_invalid"),
        ("HC1:" + base45_encode(zlib.compress(b"\x01") + b"extra"), "zlib_invalid"),
        ("HC1:" + base45_encode(zlib.compress(b"\x00" * (2 << 20))), "zlib_invalid"),
        (hc1(b"\xff"), "cbor_invalid"),
        (hc1(b"\x5a\xff\xff\xff\xff"), "cbor_invalid"),  # truncated bstr
        (hc1(b"\x01\x02"), "cbor_invalid"),  # trailing bytes
        (hc1(cbor2.dumps(7)), "cose_invalid"),
        (hc1(cbor2.dumps([b"", {}, b""])), "cose_invalid"),
        (
            hc1(cbor2.dumps(cbor2.CBORTag(17, [b"", {}, b"", b""]))),
            "cose_invalid",
        ),
        (hc1(cbor2.dumps([b"", {}, None, b""])), "cose_invalid"),
        (hc1(cbor2.dumps([cbor2.dumps(1), {}, b"", b""])), "cose_invalid"),
        (hc1(cbor2.dumps([b"", [], b"", b""])), "cose_invalid"),
    ],
)
def test_malformed_input_is_reported_with_its_layer(text, code):
    result = verify(text, trust_of(self_signed()), DURING)
    assert error_code(result) == code, result.error
    assert not result.verified and not result.signature_valid
    assert result.error["message"]


def test_truncated_qr_text_is_reported():
    text = hc1(cose_sign1())
    codes = {error_code(verify(text[:cut], trust_of(self_signed()), DURING)) for cut in (30, 31)}
    assert codes <= {"base45_invalid", "zlib_invalid"} and codes


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (cbor2.dumps([1, 2]), "cwt_invalid"),
        (cbor2.dumps({1: "DE"}), "cwt_invalid"),  # no hcert claim
        (cbor2.dumps({1: "DE", -260: {1: "text"}}), "cwt_invalid"),
        (cbor2.dumps({**cwt_claims(), 4: "tomorrow"}), "cwt_invalid"),
        (b"\xff", "cwt_invalid"),
    ],
)
def test_bad_cwt_payload(payload, code):
    result = verify(hc1(cose_sign1(payload_bytes=payload)), trust_of(self_signed()), DURING)
    assert error_code(result) == code, result.error


def test_unsupported_algorithm():
    result = verify(hc1(cose_sign1(alg=-8)), trust_of(self_signed()), DURING)  # EdDSA
    assert error_code(result) == "alg_unsupported"
    assert result.algorithm == "COSE -8"
    assert result.payload == DCC_PAYLOAD  # decoded, but not verified


def test_missing_kid():
    result = verify(hc1(cose_sign1(kid=b"")), trust_of(self_signed()), DURING)
    assert error_code(result) == "kid_missing"


def test_no_trust_list():
    result = verify(hc1(cose_sign1()), TrustList(), DURING)
    assert error_code(result) == "no_trust_list"
    assert result.payload == DCC_PAYLOAD and result.expired is False


def test_unknown_kid():
    result = verify(hc1(cose_sign1()), trust_of(self_signed("other")), DURING)
    assert error_code(result) == "unknown_kid"
    assert result.error["kid"] == result.kid


def test_signature_by_another_key_under_a_trusted_kid():
    result = verify(hc1(cose_sign1(signer=ec_key("other"))), trust_of(self_signed()), DURING)
    assert error_code(result) == "signature_invalid"
    assert not result.signature_valid


def test_tampered_payload_fails_the_signature():
    forged = cbor2.dumps(cwt_claims({**DCC_PAYLOAD, "dob": "1960-01-01"}))
    result = verify(hc1(cose_sign1(tamper_payload=forged)), trust_of(self_signed()), DURING)
    assert error_code(result) == "signature_invalid"
    assert result.payload["dob"] == "1960-01-01"  # shown, but never verified


def test_flipped_signature_bit_fails():
    message = cbor2.loads(cose_sign1())
    protected, unprotected, payload, signature = message.value
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    cose = cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected, payload, flipped]))
    assert error_code(verify(hc1(cose), trust_of(self_signed()), DURING)) == "signature_invalid"


def test_rsa_key_under_an_es256_kid_does_not_crash():
    rsa_certificate = self_signed("rsa", rsa_signer=True)
    cose = cose_sign1(kid=dcc_kid_of(rsa_certificate))
    assert error_code(verify(hc1(cose), trust_of(rsa_certificate), DURING)) == "signature_invalid"


def test_colliding_kids_are_all_tried(tmp_path):
    """Two JWKS keys declare the same DCC kid; the second one signed."""
    kid = b"\x01\x02\x03\x04\x05\x06\x07\x08"
    keys = [ec_key("other").public_key(), ec_key().public_key()]
    jwks = {"keys": [dict(ec_jwk(k), kid=base64.b64encode(kid).decode()) for k in keys]}
    path = tmp_path / "trust.json"
    path.write_text(json.dumps(jwks))
    result = verify(hc1(cose_sign1(kid=kid)), load_trust_files([path]), DURING)
    assert result.verified, result.error
    assert result.signer == "trust.json#keys[1]"


def ec_jwk(public_key: ec.EllipticCurvePublicKey) -> dict:
    numbers = public_key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url(numbers.x.to_bytes(32, "big")),
        "y": b64url(numbers.y.to_bytes(32, "big")),
    }


def test_dcc_trusted_through_a_jwks_x5c_certificate(tmp_path):
    certificate = self_signed()
    der = certificate.public_bytes(Encoding.DER)
    jwk = dict(ec_jwk(ec_key().public_key()), x5c=[base64.b64encode(der).decode()])
    path = tmp_path / "dcc.json"
    path.write_text(json.dumps({"keys": [jwk]}))
    result = verify(hc1(cose_sign1()), load_trust_files([path]), DURING)
    assert result.verified, result.error


@cache
def fixed_hc1() -> str:
    return hc1(cose_sign1())


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_changed_character_is_never_verified(data):
    text = fixed_hc1()  # ECDSA signatures are random: hypothesis needs the same text each run
    position = data.draw(st.integers(4, len(text) - 1))
    replacement = data.draw(st.sampled_from(BASE45_ALPHABET).filter(lambda c: c != text[position]))
    changed = text[:position] + replacement + text[position + 1 :]
    result = verify(changed, trust_of(self_signed()), DURING)
    assert not result.verified and result.error is not None


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["HC1:", "shc:/", "shc:/1/2/", ""]), st.text(max_size=200))
def test_arbitrary_text_never_raises(prefix, tail):
    result = verify(prefix + tail, trust_of(self_signed()), DURING)
    assert not result.verified
    json.dumps(result.to_dict())


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_inside_zlib_never_raise(data):
    result = verify(hc1(data), trust_of(self_signed()), DURING)
    assert not result.verified
    json.dumps(result.to_dict())


def test_deeply_nested_payloads_are_refused_not_crashed():
    nested = [1]
    for _ in range(300):
        nested = [nested]
    claims = cwt_claims({**DCC_PAYLOAD, "deep": nested})
    dcc_result = verify(hc1(cose_sign1(claims)), trust_of(self_signed()), DURING)
    assert error_code(dcc_result) == "cwt_invalid"
    assert "nested" in dcc_result.error["message"]
    body = b'{"iss":"x","nbf":1,"vc":' + b"[" * 5000 + b"]" * 5000 + b"}"
    card = shc(jws(payload_part=b64url(deflate_raw(body))))
    assert error_code(verify(card, trust_of(self_signed()), DURING)) == "shc_payload_invalid"


def test_base45_decodes_rfc_9285_examples():
    # RFC 9285 section 4.3.
    assert base45_decode("BB8") == b"AB"
    assert base45_decode("%69 VD92EX0") == b"Hello!!"
    assert base45_decode("UJCLQE7W581") == b"base-45"
    assert base45_decode("QED8WEX0") == b"ietf!"


# ---------------------------------------------------------------------------------------------
# SMART Health Cards built here


def test_shc_verifies_with_an_x509_certificate_as_trust():
    result = verify(shc(jws()), trust_of(self_signed()), DURING)
    assert result.verified, result.error
    assert (result.format, result.algorithm) == ("shc", "ES256")
    assert result.kid == jwk_thumbprint(ec_key().public_key())
    assert result.issuer == "https://issuer.example.org"
    assert result.issued_at == result.not_before == "2021-06-01T12:00:00Z"
    assert result.expired is None  # the card has no "exp"
    assert result.payload["vc"]["credentialSubject"]["fhirBundle"]["resourceType"] == "Bundle"


def test_shc_kid_is_the_thumbprint_not_the_declared_kid(tmp_path):
    jwk = dict(ec_jwk(ec_key().public_key()), kid="declared-but-wrong", alg="ES256")
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk]}))
    assert verify(shc(jws()), load_trust_files([path]), DURING).verified


def test_shc_expiry_and_not_before():
    card = shc(jws(shc_payload(exp=EXPIRES)))
    assert verify(card, trust_of(self_signed()), DURING).verified
    late = verify(card, trust_of(self_signed()), AFTER)
    assert (late.expired, error_code(late), late.signature_valid) == (True, "expired", True)
    early = verify(card, trust_of(self_signed()), BEFORE)
    assert (early.not_yet_valid, error_code(early)) == (True, "not_yet_valid")


def test_shc_chunks_are_reassembled_in_any_order():
    chunks = shc_chunks(jws(), 3)
    result = verify("\n".join(reversed(chunks)), trust_of(self_signed()), DURING)
    assert result.verified, result.error


@pytest.mark.parametrize(
    ("pick", "message"),
    [
        (lambda c: c[:2], "chunk(s) 3 of 3 missing"),
        (lambda c: c + c[:1], "chunk 1 was given twice"),
        (lambda c: [c[0], c[1].replace("/3/", "/4/", 1), c[2]], "disagree"),
        (lambda c: [c[0].replace("shc:/1/3/", "shc:/5/3/"), *c[1:]], "outside 1..3"),
        (lambda c: [c[0], "shc:/" + "56" * 10], "not all are chunks"),
    ],
)
def test_shc_bad_chunk_sets(pick, message):
    result = verify("\n".join(pick(shc_chunks(jws(), 3))), trust_of(self_signed()), DURING)
    assert error_code(result) == "shc_chunks_invalid"
    assert message in result.error["message"]


def test_a_single_chunk_of_several_is_incomplete():
    result = verify(shc_chunks(jws(), 2)[0], trust_of(self_signed()), DURING)
    assert error_code(result) == "shc_chunks_invalid"


def test_several_lines_that_are_not_shc_chunks():
    result = verify(hc1(cose_sign1()) + "\n" + hc1(cose_sign1()), trust_of(self_signed()), DURING)
    assert error_code(result) == "input_invalid"


def _header(**changes) -> dict:
    header = {"zip": "DEF", "alg": "ES256", "kid": jwk_thumbprint(ec_key().public_key())}
    header.update(changes)
    return {k: v for k, v in header.items() if v is not None}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("shc:/5676290952432", "shc_numeric_invalid"),  # odd number of digits
        ("shc:/5699", "shc_numeric_invalid"),  # 99 > 77
        ("shc:/56x6", "shc_numeric_invalid"),
        ("shc:/" + numeric("abc.def"), "jws_invalid"),  # 2 parts
        ("shc:/" + numeric("a=.b.c"), "jws_invalid"),  # padding is not base64url
        ("shc:/" + numeric(b64url(b"not json") + ".AA.AA"), "jws_invalid"),
        (shc(jws(header=_header(zip=None))), "jws_invalid"),
        (shc(jws(payload_part=b64url(b"\xff\xfe not deflate"))), "deflate_invalid"),
        (shc(jws(payload_part=b64url(deflate_raw(b"{not json")))), "shc_payload_invalid"),
        (shc(jws(payload_part=b64url(deflate_raw(b"[1]")))), "shc_payload_invalid"),
        (shc(jws(shc_payload(bundle=False))), "shc_payload_invalid"),
        (shc(jws(header=_header(alg="RS256"))), "alg_unsupported"),
        (shc(jws(header=_header(kid=None))), "kid_missing"),
        (shc(jws(header=_header(kid="somebody-else"))), "unknown_kid"),
        (shc(jws(signer=ec_key("other"))), "signature_invalid"),
    ],
)
def test_shc_malformed_or_untrusted(text, code):
    result = verify(text, trust_of(self_signed()), DURING)
    assert error_code(result) == code, result.error
    assert not result.verified


def test_shc_tampered_payload_fails_the_signature():
    signed = jws()
    header, _, signature = signed.split(".")
    forged = shc_payload()
    forged["iss"] = "https://forger.example.org"
    body = b64url(deflate_raw(json.dumps(forged).encode()))
    result = verify(shc(f"{header}.{body}.{signature}"), trust_of(self_signed()), DURING)
    assert error_code(result) == "signature_invalid"


# ---------------------------------------------------------------------------------------------
# Trust files


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\x00\x01 not a certificate", "neither a JWKS, PEM nor DER"),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "PEM"),
        (b"{not json", "not valid JSON"),
        (b'{"issuer": "x"}', "not a JWKS"),
        (b'{"keys": [{"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}]}', "curve"),
        (b'{"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]}', "EC point"),
        (b'{"keys": [{"kty": "EC", "crv": "P-256"}]}', '"x"'),
    ],
)
def test_bad_trust_files(tmp_path, content, problem):
    path = tmp_path / "trust.bin"
    path.write_bytes(content)
    with pytest.raises(CertError) as info:
        load_trust_files([path])
    assert info.value.code == "trust_file_invalid"
    assert problem in info.value.message and "trust.bin" in info.value.message


def test_x5c_for_another_key_is_refused(tmp_path):
    der = self_signed("other").public_bytes(Encoding.DER)
    jwk = dict(ec_jwk(ec_key().public_key()), x5c=[base64.b64encode(der).decode()])
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk]}))
    with pytest.raises(CertError, match="different key"):
        load_trust_files([path])


def test_unsupported_jwk_types_are_skipped_and_pem_bundles_read(tmp_path):
    (tmp_path / "okp.json").write_text('{"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AA"}]}')
    bundle = b"".join(self_signed(n).public_bytes(Encoding.PEM) for n in ("signer", "other"))
    (tmp_path / "bundle.pem").write_bytes(bundle)
    trust = load_trust_files([tmp_path / "okp.json", tmp_path / "bundle.pem"])
    assert len(trust) == 2


# ---------------------------------------------------------------------------------------------
# Published test vectors (certs_data/README.md)


def test_dgc_testdata_at_1_es256_verifies_at_its_validation_clock():
    text = (DATA / "dgc_at_1.txt").read_text()
    trust = load_trust_files([DATA / "dgc_at_1_dsc.pem"])
    result = verify(text, trust, datetime.fromisoformat("2021-05-06T18:00:00+00:00"))
    assert result.verified, result.error
    assert (result.algorithm, result.kid, result.issuer) == ("ES256", "2Rk3X8HntrI=", "AT")
    assert result.payload["nam"]["fn"] == "Musterfrau-Gößinger"
    assert result.payload["v"][0]["ci"] == "URN:UVCI:01:AT:10807843F94AEE0EE5093FBC254BD813#B"
    assert result.expires_at == "2021-11-02T18:00:00Z"


def test_dgc_testdata_at_1_is_expired_today():
    text = (DATA / "dgc_at_1.txt").read_text()
    result = verify(text, load_trust_files([DATA / "dgc_at_1_dsc.pem"]))
    assert (result.signature_valid, result.expired, error_code(result)) == (True, True, "expired")


def test_dgc_testdata_common_co1_ps256_with_der_certificate():
    text = (DATA / "dgc_co1.txt").read_text()
    trust = load_trust_files([DATA / "dgc_co1_dsc.der"])
    result = verify(text, trust, datetime.fromisoformat("2021-05-03T20:00:00+02:00"))
    assert result.verified, result.error
    assert result.algorithm == "PS256"
    assert result.signer == "CN=RSA-Me (dgc_co1_dsc.der)"


def test_dgc_testdata_under_the_wrong_trust_file_is_unknown_kid():
    text = (DATA / "dgc_co1.txt").read_text()
    trust = load_trust_files([DATA / "dgc_at_1_dsc.pem", DATA / "shc_issuer_jwks.json"])
    assert error_code(verify(text, trust, ISSUED)) == "unknown_kid"


def test_shc_spec_example_00_verifies():
    text = (DATA / "shc_example_00.txt").read_text()
    trust = load_trust_files([DATA / "shc_issuer_jwks.json"])
    result = verify(text, trust, datetime(2021, 6, 1, tzinfo=UTC))
    assert result.verified, result.error
    assert result.kid == "3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s"
    assert result.issuer == "https://smarthealth.cards/examples/issuer"
    assert result.not_before == "2021-04-09T13:51:10.189000Z"
    bundle = result.payload["vc"]["credentialSubject"]["fhirBundle"]
    assert bundle["entry"][0]["resource"]["resourceType"] == "Patient"
    assert verify(text, trust, datetime(2021, 4, 1, tzinfo=UTC)).not_yet_valid is True


def test_spec_jwks_thumbprints_match_their_declared_kids():
    """RFC 7638 as computed here agrees with the kids the SMART issuer published."""
    document = json.loads((DATA / "shc_issuer_jwks.json").read_text())
    trust = load_trust_files([DATA / "shc_issuer_jwks.json"])
    assert [k.shc_kid for k in trust.keys] == [k["kid"] for k in document["keys"]]


# ---------------------------------------------------------------------------------------------
# Command line


def run_cli(args: list[str], text: str, capsys) -> tuple[int, dict]:
    code = main(["verify", *args], stdin=io.StringIO(text))
    return code, json.loads(capsys.readouterr().out)


def test_cli_verified_exits_0(capsys):
    trust = str(DATA / "dgc_at_1_dsc.pem")
    code, out = run_cli(
        ["--trust", trust, "--at", "2021-05-06T18:00:00Z"],
        (DATA / "dgc_at_1.txt").read_text(),
        capsys,
    )
    assert code == 0 and out["verified"] and out["error"] is None


def test_cli_expired_exits_1(capsys):
    args = ["--trust", str(DATA / "dgc_at_1_dsc.pem"), "--at", "2021-11-03"]
    code, out = run_cli(args, (DATA / "dgc_at_1.txt").read_text(), capsys)
    assert code == 1 and out["expired"] is True and out["error"]["code"] == "expired"
    assert out["checked_at"] == "2021-11-03T00:00:00Z"  # a bare date is midnight UTC


def test_cli_several_trust_files(capsys):
    args = [
        "--trust",
        str(DATA / "dgc_at_1_dsc.pem"),
        "--trust",
        str(DATA / "shc_issuer_jwks.json"),
        "--at",
        "2021-06-01T00:00:00",
    ]
    code, out = run_cli(args, (DATA / "shc_example_00.txt").read_text(), capsys)
    assert code == 0 and out["format"] == "shc"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--at", "yesterday"], "time_invalid"),
        (["--trust", "/nonexistent/trust.pem"], "trust_file_invalid"),
        ([], "no_trust_list"),
    ],
)
def test_cli_errors_are_json_and_exit_1(capsys, args, code):
    exit_code, out = run_cli(args, (DATA / "dgc_at_1.txt").read_text(), capsys)
    assert exit_code == 1 and out["error"]["code"] == code and not out["verified"]


def test_cli_garbage_input_is_json(capsys):
    code, out = run_cli([], "\x00\x01garbage", capsys)
    assert code == 1 and out["error"]["code"] == "unknown_prefix"


def test_python_dash_m_reads_stdin():
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "epicore.certs",
            "verify",
            "--trust",
            str(DATA / "shc_issuer_jwks.json"),
        ],
        input=(DATA / "shc_example_00.txt").read_text(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert json.loads(completed.stdout)["verified"] is True


def test_python_dash_m_with_binary_input_and_a_latin1_terminal():
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "epicore.certs",
            "verify",
            "--trust",
            str(DATA / "dgc_at_1_dsc.pem"),
        ],
        input=b"\xff\xfeHC1:\x00" + (DATA / "dgc_at_1.txt").read_bytes(),
        capture_output=True,
        env={"PYTHONIOENCODING": "latin-1:strict", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert completed.returncode == 1, completed.stderr
    out = json.loads(completed.stdout.decode("latin-1"))  # the terminal's encoding
    assert out["error"]["code"] == "unknown_prefix"


def test_non_latin_payload_prints_on_a_latin1_terminal():
    """A name the terminal cannot encode falls back to ASCII escapes, not a traceback."""
    payload = {**DCC_PAYLOAD, "nam": {"fn": "张", "fnt": "ZHANG", "gn": "伟", "gnt": "WEI"}}
    text = hc1(cose_sign1(cwt_claims(payload)))
    completed = subprocess.run(
        [sys.executable, "-m", "epicore.certs", "verify", "--at", "2021-09-01"],
        input=text.encode(),
        capture_output=True,
        env={"PYTHONIOENCODING": "latin-1:strict", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert completed.stdout.isascii(), completed.stderr
    out = json.loads(completed.stdout)
    assert out["error"]["code"] == "no_trust_list"
    assert out["payload"]["nam"]["fn"] == "张"


def test_cli_undecodable_stdin_is_input_invalid(capsys):
    stdin = io.TextIOWrapper(io.BytesIO(b"HC1:\xff\xfe"), encoding="utf-8")
    code = main(["verify"], stdin=stdin)
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["error"]["code"] == "input_invalid"
