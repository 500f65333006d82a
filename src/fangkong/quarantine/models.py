"""Centralized quarantine sites (集中隔离场所), their rooms and staff, the stays in them, closed-loop
transfers (闭环转运), twice-daily monitoring with alerts, and the home follow-up after release."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class SiteKind(models.TextChoices):
    HOTEL = "hotel", _("hotel")
    PURPOSE_BUILT = "purpose_built", _("purpose-built site")
    HOSPITAL_WARD = "hospital_ward", _("hospital ward")


class Site(models.Model):
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=SiteKind.choices, default="hotel")
    jurisdiction = models.ForeignKey("geo.Jurisdiction", on_delete=models.PROTECT, related_name="+")
    address = models.CharField(_("address"), max_length=200, blank=True)
    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    standby = models.BooleanField(_("in reserve"), default=False)  # activated when needed
    activated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class RoomState(models.TextChoices):
    FREE = "free", _("free")
    OCCUPIED = "occupied", _("occupied")
    CLEANING = "cleaning", _("cleaning and disinfection")
    OUT_OF_SERVICE = "out_of_service", _("out of service")


class Duty(models.TextChoices):
    MANAGER = "manager", _("site manager")
    DOCTOR = "doctor", _("site doctor")
    NURSE = "nurse", _("nurse")


class SiteStaff(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="staff")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    duty = models.CharField(_("duty"), max_length=16, choices=Duty.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "user"], name="site_staff_once")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.duty} at {self.site_id}"


class RoomKind(models.TextChoices):
    SINGLE = "single", _("single room")
    FAMILY = "family", _("family room")  # for declared groups (a child with a guardian)
    ACCESSIBLE = "accessible", _("accessible room")


class Room(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="rooms")
    number = models.CharField(_("room"), max_length=16)
    kind = models.CharField(_("kind"), max_length=16, choices=RoomKind.choices, default="single")
    beds = models.PositiveSmallIntegerField(default=1)
    state = models.CharField(max_length=16, choices=RoomState.choices, default=RoomState.FREE)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "number"], name="room_number")]
        indexes = [models.Index(fields=["state", "site"], name="room_state")]

    def __str__(self) -> str:
        return f"{self.site_id}-{self.number}"


class StayOutcome(models.TextChoices):
    RELEASED = "released", _("released")
    BECAME_CASE = "became_case", _("became a case")
    CANCELLED = "cancelled", _("cancelled")


class Stay(models.Model):
    """A room held for a person: from assignment (room reserved) through check-in to release."""

    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")
    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="stays")
    category = models.CharField(max_length=16)  # close / secondary / inbound / case
    group = models.CharField(max_length=32, blank=True)
    started_at = models.DateTimeField()  # assigned; the room is held from here
    # The regimen is fixed at entry (epicore.regimens): rule set key, and the exposure it counts
    # from; planned_end_at is when the first phase may end if every test is negative.
    rules = models.CharField(max_length=16, blank=True)
    last_exposure_at = models.DateTimeField(null=True, blank=True)
    planned_end_at = models.DateTimeField(null=True, blank=True)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=StayOutcome.choices, blank=True)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )

    class Meta:
        constraints = [
            # A person is in one place at a time: a second open stay is refused by the database.
            models.UniqueConstraint(
                fields=["person"], condition=Q(ended_at__isnull=True), name="one_open_stay"
            )
        ]

    def __str__(self) -> str:
        return f"{self.person_id} in {self.room_id}"


class TransferState(models.TextChoices):
    PLANNED = "planned", _("planned")
    EN_ROUTE = "en_route", _("en route")
    ARRIVED = "arrived", _("arrived")
    CANCELLED = "cancelled", _("cancelled")


class Transfer(models.Model):
    """A closed-loop transfer order (闭环转运): one vehicle and escort, point to point."""

    stay = models.ForeignKey(Stay, on_delete=models.PROTECT, related_name="transfers")
    vehicle = models.CharField(_("vehicle"), max_length=32)
    escort = models.CharField(_("escort"), max_length=64)
    pickup_place = models.CharField(_("pick-up place"), max_length=200)
    pickup_at = models.DateTimeField(_("pick-up time"))
    state = models.CharField(max_length=16, choices=TransferState.choices, default="planned")
    departed_at = models.DateTimeField(null=True, blank=True)
    arrived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )

    class Meta:
        constraints = [
            # One live order per stay: a second vehicle for the same person is a mistake.
            models.UniqueConstraint(
                fields=["stay"],
                condition=Q(state__in=["planned", "en_route"]),
                name="one_live_transfer",
            )
        ]

    def __str__(self) -> str:
        return f"transfer {self.pk} for stay {self.stay_id}"


class Slot(models.TextChoices):
    MORNING = "am", _("morning")
    EVENING = "pm", _("evening")


class Reading(models.Model):
    """Temperature and symptoms, twice a day (每日早晚各一次体温检测和症状监测)."""

    stay = models.ForeignKey(Stay, on_delete=models.PROTECT, related_name="readings")
    day = models.DateField()
    slot = models.CharField(max_length=2, choices=Slot.choices)
    taken_at = models.DateTimeField()
    temperature = models.DecimalField(max_digits=3, decimal_places=1)
    symptoms = models.JSONField(default=list)
    by_resident = models.BooleanField(default=False)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["stay", "day", "slot"], name="one_reading_per_slot")
        ]

    def __str__(self) -> str:
        return f"{self.stay_id} {self.day} {self.slot}: {self.temperature}"


class Alert(models.Model):
    """An abnormal reading, for the site doctor to see to."""

    stay = models.ForeignKey(Stay, on_delete=models.PROTECT, related_name="alerts")
    reading = models.OneToOneField(Reading, on_delete=models.PROTECT, related_name="alert")
    reasons = models.JSONField(default=list)  # ["fever", "cough", ...]
    raised_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    note = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"alert {self.pk} for stay {self.stay_id}"


class HomeMonitoring(models.Model):
    """The phase after release: home quarantine or home health monitoring, followed by the
    grid worker of the person's grid (解除集中隔离人员的后续健康管理)."""

    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")
    stay = models.ForeignKey(Stay, on_delete=models.PROTECT, related_name="+")
    jurisdiction = models.ForeignKey("geo.Jurisdiction", on_delete=models.PROTECT, related_name="+")
    setting = models.CharField(max_length=20)  # epicore.regimens HOME or MONITORING
    rules = models.CharField(max_length=16)
    phase = models.PositiveSmallIntegerField()  # index into the regimen's phases
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)  # early end: became a case

    def __str__(self) -> str:
        return f"{self.person_id} {self.setting} until {self.ends_at:%Y-%m-%d}"


class FollowUpKind(models.TextChoices):
    VISIT = "visit", _("health check")
    TEST = "test", _("nucleic acid test")


class FollowUp(models.Model):
    monitoring = models.ForeignKey(HomeMonitoring, on_delete=models.PROTECT, related_name="tasks")
    due = models.DateField()
    kind = models.CharField(max_length=8, choices=FollowUpKind.choices)
    test_day = models.PositiveSmallIntegerField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["monitoring", "due", "kind"], name="one_task_a_day")
        ]
        indexes = [models.Index(fields=["due", "done_at"], name="followup_due")]

    def __str__(self) -> str:
        return f"{self.kind} {self.due} for {self.monitoring_id}"
