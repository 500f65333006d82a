"""Colour rules: a table per rule set (fact -> colour, reasons, next check) and time transitions."""

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from epicore.healthcode import (
    AreaResidence,
    CaseStatus,
    Colour,
    CompanionFlag,
    Contact,
    FeverClinicVisit,
    Quarantine,
    RiskAreaArrival,
    TestResult,
    Trigger,
    available_versions,
    evaluate,
    load_rule_set,
    parse_rule_set,
    rule_set_for,
    transition_between,
)
from epicore.healthcode.rules import RULESET_PACKAGE

CST = timezone(timedelta(hours=8))
T0 = datetime(2022, 11, 20, 9, 0, tzinfo=CST)
G, Y, R = Colour.GREEN, Colour.YELLOW, Colour.RED


def days(n: float) -> datetime:
    return T0 + timedelta(days=n)


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


def neg(at: datetime) -> TestResult:
    return TestResult(sampled_at=at, positive=False, reported_at=at + timedelta(hours=6))


# (facts, evaluated at, colour, reason codes, next_check_at) under rule set 2021-05.
TABLE_2021 = [
    ([], days(0), G, [], None),
    ([CaseStatus("confirmed", days(0))], days(30), R, ["confirmed_case"], None),
    ([CaseStatus("confirmed", days(0), days(20))], days(25), R, ["confirmed_case"], days(34)),
    ([CaseStatus("confirmed", days(0), days(20))], days(34), G, [], None),
    ([CaseStatus("asymptomatic", days(0), days(10))], days(12), R, ["asymptomatic_case"], days(24)),
    ([CaseStatus("suspected", days(0))], days(1), R, ["suspected_case"], None),
    ([Contact("close", days(0))], days(13), R, ["close_contact"], None),
    ([Contact("close", days(0)), neg(days(13.5))], days(14.5), Y, ["close_contact"], days(21)),
    ([Contact("close", days(0)), neg(days(13.5))], days(21.25), G, [], None),
    # The release test is reported 6 h after sampling: that is when the colour may change.
    (
        [Contact("secondary", days(0)), neg(days(6.5))],
        days(6),
        R,
        ["secondary_contact"],
        days(6.75),
    ),
    ([Contact("secondary", days(0)), neg(days(6.5))], days(7), G, [], None),
    (
        [Quarantine("centralized", days(0), days(14))],
        days(1),
        R,
        ["centralized_quarantine"],
        days(14),
    ),
    ([Quarantine("home", days(0))], days(1), R, ["home_quarantine"], None),
    (
        [Quarantine("health_monitoring", days(0), days(7))],
        days(1),
        Y,
        ["health_monitoring"],
        days(7),
    ),
    ([AreaResidence("sealed", days(0), days(10))], days(1), R, ["sealed_area"], days(10)),
    ([AreaResidence("controlled", days(0))], days(1), Y, ["controlled_area"], None),
    ([AreaResidence("precaution", days(0))], days(1), G, [], None),
    ([RiskAreaArrival("high", days(0))], days(1), R, ["high_risk_arrival"], days(14)),
    ([RiskAreaArrival("medium", days(0))], days(1), Y, ["medium_risk_arrival"], days(14)),
    ([RiskAreaArrival("low", days(0))], days(1), G, [], None),
    ([CompanionFlag(days(0))], days(1), Y, ["companion"], None),
    ([FeverClinicVisit(days(0)), neg(days(0.1))], days(0.2), Y, ["fever_clinic"], days(0.35)),
    ([FeverClinicVisit(days(0)), neg(days(0.1))], days(0.35), G, [], None),
    ([TestResult(days(0), True, days(0.5))], days(0.2), G, [], days(0.5)),
    ([TestResult(days(0), True, days(0.5))], days(1), R, ["positive_test"], None),
]

