"""Colour transitions (转码) as records the platform stores and audits.

A transition names the colours before and after, the reasons after, the rule-set version and
what triggered the re-evaluation, so an auditor can replay `evaluate` and get the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from epicore.healthcode.evaluate import Verdict
from epicore.healthcode.rules import Colour

# What can make the platform re-evaluate a person.
TRIGGER_KINDS = (
    "fact",  # a fact was recorded, corrected or deleted (ref: the record id)
    "clock",  # the scheduler reached next_check_at
    "rule_set",  # a new rule set came into force
    "override",  # a two-person manual override (ref: the override record)
    "appeal",  # an appeal was decided (ref: the appeal record)
)


@dataclass(frozen=True)
class Trigger:
    kind: str
    ref: str = ""

    def __post_init__(self) -> None:
        if self.kind not in TRIGGER_KINDS:
            raise ValueError(f"unknown trigger kind {self.kind!r}")


@dataclass(frozen=True)
class Transition:
    at: datetime
    old_colour: Colour | None  # None for the first assignment (赋码)
    new_colour: Colour
    reason_codes: tuple[str, ...]
    rule_set_version: str
    trigger: Trigger
    next_check_at: datetime | None

    def as_record(self) -> dict:
        """Plain JSON-ready values for the audit log."""
        return {
            "at": self.at.isoformat(),
            "old_colour": self.old_colour.code if self.old_colour is not None else None,
            "new_colour": self.new_colour.code,
            "reasons": list(self.reason_codes),
            "rule_set": self.rule_set_version,
            "trigger": {"kind": self.trigger.kind, "ref": self.trigger.ref},
            "next_check_at": self.next_check_at.isoformat() if self.next_check_at else None,
        }


def transition_between(
    previous: Verdict | None, current: Verdict, trigger: Trigger
) -> Transition | None:
    """The transition from `previous` to `current`, or None when nothing a resident sees changed.

    A change of reasons without a change of colour is still a transition: the resident's page
    explains the code by its reasons, and the audit must show why they changed.
    """
    if previous is not None and _same(previous, current):
        return None
    return Transition(
        at=current.evaluated_at,
        old_colour=previous.colour if previous is not None else None,
        new_colour=current.colour,
        reason_codes=_codes(current),
        rule_set_version=current.rule_set_version,
        trigger=trigger,
        next_check_at=current.next_check_at,
    )


def _codes(verdict: Verdict) -> tuple[str, ...]:
    return tuple(sorted({r.code for r in verdict.reasons}))


def _same(a: Verdict, b: Verdict) -> bool:
    return a.colour == b.colour and _codes(a) == _codes(b)
