from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from epicore import regimens as r

EXPOSED = datetime(2022, 7, 1, 15, 0, tzinfo=UTC)


def test_the_rule_set_in_force_follows_the_date():
    assert r.rule_set_on(date(2021, 6, 1)).key == "2021-05"
    assert r.rule_set_on(date(2022, 6, 27)).key == "2022-06"
    assert r.rule_set_on(date(2022, 11, 20)).key == "2022-11"
    assert r.rule_set_on(date(2026, 1, 1)).key == "2022-12"
    assert r.rule_set_on(date(2020, 1, 1)).key == "2021-05"


@pytest.mark.parametrize(
    ("key", "category", "label", "first_tests"),
    [
        ("2021-05", "close", "14+7", (1, 4, 7, 14)),
        ("2022-06", "close", "7+3", (1, 2, 3, 5, 7)),
        ("2022-06", "inbound", "7+3", (1, 2, 3, 5, 7)),
        ("2022-11", "close", "5+3", (1, 2, 3, 5)),
        ("2022-12", "close", "5", (5,)),
    ],
)
def test_regimens_as_the_protocols_say(key, category, label, first_tests):
    regimen = r.regimen_for(r.rule_set_by_key(key), category)
    assert regimen.label == label and regimen.first.test_days == first_tests


def test_categories_a_rule_set_does_not_quarantine():
    assert r.regimen_for(r.rule_set_by_key("2022-11"), "secondary") is None  # 不再判定密接的密接
    secondary = r.regimen_for(r.rule_set_by_key("2022-06"), "secondary")
    assert secondary.first.setting == r.HOME and not secondary.first.centralized
    assert r.regimen_for(r.rule_set_by_key("2022-12"), "close").first.centralized  # voluntary
    with pytest.raises(KeyError, match="known: 2021-05"):
        r.rule_set_by_key("2030")


def test_days_count_from_the_last_exposure_and_missed_days_collapse_into_check_in():
    phase = r.regimen_for(r.rule_set_by_key("2022-06"), "close").first
    dues = [t.due.day for t in r.schedule(phase, EXPOSED)]
    assert dues == [2, 3, 4, 6, 8]
    late = r.schedule(phase, EXPOSED, checked_in=date(2022, 7, 5))
    assert [(t.day, t.due.day, t.catch_up) for t in late] == [
        (3, 5, True),
        (5, 6, False),
        (7, 8, False),
    ]
    on_a_test_day = r.schedule(phase, EXPOSED, checked_in=date(2022, 7, 4))
    assert [t.due.day for t in on_a_test_day] == [4, 6, 8]  # day 3 is taken at check-in anyway


def _negatives(*days):
    return [r.Result(date(2022, 7, d), False) for d in days]


def test_release_needs_the_whole_period_and_every_scheduled_negative():
    phase = r.regimen_for(r.rule_set_by_key("2022-06"), "close").first
    checked_in = date(2022, 7, 2)
    early = datetime(2022, 7, 8, 10, 0, tzinfo=UTC)
    blockers = r.release_blockers(phase, EXPOSED, checked_in, early, _negatives(2, 3, 4, 6))
    assert [b.code for b in blockers] == ["too_early", "missing_test"]
    assert "day-7" in blockers[1].message and "2022-07-08" in blockers[1].message
    done = datetime(2022, 7, 8, 15, 0, tzinfo=UTC)
    assert r.release_blockers(phase, EXPOSED, checked_in, done, _negatives(2, 3, 4, 6, 8)) == []
    positive = _negatives(2, 3, 4, 6, 8) + [r.Result(date(2022, 7, 6), True)]
    assert [b.code for b in r.release_blockers(phase, EXPOSED, checked_in, done, positive)] == [
        "positive"
    ]


def test_a_late_arrival_may_be_sampled_the_morning_after():
    phase = r.regimen_for(r.rule_set_by_key("2022-06"), "close").first
    done = datetime(2022, 7, 9, tzinfo=UTC)
    results = _negatives(6, 6, 8)  # arrived on the 5th at night, sampled on the 6th
    assert r.release_blockers(phase, EXPOSED, date(2022, 7, 5), done, results) == []
