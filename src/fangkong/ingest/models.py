"""Scanner devices: what authenticates a venue's scanner to the ingestion endpoint.

A device is registered for one venue and gets a signed device token (docs/ingest.md). The token
is checked in the server process without a database round trip (HMAC under a key derived from
the server secret); this table holds what a signature cannot: revocation, and who issued it.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ScannerDevice(models.Model):
    venue = models.ForeignKey("venues.Venue", on_delete=models.PROTECT, related_name="+")
    label = models.CharField(_("label"), max_length=64, blank=True)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    issued_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("scanner device")
        verbose_name_plural = _("scanner devices")

    def __str__(self) -> str:
        return f"scanner {self.pk} of venue {self.venue_id}"