# The same facts under 2022-11 (9th edition + the 20 measures): shorter periods, fewer rules.
TABLE_2022_11 = [
    ([CaseStatus("confirmed", days(0), days(10))], days(12), Y, ["confirmed_case"], days(17)),
    ([CaseStatus("suspected", days(0)), neg(days(1)), neg(days(2))], days(3), G, [], None),
    ([Contact("close", days(0))], days(4), R, ["close_contact"], None),
    ([Contact("close", days(0)), neg(days(4.5))], days(5), R, ["close_contact"], None),
    (
        [Contact("close", days(0)), neg(days(4.5)), neg(days(7.2))],
        days(7.5),
        R,
        ["close_contact"],
        days(8),
    ),
    ([Contact("close", days(0)), neg(days(4.5)), neg(days(7.2))], days(8), G, [], None),
    ([Contact("secondary", days(0))], days(1), G, [], None),  # 二十条 (二)
    ([AreaResidence("sealed", days(0))], days(1), R, ["sealed_area"], None),
    ([AreaResidence("controlled", days(0))], days(1), G, [], None),  # 二十条 (四)
    (
        [RiskAreaArrival("high", days(0)), neg(days(6.5))],
        days(3),
        R,
        ["high_risk_arrival"],
        days(6.75),
    ),
    ([RiskAreaArrival("high", days(0)), neg(days(6.5))], days(7), G, [], None),
    ([RiskAreaArrival("medium", days(0))], days(1), G, [], None),
    ([RiskAreaArrival("low", days(0)), neg(days(1))], days(1.5), Y, ["low_risk_arrival"], None),
    ([RiskAreaArrival("low", days(0)), neg(days(1)), neg(days(2))], days(2.5), G, [], None),
    ([CompanionFlag(days(0)), neg(days(0.5)), neg(hours(20))], days(1.5), Y, ["companion"], None),
    ([CompanionFlag(days(0)), neg(days(0.5)), neg(days(1.5))], days(2), G, [], None),
]


def check_row(version, facts, at, colour, codes, next_check):
    verdict = evaluate(facts, load_rule_set(version), at)
    assert verdict.colour == colour
    assert [r.code for r in verdict.reasons] == codes
    assert verdict.next_check_at == next_check
    assert verdict.rule_set_version == version


@pytest.mark.parametrize("facts, at, colour, codes, next_check", TABLE_2021)
def test_rule_set_2021(facts, at, colour, codes, next_check):
    check_row("2021-05", facts, at, colour, codes, next_check)


@pytest.mark.parametrize("facts, at, colour, codes, next_check", TABLE_2022_11)
def test_rule_set_2022_11(facts, at, colour, codes, next_check):
    check_row("2022-11", facts, at, colour, codes, next_check)


def test_close_contact_walks_through_the_phases_of_the_9th_edition():
    """7 days centralized (negative on day 7) then 3 days home health monitoring."""
    facts = [Contact("close", days(0)), neg(days(6.2))]
    rules = load_rule_set("2022-06")
    colours = [evaluate(facts, rules, days(d)).colour for d in (0, 6.9, 7, 9.9, 10)]
    assert colours == [R, R, Y, Y, G]
    first = evaluate(facts, rules, days(1))
    assert first.until == days(7)  # red holds until then without a new fact
    assert first.reasons[0].condition.text.zh == "末次暴露后满7天，且第7天起核酸检测阴性"
    assert first.reasons[0].condition.text.en == (
        "7 days after the last exposure and a negative test from day 7"
    )


def test_a_missing_release_test_keeps_the_colour_until_it_arrives():
    facts = [Contact("close", days(0))]
    verdict = evaluate(facts, load_rule_set("2022-06"), days(8))
    assert verdict.colour == R
    assert verdict.next_check_at is None and verdict.until is None
    assert verdict.reasons[0].condition.ends_at is None


def test_the_scheduler_recolours_on_time_by_following_next_check_at():
    facts = [
        Contact("close", days(0)),
        neg(days(6.2)),
        Quarantine("health_monitoring", days(7), days(12)),
    ]
    rules = load_rule_set("2022-06")
    at, seen = days(0), []
    while at is not None:
        verdict = evaluate(facts, rules, at)
        seen.append((at, verdict.colour))
        at = verdict.next_check_at
    assert seen[-1] == (days(12), G)
    assert [c for _, c in seen] == [R, R, Y, Y, G]


def test_two_negatives_must_be_24_hours_apart_and_a_positive_between_resets_them():
    rules = load_rule_set("2021-05")
    positive = TestResult(days(0), True, days(0.2))
    close_pair = [positive, neg(days(1)), neg(hours(40))]
    assert evaluate(close_pair, rules, days(3)).colour == R
    spaced = [positive, neg(days(1)), neg(days(2))]
    assert evaluate(spaced, rules, days(3)).colour == G
    interrupted = [*spaced, TestResult(days(1.5), True, days(1.6))]
    assert evaluate(interrupted, rules, days(3)).colour == R


