"""Quarantine regimens (隔离管控措施) by rule set: how long, where, and which tests on which days.

A regimen is a sequence of phases (centralized quarantine, home quarantine, home health
monitoring), each with a length in days and the days on which a nucleic acid test is taken. The
rule set in force when a person enters quarantine fixes their regimen for the whole stay: a
person placed under "7+3" keeps it when "5+3" arrives.

Counting (《新型冠状病毒肺炎防控方案（第九版）》: 隔离期限自最后一次暴露算起): the first phase ends
exactly `days` x 24 h after the last exposure; day k of a phase is the calendar date k days after
the phase's start (the day of exposure is day 0). Later phases start when the earlier one was
actually released, which may be later than planned (a missing result holds a release back).

Tests whose day passed before the person checked in cannot be taken any more; they are replaced
by one test on the day of check-in (入住即采), the usual practice of the sites' work guide.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

CENTRALIZED = "centralized"  # 集中隔离医学观察
HOME = "home"  # 居家隔离医学观察
MONITORING = "health_monitoring"  # 居家健康监测
SETTINGS = (CENTRALIZED, HOME, MONITORING)
CATEGORIES = ("close", "secondary", "inbound")


@dataclass(frozen=True)
class Phase:
    setting: str
    days: int
    test_days: tuple[int, ...]  # day numbers inside the phase
    # 新十条 (2022-12): close contacts quarantine at home, or in a site if they choose to.
    centralized_allowed: bool = False

    @property
    def centralized(self) -> bool:
        return self.setting == CENTRALIZED or self.centralized_allowed


@dataclass(frozen=True)
class Regimen:
    label: str  # as officials say it: "14+7", "7+3", "5+3"
    phases: tuple[Phase, ...]

    @property
    def first(self) -> Phase:
        return self.phases[0]

    @property
    def after_release(self) -> tuple[Phase, ...]:
        return self.phases[1:]


@dataclass(frozen=True)
class RuleSet:
    key: str
    title: str
    effective: date
    source: str
    regimens: dict[str, Regimen]  # by category; a category absent is not managed by quarantine


def _regimen(*phases: Phase) -> Regimen:
    return Regimen("+".join(str(p.days) for p in phases), phases)


RULE_SETS: tuple[RuleSet, ...] = (
    RuleSet(
        key="2021-05",
        title="新型冠状病毒肺炎防控方案（第八版）",
        effective=date(2021, 5, 11),
        source="国务院联防联控机制综合组, 2021-05-11: 密切接触者、入境人员 14天集中隔离医学观察"
        "（第1、4、7、14天核酸检测）+7天居家健康监测（第2、7天）；密接的密接 7天集中隔离医学观察"
        "（第1、4、7天）",
        regimens={
            "close": _regimen(Phase(CENTRALIZED, 14, (1, 4, 7, 14)), Phase(MONITORING, 7, (2, 7))),
            "inbound": _regimen(
                Phase(CENTRALIZED, 14, (1, 4, 7, 14)), Phase(MONITORING, 7, (2, 7))
            ),
            "secondary": _regimen(Phase(CENTRALIZED, 7, (1, 4, 7))),
        },
    ),
    RuleSet(
        key="2022-06",
        title="新型冠状病毒肺炎防控方案（第九版）",
        effective=date(2022, 6, 27),
        source="国务院联防联控机制综合组, 2022-06-27: 密切接触者、入境人员 7天集中隔离医学观察"
        "（第1、2、3、5、7天核酸检测）+3天居家健康监测（第3天）；密接的密接 7天居家隔离医学观察"
        "（第1、4、7天）",
        regimens={
            "close": _regimen(Phase(CENTRALIZED, 7, (1, 2, 3, 5, 7)), Phase(MONITORING, 3, (3,))),
            "inbound": _regimen(Phase(CENTRALIZED, 7, (1, 2, 3, 5, 7)), Phase(MONITORING, 3, (3,))),
            "secondary": _regimen(Phase(HOME, 7, (1, 4, 7))),
        },
    ),
    RuleSet(
        key="2022-11",
        title="关于进一步优化新冠肺炎疫情防控措施 科学精准做好防控工作的通知（二十条）",
        effective=date(2022, 11, 11),
        source="国务院联防联控机制综合组, 2022-11-11: 密切接触者、入境人员 5天集中隔离（第1、2、3、"
        "5天核酸检测）+3天居家隔离（第1、3天）；不再判定密接的密接",
        regimens={
            "close": _regimen(Phase(CENTRALIZED, 5, (1, 2, 3, 5)), Phase(HOME, 3, (1, 3))),
            "inbound": _regimen(Phase(CENTRALIZED, 5, (1, 2, 3, 5)), Phase(HOME, 3, (1, 3))),
        },
    ),
    RuleSet(
        key="2022-12",
        title="关于进一步优化落实新冠肺炎疫情防控措施的通知（新十条）",
        effective=date(2022, 12, 7),
        source="国务院联防联控机制综合组, 2022-12-07: 密切接触者 5天居家隔离，也可自愿选择集中隔离，"
        "第5天核酸检测阴性后解除；入境人员仍按二十条 5天集中隔离+3天居家隔离",
        regimens={
            "close": _regimen(Phase(HOME, 5, (5,), centralized_allowed=True)),
            "inbound": _regimen(Phase(CENTRALIZED, 5, (1, 2, 3, 5)), Phase(HOME, 3, (1, 3))),
        },
    ),
)


def rule_set_on(day: date) -> RuleSet:
    """The rule set in force on `day` (the earliest for days before any of them)."""
    current = RULE_SETS[0]
    for rule_set in RULE_SETS:
        if rule_set.effective <= day:
            current = rule_set
    return current


def rule_set_by_key(key: str) -> RuleSet:
    for rule_set in RULE_SETS:
        if rule_set.key == key:
            return rule_set
    known = ", ".join(r.key for r in RULE_SETS)
    raise KeyError(f"unknown quarantine rule set {key!r} (known: {known})")


def regimen_for(rule_set: RuleSet, category: str) -> Regimen | None:
    """The regimen for a category, or None when the rule set does not quarantine it."""
    return rule_set.regimens.get(category)


def phase_end(phase: Phase, starts_at: datetime) -> datetime:
    return starts_at + timedelta(days=phase.days)


@dataclass(frozen=True)
class DueTest:
    day: int  # day of the phase the protocol names
    due: date
    catch_up: bool = False  # replaces days missed before check-in


def schedule(phase: Phase, starts_at: datetime, checked_in: date | None = None) -> list[DueTest]:
    """The tests of a phase; days before `checked_in` collapse into one test on that day."""
    tests = [DueTest(day, starts_at.date() + timedelta(days=day)) for day in phase.test_days]
    if checked_in is None:
        return tests
    missed = [t for t in tests if t.due < checked_in]
    kept = [t for t in tests if t.due >= checked_in]
    if missed and not any(t.due == checked_in for t in kept):
        kept.insert(0, DueTest(missed[-1].day, checked_in, catch_up=True))
    return kept


@dataclass(frozen=True)
class Result:
    sampled: date
    positive: bool


@dataclass(frozen=True)
class Blocker:
    code: str  # too_early / missing_test / positive
    message: str
    due: date | None = None


def release_blockers(
    phase: Phase,
    starts_at: datetime,
    checked_in: date | None,
    now: datetime,
    results: list[Result],
) -> list[Blocker]:
    """Why this phase may not be released yet; an empty list means it may.

    A scheduled test is met by a negative sample taken on its day; a catch-up test also by one
    taken the day after (people arriving late at night are sampled next morning). Any positive
    result since the phase began blocks release: the person belongs to the case workflow.
    """
    blockers: list[Blocker] = []
    ends = phase_end(phase, starts_at)
    if now < ends:
        blockers.append(
            Blocker("too_early", f"the {phase.days}-day period ends {ends:%Y-%m-%d %H:%M}")
        )
    since = starts_at.date()
    if any(r.positive and r.sampled >= since for r in results):
        blockers.append(Blocker("positive", "a positive result: hand over to the case workflow"))
    negatives = {r.sampled for r in results if not r.positive}
    for test in schedule(phase, starts_at, checked_in):
        days = {test.due, test.due + timedelta(days=1)} if test.catch_up else {test.due}
        if not days & negatives:
            blockers.append(
                Blocker(
                    "missing_test",
                    f"no negative result for the day-{test.day} test due {test.due:%Y-%m-%d}",
                    test.due,
                )
            )
    return blockers
