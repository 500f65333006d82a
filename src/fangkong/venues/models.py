"""Venues and the check-ins recorded there: the "big data" that tracing runs on.

Venue codes (signed posters) and live scanning build on these tables (health-code issue); the
synthetic city fills them for demos and tests.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

# Labels of the venue kinds the synthetic city and venue registration use (epicore.synth.venues).
VENUE_KIND_LABELS = {
    "restaurant": _("restaurant"),
    "convenience_store": _("convenience store"),
    "supermarket": _("supermarket"),
    "wet_market": _("wet market"),
    "shopping_mall": _("shopping mall"),
    "office_building": _("office building"),
    "factory": _("factory"),
    "kindergarten": _("kindergarten"),
    "primary_school": _("primary school"),
    "middle_school": _("middle school"),
    "university": _("university"),
    "hospital": _("hospital"),
    "clinic": _("clinic"),
    "pharmacy": _("pharmacy"),
    "gym": _("gym"),
    "cinema": _("cinema"),
    "ktv": _("KTV"),
    "internet_cafe": _("internet cafe"),
    "hotel": _("hotel"),
    "bus_station": _("bus station"),
    "metro_station": _("metro station"),
    "train_station": _("train station"),
    "barbershop": _("barbershop"),
    "bank": _("bank"),
    "government_office": _("government office"),
}


class Venue(models.Model):
    kind = models.CharField(_("kind"), max_length=32, db_index=True)
    name = models.CharField(_("name"), max_length=100)
    jurisdiction = models.ForeignKey(
        "geo.Jurisdiction", verbose_name=_("location"), on_delete=models.PROTECT, related_name="+"
    )
    address = models.CharField(_("address detail"), max_length=200, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lon = models.FloatField(_("longitude"), null=True, blank=True)
    capacity = models.PositiveIntegerField(_("capacity"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("venue")
        verbose_name_plural = _("venues")

    def __str__(self) -> str:
        return self.name

    @property
    def kind_label(self) -> str:
        return str(VENUE_KIND_LABELS.get(self.kind, self.kind))


class CheckInSource(models.TextChoices):
    VENUE_CODE = "venue_code", _("resident scanned the venue code")
    HEALTH_CODE = "health_code", _("venue scanned the resident's code")
    ID_CARD = "id_card", _("ID card entered at a checkpoint")
    ITINERARY = "itinerary", _("from an investigation itinerary")
    SYNTHETIC = "synthetic", _("synthetic city")


class CheckIn(models.Model):
    person = models.ForeignKey(
        "people.Person", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    venue = models.ForeignKey(Venue, on_delete=models.PROTECT, related_name="+", db_index=False)
    t_in = models.DateTimeField(_("time in"))
    t_out = models.DateTimeField(_("time out"), null=True, blank=True)
    source = models.CharField(max_length=16, choices=CheckInSource.choices)

    class Meta:
        verbose_name = _("check-in")
        verbose_name_plural = _("check-ins")
        indexes = [
            models.Index(fields=["venue", "t_in"], name="checkin_venue_time"),
            models.Index(fields=["person", "t_in"], name="checkin_person_time"),
        ]

    def __str__(self) -> str:
        return f"{self.person_id}@{self.venue_id} {self.t_in:%Y-%m-%d %H:%M}"
