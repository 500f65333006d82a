"""EU Digital COVID Certificate: "HC1:" + base45(zlib(COSE_Sign1(CWT))).

Layers, from the eHealth Network "Electronic Health Certificate Container Format" (DCC technical
specifications, volume 1; sections "CWT Claims" and "Transport Encodings"): context identifier
"HC1:", base45 (RFC 9285), zlib (RFC 1950), COSE_Sign1 (RFC 9052) whose payload is a CWT claims
set (RFC 8392):

    1 iss (issuing country), 4 exp, 6 iat, -260 hcert: {1: the DCC payload (eu_dgc_v1 schema)}
"""

from __future__ import annotations

from collections.abc import Mapping

from epicore.certs import errors
from epicore.certs.cose import HEADER_ALG, HEADER_KID, decode_cbor, parse_cose_sign1
from epicore.certs.encoding import base45_decode, zlib_inflate
from epicore.certs.errors import CertError
from epicore.certs.model import DCC, Decoded, instant, safe_payload
from epicore.certs.signatures import COSE_ALGORITHMS, Algorithm

PREFIX = "HC1:"
# CWT claim keys (RFC 8392 section 3.1) and the hcert claim ("Health Certificate Claim").
CLAIM_ISS = 1
CLAIM_EXP = 4
CLAIM_NBF = 5
CLAIM_IAT = 6
CLAIM_HCERT = -260
HCERT_EU_DCC_V1 = 1


def decode_dcc(text: str) -> Decoded:
    """Decode an "HC1:" QR text down to its claims; raise CertError at the layer that breaks."""
    if not text.startswith(PREFIX):
        raise CertError(errors.UNKNOWN_PREFIX, f'DCC text must start with "{PREFIX}"')
    compressed = base45_decode(text[len(PREFIX) :])
    message = parse_cose_sign1(zlib_inflate(compressed))
    claims = decode_cbor(message.payload, errors.CWT_INVALID, "CWT payload")
    if not isinstance(claims, Mapping):
        raise CertError(errors.CWT_INVALID, "CWT payload is not a CBOR map of claims")
    alg_id = message.header(HEADER_ALG)
    kid = message.header(HEADER_KID)
    if kid is not None and not isinstance(kid, bytes):
        raise CertError(errors.COSE_INVALID, "COSE kid header is not a byte string")
    issuer = claims.get(CLAIM_ISS)
    return Decoded(
        format=DCC,
        algorithm=_algorithm(alg_id),
        algorithm_label=_algorithm_label(alg_id),
        kid=kid or None,
        issuer=issuer if isinstance(issuer, str) else None,
        issued_at=instant(claims.get(CLAIM_IAT), "iat", errors.CWT_INVALID),
        expires_at=instant(claims.get(CLAIM_EXP), "exp", errors.CWT_INVALID),
        not_before=instant(claims.get(CLAIM_NBF), "nbf", errors.CWT_INVALID),
        payload=safe_payload(_dcc_payload(claims), errors.CWT_INVALID),
        signed_bytes=message.to_be_signed(),
        signature=message.signature,
    )


def _dcc_payload(claims: Mapping) -> Mapping:
    hcert = claims.get(CLAIM_HCERT)
    if not isinstance(hcert, Mapping) or not isinstance(hcert.get(HCERT_EU_DCC_V1), Mapping):
        raise CertError(
            errors.CWT_INVALID, "CWT has no hcert claim (-260) holding a DCC payload at key 1"
        )
    return hcert[HCERT_EU_DCC_V1]


def _algorithm(alg_id: object) -> Algorithm | None:
    # Only integers name algorithms here; other header values could even be unhashable.
    if isinstance(alg_id, int) and not isinstance(alg_id, bool):
        return COSE_ALGORITHMS.get(alg_id)
    return None


def _algorithm_label(alg_id: object) -> str | None:
    if alg_id is None:
        return None
    known = _algorithm(alg_id)
    return known.name if known else f"COSE {alg_id!r}"
