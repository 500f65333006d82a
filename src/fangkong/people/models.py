"""One record per person, keyed by identity document; deduplicated on the document number."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from epicore import idcard


class DocType(models.TextChoices):
    RESIDENT_ID = idcard.RESIDENT_ID, _("resident identity card")
    PASSPORT = idcard.PASSPORT, _("passport")
    HK_MACAO_PERMIT = idcard.HK_MACAO_PERMIT, _("Hong Kong/Macao permit")
    TAIWAN_PERMIT = idcard.TAIWAN_PERMIT, _("Taiwan permit")
    FOREIGN_PERMANENT_ID = idcard.FOREIGN_PERMANENT_ID, _("foreigner permanent residence card")
    OTHER = idcard.OTHER, _("other document")


class Sex(models.TextChoices):
    MALE = "M", _("male")
    FEMALE = "F", _("female")
    UNKNOWN = "U", _("unknown")


class Person(models.Model):
    doc_type = models.CharField(_("document type"), max_length=24, choices=DocType.choices)
    doc_number = models.CharField(_("document number"), max_length=32)
    nationality = models.CharField(_("nationality"), max_length=3, default="CHN")
    name = models.CharField(_("name"), max_length=64, db_index=True)
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices, default=Sex.UNKNOWN)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    phone = models.CharField(_("mobile phone"), max_length=20, blank=True, db_index=True)
    jurisdiction = models.ForeignKey(
        "geo.Jurisdiction",
        verbose_name=_("current address"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # covered by the (jurisdiction, id) index below
    )
    address = models.CharField(_("address detail"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")
        constraints = [
            models.UniqueConstraint(
                fields=["doc_type", "nationality", "doc_number"], name="person_unique_document"
            )
        ]
        indexes = [
            # Subtree lists page by (jurisdiction, id): a range on the code then keyset on id.
            models.Index(fields=["jurisdiction", "id"], name="person_jurisdiction_id"),
            models.Index(fields=["doc_number"], name="person_doc_number"),
        ]

    def __str__(self) -> str:
        return f"{idcard.mask_name(self.name)} {self.masked_document}"

    @property
    def masked_document(self) -> str:
        return idcard.mask_document(self.doc_number)

    @property
    def masked_phone(self) -> str:
        return idcard.mask_phone(self.phone) if self.phone else ""
