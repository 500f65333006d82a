"""Turnaround (周转时间): from sampling to result, per tube, per sampling site and per lab.

A tube's sampling time is its first member's (the clock starts when the first swab goes in); its
result time is when the lab's result was applied. On the way the stages are known when the tube
went through a box: sealed, box handed over to a courier, box received by the lab.

Medians and 90th percentiles are computed by the database (a window function, CUME_DIST, which
SQLite and PostgreSQL both have), so a day of 100,000 tubes is one grouped query per table, not a
loop in Python. Percentiles are nearest-rank: the smallest turnaround at or above the share.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import (
    Count,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.utils import timezone

from fangkong.labs.models import Tube, TubeMember

# Target from sampling to result, in hours. Sources found (cited pages, not the documents
# themselves): 国家卫生健康委 at the 国务院联防联控机制 press conference of 2021-01-20 (王斌):
# labs must report within 12 hours of receiving the sample (新京报, bjnews.com.cn/detail/
# 161112415615657.html); 《关于进一步强化当前新冠病毒核酸检测服务的通知》 (2021-10-25): aim for 6
# hours for voluntary testing (新民晚报 2021-10-28); 《区域新型冠状病毒核酸检测组织实施指南（第三
# 版）》 (2022-03-22): an area's testing is completed within 24 hours (央视网 2022-03-23). We could not
# confirm a per-tube sampling-to-result limit in the guide's own text, so the 12 hours are a
# default that a province overrides with FANGKONG_RESULT_TARGET_HOURS (settings.py).
DEFAULT_TARGET_HOURS = 12.0
SHARES = {"median": 0.5, "p90": 0.9}
# CUME_DIST is a ratio of counts in floating point: 9/10 may land a hair under 0.9.
SHARE_TOLERANCE = 1e-9


def target() -> timedelta:
    text = str(getattr(settings, "FANGKONG_RESULT_TARGET_HOURS", "") or DEFAULT_TARGET_HOURS)
    try:
        hours = float(text)
    except ValueError:
        raise ImproperlyConfigured(
            f"FANGKONG_RESULT_TARGET_HOURS={text!r} is not a number of hours"
        ) from None
    if not 0 < hours <= 24 * 7:
        raise ImproperlyConfigured(f"FANGKONG_RESULT_TARGET_HOURS={text!r} is not 0-168 hours")
    return timedelta(hours=hours)


def with_sampling_time(tubes: QuerySet) -> QuerySet:
    """Tubes annotated with `sampled`: their first member's sampling time (None when empty)."""
    first = TubeMember.objects.filter(tube=OuterRef("pk")).order_by("sampled_at")
    return tubes.annotate(sampled=Subquery(first.values("sampled_at")[:1]))


def in_period(tubes: QuerySet, since: datetime, until: datetime) -> QuerySet:
    """Tubes opened in [since, until): the tube's opening is when sampling into it began."""
    return tubes.filter(opened_at__gte=since, opened_at__lt=until)


@dataclass(frozen=True)
class GroupTurnaround:
    name: str  # the sampling site or the lab
    resulted: int
    median: timedelta
    p90: timedelta
    late: int


def by_site(tubes: QuerySet, now: datetime | None = None) -> list[GroupTurnaround]:
    return _by(tubes, "site", now)


def by_lab(tubes: QuerySet, now: datetime | None = None) -> list[GroupTurnaround]:
    return _by(tubes.exclude(lab=""), "lab", now)


def _by(tubes: QuerySet, field: str, now: datetime | None) -> list[GroupTurnaround]:
    late = _late_counts(tubes, field, now)
    return [
        GroupTurnaround(name, resulted, median, p90, late.get(name, 0))
        for name, resulted, median, p90 in _percentiles(tubes, field)
    ]