def test_worst_reason_first_and_colour_is_the_most_restrictive():
    facts = [AreaResidence("controlled", days(0)), Contact("close", days(0), ref="c-1")]
    verdict = evaluate(facts, load_rule_set("2022-06"), days(1))
    assert verdict.colour == R
    assert [r.code for r in verdict.reasons] == ["close_contact", "controlled_area"]
    assert verdict.reasons[0].fact_ref == "c-1"
    assert "第九版" in verdict.reasons[0].source


def test_2022_12_only_infections_close_contacts_and_sealed_areas_colour():
    rules = load_rule_set("2022-12")
    for fact in [
        CompanionFlag(days(0)),
        RiskAreaArrival("high", days(0)),
        FeverClinicVisit(days(0)),
    ]:
        assert evaluate([fact], rules, days(1)).colour == G
    case = [CaseStatus("confirmed", days(0)), neg(days(5.2)), neg(days(6.3))]
    assert evaluate(case, rules, days(6.9)).colour == R
    assert evaluate(case, rules, days(7)).colour == G


def test_naive_times_are_refused():
    with pytest.raises(ValueError):
        evaluate([], load_rule_set("2022-11"), datetime(2022, 11, 20))


def test_rule_set_in_force_by_date():
    assert available_versions() == ["2021-05", "2022-06", "2022-11", "2022-12"]
    assert rule_set_for(datetime(2021, 12, 1, tzinfo=CST)).version == "2021-05"
    assert rule_set_for(datetime(2022, 6, 28, tzinfo=CST)).version == "2022-06"
    assert rule_set_for(datetime(2022, 11, 10, 23, 59, tzinfo=CST)).version == "2022-06"
    assert rule_set_for(datetime(2022, 11, 11, tzinfo=CST)).version == "2022-11"
    assert rule_set_for(datetime(2023, 1, 1, tzinfo=UTC)).version == "2022-12"
    with pytest.raises(LookupError):
        rule_set_for(datetime(2020, 1, 1, tzinfo=UTC))


def shipped(version: str) -> dict:
    from importlib import resources

    text = resources.files(RULESET_PACKAGE).joinpath(f"{version}.json").read_text("utf-8")
    return json.loads(text)


@pytest.mark.parametrize("version", ["2021-05", "2022-06", "2022-11", "2022-12"])
def test_every_rule_cites_a_source_and_explains_itself_in_both_languages(version):
    for rule in load_rule_set(version).rules:
        assert rule.source and rule.reason.zh and rule.reason.en
        assert all(p.label.zh and p.label.en for p in rule.phases)


def test_a_rule_reading_a_field_the_fact_lacks_is_refused():
    raw = shipped("2022-11")
    raw["rules"][0]["anchor"] = "exposed_at"
    with pytest.raises(ValueError, match="no field exposed_at"):
        parse_rule_set(raw)


def test_a_rule_that_gets_stricter_over_time_is_refused():
    raw = shipped("2022-06")
    close = next(r for r in raw["rules"] if r["code"] == "close_contact")
    close["phases"].reverse()
    with pytest.raises(ValueError, match="stricter"):
        parse_rule_set(raw)


def test_transitions_record_colour_changes_for_the_audit():
    rules = load_rule_set("2022-06")
    facts = [Contact("close", days(0), ref="contact-9"), neg(days(6.2))]
    first = evaluate(facts, rules, days(0))
    assigned = transition_between(None, first, Trigger("fact", "contact-9"))
    assert assigned.old_colour is None and assigned.new_colour == R
    later = evaluate(facts, rules, days(7))
    change = transition_between(first, later, Trigger("clock"))
    assert change.as_record() == {
        "at": days(7).isoformat(),
        "old_colour": "red",
        "new_colour": "yellow",
        "reasons": ["close_contact"],
        "rule_set": "2022-06",
        "trigger": {"kind": "clock", "ref": ""},
        "next_check_at": days(10).isoformat(),
    }
    assert transition_between(first, evaluate(facts, rules, days(1)), Trigger("clock")) is None
    with pytest.raises(ValueError):
        Trigger("whim")
