"""QR rendering: alphanumeric mode, the expected version, real SVG and PNG bytes."""

from datetime import UTC, datetime

import pytest

from epicore.healthcode.keys import KeyRing, new_key
from epicore.healthcode.qr import (
    health_qr_png,
    health_qr_svg,
    make_qr,
    poster_qr_png,
    poster_qr_svg,
)
from epicore.healthcode.rules import Colour
from epicore.healthcode.tokens import issue_health_token, issue_venue_token, subject_pseudonym

AT = datetime(2022, 11, 20, 8, 0, tzinfo=UTC)
RING = KeyRing([new_key("health", AT, bytes(32)), new_key("venue", AT, bytes(range(32)))])
VECTOR_HEALTH = issue_health_token(RING, subject_pseudonym(b"s", "p"), Colour.RED, AT)
VECTOR_VENUE = issue_venue_token(RING, "V-350203-0042", "restaurant", "350203001001", AT)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Alphanumeric capacity in characters, ISO/IEC 18004:2015 table 7.
ALPHANUMERIC_CAPACITY = {("M", 6): 154, ("M", 7): 178, ("Q", 8): 155, ("Q", 9): 192}


def test_health_token_fits_version_6_m_in_alphanumeric_mode():
    code = make_qr(VECTOR_HEALTH)
    assert (code.mode, code.error, code.version) == ("alphanumeric", "M", 6)
    assert len(VECTOR_HEALTH) <= ALPHANUMERIC_CAPACITY[("M", 6)]
    assert code.symbol_size(border=0) == (41, 41)


def test_poster_uses_level_q():
    code = make_qr(VECTOR_VENUE, "q")
    assert (code.mode, code.error) == ("alphanumeric", "Q")
    assert len(VECTOR_VENUE) <= ALPHANUMERIC_CAPACITY[("Q", code.version)]


@pytest.mark.parametrize("colour", list(Colour))
def test_health_code_renders_as_svg_and_png(colour):
    svg = health_qr_svg(VECTOR_HEALTH, colour)
    assert svg.startswith(b"<?xml") and b"<svg" in svg and b"</svg>" in svg
    png = health_qr_png(VECTOR_HEALTH, colour)
    assert png.startswith(PNG_SIGNATURE)
    width = int.from_bytes(png[16:20], "big")  # IHDR: (41 + 2 * 4) modules * scale 4
    assert width == (41 + 8) * 4


def test_poster_renders():
    assert poster_qr_svg(VECTOR_VENUE).startswith(b"<?xml")
    assert poster_qr_png(VECTOR_VENUE).startswith(PNG_SIGNATURE)
