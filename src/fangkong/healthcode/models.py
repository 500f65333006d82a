"""Each person's current health-code colour, every change of it, and the signing keys.

The colour itself is computed by epicore.healthcode (a pure function of facts and a rule set);
this app stores the result, the history (赋码/转码 with old and new colour, reasons, rule-set
version and trigger) and the public half of the signing keys.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from fangkong.batches import unchecked_reference


class ColourChoice(models.TextChoices):
    GREEN = "green", _("green")
    YELLOW = "yellow", _("yellow")
    RED = "red", _("red")


class CodeState(models.Model):
    person = models.OneToOneField(
        "people.Person", on_delete=models.PROTECT, primary_key=True, related_name="+"
    )
    colour = models.CharField(max_length=8, choices=ColourChoice.choices)
    rule_set = models.CharField(max_length=16)
    reasons = models.JSONField(default=list)  # [{code, zh, en, condition_zh, condition_en, ...}]
    until = models.DateTimeField(null=True, blank=True)
    # The scheduler recolours a person when this time passes (e.g. 7 days after exposure).
    next_check_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Pseudonymous subject in the person's tokens (HMAC of the person id): scans find the person
    # by it without the token ever carrying an ID number.
    subject = models.CharField(max_length=32)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # A constraint, not unique=True: on PostgreSQL that adds a second (LIKE) index on
        # subject, which nothing searches by prefix and every first code paid for.
        constraints = [models.UniqueConstraint(fields=["subject"], name="code_subject_once")]

    def __str__(self) -> str:
        return f"{self.person_id}: {self.colour}"


class ColourChange(models.Model):
    # Written by the million when a tracing run recolours its contacts, always for a person just
    # read (recolour's facts): unchecked, and indexed by colour_change_person.
    person = unchecked_reference("people.Person")
    at = models.DateTimeField()
    old_colour = models.CharField(max_length=8, blank=True)  # blank: first assignment (赋码)
    new_colour = models.CharField(max_length=8, choices=ColourChoice.choices)
    reasons = models.JSONField(default=list)
    rule_set = models.CharField(max_length=16)
    trigger_kind = models.CharField(max_length=16)
    trigger_ref = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [models.Index(fields=["person", "at"], name="colour_change_person")]

    def __str__(self) -> str:
        return f"{self.person_id} {self.old_colour or '-'} -> {self.new_colour} at {self.at}"


class SigningKey(models.Model):
    """Public part and schedule of a signing key; the private key is derived from the server
    secret (FANGKONG_SECRET_KEY) and `salt`, so a copy of the database alone cannot sign."""

    kid = models.CharField(max_length=32, primary_key=True)
    purpose = models.CharField(max_length=16)
    salt = models.CharField(max_length=64)
    public_key = models.CharField(max_length=64)  # base64url raw Ed25519
    not_before = models.DateTimeField()
    signs_until = models.DateTimeField(null=True, blank=True)
    verify_until = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.purpose} {self.kid}"


class OverrideState(models.TextChoices):
    PENDING = "pending", _("awaiting approval")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")
    ENDED = "ended", _("ended")


class ColourOverride(models.Model):
    """A manual colour (e.g. a data error being corrected): requested by one person, in force only
    after a second, different person approves it; always with a reason and an end."""

    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")
    colour = models.CharField(_("colour"), max_length=8, choices=ColourChoice.choices)
    reason = models.CharField(_("reason"), max_length=300)
    until = models.DateTimeField(_("until"))
    state = models.CharField(
        max_length=8, choices=OverrideState.choices, default=OverrideState.PENDING
    )
    requested_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"override {self.person_id} -> {self.colour} ({self.state})"


class AppealState(models.TextChoices):
    OPEN = "open", _("open")
    ANSWERED = "answered", _("answered")


class Appeal(models.Model):
    """A resident disputes their colour; staff of their jurisdiction must answer by `due_at`."""

    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")
    colour = models.CharField(max_length=8, choices=ColourChoice.choices)  # when filed
    text = models.CharField(_("what is wrong"), max_length=1000)
    filed_at = models.DateTimeField(auto_now_add=True)
    due_at = models.DateTimeField(_("answer due"))
    state = models.CharField(max_length=8, choices=AppealState.choices, default=AppealState.OPEN)
    answer = models.CharField(_("answer"), max_length=1000, blank=True)
    answered_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "due_at"], name="appeal_due")]

    def __str__(self) -> str:
        return f"appeal {self.pk} of {self.person_id} ({self.state})"


class RuleSetSwitch(models.Model):
    """The colour rule set in force changed (its effective date passed): one row per version,
    so the recolouring of everyone it calls for is queued exactly once, however many workers
    notice the change at the same moment."""

    version = models.CharField(max_length=16, unique=True)
    previous = models.CharField(max_length=16, blank=True)  # blank: the first one seen
    effective_from = models.DateTimeField()
    detected_at = models.DateTimeField()
    job = models.ForeignKey("jobs.Job", on_delete=models.SET_NULL, null=True, blank=True)

    def __str__(self) -> str:
        return f"rule set {self.previous or '-'} -> {self.version}"
