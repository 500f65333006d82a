"""Properties of evaluate() over random facts, for every shipped rule set."""

from collections import Counter
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from epicore.healthcode import (
    AreaResidence,
    CaseStatus,
    CompanionFlag,
    Contact,
    FeverClinicVisit,
    Quarantine,
    RiskAreaArrival,
    TestResult,
    available_versions,
    evaluate,
    load_rule_set,
)
from epicore.healthcode.facts import (
    AREA_LEVELS,
    CASE_STATUSES,
    CONTACT_DEGREES,
    QUARANTINE_SETTINGS,
    RISK_LEVELS,
)

T0 = datetime(2022, 11, 20, 9, 0, tzinfo=timezone(timedelta(hours=8)))

moments = st.integers(-400, 400).map(lambda h: T0 + timedelta(hours=h))
maybe_moments = st.none() | moments
tests = st.builds(
    lambda sampled, positive, delay: TestResult(
        sampled, positive, sampled + timedelta(hours=delay)
    ),
    moments,
    st.booleans(),
    st.integers(0, 48),
)
facts = st.lists(
    st.one_of(
        tests,
        st.builds(CaseStatus, st.sampled_from(CASE_STATUSES), moments, maybe_moments),
        st.builds(Contact, st.sampled_from(CONTACT_DEGREES), moments),
        st.builds(Quarantine, st.sampled_from(QUARANTINE_SETTINGS), moments, maybe_moments),
        st.builds(AreaResidence, st.sampled_from(AREA_LEVELS), moments, maybe_moments),
        st.builds(RiskAreaArrival, st.sampled_from(RISK_LEVELS), moments),
        st.builds(CompanionFlag, moments),
        st.builds(FeverClinicVisit, moments),
    ),
    max_size=8,
)
rule_sets = st.sampled_from(available_versions()).map(load_rule_set)


@given(facts, rule_sets, moments)
def test_evaluate_is_deterministic_and_ignores_fact_order(facts, rules, at):
    first = evaluate(facts, rules, at)
    again = evaluate(list(reversed(facts)), rules, at)
    assert (first.colour, first.next_check_at, first.until) == (
        again.colour,
        again.next_check_at,
        again.until,
    )
    assert Counter(first.reasons) == Counter(again.reasons)


@given(facts, rule_sets, moments, tests)
def test_a_positive_result_never_makes_the_colour_greener(facts, rules, at, extra):
    positive = TestResult(extra.sampled_at, True, extra.reported_at)
    assert evaluate([*facts, positive], rules, at).colour >= evaluate(facts, rules, at).colour


@given(facts, rule_sets, moments)
def test_next_check_and_until_lie_in_the_future(facts, rules, at):
    verdict = evaluate(facts, rules, at)
    assert verdict.next_check_at is None or verdict.next_check_at > at
    assert verdict.until is None or verdict.until > at
    if verdict.until is not None:
        assert verdict.next_check_at is not None and verdict.until >= verdict.next_check_at


@settings(max_examples=60)
@given(facts, rule_sets, moments, st.floats(0.0, 1.0))
def test_colour_cannot_change_before_next_check(facts, rules, at, fraction):
    """The promise a scheduler relies on: nothing changes between now and next_check_at."""
    verdict = evaluate(facts, rules, at)
    horizon = verdict.next_check_at or at + timedelta(days=400)
    probe = at + (horizon - at) * fraction
    if probe < horizon:
        assert evaluate(facts, rules, probe).colour == verdict.colour


@settings(max_examples=60)
@given(facts, rule_sets, moments)
def test_until_is_the_first_change_of_colour(facts, rules, at):
    verdict = evaluate(facts, rules, at)
    if verdict.until is not None:
        assert evaluate(facts, rules, verdict.until).colour != verdict.colour
        just_before = verdict.until - timedelta(seconds=1)
        assert evaluate(facts, rules, max(at, just_before)).colour == verdict.colour
