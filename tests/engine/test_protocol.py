from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from epicore import protocol

TZ = ZoneInfo("Asia/Shanghai")


def test_edition_in_force_follows_effective_dates():
    assert protocol.edition_on(date(2021, 5, 10)).key == "8"  # before any edition: the earliest
    assert protocol.edition_on(date(2022, 6, 26)).key == "8"
    assert protocol.edition_on(date(2022, 6, 27)).key == "9"


def test_window_opens_at_midnight_look_back_days_before_onset_else_sample():
    edition = protocol.edition_by_key("9")
    assert protocol.window_start(edition, date(2022, 7, 10), date(2022, 7, 12), TZ) == datetime(
        2022, 7, 6, tzinfo=TZ
    )
    assert protocol.window_start(edition, None, date(2022, 7, 12), TZ) == datetime(
        2022, 7, 8, tzinfo=TZ
    )
    with pytest.raises(ValueError):
        protocol.window_start(edition, None, None, TZ)


def test_every_edition_cites_its_source():
    assert all(e.source and e.look_back_days > 0 for e in protocol.EDITIONS)
