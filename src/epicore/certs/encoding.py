"""Transport encodings: base45, SMART Health Card numeric mode, base64url, zlib and raw DEFLATE.

Each decoder is strict and raises CertError with the code of its layer, so a damaged QR code is
reported at the layer where it breaks ("bad base45 at position 17") instead of as a vague failure
further down.
"""

from __future__ import annotations

import base64
import binascii
import zlib

from epicore import base45
from epicore.certs import errors
from epicore.certs.errors import CertError

BASE45_ALPHABET = base45.ALPHABET

# SMART Health Cards framework, "Encoding Chunks as QR codes": each character of the JWS becomes
# two digits, ord(c) - 45; base64url and "." use the range "-" (45) .. "z" (122), so 00..77.
SHC_NUMERIC_OFFSET = 45
SHC_NUMERIC_MAX = ord("z") - SHC_NUMERIC_OFFSET

# A QR code holds at most 4,296 alphanumeric characters and a CWT or JWS in one is a few KiB. A
# decompressed payload far larger than that is a decompression bomb, not a certificate.
MAX_INFLATED_BYTES = 1 << 20


def base45_decode(text: str) -> bytes:
    """Decode base45 (RFC 9285), reporting where it breaks."""
    try:
        return base45.b45decode(text)
    except base45.Base45Error as error:
        raise CertError(
            errors.BASE45_INVALID, f"{error} (after the prefix)", position=error.position
        ) from None


def shc_numeric_decode(digits: str) -> str:
    """Turn SMART Health Card numeric-mode digits back into the compact JWS text."""
    if not digits:
        raise CertError(errors.SHC_NUMERIC_INVALID, 'no digits follow "shc:/"')
    if not digits.isascii() or not digits.isdigit():
        bad = next(i for i, c in enumerate(digits) if not ("0" <= c <= "9"))
        raise CertError(
            errors.SHC_NUMERIC_INVALID,
            f"character {digits[bad]!r} at position {bad} is not a digit",
            position=bad,
        )
    if len(digits) % 2:
        raise CertError(
            errors.SHC_NUMERIC_INVALID,
            f"numeric data has an odd number of digits ({len(digits)}): truncated",
            length=len(digits),
        )
    chars = []
    for start in range(0, len(digits), 2):
        value = int(digits[start : start + 2])
        if value > SHC_NUMERIC_MAX:
            raise CertError(
                errors.SHC_NUMERIC_INVALID,
                f"digit pair {value} at position {start} is above {SHC_NUMERIC_MAX}",
                position=start,
            )
        chars.append(chr(value + SHC_NUMERIC_OFFSET))
    return "".join(chars)


def base64url_decode(text: str, what: str) -> bytes:
    """Unpadded base64url (RFC 7515 section 2, "Base64url Encoding"); `what` names the part."""
    if "=" in text or not text.isascii():
        raise CertError(errors.JWS_INVALID, f"{what} is not unpadded base64url", part=what)
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise CertError(
            errors.JWS_INVALID, f"{what} is not valid base64url: {exc}", part=what
        ) from exc


def zlib_inflate(data: bytes) -> bytes:
    """Inflate a zlib stream (RFC 1950), as the DCC container format requires (HC1 layer)."""
    return _inflate(data, zlib.MAX_WBITS, errors.ZLIB_INVALID, "zlib")


def raw_inflate(data: bytes) -> bytes:
    """Inflate raw DEFLATE (RFC 1951), the JWS "zip":"DEF" of SMART Health Cards."""
    return _inflate(data, -zlib.MAX_WBITS, errors.DEFLATE_INVALID, "DEFLATE")


def _inflate(data: bytes, wbits: int, code: str, name: str) -> bytes:
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(data, MAX_INFLATED_BYTES)
    except zlib.error as exc:
        raise CertError(code, f"{name} data cannot be decompressed: {exc}") from exc
    if inflater.unconsumed_tail:
        raise CertError(code, f"{name} data inflates to more than {MAX_INFLATED_BYTES} bytes")
    if not inflater.eof:
        raise CertError(code, f"{name} data is truncated (the stream has no end)")
    if inflater.unused_data:
        raise CertError(
            code, f"{len(inflater.unused_data)} bytes follow the end of the {name} stream"
        )
    return out
