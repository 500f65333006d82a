"""Facts about one person that a colour rule set can read.

Every fact is a frozen record with a `kind` (what the rule sets match on) and aware datetimes.
Values use the vocabulary of the national protocols; the platform maps its own tables onto them.
`ref` is the platform's id of the record the fact came from, so a verdict can point back to it
in the audit log. A fact whose start lies after the evaluation time has not happened yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

# Case classification of the diagnosis and treatment protocols (诊疗方案): 确诊病例, 无症状感染者,
# 疑似病例.
CASE_STATUSES = ("confirmed", "asymptomatic", "suspected")
# 密切接触者 / 密接的密接 (次密接), 《新型冠状病毒肺炎防控方案（第八版）》 annex 3.
CONTACT_DEGREES = ("close", "secondary")
# 集中隔离医学观察 / 居家隔离医学观察 / 居家健康监测.
QUARANTINE_SETTINGS = ("centralized", "home", "health_monitoring")
# 封控区 / 管控区 / 防范区; the 9th edition (2022-06) aligned them with 高/中/低风险区.
AREA_LEVELS = ("sealed", "controlled", "precaution")
# 高/中/低风险地区 of origin for travellers.
RISK_LEVELS = ("high", "medium", "low")


@dataclass(frozen=True)
class CaseStatus:
    kind: ClassVar[str] = "case"
    status: str
    reported_at: datetime
    discharged_at: datetime | None = None  # 出院 / 解除隔离 / 排除 (for a suspected case)
    ref: str = ""


@dataclass(frozen=True)
class Contact:
    kind: ClassVar[str] = "contact"
    degree: str
    last_exposure_at: datetime
    ref: str = ""


@dataclass(frozen=True)
class Quarantine:
    kind: ClassVar[str] = "quarantine"
    setting: str
    starts_at: datetime
    ends_at: datetime | None = None  # None: open-ended until staff record the release
    ref: str = ""


@dataclass(frozen=True)
class TestResult:
    __test__ = False  # not a pytest test class
    kind: ClassVar[str] = "test"
    sampled_at: datetime
    positive: bool
    reported_at: datetime | None = None  # None: known at sampling time (rapid test)
    method: str = "pcr"
    ref: str = ""

    @property
    def known_at(self) -> datetime:
        return self.reported_at or self.sampled_at


@dataclass(frozen=True)
class Recall:
    """单采复核: the person was in a pooled tube that tested positive or suspicious and must give an
    individual sample; the recall ends when that result is in (the platform then drops it)."""

    kind: ClassVar[str] = "recall"
    recalled_at: datetime
    answered_at: datetime | None = None
    ref: str = ""


@dataclass(frozen=True)
class AreaResidence:
    kind: ClassVar[str] = "area"
    level: str
    since: datetime
    lifted_at: datetime | None = None  # 解封; may be announced in advance
    ref: str = ""


@dataclass(frozen=True)
class RiskAreaArrival:
    kind: ClassVar[str] = "arrival"
    risk: str
    arrived_at: datetime
    ref: str = ""


@dataclass(frozen=True)
class CompanionFlag:
    """时空伴随: the person's phone shared a 800 m x 800 m grid cell with a case for 10+ minutes."""

    kind: ClassVar[str] = "companion"
    flagged_at: datetime
    ref: str = ""


@dataclass(frozen=True)
class FeverClinicVisit:
    kind: ClassVar[str] = "fever_clinic"
    visited_at: datetime
    ref: str = ""


Fact = (
    CaseStatus
    | Contact
    | Quarantine
    | TestResult
    | Recall
    | AreaResidence
    | RiskAreaArrival
    | CompanionFlag
    | FeverClinicVisit
)
FACT_TYPES: dict[str, type] = {
    t.kind: t
    for t in (
        CaseStatus,
        Contact,
        Quarantine,
        TestResult,
        Recall,
        AreaResidence,
        RiskAreaArrival,
        CompanionFlag,
        FeverClinicVisit,
    )
}
