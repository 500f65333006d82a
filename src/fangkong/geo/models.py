"""The jurisdiction tree: province > city > county > township > community/village > grid.

The division code is the primary key and, because every code starts with its parent's code, also
the materialized path: records that point to a node store its code, and "everything under X" is
a range scan on that column (`in_subtree`), with no join and no recursive query.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from epicore import divisions


class Level(models.TextChoices):
    PROVINCE = divisions.PROVINCE, _("province")
    CITY = divisions.CITY, _("city")
    COUNTY = divisions.COUNTY, _("county")
    TOWNSHIP = divisions.TOWNSHIP, _("township")
    COMMUNITY = divisions.COMMUNITY, _("community/village")
    GRID = divisions.GRID, _("grid")


class Jurisdiction(models.Model):
    code = models.CharField(_("code"), max_length=15, primary_key=True)
    name = models.CharField(_("name"), max_length=64)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("jurisdiction")
        verbose_name_plural = _("jurisdictions")

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def ancestor_codes(self) -> list[str]:
        """Codes from the province down to this node's parent."""
        codes = []
        code = divisions.parent_code_of(self.code)
        while code:
            codes.insert(0, code)
            code = divisions.parent_code_of(code)
        return codes

    def contains(self, code: str | None) -> bool:
        return bool(code) and code.startswith(self.code)


def in_subtree(field: str, code: str) -> Q:
    """Q for rows whose `field` (a jurisdiction code) lies in the subtree rooted at `code`."""
    low, high = divisions.subtree_bounds(code)
    condition = Q(**{f"{field}__gte": low})
    if high is not None:
        condition &= Q(**{f"{field}__lt": high})
    return condition