class SecondsBetween(Func):
    """Seconds from the second timestamp to the first, in the database's own arithmetic (Django's
    generic timestamp difference calls back into Python for every row on SQLite)."""

    arity = 2
    output_field = FloatField()

    def as_sqlite(self, compiler, connection, **extra):
        template = "((julianday(%(expressions)s) - julianday(%(second)s)) * 86400.0)"
        later, earlier = self.source_expressions
        later_sql, later_params = compiler.compile(later)
        earlier_sql, earlier_params = compiler.compile(earlier)
        sql = template % {"expressions": later_sql, "second": earlier_sql}
        return sql, (*later_params, *earlier_params)

    def as_sql(self, compiler, connection, **extra):
        later_sql, later_params = compiler.compile(self.source_expressions[0])
        earlier_sql, earlier_params = compiler.compile(self.source_expressions[1])
        sql = f"EXTRACT(EPOCH FROM ({later_sql} - {earlier_sql}))"
        return sql, (*later_params, *earlier_params)


def _durations(tubes: QuerySet, field: str) -> QuerySet:
    resulted = with_sampling_time(tubes).filter(resulted_at__isnull=False, sampled__isnull=False)
    taken = SecondsBetween(F("resulted_at"), F("sampled"))
    return resulted.annotate(group_key=F(field), turnaround=taken).values("group_key", "turnaround")


def _percentiles(tubes: QuerySet, field: str) -> list[tuple]:
    """(name, resulted tubes, median, p90) per group, one query. The ORM cannot aggregate over a
    window, so the grouping wraps the ORM's query in plain SQL that both backends accept."""
    inner, params = _durations(tubes, field).query.sql_with_params()
    picks = ", ".join(
        f"MIN(CASE WHEN share >= {share - SHARE_TOLERANCE!r} THEN turnaround END)"
        for share in SHARES.values()
    )
    sql = (
        f"SELECT group_key, COUNT(*), {picks} FROM ("
        "SELECT group_key, turnaround, CUME_DIST() OVER "
        "(PARTITION BY group_key ORDER BY turnaround) AS share "
        f"FROM ({inner}) durations) ranked GROUP BY group_key ORDER BY group_key"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(name, n, _seconds(p50), _seconds(p90)) for name, n, p50, p90 in cursor]


def _seconds(value: float) -> timedelta:
    # Whole seconds: julianday() carries float noise of a few microseconds.
    return timedelta(seconds=round(float(value)))


def late_tubes(tubes: QuerySet, now: datetime | None = None) -> QuerySet:
    """Tubes resulted later than the target after sampling, or not resulted although the
    target has passed."""
    now, limit = now or timezone.now(), target()
    overdue = Q(resulted_at__isnull=True, sampled__lt=now - limit)
    resulted_late = Q(taken__gt=limit.total_seconds())
    taken = SecondsBetween(F("resulted_at"), F("sampled"))
    return with_sampling_time(tubes).alias(taken=taken).filter(overdue | resulted_late)


def _late_counts(tubes: QuerySet, field: str, now: datetime | None) -> dict[str, int]:
    rows = late_tubes(tubes, now).values(field).annotate(n=Count("pk")).order_by()
    return {row[field]: row["n"] for row in rows}


@dataclass(frozen=True)
class TubeStages:
    """One tube's way from sampling to result; a stage is None when it is not known (yet)."""

    barcode: str
    site: str
    lab: str
    sampled: datetime | None
    sealed: datetime | None
    handed_over: datetime | None
    received: datetime | None
    resulted: datetime | None

    def taken(self, now: datetime) -> timedelta | None:
        """Time from sampling to result, or to now while it is still waiting."""
        if self.sampled is None:
            return None
        return (self.resulted or now) - self.sampled


def stages_of(tube: Tube) -> TubeStages:
    """Stages of a tube annotated by with_sampling_time (select_related("box") saves queries)."""
    box = tube.box
    return TubeStages(
        barcode=tube.barcode,
        site=tube.site,
        lab=tube.lab or (box.lab if box else ""),
        sampled=getattr(tube, "sampled", None),
        sealed=tube.sealed_at,
        handed_over=box.handed_over_at if box else None,
        received=box.received_at if box else None,
        resulted=tube.resulted_at,
    )


def late_stages(tubes: QuerySet, now: datetime | None = None, limit: int = 100) -> list:
    """The oldest late tubes first, with their stages (a page's worth, not all of them)."""
    rows = late_tubes(tubes, now).select_related("box").order_by("sampled", "pk")[:limit]
    return [stages_of(tube) for tube in rows]
