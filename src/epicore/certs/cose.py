"""COSE_Sign1 (RFC 9052, formerly RFC 8152): parse the structure and rebuild what was signed.

    COSE_Sign1 = [protected: bstr .cbor header_map, unprotected: header_map,
                  payload: bstr / nil, signature: bstr]      (RFC 9052 section 4.2)

It is normally wrapped in CBOR tag 18. The untagged array and the CWT tag 61 around it
(RFC 8392 section 6) carry the same structure and have been seen from issuers, so they are
accepted too.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2

from epicore.certs import errors
from epicore.certs.errors import CertError

COSE_SIGN1_TAG = 18  # RFC 9052 section 2
CWT_TAG = 61  # RFC 8392 section 6
HEADER_ALG = 1  # RFC 9052 section 3.1
HEADER_KID = 4


@dataclass(frozen=True)
class CoseSign1:
    protected_bytes: bytes  # kept verbatim: the signature covers these exact bytes
    protected: dict
    unprotected: dict
    payload: bytes
    signature: bytes

    def header(self, label: int) -> Any:
        """A protected header wins over an unprotected one of the same label."""
        if label in self.protected:
            return self.protected[label]
        return self.unprotected.get(label)

    def to_be_signed(self) -> bytes:
        """Sig_structure for a COSE_Sign1 (RFC 9052 section 4.4), no external AAD."""
        return cbor2.dumps(["Signature1", self.protected_bytes, b"", self.payload])


def decode_cbor(data: bytes, code: str, what: str) -> Any:
    """One complete CBOR item (RFC 8949) and nothing after it."""
    stream = io.BytesIO(data)
    try:
        item = cbor2.CBORDecoder(stream).decode()
    except Exception as exc:  # cbor2 raises several types on hostile input; all mean "not CBOR"
        raise CertError(code, f"{what} is not valid CBOR: {exc}") from exc
    if stream.tell() != len(data):
        raise CertError(code, f"{len(data) - stream.tell()} bytes follow the CBOR {what}")
    return item


def parse_cose_sign1(data: bytes) -> CoseSign1:
    item = decode_cbor(data, errors.CBOR_INVALID, "COSE message")
    item = _unwrap_tags(item)
    if not isinstance(item, list | tuple) or len(item) != 4:
        raise CertError(errors.COSE_INVALID, "COSE_Sign1 must be an array of 4 elements")
    protected_bytes, unprotected, payload, signature = item
    if not isinstance(protected_bytes, bytes):
        raise CertError(errors.COSE_INVALID, "COSE protected header is not a byte string")
    if not isinstance(unprotected, Mapping):
        raise CertError(errors.COSE_INVALID, "COSE unprotected header is not a map")
    if not isinstance(payload, bytes):
        # nil would be a detached payload (RFC 9052 section 4.1); a QR code must carry it.
        raise CertError(errors.COSE_INVALID, "COSE payload is missing or not a byte string")
    if not isinstance(signature, bytes):
        raise CertError(errors.COSE_INVALID, "COSE signature is not a byte string")
    return CoseSign1(
        protected_bytes=protected_bytes,
        protected=_protected_map(protected_bytes),
        unprotected=dict(unprotected),
        payload=payload,
        signature=signature,
    )


def _unwrap_tags(item: Any) -> Any:
    if isinstance(item, cbor2.CBORTag) and item.tag == CWT_TAG:
        item = item.value
    if isinstance(item, cbor2.CBORTag):
        if item.tag != COSE_SIGN1_TAG:
            raise CertError(
                errors.COSE_INVALID,
                f"CBOR tag {item.tag} is not COSE_Sign1 (18)",
                tag=item.tag,
            )
        item = item.value
    return item


def _protected_map(protected_bytes: bytes) -> dict:
    # RFC 9052 section 3: an empty protected header is encoded as a zero-length byte string.
    if not protected_bytes:
        return {}
    header = decode_cbor(protected_bytes, errors.COSE_INVALID, "protected header")
    if not isinstance(header, Mapping):
        raise CertError(errors.COSE_INVALID, "COSE protected header is not a CBOR map")
    return dict(header)
