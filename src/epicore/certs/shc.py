"""SMART Health Cards: "shc:/" + numeric-encoded compact JWS, whose payload is raw-DEFLATEd JSON.

From the SMART Health Cards framework (https://spec.smarthealth.cards/): the JWS header is
{"zip": "DEF", "alg": "ES256", "kid": <RFC 7638 thumbprint>}; the payload has "iss" (the issuer's
base URL), "nbf" (issuance time), optionally "exp", and "vc.credentialSubject.fhirBundle".
A JWS too long for one QR code was once split into chunks "shc:/<i>/<n>/<digits>"; the framework
has deprecated chunking, but older cards still carry it, so complete sets are reassembled here.
"""

from __future__ import annotations

import json
import re

from epicore.certs import errors
from epicore.certs.encoding import base64url_decode, raw_inflate, shc_numeric_decode
from epicore.certs.errors import CertError
from epicore.certs.model import SHC, Decoded, instant, safe_payload
from epicore.certs.signatures import JWS_ALGORITHMS

PREFIX = "shc:/"
_CHUNK = re.compile(r"^shc:/(\d+)/(\d+)/(.*)$", re.DOTALL)


def decode_shc(texts: list[str]) -> Decoded:
    """Decode one "shc:/" text, or every chunk of a chunked card (in any order)."""
    return decode_jws(shc_numeric_decode(_join_chunks(texts)))


def decode_jws(jws: str) -> Decoded:
    parts = jws.split(".")
    if len(parts) != 3:
        raise CertError(
            errors.JWS_INVALID,
            f"compact JWS must have 3 parts separated by '.', found {len(parts)}",
        )
    header_text, payload_text, signature_text = parts
    header = _json_object(base64url_decode(header_text, "JWS header"), errors.JWS_INVALID, "header")
    if header.get("zip") != "DEF":
        raise CertError(
            errors.JWS_INVALID, 'JWS header must have "zip": "DEF" (SMART Health Cards)'
        )
    payload = _json_object(
        raw_inflate(base64url_decode(payload_text, "JWS payload")),
        errors.SHC_PAYLOAD_INVALID,
        "payload",
    )
    _check_claims(payload)
    alg = header.get("alg")
    kid = header.get("kid")
    return Decoded(
        format=SHC,
        algorithm=JWS_ALGORITHMS.get(alg) if isinstance(alg, str) else None,
        algorithm_label=str(alg) if alg is not None else None,
        kid=kid if isinstance(kid, str) and kid else None,
        issuer=payload["iss"],
        # The framework defines "nbf" as the issuance time; there is no separate "iat".
        issued_at=instant(payload["nbf"], "nbf", errors.SHC_PAYLOAD_INVALID),
        expires_at=instant(payload.get("exp"), "exp", errors.SHC_PAYLOAD_INVALID),
        not_before=instant(payload["nbf"], "nbf", errors.SHC_PAYLOAD_INVALID),
        payload=safe_payload(payload, errors.SHC_PAYLOAD_INVALID),
        # RFC 7515 section 5.2: the signing input is the ASCII of "header.payload" as received.
        signed_bytes=f"{header_text}.{payload_text}".encode("ascii"),
        signature=base64url_decode(signature_text, "JWS signature"),
    )


def _join_chunks(texts: list[str]) -> str:
    """Digits of a single card, or of chunks 1..n put in order; refuse gaps and repeats."""
    if len(texts) == 1 and not _CHUNK.match(texts[0]):
        return texts[0][len(PREFIX) :]
    chunks: dict[int, str] = {}
    totals = set()
    for text in texts:
        match = _CHUNK.match(text)
        if not match:
            raise CertError(
                errors.SHC_CHUNKS_INVALID,
                "several lines were given but not all are chunks shc:/<i>/<n>/<digits>",
            )
        index, total, digits = int(match[1]), int(match[2]), match[3]
        if not 1 <= index <= total:
            raise CertError(
                errors.SHC_CHUNKS_INVALID, f"chunk number {index} is outside 1..{total}"
            )
        if index in chunks:
            raise CertError(errors.SHC_CHUNKS_INVALID, f"chunk {index} was given twice")
        chunks[index] = digits
        totals.add(total)
    if len(totals) != 1:
        raise CertError(errors.SHC_CHUNKS_INVALID, "chunks disagree on how many chunks there are")
    total = totals.pop()
    missing = sorted(set(range(1, total + 1)) - set(chunks))
    if missing:
        raise CertError(
            errors.SHC_CHUNKS_INVALID,
            f"chunked card is incomplete: chunk(s) {', '.join(map(str, missing))} of {total} "
            "missing (give every chunk, one per line)",
            missing=missing,
        )
    return "".join(chunks[i] for i in range(1, total + 1))


def _json_object(raw: bytes, code: str, what: str) -> dict:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CertError(code, f"JWS {what} is not valid UTF-8 JSON: {exc}") from exc
    except RecursionError as exc:  # the json module's own guard against deep nesting
        raise CertError(code, f"JWS {what} is nested too deeply") from exc
    if not isinstance(value, dict):
        raise CertError(code, f"JWS {what} is not a JSON object")
    return value


def _check_claims(payload: dict) -> None:
    if not isinstance(payload.get("iss"), str):
        raise CertError(errors.SHC_PAYLOAD_INVALID, 'payload has no "iss" string')
    if "nbf" not in payload:
        raise CertError(errors.SHC_PAYLOAD_INVALID, 'payload has no "nbf" (issuance time)')
    vc = payload.get("vc")
    subject = vc.get("credentialSubject") if isinstance(vc, dict) else None
    if not isinstance(subject, dict) or not isinstance(subject.get("fhirBundle"), dict):
        raise CertError(
            errors.SHC_PAYLOAD_INVALID, 'payload has no "vc.credentialSubject.fhirBundle" object'
        )
