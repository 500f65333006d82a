"""Editions of China's COVID-19 prevention and control protocol, as data.

Case handling depends on the edition in force: how far back the infectious window opens before
onset (or before sampling, for asymptomatic infections). Every decision records the edition it
used, so a case investigated under the 8th edition keeps its window after the 9th arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta


@dataclass(frozen=True)
class Edition:
    key: str
    title: str
    effective: date  # first day in force
    source: str
    # Close contacts are sought from this many days before symptom onset (symptomatic cases) or
    # before the first positive sample (asymptomatic infections) until isolation.
    look_back_days: int


EDITIONS: tuple[Edition, ...] = (
    Edition(
        key="8",
        title="新型冠状病毒肺炎防控方案（第八版）",
        effective=date(2021, 5, 11),
        source="国务院应对新冠肺炎疫情联防联控机制综合组, 2021-05-11, 附件5 "
        "密切接触者判定：症状出现前4天或无症状感染者标本采样前4天",
        look_back_days=4,
    ),
    Edition(
        key="9",
        title="新型冠状病毒肺炎防控方案（第九版）",
        effective=date(2022, 6, 27),
        source="国务院应对新冠肺炎疫情联防联控机制综合组, 2022-06-27, 附件5 "
        "密切接触者判定：症状出现前4天或无症状感染者标本采样前4天",
        look_back_days=4,
    ),
)


def edition_on(day: date) -> Edition:
    """The edition in force on `day` (the earliest one for days before any edition)."""
    current = EDITIONS[0]
    for edition in EDITIONS:
        if edition.effective <= day:
            current = edition
    return current


def edition_by_key(key: str) -> Edition:
    for edition in EDITIONS:
        if edition.key == key:
            return edition
    raise KeyError(key)


def window_start(edition: Edition, onset: date | None, sampled: date | None, tz) -> datetime:
    """Start of the infectious window: look-back days before onset, else before sampling.

    Onset wins when known: the protocol counts from symptoms for symptomatic cases and from the
    sample only for asymptomatic infections. Windows open at local midnight of that day.
    """
    anchor = onset or sampled
    if anchor is None:
        raise ValueError("an onset date or a sampling date is needed for the window")
    first_day = anchor - timedelta(days=edition.look_back_days)
    return datetime.combine(first_day, time.min, tzinfo=tz)
