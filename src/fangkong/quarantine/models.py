"""Centralized quarantine sites (集中隔离场所), their rooms, and the stays in them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Site(models.Model):
    name = models.CharField(_("name"), max_length=100)
    jurisdiction = models.ForeignKey("geo.Jurisdiction", on_delete=models.PROTECT, related_name="+")
    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    standby = models.BooleanField(_("in reserve"), default=False)  # activated when needed

    def __str__(self) -> str:
        return self.name


class RoomState(models.TextChoices):
    FREE = "free", _("free")
    OCCUPIED = "occupied", _("occupied")
    CLEANING = "cleaning", _("cleaning and disinfection")
    OUT_OF_SERVICE = "out_of_service", _("out of service")


class Room(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="rooms")
    number = models.CharField(_("room"), max_length=16)
    beds = models.PositiveSmallIntegerField(default=1)
    state = models.CharField(max_length=16, choices=RoomState.choices, default=RoomState.FREE)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "number"], name="room_number")]
        indexes = [models.Index(fields=["state", "site"], name="room_state")]

    def __str__(self) -> str:
        return f"{self.site_id}-{self.number}"


class Stay(models.Model):
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")
    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="stays")
    category = models.CharField(max_length=16)  # close / secondary / inbound / case
    group = models.CharField(max_length=32, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
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
