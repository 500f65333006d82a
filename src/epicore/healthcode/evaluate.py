"""Health-code colour as a pure function of facts, a rule set and a time.

For every fact a rule matches, the rule's clock starts at the fact's anchor time and walks through
the rule's phases; the phase the clock is in at `at` gives a colour and a reason. The verdict is
the most restrictive colour among the reasons. Facts dated after `at` have not happened yet; they
only make `next_check_at` earlier. Days are 24-hour periods from the anchor, never calendar days,
so a period is never shorter than the protocol's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from epicore.healthcode.facts import Fact, TestResult
from epicore.healthcode.rules import Colour, NegativeTests, Phase, Rule, RuleSet, Text

# How far `until` looks ahead by stepping through next_check_at; rule sets have at most a few
# phases per rule, so this bounds pathological inputs, not real ones.
MAX_UNTIL_STEPS = 64

# Words for the time fields rules read, to explain conditions to residents and staff.
FIELD_LABELS = {
    "reported_at": Text("报告", "the report"),
    "known_at": Text("结果报告", "the result"),
    "discharged_at": Text("出院或解除隔离", "discharge or release"),
    "last_exposure_at": Text("末次暴露", "the last exposure"),
    "starts_at": Text("开始", "the start"),
    "ends_at": Text("隔离或监测结束", "the end of the quarantine or monitoring"),
    "since": Text("划定", "the designation"),
    "lifted_at": Text("解封", "the area is lifted"),
    "arrived_at": Text("抵达", "arrival"),
    "flagged_at": Text("判定时空伴随", "the companion flag"),
    "visited_at": Text("就诊", "the visit"),
    "recalled_at": Text("混采阳性通知", "the pooled positive"),
    "answered_at": Text("单采复核结果", "the individual retest result"),
}
PREVIOUS_PHASE = Text("上一阶段结束", "the previous phase")


@dataclass(frozen=True)
class Condition:
    """What ends the current phase; `ends_at` is None while it waits for tests or a record."""

    ends_at: datetime | None
    days: float | None
    until_field: str | None
    negatives: NegativeTests | None
    text: Text


@dataclass(frozen=True)
class Reason:
    code: str
    colour: Colour
    text: Text
    phase: int
    phase_label: Text
    started_at: datetime
    condition: Condition
    fact_ref: str
    source: str


@dataclass(frozen=True)
class Verdict:
    colour: Colour
    reasons: tuple[Reason, ...]
    until: datetime | None  # the current colour holds until then if no new fact arrives
    next_check_at: datetime | None  # earliest future time the colour may change by itself
    rule_set_version: str
    evaluated_at: datetime


def evaluate(facts: Iterable[Fact], rule_set: RuleSet, at: datetime) -> Verdict:
    """The colour of a person with `facts` under `rule_set` at the aware time `at`."""
    if at.tzinfo is None:
        raise ValueError("evaluate needs an aware datetime (naive times are ambiguous)")
    facts = tuple(facts)
    colour, reasons, next_check = _evaluate_once(facts, rule_set, at)
    return Verdict(
        colour=colour,
        reasons=reasons,
        until=_colour_until(facts, rule_set, colour, next_check),
        next_check_at=next_check,
        rule_set_version=rule_set.version,
        evaluated_at=at,
    )


def _evaluate_once(
    facts: Sequence[Fact], rule_set: RuleSet, at: datetime
) -> tuple[Colour, tuple[Reason, ...], datetime | None]:
    tests = [f for f in facts if isinstance(f, TestResult)]
    reasons: list[Reason] = []
    checks = [f.known_at for f in tests if f.known_at > at]
    for rule in rule_set.rules:
        for fact in facts:
            if rule.matches(fact):
                reason, check = _apply(rule, fact, tests, at)
                reasons += [reason] if reason else []
                checks += [check] if check else []
    reasons.sort(key=lambda r: (-r.colour, r.code, r.started_at, r.fact_ref))
    colour = max((r.colour for r in reasons), default=Colour.GREEN)
    return colour, tuple(reasons), min(checks, default=None)


def _colour_until(
    facts: Sequence[Fact], rule_set: RuleSet, colour: Colour, check: datetime | None
) -> datetime | None:
    """Step through the scheduled checks until the colour differs."""
    for _ in range(MAX_UNTIL_STEPS):
        if check is None:
            return None
        later, _, next_check = _evaluate_once(facts, rule_set, check)
        if later != colour:
            return check
        check = next_check
    return None


def _apply(
    rule: Rule, fact: Fact, tests: Sequence[TestResult], at: datetime
) -> tuple[Reason | None, datetime | None]:
    """The reason `rule` gives for `fact` at `at` (None once released) and its next check."""
    start = getattr(fact, rule.anchor)
    if start > at:
        return None, start  # the fact has not begun; the colour may change when it does
    for index, phase in enumerate(rule.phases):
        end = phase_end(phase, fact, start, tests, at)
        if end is None or at < end:
            reason = _reason(rule, fact, index, start, end)
            return reason, end if end is not None and end > at else None
        start = end
    return None, None


def phase_end(
    phase: Phase, fact: Fact, start: datetime, tests: Sequence[TestResult], at: datetime
) -> datetime | None:
    """When a phase that began at `start` ends, as known at `at`; None if not yet known."""
    ends = []
    if phase.days is not None:
        ends.append(start + timedelta(days=phase.days))
    if phase.until is not None:
        recorded = getattr(fact, phase.until)
        if recorded is None:
            return None
        ends.append(max(recorded, start))
    if phase.negatives is not None:
        met = negatives_met_at(tests, phase.negatives, start, at)
        if met is None:
            return None
        ends.append(met)
    return max(ends, default=None)


def negatives_met_at(
    tests: Sequence[TestResult], need: NegativeTests, start: datetime, at: datetime
) -> datetime | None:
    """The earliest time, up to `at`, when results known by then hold the required negatives.

    Taking the earliest such time (rather than the time the chain we happen to pick is complete)
    keeps the rule monotone: an extra positive result can only break chains, never move a
    release earlier.
    """
    window = start + timedelta(days=need.from_day)
    relevant = [t for t in tests if t.sampled_at >= window and t.known_at <= at]
    for moment in sorted({t.known_at for t in relevant}):
        if _has_chain([t for t in relevant if t.known_at <= moment], need):
            return moment
    return None


def _has_chain(tests: Sequence[TestResult], need: NegativeTests) -> bool:
    """`count` negatives spaced `gap_hours` apart with no positive sampled among them.

    Greedy earliest choice gives the longest spaced chain between two positives; a positive
    sampled at the same time as a negative counts after it (the worse reading wins).
    """
    gap = timedelta(hours=need.gap_hours)
    chain: list[datetime] = []
    for test in sorted(tests, key=lambda t: (t.sampled_at, t.positive)):
        if test.positive:
            chain = []
        elif not chain or test.sampled_at - chain[-1] >= gap:
            chain.append(test.sampled_at)
            if len(chain) >= need.count:
                return True
    return False


def _reason(rule: Rule, fact: Fact, index: int, start: datetime, end: datetime | None) -> Reason:
    phase = rule.phases[index]
    return Reason(
        code=rule.code,
        colour=phase.colour,
        text=rule.reason,
        phase=index,
        phase_label=phase.label,
        started_at=start,
        condition=Condition(
            ends_at=end,
            days=phase.days,
            until_field=phase.until,
            negatives=phase.negatives,
            text=describe_condition(phase, rule.anchor if index == 0 else None),
        ),
        fact_ref=fact.ref,
        source=rule.source,
    )


def describe_condition(phase: Phase, anchor: str | None) -> Text:
    """The end of a phase in words, e.g. "末次暴露后满7天，且第7天起连续1次核酸检测阴性"."""
    start = FIELD_LABELS[anchor] if anchor else PREVIOUS_PHASE
    zh: list[str] = []
    en: list[str] = []
    if phase.days is not None:
        zh.append(f"{start.zh}后满{phase.days:g}天")
        en.append(f"{phase.days:g} days after {start.en}")
    if phase.until is not None:
        zh.append(FIELD_LABELS[phase.until].zh)
        en.append(FIELD_LABELS[phase.until].en)
    if phase.negatives is not None:
        words = _describe_negatives(phase.negatives)
        zh.append(words.zh)
        en.append(words.en)
    if not zh:
        return Text("待新的判定", "until a new decision is recorded")
    return Text("，且".join(zh), " and ".join(en))


def _describe_negatives(need: NegativeTests) -> Text:
    if need.count == 1:
        zh, en = "核酸检测阴性", "a negative test"
    else:
        zh, en = f"连续{need.count}次核酸检测阴性", f"{need.count} consecutive negative tests"
    if need.gap_hours:
        zh += f"（采样间隔至少{need.gap_hours:g}小时）"
        en += f" sampled at least {need.gap_hours:g} h apart"
    if need.from_day:
        zh = f"第{need.from_day + 1:g}天起{zh}"
        en += f" from day {need.from_day + 1:g}"
    return Text(zh, en)
