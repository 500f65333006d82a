"""Colour rule sets: versioned data files, loaded into frozen records.

A rule set is one JSON file in `rulesets/` named after its version. Each rule says which facts it
matches (`fact` kind plus `when` field filters), which time field of the fact starts its clock
(`anchor`) and a list of phases, each with a colour and what ends it: a number of days, a time
field of the fact (`until`), a series of negative tests, or all of those together. docs/rules.md
lists every rule set with its sources; the files themselves cite a source next to every rule.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from functools import cache
from importlib import resources
from itertools import pairwise
from typing import Any

from epicore.healthcode.facts import FACT_TYPES

RULESET_PACKAGE = "epicore.healthcode.rulesets"


class Colour(IntEnum):
    """Ordered so that max() is the most restrictive colour (GB/T 38961-2020: 绿/黄/红)."""

    GREEN = 0
    YELLOW = 1
    RED = 2

    @property
    def code(self) -> str:
        return self.name.lower()

    @classmethod
    def from_code(cls, code: str) -> Colour:
        return cls[code.upper()]


@dataclass(frozen=True)
class Text:
    zh: str
    en: str


@dataclass(frozen=True)
class NegativeTests:
    """`count` consecutive negatives sampled at least `gap_hours` apart, from day `from_day`."""

    count: int
    gap_hours: float = 0
    from_day: float = 0  # days after the phase starts; 6 means "on day 7"


@dataclass(frozen=True)
class Phase:
    colour: Colour
    label: Text
    days: float | None = None
    until: str | None = None  # a datetime field of the fact; None on the fact means open-ended
    negatives: NegativeTests | None = None


@dataclass(frozen=True)
class Rule:
    code: str
    fact: str
    when: tuple[tuple[str, tuple[Any, ...]], ...]
    anchor: str
    phases: tuple[Phase, ...]
    reason: Text
    source: str

    def matches(self, fact: object) -> bool:
        if fact.kind != self.fact:  # type: ignore[attr-defined]
            return False
        return all(getattr(fact, name) in allowed for name, allowed in self.when)


@dataclass(frozen=True)
class RuleSet:
    version: str
    effective_from: datetime
    title: Text
    sources: tuple[Text, ...]
    rules: tuple[Rule, ...]


def _text(raw: dict) -> Text:
    return Text(zh=raw["zh"], en=raw["en"])


def _phase(raw: dict) -> Phase:
    negatives = raw.get("negatives")
    return Phase(
        colour=Colour.from_code(raw["colour"]),
        label=_text(raw["label"]),
        days=raw.get("days"),
        until=raw.get("until"),
        negatives=NegativeTests(**negatives) if negatives else None,
    )


def _is_time_field(fact_type: type, name: str) -> bool:
    """A dataclass field or a property (TestResult.known_at)."""
    return name in fact_type.__dataclass_fields__ or isinstance(
        getattr(fact_type, name, None), property
    )


def _rule(raw: dict) -> Rule:
    fact_type = FACT_TYPES[raw["fact"]]
    when = tuple((k, tuple(v) if isinstance(v, list) else (v,)) for k, v in raw["when"].items())
    for field in [raw["anchor"], *(p.get("until") for p in raw["phases"]), *dict(when)]:
        if field and not _is_time_field(fact_type, field):
            raise ValueError(f"rule {raw['code']}: {fact_type.__name__} has no field {field}")
    phases = tuple(_phase(p) for p in raw["phases"])
    # A later phase never gets stricter: evaluation relies on it to stay monotone (an extra
    # positive result can delay a phase change, so it must never make a person greener).
    if any(b.colour > a.colour for a, b in pairwise(phases)):
        raise ValueError(f"rule {raw['code']}: a later phase is stricter than an earlier one")
    return Rule(
        code=raw["code"],
        fact=raw["fact"],
        when=when,
        anchor=raw["anchor"],
        phases=phases,
        reason=_text(raw["reason"]),
        source=raw["source"],
    )


def parse_rule_set(raw: dict) -> RuleSet:
    """Build a RuleSet from its JSON form; raises ValueError on a field the fact does not have."""
    return RuleSet(
        version=raw["version"],
        effective_from=datetime.fromisoformat(raw["effective_from"]),
        title=_text(raw["title"]),
        sources=tuple(_text(s) for s in raw["sources"]),
        rules=tuple(_rule(r) for r in raw["rules"]),
    )


def available_versions() -> list[str]:
    files = resources.files(RULESET_PACKAGE).iterdir()
    return sorted(f.name.removesuffix(".json") for f in files if f.name.endswith(".json"))


@cache
def load_rule_set(version: str) -> RuleSet:
    """The shipped rule set `version` (e.g. "2022-11"); cached, rule sets are immutable."""
    text = resources.files(RULESET_PACKAGE).joinpath(f"{version}.json").read_text("utf-8")
    return parse_rule_set(json.loads(text))


def rule_set_for(at: datetime) -> RuleSet:
    """The shipped rule set in force at `at`: the latest whose effective_from is not after it."""
    in_force = [s for s in map(load_rule_set, available_versions()) if s.effective_from <= at]
    if not in_force:
        raise LookupError(f"no rule set in force at {at.isoformat()}")
    return max(in_force, key=lambda s: s.effective_from)
