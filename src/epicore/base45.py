"""Base45 (RFC 9285): bytes as text in the QR alphanumeric alphabet.

QR alphanumeric mode stores 2 characters in 11 bits; base45 turns 2 bytes into 3 such characters,
16.5 bits per 2 bytes against 21.3 for base64url in byte mode, so the same token makes a smaller
(easier to scan) QR symbol. The EU Digital COVID Certificate uses it for the same reason.
Shared by the health-code tokens (epicore.healthcode) and the certificate verifier (epicore.certs).
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_VALUES = {c: i for i, c in enumerate(ALPHABET)}


class Base45Error(ValueError):
    """`position` is the index in the text where decoding broke."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


def b45encode(data: bytes) -> str:
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        n, c = divmod(n, 45)
        e, d = divmod(n, 45)
        out += (ALPHABET[c], ALPHABET[d], ALPHABET[e])
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out += (ALPHABET[c], ALPHABET[d])
    return "".join(out)


def b45decode(text: str) -> bytes:
    """Decode (RFC 9285 section 4): 3 characters -> 2 bytes, a final 2 -> 1 byte.

    Raises Base45Error on a foreign character, a truncated text or a group that overflows.
    """
    if len(text) % 3 == 1:
        raise Base45Error(
            f"base45 text of length {len(text)} is truncated (length mod 3 must not be 1)",
            len(text) - 1,
        )
    out = bytearray()
    for start in range(0, len(text), 3):
        group = text[start : start + 3]
        out += _decode_group(group, start)
    return bytes(out)


def _decode_group(group: str, start: int) -> bytes:
    value = 0
    for offset, char in enumerate(group):
        digit = _VALUES.get(char)
        if digit is None:
            raise Base45Error(
                f"character {char!r} at position {start + offset} is not base45", start + offset
            )
        value += digit * 45**offset
    # RFC 9285 section 4: a triple above 65535 (e.g. "GGW") or a pair above 255 is invalid.
    width = 2 if len(group) == 3 else 1
    if value >= 256**width:
        raise Base45Error(f"base45 group {group!r} at position {start} is too large", start)
    return value.to_bytes(width, "big")
