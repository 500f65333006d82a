"""Testing campaigns: who must be tested, where, and how far along it is (完成率), live.

Completion is counted from CampaignSample (one row per person sampled in the campaign, written at
sampling time and by bulk imports), joined to the population: everyone registered below the
campaign's jurisdiction (kind area, 应检尽检), the roster (kind key group), or nobody (volunteers,
愿检尽检: only the count). One grouped query per page, no scan of the tubes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from epicore import divisions, idcard, pooling
from epicore.errors import ValidationError
from fangkong.accounts import audit
from fangkong.accounts.roles import RUN_CAMPAIGNS
from fangkong.errors import Refused
from fangkong.geo.models import Jurisdiction
from fangkong.labs.models import (
    Campaign,
    CampaignKind,
    CampaignSample,
    CampaignTarget,
    Outcome,
    SamplingSite,
    TimeSlot,
    Tube,
    TubeState,
)
from fangkong.people.models import DocType, Person


def _next_level_length(code: str) -> int:
    """The code length one level below `code` (a grid stays a grid), from epicore.divisions."""
    index = min(divisions.LEVELS.index(divisions.level_of(code)) + 1, len(divisions.LEVELS) - 1)
    return divisions.CODE_LENGTHS[divisions.LEVELS[index]]


def _require(actor) -> None:
    if actor is not None and not actor.can(RUN_CAMPAIGNS):
        raise PermissionError("your role may not run testing campaigns")


def create(
    actor,
    name: str,
    kind: str,
    jurisdiction_code: str,
    starts_at: datetime,
    ends_at: datetime,
    tube_size: int = 10,
    expected: int | None = None,
    repeat_days: int = 0,
) -> Campaign:
    _require(actor)
    if not name.strip():
        raise Refused("no_name", "the campaign needs a name")
    if kind not in CampaignKind.values:
        raise Refused("bad_kind", f"unknown campaign kind {kind!r}")
    if ends_at <= starts_at:
        raise Refused("bad_period", "the campaign must end after it starts")
    if not Jurisdiction.objects.filter(pk=jurisdiction_code).exists():
        raise Refused("unknown_jurisdiction", f"no jurisdiction {jurisdiction_code!r}")
    campaign = Campaign.objects.create(
        name=name.strip()[:100],
        kind=kind,
        jurisdiction_id=jurisdiction_code,
        starts_at=starts_at,
        ends_at=ends_at,
        tube_size=tube_size,
        expected=expected if expected is not None else 0,
        repeat_days=repeat_days,
        created_by=actor,
    )
    if expected is None and kind == CampaignKind.AREA:
        campaign.expected = population(campaign).count()
        campaign.save(update_fields=["expected"])
    audit.record(actor, "labs.campaign_create", object_type="campaign", object_id=campaign.pk,
                 jurisdiction_code=jurisdiction_code, details={"kind": kind})  # fmt: skip
    return campaign


def add_site(actor, campaign: Campaign, name: str, jurisdiction_code: str, address: str = ""):
    _require(actor)
    if not _inside(jurisdiction_code, campaign.jurisdiction_id):
        raise Refused("site_outside", "the sampling site must lie inside the campaign's area")
    return SamplingSite.objects.create(
        campaign=campaign, name=name.strip()[:100], jurisdiction_id=jurisdiction_code,
        address=address.strip()[:200],
    )  # fmt: skip


def add_slot(actor, site: SamplingSite, starts_at: datetime, ends_at: datetime, expected: int = 0):
    _require(actor)
    campaign = site.campaign
    if ends_at <= starts_at or starts_at < campaign.starts_at or ends_at > campaign.ends_at:
        raise Refused("bad_slot", "a time slot must lie inside the campaign's period")
    return TimeSlot.objects.create(
        site=site, starts_at=starts_at, ends_at=ends_at, expected=expected
    )


@dataclass
class RosterReport:
    added: int = 0
    already: int = 0
    problems: list[tuple[int, str]] | None = None


def add_roster(actor, campaign: Campaign, lines: list[str]) -> RosterReport:
    """Key-group roster from ID numbers, one per line; each bad line reported by its number."""
    _require(actor)
    if campaign.kind != CampaignKind.KEY_GROUP:
        raise Refused("not_key_group", "only a key-group campaign has a roster")
    report = RosterReport(problems=[])
    numbers: dict[str, int] = {}
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            numbers.setdefault(idcard.parse_resident_id(line).number, line_no)
        except ValidationError as error:
            report.problems.append((line_no, error.message))
    found = dict(
        Person.objects.filter(doc_type=DocType.RESIDENT_ID, doc_number__in=numbers).values_list(
            "doc_number", "pk"
        )
    )
    for number, line_no in numbers.items():
        if number not in found:
            report.problems.append((line_no, "nobody with this ID number is registered"))
    with transaction.atomic():
        have = set(campaign.targets.values_list("person_id", flat=True))
        new = [pk for pk in found.values() if pk not in have]
        CampaignTarget.objects.bulk_create(
            CampaignTarget(campaign=campaign, person_id=pk) for pk in new
        )
        report.added, report.already = len(new), len(found) - len(new)
        campaign.expected = campaign.targets.count()
        campaign.save(update_fields=["expected"])
    report.problems.sort()
    return report


def population(campaign: Campaign):
    """The people who must be tested (none for volunteers)."""
    if campaign.kind == CampaignKind.AREA:
        low, high = divisions.subtree_bounds(campaign.jurisdiction_id)
        people = Person.objects.filter(jurisdiction_id__gte=low)
        return people.filter(jurisdiction_id__lt=high) if high else people
    if campaign.kind == CampaignKind.KEY_GROUP:
        return Person.objects.filter(pk__in=campaign.targets.values("person_id"))
    return Person.objects.none()


def record_sample(campaign_id: int | None, person: Person, at: datetime) -> None:
    """Count a person as sampled in the campaign (the first sample counts; repeats are no-ops)."""
    if campaign_id is None:
        return
    sample = CampaignSample(
        campaign_id=campaign_id,
        person_id=person.pk,
        jurisdiction_id=person.jurisdiction_id,
        sampled_at=at,
    )
    CampaignSample.objects.bulk_create([sample], ignore_conflicts=True)


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    target: int
    sampled: int

    @property
    def missing(self) -> int:
        return max(self.target - self.sampled, 0)

    @property
    def share(self) -> float:
        return self.sampled / self.target if self.target else 0.0


def completion(campaign: Campaign, under: str | None = None) -> list[Unit]:
    """Target and sampled per unit one level below `under` (default: the campaign's area)."""
    root = under or campaign.jurisdiction_id
    length = _next_level_length(root)
    targets = _by_unit(_target_counts(campaign, root), length)
    sampled = _by_unit(_sampled_counts(campaign, root), length)
    if campaign.kind == CampaignKind.VOLUNTEER:
        targets = sampled  # no population: the sampled are the count
    codes = sorted(set(targets) | set(sampled))
    names = dict(Jurisdiction.objects.filter(code__in=codes).values_list("code", "name"))
    return [Unit(c, names.get(c, c), targets.get(c, 0), sampled.get(c, 0)) for c in codes]


def _by_unit(counts, length: int) -> dict[str, int]:
    """Counts per registered jurisdiction (a grid, usually) summed to the level shown."""
    units: dict[str, int] = {}
    for code, count in counts:
        units[code[:length]] = units.get(code[:length], 0) + count
    return units


def _target_counts(campaign: Campaign, root: str):
    """(jurisdiction, people) of the population below `root`: grouped on the register's
    (jurisdiction, id) index, no join with the samples."""
    if campaign.kind == CampaignKind.VOLUNTEER:
        return []
    people = population(campaign)
    low, high = divisions.subtree_bounds(root)
    people = people.filter(jurisdiction_id__gte=low)
    if high:
        people = people.filter(jurisdiction_id__lt=high)
    return people.values_list("jurisdiction_id").annotate(n=Count("id")).order_by()


def _sampled_counts(campaign: Campaign, root: str):
    """(jurisdiction, people sampled) below `root`, from the samples' own jurisdiction column."""
    low, high = divisions.subtree_bounds(root)
    samples = CampaignSample.objects.filter(campaign=campaign, jurisdiction_id__gte=low)
    if high:
        samples = samples.filter(jurisdiction_id__lt=high)
    if campaign.kind == CampaignKind.KEY_GROUP:  # only the roster counts towards completion
        samples = samples.filter(person_id__in=campaign.targets.values("person_id"))
    return samples.values_list("jurisdiction_id").annotate(n=Count("id")).order_by()


def _inside(code: str, root: str) -> bool:
    low, high = divisions.subtree_bounds(root)
    return code >= low and (high is None or code < high)


def totals(campaign: Campaign) -> dict:
    """Headline numbers: target, sampled in the population, sampled in all (visitors too)."""
    units = completion(campaign)
    sampled_all = CampaignSample.objects.filter(campaign=campaign).count()
    target = sum(u.target for u in units)
    sampled = sum(u.sampled for u in units)
    return {
        "target": target if campaign.kind != CampaignKind.VOLUNTEER else campaign.expected,
        "sampled": sampled,
        "sampled_all": sampled_all,
        "share": sampled / target if target and campaign.kind != CampaignKind.VOLUNTEER else None,
    }


def missing_people(campaign: Campaign, under: str, after_id: int = 0, limit: int = 50):
    """People of the population below `under` not yet sampled, by id (keyset pages)."""
    if not _inside(under, campaign.jurisdiction_id) and campaign.kind == CampaignKind.AREA:
        raise Refused("outside", "that area is not in the campaign")
    low, high = divisions.subtree_bounds(under)
    people = population(campaign).filter(jurisdiction_id__gte=low, pk__gt=after_id)
    if high:
        people = people.filter(jurisdiction_id__lt=high)
    sampled = CampaignSample.objects.filter(campaign=campaign).values("person_id")
    return list(people.exclude(pk__in=sampled).order_by("pk")[:limit])


@dataclass(frozen=True)
class PoolAdvice:
    tubes: int
    positive_tubes: int
    prevalence: float | None  # estimated share of people positive
    advice: pooling.Advice | None


def pool_advice(campaign: Campaign) -> PoolAdvice:
    """The best pool size for the positivity seen so far in this campaign's tubes.

    A tube of k people is positive when at least one member is: P(tube+) = 1 - (1 - p)^k, so
    p = 1 - (1 - share of positive tubes)^(1/k) (Dorfman 1943; perfect assay assumed here).
    Before any tube is resulted there is nothing to advise on.
    """
    tubes = Tube.objects.filter(campaign=campaign, state=TubeState.RESULTED)
    resulted = tubes.count()
    if not resulted:
        return PoolAdvice(0, 0, None, None)
    positive = tubes.exclude(outcome=Outcome.NEGATIVE).count()
    share = positive / resulted
    size = campaign.tube_size
    p = 1 - (1 - share) ** (1 / size)
    # A run of negatives gives p = 0, for which every pool size is "best": advise for one
    # positive in all the people tested so far, the rule of three's optimistic cousin.
    floor = 1 / max(resulted * size, 1)
    p = min(max(p, floor), 0.5)
    return PoolAdvice(resulted, positive, p, pooling.best_pool_size(p))


def next_round(campaign: Campaign) -> Campaign:
    """The next round of a repeating campaign: same area, roster, sites and slots, shifted."""
    shift = timedelta(days=campaign.repeat_days)
    with transaction.atomic():
        successor = Campaign.objects.create(
            name=campaign.name, kind=campaign.kind, jurisdiction_id=campaign.jurisdiction_id,
            starts_at=campaign.starts_at + shift, ends_at=campaign.ends_at + shift,
            expected=campaign.expected, tube_size=campaign.tube_size,
            repeat_days=campaign.repeat_days, previous=campaign, created_by=campaign.created_by,
        )  # fmt: skip
        CampaignTarget.objects.bulk_create(
            CampaignTarget(campaign=successor, person_id=pk)
            for pk in campaign.targets.values_list("person_id", flat=True)
        )
        for site in campaign.sites.prefetch_related("slots"):
            copy = SamplingSite.objects.create(campaign=successor, name=site.name,
                                               jurisdiction_id=site.jurisdiction_id, address=site.address)  # fmt: skip
            TimeSlot.objects.bulk_create(
                TimeSlot(site=copy, starts_at=s.starts_at + shift, ends_at=s.ends_at + shift,
                         expected=s.expected)
                for s in site.slots.all()
            )  # fmt: skip
        audit.record(None, "labs.campaign_round", object_type="campaign", object_id=successor.pk,
                     jurisdiction_code=campaign.jurisdiction_id, details={"previous": campaign.pk})  # fmt: skip
    return successor


# Rounds are created a day ahead, so sites can prepare and residents be told (提前一天通知).
ROUND_LEAD = timedelta(days=1)


def due_rounds(now: datetime) -> list[Campaign]:
    """Repeating campaigns whose next round should exist by now and does not yet."""
    candidates = Campaign.objects.filter(repeat_days__gt=0, next_round__isnull=True)
    return [
        c for c in candidates if c.starts_at + timedelta(days=c.repeat_days) <= now + ROUND_LEAD
    ]


def is_open(campaign: Campaign, at: datetime | None = None) -> bool:
    at = at or timezone.now()
    return campaign.starts_at <= at <= campaign.ends_at
