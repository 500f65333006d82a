"""Nucleic acid testing (核酸检测): campaigns, pooled tubes (混采) and their members, boxes from
site to lab (chain of custody), results, retests.

A campaign tests a population (a jurisdiction subtree: 应检尽检, or a key group on a roster) or
volunteers (愿检尽检) at its sampling sites. A tube is opened at a site, residents are scanned
into it up to its size, it is sealed, packed in a box and handed over to a lab. A negative tube
makes every member negative; a positive or suspicious tube recalls every member for an
individual retest (单采复核), whose result is the person's own.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from fangkong.batches import unchecked_reference

# Mass testing writes a million members and person results in a day. PostgreSQL checks a
# foreign key with one trigger query per row and reference (measured: 1,000,000 members with
# their two references 43 s, without 10.6 s), so the high-volume lab rows carry no
# database-side references: every writer takes its ids from rows it has just read or written
# in the same transaction (labs.actions through the ORM; labs.bulk from one join with the
# register and the ids of the tubes it has just inserted: the set-wise form of the same
# check), nothing deletes people or tubes, and Django's PROTECT would still refuse deleting
# one they name (tests/platform/test_labs.py). Single-column indexes that a composite index
# already leads with are left out (each costs index upkeep on every insert).


class TubeState(models.TextChoices):
    OPEN = "open", _("open")
    SEALED = "sealed", _("sealed")
    RESULTED = "resulted", _("resulted")
    HELD = "held", _("held for review")  # conflicting results: never overwritten silently


class Outcome(models.TextChoices):
    NEGATIVE = "negative", _("negative")
    POSITIVE = "positive", _("positive")
    SUSPICIOUS = "suspicious", _("suspicious")


class CampaignKind(models.TextChoices):
    AREA = "area", _("everyone in an area")  # 区域全员 / 应检尽检
    KEY_GROUP = "key_group", _("key group on a roster")  # 重点人群 (cold-chain workers, ...)
    VOLUNTEER = "volunteer", _("volunteers")  # 愿检尽检


class Campaign(models.Model):
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=CampaignKind.choices)
    # Whose campaign it is, and for kind=area the population: everyone registered below it.
    jurisdiction = models.ForeignKey("geo.Jurisdiction", on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    expected = models.PositiveIntegerField(_("expected headcount"), default=0)
    tube_size = models.PositiveSmallIntegerField(_("people per tube"), default=10)
    # Key groups are tested on a schedule (e.g. cold-chain workers every 7 days): each round is a
    # campaign of its own, created from the previous one (labs/jobs.py).
    repeat_days = models.PositiveSmallIntegerField(_("repeat every (days)"), default=0)
    previous = models.OneToOneField(
        "self", on_delete=models.PROTECT, related_name="next_round", null=True, blank=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )

    def __str__(self) -> str:
        return self.name


class CampaignTarget(models.Model):
    """The roster of a key-group campaign (who must be tested)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="targets")
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "person"], name="target_once")]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.person_id}"


class SamplingSite(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="sites")
    name = models.CharField(_("name"), max_length=100)
    jurisdiction = models.ForeignKey("geo.Jurisdiction", on_delete=models.PROTECT, related_name="+")
    address = models.CharField(_("address"), max_length=200, blank=True)

    def __str__(self) -> str:
        return self.name


class TimeSlot(models.Model):
    site = models.ForeignKey(SamplingSite, on_delete=models.CASCADE, related_name="slots")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    expected = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.site_id} {self.starts_at:%m-%d %H:%M}"


class CampaignSample(models.Model):
    """Who has been sampled in a campaign (one row per person): completion is a count of these,
    kept at sampling time so that it never scans the tubes."""

    # A derived counter row, written only from a member or a result already checked against the
    # register: no database-side checks of campaign, person and place (a trigger query per
    # reference and row; see unchecked_reference); Django's CASCADE and PROTECT still act
    # on deletions. No single-column indexes: the unique (campaign, person) and sample_by_area
    # serve every query.
    campaign = unchecked_reference(Campaign, models.CASCADE, related_name="samples")
    person = unchecked_reference("people.Person")
    # Where the person was registered when sampled: completion groups these without a join to
    # the register.
    jurisdiction = unchecked_reference("geo.Jurisdiction")
    sampled_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "person"], name="sample_once")]
        indexes = [models.Index(fields=["campaign", "jurisdiction"], name="sample_by_area")]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.person_id}"


