"""Health codes (健康码): colour rules as versioned data, signed short-lived tokens, QR codes.

Colour (赋码/转码) is a pure function of a person's facts, a rule set and a time (`evaluate`);
the code shown to a resident is a signed token (`issue_health_token`) that checkpoints verify
offline with published keys (`verify_health_token`, 解码). docs/rules.md and docs/healthcode.md
describe the rule sets and the token format.
"""

from epicore.healthcode.evaluate import Condition, Reason, Verdict, evaluate
from epicore.healthcode.facts import (
    AreaResidence,
    CaseStatus,
    CompanionFlag,
    Contact,
    FeverClinicVisit,
    Quarantine,
    Recall,
    RiskAreaArrival,
    TestResult,
)
from epicore.healthcode.rules import (
    Colour,
    RuleSet,
    available_versions,
    load_rule_set,
    parse_rule_set,
    rule_set_for,
)
from epicore.healthcode.transitions import Transition, Trigger, transition_between

__all__ = [
    "AreaResidence",
    "CaseStatus",
    "Colour",
    "CompanionFlag",
    "Condition",
    "Contact",
    "FeverClinicVisit",
    "Quarantine",
    "Reason",
    "Recall",
    "RiskAreaArrival",
    "RuleSet",
    "TestResult",
    "Transition",
    "Trigger",
    "Verdict",
    "available_versions",
    "evaluate",
    "load_rule_set",
    "parse_rule_set",
    "rule_set_for",
    "transition_between",
]
