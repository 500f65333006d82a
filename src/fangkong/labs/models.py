"""Nucleic acid testing (核酸检测): pooled tubes (混采) and their members, results, retests.

A tube is opened at a site, residents are scanned into it up to its size, it is sealed and sent
to a lab. A negative tube makes every member negative; a positive or suspicious tube recalls
every member for an individual retest (单采复核), whose result is the person's own.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class TubeState(models.TextChoices):
    OPEN = "open", _("open")
    SEALED = "sealed", _("sealed")
    RESULTED = "resulted", _("resulted")
    HELD = "held", _("held for review")  # conflicting results: never overwritten silently


class Outcome(models.TextChoices):
    NEGATIVE = "negative", _("negative")
    POSITIVE = "positive", _("positive")
    SUSPICIOUS = "suspicious", _("suspicious")


class Tube(models.Model):
    barcode = models.CharField(_("tube barcode"), max_length=32, unique=True)
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
    tube = models.ForeignKey(Tube, on_delete=models.PROTECT, related_name="members")
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")
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

    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")
    sampled_at = models.DateTimeField()
    reported_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True)  # blank: due
    pooled = models.BooleanField(default=False)
    tube = models.ForeignKey(Tube, on_delete=models.PROTECT, related_name="+", null=True)
    retest_of = models.ForeignKey(Tube, on_delete=models.PROTECT, related_name="+", null=True)

    class Meta:
        indexes = [models.Index(fields=["person", "sampled_at"], name="person_test_person")]

    def __str__(self) -> str:
        return f"{self.person_id} {self.outcome or 'due'} {self.sampled_at}"