class BoxState(models.TextChoices):
    PACKING = "packing", _("packing")
    SEALED = "sealed", _("sealed")
    IN_TRANSIT = "in_transit", _("in transit")
    RECEIVED = "received", _("received by the lab")


class Box(models.Model):
    """A transport box (转运箱) of sealed tubes, from a sampling site to a lab."""

    code = models.CharField(_("box code"), max_length=32, unique=True)
    jurisdiction = models.ForeignKey("geo.Jurisdiction", on_delete=models.PROTECT, related_name="+")
    site = models.CharField(_("sampling site"), max_length=100)
    lab = models.CharField(_("lab"), max_length=100)
    state = models.CharField(max_length=12, choices=BoxState.choices, default=BoxState.PACKING)
    opened_at = models.DateTimeField()
    sealed_at = models.DateTimeField(null=True, blank=True)
    handed_over_at = models.DateTimeField(null=True, blank=True)
    courier = models.CharField(_("courier"), max_length=64, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.code


class BoxEvent(models.Model):
    """Chain of custody: every hand of the box, time-stamped."""

    box = models.ForeignKey(Box, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=16)  # opened / packed / sealed / handed_over / received
    at = models.DateTimeField()
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    note = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"{self.box_id} {self.kind} {self.at}"


class Tube(models.Model):
    barcode = models.CharField(_("tube barcode"), max_length=32, unique=True)
    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="tubes", null=True, blank=True
    )
    box = models.ForeignKey(
        Box, on_delete=models.PROTECT, related_name="tubes", null=True, blank=True
    )
    lab = models.CharField(_("lab"), max_length=100, blank=True)  # who resulted it
    size = models.PositiveSmallIntegerField(_("people per tube"))
    site = models.CharField(_("sampling site"), max_length=100)
    jurisdiction = models.ForeignKey("geo.Jurisdiction", on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=8, choices=TubeState.choices, default=TubeState.OPEN)
    opened_at = models.DateTimeField()
    sealed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True)
    ct_value = models.FloatField(null=True, blank=True)
    resulted_at = models.DateTimeField(null=True, blank=True)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )

    def __str__(self) -> str:
        return self.barcode


class TubeMember(models.Model):
    tube = unchecked_reference(Tube, related_name="members")
    person = unchecked_reference("people.Person")
    sampled_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tube", "person"], name="tube_member_once")]
        indexes = [models.Index(fields=["person", "sampled_at"], name="tube_member_person")]

    def __str__(self) -> str:
        return f"{self.tube_id}:{self.person_id}"


class ResultUpload(models.Model):
    """Every result as the lab sent it, kept even when it conflicts with an earlier one."""

    tube = models.ForeignKey(Tube, on_delete=models.PROTECT, related_name="uploads")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    ct_value = models.FloatField(null=True, blank=True)
    lab = models.CharField(max_length=100)
    received_at = models.DateTimeField(auto_now_add=True)
    applied = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.tube_id} {self.outcome}"


class PersonTest(models.Model):
    """A person's own result: from a negative pool, or an individual (re)test."""

    person = unchecked_reference("people.Person")
    sampled_at = models.DateTimeField()
    reported_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True)  # blank: due
    pooled = models.BooleanField(default=False)
    tube = unchecked_reference(Tube, null=True)
    retest_of = unchecked_reference(Tube, null=True)

    class Meta:
        indexes = [
            models.Index(fields=["person", "sampled_at"], name="person_test_person"),
            # Recalls still due (the sampling page lists them): a few rows among millions, so
            # a partial index instead of indexing every row's tube.
            models.Index(
                fields=["sampled_at"],
                name="person_test_due",
                condition=models.Q(outcome="", retest_of__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person_id} {self.outcome or 'due'} {self.sampled_at}"
