"""QR symbols for tokens (segno, ISO/IEC 18004).

Base45 tokens use only the QR alphanumeric alphabet, so segno encodes them in alphanumeric mode
and a health token fits QR version 6 at error level M (41 x 41 modules), easy for a phone camera
at arm's length. Posters use level Q: they are printed once, get dirty and are scanned at angles.
GB/T 38961-2020 recommends the Grid Matrix code (GB/T 27766) for health codes; we use QR because
every phone and scanner reads it; the token format does not depend on the symbology.
"""

from __future__ import annotations

import io

import segno

from epicore.healthcode.rules import Colour

# Dark-module colours that keep a contrast ratio a camera reads on white (yellow itself does not).
DARK_MODULES = {Colour.GREEN: "#0b6e2e", Colour.YELLOW: "#8a5a00", Colour.RED: "#a3001b"}
HEALTH_ERROR_LEVEL = "m"  # 15 % recovery: a phone screen is clean
POSTER_ERROR_LEVEL = "q"  # 25 % recovery: paper gets dirty


def make_qr(text: str, error: str = HEALTH_ERROR_LEVEL) -> segno.QRCode:
    """Never a Micro QR; error level fixed (segno would otherwise raise it for free modules)."""
    return segno.make_qr(text, error=error, boost_error=False)


def _render(code: segno.QRCode, kind: str, **options) -> bytes:
    buffer = io.BytesIO()
    code.save(buffer, kind=kind, **options)
    return buffer.getvalue()


def health_qr_svg(token: str, colour: Colour, scale: int = 4) -> bytes:
    return _render(make_qr(token), "svg", scale=scale, border=4, dark=DARK_MODULES[colour])


def health_qr_png(token: str, colour: Colour, scale: int = 4) -> bytes:
    return _render(make_qr(token), "png", scale=scale, border=4, dark=DARK_MODULES[colour])


def poster_qr_svg(token: str, scale: int = 8) -> bytes:
    return _render(make_qr(token, POSTER_ERROR_LEVEL), "svg", scale=scale, border=4)


def poster_qr_png(token: str, scale: int = 8) -> bytes:
    return _render(make_qr(token, POSTER_ERROR_LEVEL), "png", scale=scale, border=4)
