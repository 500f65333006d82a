"""Every write to people: check_* validates (collecting every problem), do_* writes and audits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from epicore import idcard
from epicore.errors import ValidationError
from fangkong.accounts import audit
from fangkong.accounts.roles import EDIT_PEOPLE
from fangkong.batches import chunks
from fangkong.errors import FieldErrors
from fangkong.geo.models import Jurisdiction
from fangkong.people.messages import message_for
from fangkong.people.models import DocType, Person, Sex

FIELDS = ("doc_type", "doc_number", "nationality", "name", "phone", "jurisdiction", "address")


class PersonInvalid(FieldErrors):
    pass


@dataclass(frozen=True)
class CleanPerson:
    doc_type: str
    doc_number: str
    nationality: str
    name: str
    sex: str
    birth_date: date | None
    phone: str
    jurisdiction_code: str
    address: str


def check_person(
    actor, data: Mapping[str, Any], known_codes: set[str] | None = None
) -> CleanPerson:
    """Validate one person's fields; raise PersonInvalid naming every bad field.

    `known_codes`, when given, holds the jurisdiction codes inside the actor's scope (imports
    load them once instead of asking the database for every row).
    """
    errors: dict[str, str] = {}
    doc_type = str(data.get("doc_type") or DocType.RESIDENT_ID).strip()
    doc_number, sex, birth = _check_document(doc_type, str(data.get("doc_number") or ""), errors)
    nationality = _check_nationality(doc_type, str(data.get("nationality") or ""), errors)
    name = _check_name(str(data.get("name") or ""), errors)
    phone = _check_phone(str(data.get("phone") or ""), errors)
    code = _check_jurisdiction(actor, str(data.get("jurisdiction") or ""), errors, known_codes)
    address = str(data.get("address") or "").strip()
    if len(address) > 200:
        errors["address"] = _("The address is longer than 200 characters.")
    if errors:
        raise PersonInvalid(errors)
    return CleanPerson(doc_type, doc_number, nationality, name, sex, birth, phone, code, address)


def _check_document(
    doc_type: str, raw: str, errors: dict[str, str]
) -> tuple[str, str, date | None]:
    if doc_type not in DocType.values:
        errors["doc_type"] = _("Unknown document type %(value)s.") % {"value": doc_type}
        return "", Sex.UNKNOWN, None
    try:
        if doc_type == DocType.RESIDENT_ID:
            parsed = idcard.parse_resident_id(raw)
            return parsed.number, parsed.sex, parsed.birth_date
        return idcard.validate_document(doc_type, raw), Sex.UNKNOWN, None
    except ValidationError as error:
        errors["doc_number"] = message_for(error)
        return "", Sex.UNKNOWN, None


def _check_nationality(doc_type: str, raw: str, errors: dict[str, str]) -> str:
    if doc_type == DocType.RESIDENT_ID:
        return "CHN"
    code = idcard.normalize_text(raw) or ("CHN" if doc_type != DocType.PASSPORT else "")
    if len(code) != 3 or not code.isalpha():
        errors["nationality"] = _("Give the nationality as a 3-letter ISO 3166 code (e.g. USA).")
    return code


def _check_name(raw: str, errors: dict[str, str]) -> str:
    name = " ".join(raw.split())
    if not name:
        errors["name"] = _("The name is empty.")
    elif len(name) > 64:
        errors["name"] = _("The name is longer than 64 characters.")
    return name


def _check_phone(raw: str, errors: dict[str, str]) -> str:
    if not raw.strip():
        return ""  # children and some elderly have none; the health code falls back to the ID card
    try:
        return idcard.normalize_phone(raw)
    except ValidationError as error:
        errors["phone"] = message_for(error)
        return ""


def _check_jurisdiction(
    actor, raw: str, errors: dict[str, str], known_codes: set[str] | None = None
) -> str:
    code = idcard.normalize_text(raw)
    if known_codes is not None and code in known_codes:
        return code
    if not code:
        errors["jurisdiction"] = _("The address jurisdiction code is empty.")
    elif not Jurisdiction.objects.filter(code=code).exists():
        errors["jurisdiction"] = _("Unknown jurisdiction code %(code)s.") % {"code": code}
    elif actor is not None and not code.startswith(actor.scope_code or "-"):
        errors["jurisdiction"] = _("Jurisdiction %(code)s is outside your jurisdiction.") % {
            "code": code
        }
    return code


def check_may_edit(actor) -> None:
    if actor is not None and not actor.can(EDIT_PEOPLE):
        raise PermissionError("this role may not register or change people")


def existing_person(clean: CleanPerson) -> Person | None:
    return Person.objects.filter(
        doc_type=clean.doc_type, nationality=clean.nationality, doc_number=clean.doc_number
    ).first()


def _fields_of(clean: CleanPerson) -> dict[str, Any]:
    return {
        "name": clean.name,
        "sex": clean.sex,
        "birth_date": clean.birth_date,
        "phone": clean.phone,
        "jurisdiction_id": clean.jurisdiction_code,
        "address": clean.address,
    }


class DuplicatePerson(Exception):
    pass


def do_register_person(actor, clean: CleanPerson) -> Person:
    """Create a person; refuse a second record for the same document."""
    check_may_edit(actor)
    try:
        with transaction.atomic():
            person = Person.objects.create(
                doc_type=clean.doc_type,
                doc_number=clean.doc_number,
                nationality=clean.nationality,
                **_fields_of(clean),
            )
            audit.record(
                actor,
                "person.create",
                object_type="person",
                object_id=person.pk,
                jurisdiction_code=person.jurisdiction_id,
            )
    except IntegrityError:
        raise DuplicatePerson(clean.doc_number) from None
    return person


def do_update_person(actor, person: Person, clean: CleanPerson, reason: str = "") -> list[str]:
    """Update a person's details (same document); return and audit the fields that changed."""
    check_may_edit(actor)
    changes = {k: v for k, v in _fields_of(clean).items() if getattr(person, k) != v}
    if not changes:
        return []
    with transaction.atomic():
        Person.objects.filter(pk=person.pk).update(**changes)
        person.refresh_from_db()
        audit.record(
            actor,
            "person.update",
            object_type="person",
            object_id=person.pk,
            jurisdiction_code=person.jurisdiction_id,
            reason=reason,
            details={"fields": sorted(changes)},
        )
    return sorted(changes)


