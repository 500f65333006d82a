"""Lab result files (CSV in UTF-8 or GBK, or xlsx): one row per tube, layout in docs/labs.md.

Each row is applied on its own, so one bad row never blocks the good ones; every bad row is
reported with its row number and column; a repeated upload changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from fangkong.labs import actions
from fangkong.people.importing import Layout

RESULTS = Layout(
    headers={
        "barcode": ("采样管条码", "条码", "试管条码", "barcode", "tube"),
        "result": ("检测结果", "结果", "result"),
        "ct": ("Ct值", "CT值", "ct", "ct value"),
        "lab": ("检测机构", "lab"),
    },
    required=("barcode", "result"),
)
RESULT_WORDS = {
    "阴性": "negative",
    "阳性": "positive",
    "可疑": "suspicious",
    "negative": "negative",
    "positive": "positive",
    "suspicious": "suspicious",
}


COUNTERS = {"applied": "applied", "duplicate": "duplicates", "held": "held"}


@dataclass
class UploadReport:
    applied: int = 0
    duplicates: int = 0
    held: int = 0
    problems: list[tuple[int, str, str]] = field(default_factory=list)  # row, column, message


def _ct(text: str) -> float | None:
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise actions.Refused(
            "bad_ct", _("“%(value)s” is not a Ct value.") % {"value": text}
        ) from None


def apply_rows(actor, rows: list[tuple[int, dict]], default_lab: str) -> UploadReport:
    report = UploadReport()
    for number, row in rows:
        outcome = RESULT_WORDS.get(row.get("result", "").strip().lower())
        if outcome is None:
            report.problems.append((number, "结果", _("Write 阴性, 阳性 or 可疑.")))
            continue
        try:
            ct = _ct(row.get("ct", ""))
            status = actions.record_result(
                actor, row["barcode"], outcome, ct, row.get("lab") or default_lab
            )
        except actions.Refused as refused:
            column = "Ct值" if refused.code == "bad_ct" else "条码"
            report.problems.append((number, column, refused.message))
            continue
        counter = COUNTERS[status]
        setattr(report, counter, getattr(report, counter) + 1)
    return report