@dataclass
class RowError:
    row: int
    field: str
    message: str


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    committed: bool = False

    @property
    def bad_rows(self) -> int:
        return len({e.row for e in self.errors})


def import_people(
    actor, rows: Iterable[tuple[int, Mapping[str, Any]]], keep_good_rows: bool = False
) -> ImportReport:
    """Import (row number, fields) pairs: all rows or none unless `keep_good_rows`.

    A document already registered inside the actor's jurisdiction is updated, not duplicated;
    one registered elsewhere, or repeated in the file, is reported against its row.
    """
    check_may_edit(actor)
    report = ImportReport()
    good = _check_rows(actor, rows, report)
    if report.errors and not keep_good_rows:
        return report
    with transaction.atomic():
        for clean, person in good:
            _import_one(actor, clean, person, report)
        audit.record(
            actor,
            "person.import",
            object_type="person",
            jurisdiction_code=actor.scope_code if actor else "",
            details={
                "rows": report.rows,
                "created": report.created,
                "updated": report.updated,
                "bad_rows": report.bad_rows,
            },
        )
    report.committed = True
    return report


def scope_codes(actor) -> set[str]:
    from fangkong.geo.models import in_subtree

    if actor is None or not actor.scope_code:
        return set()
    return set(
        Jurisdiction.objects.filter(in_subtree("code", actor.scope_code)).values_list(
            "code", flat=True
        )
    )


def _check_rows(actor, rows, report: ImportReport) -> list[tuple[CleanPerson, Person | None]]:
    """Validate every row; return the good ones with the person each matches, if any."""
    known = scope_codes(actor)
    checked: list[tuple[int, CleanPerson]] = []
    seen: dict[tuple[str, str, str], int] = {}
    for row, data in rows:
        report.rows += 1
        if data.get("_short"):
            message = _("The row has fewer columns than the header: the file may be truncated.")
            report.errors.append(RowError(row, "", message))
            continue
        try:
            clean = check_person(actor, data, known)
        except PersonInvalid as invalid:
            report.errors += [RowError(row, f, m) for f, m in invalid.errors.items()]
            continue
        key = (clean.doc_type, clean.nationality, clean.doc_number)
        if key in seen:
            message = _("The same document appears in row %(row)s.") % {"row": seen[key]}
            report.errors.append(RowError(row, "doc_number", message))
            continue
        seen[key] = row
        checked.append((row, clean))
    return _match_existing(actor, checked, report)


def _match_existing(actor, checked, report: ImportReport):
    existing = _existing_by_document([clean.doc_number for _, clean in checked])
    good = []
    for row, clean in checked:
        person = existing.get((clean.doc_type, clean.nationality, clean.doc_number))
        if (
            person
            and actor is not None
            and not person.jurisdiction_id.startswith(actor.scope_code or "-")
        ):
            message = _("This person is registered in another jurisdiction; ask them to transfer.")
            report.errors.append(RowError(row, "doc_number", message))
            continue
        good.append((clean, person))
    return good


def _existing_by_document(numbers: list[str]) -> dict[tuple[str, str, str], Person]:
    found: dict[tuple[str, str, str], Person] = {}
    for chunk in chunks(numbers, 500):
        for person in Person.objects.filter(doc_number__in=chunk):
            found[(person.doc_type, person.nationality, person.doc_number)] = person
    return found


def _import_one(actor, clean: CleanPerson, person: Person | None, report: ImportReport) -> None:
    if person is None:
        do_register_person(actor, clean)
        report.created += 1
    elif do_update_person(actor, person, clean, reason="import"):
        report.updated += 1
    else:
        report.unchanged += 1
