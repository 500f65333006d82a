"""Case, contact and relationship lists exported by Go.Data (WHO's outbreak tool), imported into
cases and contacts with a mapping report (docs/godata.md).

Where the layouts come from (WorldHealthOrganization/GoDataSource-API):
- column labels: the `fieldLabelsMap` of components/baseModelOptions/case.js and
  common/models/relationship.js (firstName -> LNG_CASE_FIELD_LABEL_FIRST_NAME, contactDate ->
  LNG_RELATIONSHIP_FIELD_LABEL_CONTACT_DATE, documents[].number, addresses[].locationId, ...),
  and the English texts of those tokens in server/config/languages/english_us.json ("Date of
  onset", "Date of reporting", "Date of last contact", "Exposure type", "Visual ID", ...);
  newer releases call the visual ID "Case ID" / "Contact ID".
- values: the reference data in the same english_us.json (LNG_REFERENCE_DATA_CATEGORY_CASE_
  CLASSIFICATION_*, _GENDER_*, _OUTCOME_*, _RISK_LEVEL_*, _DOCUMENT_TYPE_*). An export holds
  either the tokens or their English texts, depending on the export options; both are read.
- flat exports spell nested fields as "Documents Type [1]", "addresses[0].locationId" or
  "addresses:phoneNumber" (godata repository, interoperability-jobs/2a-getGoDataCases.js):
  headers are therefore compared on their letters only, case-insensitively.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from epicore import idcard
from epicore.errors import ValidationError
from fangkong.accounts import audit
from fangkong.accounts.roles import EDIT_CASES, EDIT_PEOPLE
from fangkong.cases import actions
from fangkong.cases.models import (
    Case,
    CaseEvent,
    Classification,
    Degree,
    Exposure,
    ExposureSource,
    Outcome,
)
from fangkong.geo.models import Jurisdiction, in_subtree
from fangkong.people import importing
from fangkong.people.actions import PersonInvalid, check_person, do_register_person, scope_codes
from fangkong.people.importing import FileProblem, Layout
from fangkong.people.messages import message_for
from fangkong.people.models import DocType, Person, Sex

# Fields every person list has (cases and contacts are both Go.Data "persons").
PERSON_HEADERS = {
    "first_name": ("First name", "firstName", "名"),
    "middle_name": ("Middle name", "middleName"),
    "last_name": ("Last name", "lastName", "姓"),
    "gender": ("Gender", "性别"),
    "dob": ("Date of birth", "dob", "出生日期"),
    "doc_type": ("Documents type", "Document type", "证件类型"),
    "doc_number": ("Documents number", "Document number", "证件号码"),
    "location": ("Addresses location", "Addresses location ID", "Location", "Area", "现住址编码"),
    "address": ("Addresses address line 1", "Address", "Address line 1", "详细地址"),
    "phone": ("Addresses phone number", "Phone number", "Phone", "手机号码"),
}
CASES = Layout(
    {
        "id": ("ID", "_id"),
        "visual_id": ("Case ID", "Visual ID", "visualId"),
        **PERSON_HEADERS,
        "classification": ("Classification", "病例分类"),
        "onset": ("Date of onset", "dateOfOnset", "发病日期"),
        "reported": ("Date of reporting", "dateOfReporting", "报告日期"),
        "outcome": ("Outcome", "Outcome ID", "outcomeId", "转归"),
    },
    required=("id", "classification"),
)
CONTACTS = Layout(
    {
        "id": ("ID", "_id"),
        "visual_id": ("Contact ID", "Visual ID", "visualId"),
        **PERSON_HEADERS,
        "risk": ("Risk level", "riskLevel", "风险等级"),
        "last_contact": ("Date of last contact", "dateOfLastContact", "末次接触日期"),
    },
    required=("id",),
)
RELATIONSHIPS = Layout(
    {
        "id": ("ID", "_id"),
        "source": ("Source", "Source ID", "Source person", "Source person ID", "传播源"),
        "target": ("Target", "Target ID", "Target person", "Target person ID", "接触者"),
        "contact_date": ("Date of last contact", "contactDate", "末次接触日期"),
        "first_contact": ("Date of first contact", "dateOfFirstContact"),
        "exposure_type": ("Exposure type", "exposureTypeId", "暴露方式"),
    },
    required=("source", "target"),
)

# Go.Data reference data -> ours. "Probable" has no class of its own in the Chinese protocol:
# it is not laboratory-confirmed, so it is a suspected case here. Asymptomatic infection is not
# in Go.Data's defaults; outbreaks that add it use the token below.
CLASSIFICATION = {
    "LNG_REFERENCE_DATA_CATEGORY_CASE_CLASSIFICATION_CONFIRMED": Classification.CONFIRMED,
    "Confirmed": Classification.CONFIRMED,
    "确诊病例": Classification.CONFIRMED,
    "LNG_REFERENCE_DATA_CATEGORY_CASE_CLASSIFICATION_PROBABLE": Classification.SUSPECTED,
    "Probable": Classification.SUSPECTED,
    "LNG_REFERENCE_DATA_CATEGORY_CASE_CLASSIFICATION_SUSPECT": Classification.SUSPECTED,
    "Suspect": Classification.SUSPECTED,
    "疑似病例": Classification.SUSPECTED,
    "LNG_REFERENCE_DATA_CATEGORY_CASE_CLASSIFICATION_ASYMPTOMATIC": Classification.ASYMPTOMATIC,
    "Asymptomatic": Classification.ASYMPTOMATIC,
    "无症状感染者": Classification.ASYMPTOMATIC,
    "LNG_REFERENCE_DATA_CATEGORY_CASE_CLASSIFICATION_NOT_A_CASE_DISCARDED": Classification.EXCLUDED,
    "Not a case (discarded)": Classification.EXCLUDED,
}
GENDER = {
    "LNG_REFERENCE_DATA_CATEGORY_GENDER_MALE": Sex.MALE,
    "Male": Sex.MALE,
    "男": Sex.MALE,
    "LNG_REFERENCE_DATA_CATEGORY_GENDER_FEMALE": Sex.FEMALE,
    "Female": Sex.FEMALE,
    "女": Sex.FEMALE,
}
OUTCOME = {
    "LNG_REFERENCE_DATA_CATEGORY_OUTCOME_ALIVE": Outcome.UNDER_TREATMENT,
    "Alive": Outcome.UNDER_TREATMENT,
    "LNG_REFERENCE_DATA_CATEGORY_OUTCOME_RECOVERED": Outcome.RECOVERED,
    "Recovered": Outcome.RECOVERED,
    "LNG_REFERENCE_DATA_CATEGORY_OUTCOME_DECEASED": Outcome.DIED,
    "Deceased": Outcome.DIED,
}
# Read and checked, not stored: the register has no risk level (a contact's degree says how
# close they were, which Go.Data's contacts list does not distinguish: all are close contacts).
RISK = {
    "LNG_REFERENCE_DATA_CATEGORY_RISK_LEVEL_1_LOW": "low",
    "1 - Low": "low",
    "LNG_REFERENCE_DATA_CATEGORY_RISK_LEVEL_2_MEDIUM": "medium",
    "2 - Medium": "medium",
    "LNG_REFERENCE_DATA_CATEGORY_RISK_LEVEL_3_HIGH": "high",
    "3 - High": "high",
    "LNG_REFERENCE_DATA_CATEGORY_RISK_LEVEL_UNCLASSIFIED": "unclassified",
    "No classification": "unclassified",
}
DOC_TYPE = {
    "LNG_REFERENCE_DATA_CATEGORY_DOCUMENT_TYPE_NATIONAL_ID_CARD": DocType.RESIDENT_ID,
    "National ID card": DocType.RESIDENT_ID,
    "居民身份证": DocType.RESIDENT_ID,
    "身份证": DocType.RESIDENT_ID,
    "LNG_REFERENCE_DATA_CATEGORY_DOCUMENT_TYPE_PASSPORT": DocType.PASSPORT,
    "Passport": DocType.PASSPORT,
    "护照": DocType.PASSPORT,
    # Go.Data's other document types identify no one in the register: such a row is matched
    # as one without a document.
    "LNG_REFERENCE_DATA_CATEGORY_DOCUMENT_TYPE_VACCINATION_CARD": "none",
    "Vaccination card": "none",
    "LNG_REFERENCE_DATA_CATEGORY_DOCUMENT_TYPE_EXTERNAL_ID": "none",
    "External case ID": "none",
    "LNG_REFERENCE_DATA_CATEGORY_DOCUMENT_TYPE_OTHER": "none",
    "Other": "none",
}
NOT_AN_IDENTITY_DOCUMENT = "none"
VOCABULARIES = {
    "classification": CLASSIFICATION,
    "gender": GENDER,
    "outcome": OUTCOME,
    "risk": RISK,
    "doc_type": DOC_TYPE,
}
GODATA_ID = "godata_id"  # CaseEvent.field of the event that keeps a case's Go.Data ID

CASES_FILE, CONTACTS_FILE, RELATIONSHIPS_FILE = "cases", "contacts", "relationships"


def field_names() -> dict[str, str]:
    """What each field becomes in the register, for the report's column table."""
    return {
        "id": _("Go.Data ID (matched on a second import)"),
        "visual_id": _("Go.Data visual ID (relationships may name it)"),
        "first_name": _("name (given name)"),
        "middle_name": _("name (middle name)"),
        "last_name": _("name (family name)"),
        "gender": _("sex (when the document does not give it)"),
        "dob": _("birth date (when the document does not give it)"),
        "doc_type": _("document type"),
        "doc_number": _("document number (matches the register)"),
        "location": _("address jurisdiction (division code or place name)"),
        "address": _("address detail"),
        "phone": _("mobile phone"),
        "classification": _("case classification"),
        "onset": _("symptom onset"),
        "reported": _("reported at"),
        "outcome": _("outcome"),
        "risk": _("risk level (checked, not stored)"),
        "last_contact": _("last exposure (when the relationship has no date)"),
        "source": _("source case of the exposure"),
        "target": _("contact exposed"),
        "contact_date": _("last exposure"),
        "first_contact": _("exposure start"),
        "exposure_type": _("exposure place or manner"),
    }


@dataclass
class ColumnUse:
    file: str
    header: str
    field: str  # "" when ignored
    meaning: str  # what it became, or why it was ignored

    @property
    def file_name(self) -> str:
        return file_label(self.file)


@dataclass
class Problem:
    file: str
    row: int
    column: str
    message: str

    @property
    def file_name(self) -> str:
        return file_label(self.file)


def count_labels() -> dict[str, str]:
    return {
        "cases_opened": _("cases opened"),
        "cases_linked": _("cases matched to an open case of the same person"),
        "cases_unchanged": _("cases already imported, unchanged"),
        "cases_reclassified": _("cases reclassified"),
        "cases_discarded": _("cases discarded in Go.Data, skipped"),
        "people_registered": _("people registered"),
        "contacts_created": _("contacts created"),
        "exposures_added": _("exposures recorded"),
        "exposures_unchanged": _("exposures already recorded"),
        "contacts_who_are_cases": _("exposures of people who are cases, skipped"),
    }


@dataclass
class GoDataReport:
    columns: list[ColumnUse] = field(default_factory=list)
    # (file, column, value as written) -> [what it became, rows]
    translations: dict[tuple[str, str, str], list] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)  # rows (or cells) not imported
    notes: list[Problem] = field(default_factory=list)  # imported, or skipped on purpose
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def bad_rows(self) -> int:
        return len({(p.file, p.row) for p in self.problems})

    @property
    def count_rows(self) -> list[tuple[str, int]]:
        rows = [(_("rows read from the %(file)s file") % {"file": file_label(f)}, n)
                for f, n in self.rows.items()]  # fmt: skip
        return rows + [(label, self.counts.get(k, 0)) for k, label in count_labels().items()]

    @property
    def translation_rows(self) -> list[tuple[str, str, str, str, int]]:
        items = self.translations.items()
        return [(file_label(f), c, v, becomes, n) for (f, c, v), (becomes, n) in items]


class RowRejected(Exception):
    """The row's problems are in the report; roll back whatever the row wrote."""


def header_key(text: str) -> str:
    """Letters only, lower case: "Documents Number [1]", "documents[0].number" and
    "documentsNumber" are one column."""
    return "".join(ch for ch in str(text).lower() if ch.isalpha())


@dataclass
class Table:
    file: str
    columns: dict[str, str]  # field -> header as written
    rows: list[tuple[int, dict]]


def read_table(file: str, filename: str, data: bytes, layout: Layout, report) -> Table:
    """Match the header to the layout, report every column, and read the rows with the people
    importer's reader (encodings, Excel cells, merged cells, row numbers)."""
    header = _header_of(filename, data)
    columns = _match_columns(file, header, layout, report)
    missing = [layout.headers[f][0] for f in layout.required if f not in columns]
    if missing:
        raise FileProblem(
            _("The %(file)s file lacks the column(s): %(columns)s.")
            % {"file": file_label(file), "columns": ", ".join(missing)}
        )
    exact = Layout({f: (h,) for f, h in columns.items()}, ())
    return Table(file, columns, importing.read_table_file(filename, data, exact))


def _header_of(filename: str, data: bytes) -> list[str]:
    if filename.lower().endswith((".xlsx", ".xlsm")):
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
            first = next(sheet.iter_rows(values_only=True), ())
        except Exception:  # noqa: BLE001 - zip, XML or sheet damage all mean the same to the user
            raise FileProblem(_("The Excel file is damaged or truncated.")) from None
        return [importing._cell(c) for c in first]
    if filename.lower().endswith((".csv", ".txt")):
        text = importing._decode(data)  # UTF-8, else GBK: the people importer's rule
        return [c.strip() for c in next(csv.reader(io.StringIO(text, newline="")), [])]
    raise FileProblem(_("Upload a .csv or .xlsx file."))


def _match_columns(file: str, header: list[str], layout: Layout, report) -> dict[str, str]:
    lookup = {header_key(a): f for f, aliases in layout.headers.items() for a in aliases}
    names, columns = field_names(), {}
    for cell in header:
        if not cell:
            continue
        name = lookup.get(header_key(cell))
        if name and name not in columns:
            columns[name] = cell
            report.columns.append(ColumnUse(file, cell, name, names[name]))
        elif name:
            why = _("ignored: only the first such column is read")
            report.columns.append(ColumnUse(file, cell, "", why))
        else:
            why = _("ignored: the register has no place for it")
            report.columns.append(ColumnUse(file, cell, "", why))
    return columns


def file_label(file: str) -> str:
    return {
        CASES_FILE: _("cases"),
        CONTACTS_FILE: _("contacts"),
        RELATIONSHIPS_FILE: _("relationships"),
    }[file]


# --- values -------------------------------------------------------------------------------


def _vocabulary_key(value: str) -> str:
    return " ".join(value.split()).casefold()


_LOOKUPS = {
    name: {_vocabulary_key(k): v for k, v in vocabulary.items()}
    for name, vocabulary in VOCABULARIES.items()
}


def translate(ctx: Import, table: Table, row: int, record: dict, name: str):
    """Our value for a Go.Data reference value; counted in the report; None if empty or unknown
    (unknown values are reported against the row)."""
    raw = record.get(name, "")
    if not raw:
        return None
    ours = _LOOKUPS[name].get(_vocabulary_key(raw))
    column = table.columns[name]
    if ours is None:
        ctx.problem(table.file, row, column, _("Unknown value “%(value)s”.") % {"value": raw})
        return None
    entry = ctx.report.translations.setdefault((table.file, column, raw), [_label(ours), 0])
    entry[1] += 1
    return ours


def _label(value) -> str:
    label = getattr(value, "label", None)
    return (
        str(label)
        if label is not None
        else {
            "low": _("low"),
            "medium": _("medium"),
            "high": _("high"),
            "unclassified": _("not classified"),
            NOT_AN_IDENTITY_DOCUMENT: _("not an identity document: ignored"),
        }.get(str(value), str(value))
    )


_ISO_DAY = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ].*)?$")


def parse_day(raw: str) -> date | None:
    """A calendar day from Go.Data's ISO export ("2022-03-05T00:00:00.000Z": Go.Data stores
    days as UTC midnight, so the day is read as written), Excel, or YYYY/MM/DD. Day-first and
    month-first forms are refused: 05/03/2022 is ambiguous."""
    if not raw:
        return None
    match = _ISO_DAY.match(raw.strip())
    if not match:
        raise ValueError(_("Give the date as YYYY-MM-DD; “%(value)s” is ambiguous or not a date.")
                         % {"value": raw})  # fmt: skip
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        raise ValueError(_("“%(value)s” is not a date.") % {"value": raw}) from None


def _day(ctx: Import, table: Table, row: int, record: dict, name: str) -> date | None:
    try:
        return parse_day(record.get(name, ""))
    except ValueError as error:
        ctx.problem(table.file, row, table.columns[name], str(error))
        raise RowRejected from None


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time()))


def full_name(record: dict) -> str:
    """Chinese names are family name then given name with no space (王 + 芳 = 王芳); others
    are written given, middle, family."""
    first, middle, last = (record.get(k, "") for k in ("first_name", "middle_name", "last_name"))
    if first and last and _is_cjk(first + last) and not middle:
        return last + first
    return " ".join(part for part in (first, middle, last) if part)


def _is_cjk(text: str) -> bool:
    return all("\u3400" <= ch <= "\u9fff" for ch in text)


# --- the import ---------------------------------------------------------------------------


@dataclass
class Upload:
    filename: str
    data: bytes


@dataclass
class Import:
    actor: object
    report: GoDataReport
    scope_codes: set[str]
    cases_by_id: dict[str, Case] = field(default_factory=dict)  # Go.Data ID or visual ID
    case_rows: dict[str, int] = field(default_factory=dict)  # ID -> row, also for bad rows
    contacts_by_id: dict[str, tuple[int, dict, Table]] = field(default_factory=dict)
    contact_people: dict[int, Person | None] = field(default_factory=dict)  # row -> person
    linked_contact_rows: set[int] = field(default_factory=set)

    bad_rows: set[tuple[str, int]] = field(default_factory=set)

    def problem(self, file: str, row: int, column: str, message: str) -> None:
        self.report.problems.append(Problem(file, row, column, message))
        self.bad_rows.add((file, row))

    def has_problems(self, file: str, row: int) -> bool:
        return (file, row) in self.bad_rows

    def note(self, file: str, row: int, column: str, message: str) -> None:
        self.report.notes.append(Problem(file, row, column, message))


def import_godata(
    actor, cases: Upload, contacts: Upload | None = None, relationships: Upload | None = None
) -> GoDataReport:
    """Import Go.Data lists into the actor's jurisdiction; every row's fate is in the report.

    Good rows are kept whatever the others hold; each row is written in its own savepoint so a
    rejected row leaves nothing behind. Importing the same files again changes nothing.
    """
    if not (actor.can(EDIT_CASES) and actor.can(EDIT_PEOPLE)):
        raise PermissionError(_("Your role may not record cases."))
    report = GoDataReport()
    ctx = Import(actor, report, scope_codes(actor))
    tables = _read_all(ctx, cases, contacts, relationships)
    with transaction.atomic():
        _import_cases(ctx, tables[CASES_FILE])
        if tables.get(CONTACTS_FILE):
            _collect_contacts(ctx, tables[CONTACTS_FILE])
        if tables.get(RELATIONSHIPS_FILE):
            _import_relationships(ctx, tables[RELATIONSHIPS_FILE])
        _report_unlinked_contacts(ctx)
        audit.record(
            actor,
            "case.import_godata",
            object_type="case",
            jurisdiction_code=actor.scope_code,
            details={**report.counts, "rows": report.rows, "bad_rows": report.bad_rows},
        )
    return report


def _read_all(ctx: Import, cases, contacts, relationships) -> dict[str, Table]:
    tables = {CASES_FILE: read_table(CASES_FILE, cases.filename, cases.data, CASES, ctx.report)}
    for file, upload, layout in (
        (CONTACTS_FILE, contacts, CONTACTS),
        (RELATIONSHIPS_FILE, relationships, RELATIONSHIPS),
    ):
        if upload is not None:
            tables[file] = read_table(file, upload.filename, upload.data, layout, ctx.report)
    for file, table in tables.items():
        ctx.report.rows[file] = len(table.rows)
    return tables


def _each_row(ctx: Import, table: Table, handle) -> None:
    """handle(row, record) for every row, each in a savepoint: a RowRejected rolls that row's
    writes back, its problems already in the report."""
    for row, record in table.rows:
        if record.get("_short"):
            message = _("The row has fewer columns than the header: the file may be truncated.")
            ctx.problem(table.file, row, "", message)
            continue
        counts = dict(ctx.report.counts)
        try:
            with transaction.atomic():
                handle(row, record)
        except RowRejected:
            ctx.report.counts.clear()  # what the row counted was rolled back with it
            ctx.report.counts.update(counts)


def _go_data_id(ctx: Import, table: Table, row: int, record: dict, seen: dict) -> str:
    gid = record.get("id", "")
    if not gid:
        ctx.problem(table.file, row, table.columns["id"], _("The Go.Data ID is empty."))
        raise RowRejected
    if gid in seen:
        message = _("The same Go.Data ID is in row %(row)s.") % {"row": seen[gid]}
        ctx.problem(table.file, row, table.columns["id"], message)
        raise RowRejected
    seen[gid] = row
    return gid


# --- people -------------------------------------------------------------------------------


def person_for(ctx: Import, table: Table, row: int, record: dict) -> Person:
    """The register's person for a Go.Data row: by document number when there is one (validated
    as the register does), else by name and phone inside the actor's jurisdiction. Someone not
    yet registered is registered when the row names a place in the actor's jurisdiction."""
    doc_type = translate(ctx, table, row, record, "doc_type")
    details = GoDataDetails(
        translate(ctx, table, row, record, "gender"), _day(ctx, table, row, record, "dob")
    )
    if ctx.has_problems(table.file, row):
        raise RowRejected
    number = record.get("doc_number", "")
    if not number or doc_type == NOT_AN_IDENTITY_DOCUMENT:
        return _person_without_document(ctx, table, row, record)
    doc_type = doc_type or DocType.RESIDENT_ID  # an untyped number is read as a resident ID
    clean_number = _document_number(ctx, table, row, doc_type, number)
    person = Person.objects.filter(doc_type=doc_type, doc_number=clean_number).first()
    if person is None:
        return _register(ctx, table, row, record, doc_type, clean_number, details)
    if person.jurisdiction_id not in ctx.scope_codes:
        message = _("This person is registered outside your jurisdiction: not imported.")
        ctx.problem(table.file, row, table.columns["doc_number"], message)
        raise RowRejected
    return person


def _document_number(ctx: Import, table: Table, row: int, doc_type: str, raw: str) -> str:
    try:
        return idcard.validate_document(doc_type, raw)
    except ValidationError as error:
        ctx.problem(table.file, row, table.columns["doc_number"], message_for(error))
        raise RowRejected from None


def _person_without_document(ctx: Import, table: Table, row: int, record: dict) -> Person:
    name, phone = full_name(record), record.get("phone", "")
    people = Person.objects.filter(name=name, phone=phone, jurisdiction_id__in=ctx.scope_codes)
    matches = list(people[:2]) if name and phone else []
    if len(matches) == 1:
        ctx.note(table.file, row, table.columns.get("phone", ""),
                 _("No document: matched on name and phone."))  # fmt: skip
        return matches[0]
    message = _(
        "No identity document, and no single person in your jurisdiction has this name and "
        "phone: the person cannot be matched or registered."
    )
    ctx.problem(table.file, row, table.columns.get("doc_number", ""), message)
    raise RowRejected


@dataclass(frozen=True)
class GoDataDetails:
    sex: str | None
    birth_date: date | None


def _register(ctx: Import, table: Table, row: int, record: dict, doc_type, number, details):
    data = {
        "doc_type": doc_type,
        "doc_number": number,
        "name": full_name(record),
        "phone": record.get("phone", ""),
        "jurisdiction": _jurisdiction_code(ctx, record.get("location", "")),
        "address": record.get("address", ""),
    }
    try:
        clean = check_person(ctx.actor, data, ctx.scope_codes)
    except PersonInvalid as invalid:
        for name, message in invalid.errors.items():
            column = _person_column(table, name)
            ctx.problem(table.file, row, column, _registration_message(name, message))
        raise RowRejected from None
    if clean.doc_type != DocType.RESIDENT_ID:  # a resident ID carries sex and birth date
        clean = replace(clean, sex=details.sex or Sex.UNKNOWN, birth_date=details.birth_date)
    person = do_register_person(ctx.actor, clean)
    ctx.report.counts["people_registered"] += 1
    return person


def _jurisdiction_code(ctx: Import, raw: str) -> str:
    """A division code as written, or the one place in the actor's jurisdiction with that
    name (Go.Data locations are names in its own location tree)."""
    code = idcard.normalize_text(raw)
    if not raw or code.isdigit():
        return code
    places = Jurisdiction.objects.filter(in_subtree("code", ctx.actor.scope_code), name=raw.strip())
    codes = list(places.values_list("code", flat=True)[:2])
    return codes[0] if len(codes) == 1 else raw


def _person_column(table: Table, name: str) -> str:
    field = {"name": "first_name", "jurisdiction": "location", "nationality": "doc_type"}.get(
        name, name
    )
    return table.columns.get(field) or table.columns.get("last_name", "")


def _registration_message(name: str, message: str) -> str:
    if name == "jurisdiction":
        return _("Not in the register, and no usable address: %(reason)s") % {"reason": message}
    return message


# --- cases --------------------------------------------------------------------------------


def _import_cases(ctx: Import, table: Table) -> None:
    seen: dict[str, int] = {}
    _each_row(ctx, table, lambda row, record: _import_case(ctx, table, row, record, seen))


def _import_case(ctx: Import, table: Table, row: int, record: dict, seen: dict) -> None:
    gid = _go_data_id(ctx, table, row, record, seen)
    ctx.case_rows[gid] = row
    classification = translate(ctx, table, row, record, "classification")
    outcome = translate(ctx, table, row, record, "outcome")
    if classification is None or ctx.has_problems(table.file, row):
        raise RowRejected
    if classification == Classification.EXCLUDED:
        ctx.note(table.file, row, table.columns["classification"],
                 _("Discarded in Go.Data (not a case): not imported."))  # fmt: skip
        ctx.report.counts["cases_discarded"] += 1
        return
    case = _case_by_go_data_id(gid)
    if case is None:
        case = _open_or_link(ctx, table, row, record, gid, classification)
    elif classification != case.classification:  # reclassified in Go.Data since
        actions.do_reclassify(ctx.actor, case, classification, note=_("Go.Data import"))
        ctx.report.counts["cases_reclassified"] += 1
    else:
        ctx.report.counts["cases_unchanged"] += 1
    if outcome and outcome != case.outcome:
        _record_outcome(ctx.actor, case, outcome)
    _remember_case(ctx, case, gid, record.get("visual_id", ""))


def _case_by_go_data_id(gid: str) -> Case | None:
    event = CaseEvent.objects.filter(field=GODATA_ID, new=gid).select_related("case").first()
    return event.case if event else None


def _open_or_link(ctx: Import, table, row, record, gid: str, classification: str) -> Case:
    person = person_for(ctx, table, row, record)
    open_case = (
        Case.objects.filter(person=person).exclude(classification=Classification.EXCLUDED).first()
    )
    if open_case is not None:
        message = _("This person already has case %(number)s: linked, not opened again.")
        ctx.note(table.file, row, table.columns["id"], message % {"number": open_case.number})
        ctx.report.counts["cases_linked"] += 1
    else:
        open_case = _open_case(ctx, table, row, record, person, classification)
    CaseEvent.objects.create(
        case=open_case, by=ctx.actor, field=GODATA_ID, new=gid[:200],
        note=(_("Go.Data import") + " " + record.get("visual_id", ""))[:200],
    )  # fmt: skip
    return open_case


CASE_FIELD_COLUMNS = {
    "classification": "classification",
    "onset_date": "onset",
    "sampled_date": "onset",
    "reported_at": "reported",
    "person": "id",
}


def _open_case(ctx: Import, table, row, record, person: Person, classification: str) -> Case:
    onset = _day(ctx, table, row, record, "onset")
    reported = _day(ctx, table, row, record, "reported")
    data = {
        "classification": classification,
        "onset_date": onset,
        "reported_at": _local_midnight(reported) if reported else None,
    }
    try:
        clean = actions.check_case(ctx.actor, person.pk, data)
    except actions.CaseInvalid as invalid:
        for name, message in invalid.errors.items():
            column = table.columns.get(CASE_FIELD_COLUMNS.get(name, ""), "")
            ctx.problem(table.file, row, column, message)
        raise RowRejected from None
    ctx.report.counts["cases_opened"] += 1
    return actions.do_open_case(ctx.actor, clean)


def _record_outcome(actor, case: Case, outcome: str) -> None:
    """Go.Data carries the outcome with the case. cases/actions.py has no outcome action yet;
    this one keeps the same rules: a history event and an audit entry with the write."""
    old = case.outcome
    case.outcome = outcome
    case.save(update_fields=["outcome"])
    CaseEvent.objects.create(case=case, by=actor, field="outcome", old=old, new=outcome)
    audit.record(
        actor,
        "case.outcome",
        object_type="case",
        object_id=case.pk,
        jurisdiction_code=case.jurisdiction_id,
        details={"old": old, "new": outcome, "source": "godata"},
    )


def _remember_case(ctx: Import, case: Case, gid: str, visual_id: str) -> None:
    ctx.cases_by_id[gid] = case
    if visual_id:
        ctx.cases_by_id.setdefault(visual_id, case)


# --- contacts and relationships -----------------------------------------------------------


def _collect_contacts(ctx: Import, table: Table) -> None:
    """Check the contact rows now; people are matched or registered only for contacts that a
    relationship links to a case (a contact of no case has nothing to be recorded against)."""
    seen: dict[str, int] = {}

    def collect(row: int, record: dict) -> None:
        gid = _go_data_id(ctx, table, row, record, seen)
        translate(ctx, table, row, record, "risk")
        _day(ctx, table, row, record, "last_contact")
        if ctx.has_problems(table.file, row):
            raise RowRejected
        ctx.contacts_by_id[gid] = (row, record, table)
        if record.get("visual_id"):
            ctx.contacts_by_id.setdefault(record["visual_id"], (row, record, table))

    _each_row(ctx, table, collect)


def _contact_person(ctx: Import, row: int, record: dict, table: Table) -> Person | None:
    """Match or register a contact's person once, in its own savepoint."""
    if row not in ctx.contact_people:
        ctx.contact_people[row] = None
        try:
            with transaction.atomic():
                ctx.contact_people[row] = person_for(ctx, table, row, record)
        except RowRejected:
            pass
    return ctx.contact_people[row]


@dataclass
class Link:
    case: Case
    exposure: actions.ExposureIn


def _import_relationships(ctx: Import, table: Table) -> None:
    links: list[tuple[int, Link]] = []
    _each_row(ctx, table, lambda row, record: links.append((row, _link(ctx, table, row, record))))
    by_case: dict[int, list[actions.ExposureIn]] = defaultdict(list)
    cases: dict[int, Case] = {}
    for _row, link in links:
        if _already_recorded(link.exposure):
            ctx.report.counts["exposures_unchanged"] += 1
            continue
        by_case[link.case.pk].append(link.exposure)
        cases[link.case.pk] = link.case
    for case_id, exposures in by_case.items():
        counts = actions.do_record_exposures(ctx.actor, cases[case_id], exposures)
        ctx.report.counts["contacts_created"] += counts["created"]
        ctx.report.counts["exposures_added"] += counts["exposures"]
        ctx.report.counts["contacts_who_are_cases"] += counts["skipped_cases"]


def _link(ctx: Import, table: Table, row: int, record: dict) -> Link:
    source, target = record.get("source", ""), record.get("target", "")
    case, contact_id = _case_and_contact(ctx, table, row, source, target)
    contact_row, contact_record, contact_table = ctx.contacts_by_id[contact_id]
    ctx.linked_contact_rows.add(contact_row)
    # Dates first: the contact's person may be registered below, and must not be registered
    # inside a row that is then rejected (its savepoint would take the person away again).
    first, last = _exposure_days(ctx, table, row, record, contact_record)
    person = _contact_person(ctx, contact_row, contact_record, contact_table)
    if person is None:
        message = _("The contact's row %(row)s in the contacts file was not imported.")
        ctx.problem(table.file, row, table.columns["target"], message % {"row": contact_row})
        raise RowRejected
    return Link(case, _exposure(case, person, first, last, record.get("exposure_type", "")))


def _case_and_contact(ctx: Import, table, row, source: str, target: str) -> tuple[Case, str]:
    """Go.Data relationships point from the case to the contact; either order is read."""
    if source in ctx.cases_by_id and target in ctx.contacts_by_id:
        return ctx.cases_by_id[source], target
    if target in ctx.cases_by_id and source in ctx.contacts_by_id:
        return ctx.cases_by_id[target], source
    if source in ctx.cases_by_id and target in ctx.cases_by_id:
        ctx.note(table.file, row, table.columns["target"],
                 _("Between two cases: not stored (cases are not each other's contacts)."))  # fmt: skip
        raise RowRejected
    for name, value in (("source", source), ("target", target)):
        if value not in ctx.cases_by_id and value not in ctx.contacts_by_id:
            ctx.problem(table.file, row, table.columns[name], _unknown_person(ctx, value))
    if not ctx.has_problems(table.file, row):
        message = _("Neither side is a case: contacts of contacts are not read from Go.Data.")
        ctx.problem(table.file, row, table.columns["source"], message)
    raise RowRejected


def _unknown_person(ctx: Import, value: str) -> str:
    if not value:
        return _("The ID is empty.")
    if value in ctx.case_rows:
        return _("The case in row %(row)s of the cases file was not imported.") % {
            "row": ctx.case_rows[value]
        }
    return _("“%(id)s” is in neither the cases nor the contacts file.") % {"id": value}


def _exposure_days(ctx: Import, table, row, record, contact_record) -> tuple[date, date]:
    """First and last day of contact; the contact's own date of last contact when the
    relationship has none."""
    last = _day(ctx, table, row, record, "contact_date")
    if last is None:
        last = parse_day(contact_record.get("last_contact", ""))  # checked when collected
    column = table.columns.get("contact_date", "")
    if last is None:
        ctx.problem(table.file, row, column, _("The date of last contact is empty."))
        raise RowRejected
    first = _day(ctx, table, row, record, "first_contact") or last
    if last > timezone.localdate() or first > last:
        ctx.problem(table.file, row, column, _("The contact dates are in the future or reversed."))
        raise RowRejected
    return first, last


def _exposure(case: Case, person: Person, first: date, last: date, kind: str):
    # Go.Data keeps days, not times: the exposure spans the whole days, so quarantine counted
    # from the last exposure is never too short.
    return actions.ExposureIn(
        person_id=person.pk,
        via_person_id=case.person_id,
        degree=Degree.CLOSE,
        start=_local_midnight(first),
        end=_local_midnight(last + timedelta(days=1)),
        place=_exposure_label(kind),
        source=ExposureSource.MANUAL,
    )


def _exposure_label(raw: str) -> str:
    prefix = "LNG_REFERENCE_DATA_CATEGORY_EXPOSURE_TYPE_"
    if raw.startswith(prefix):
        raw = raw[len(prefix) :].replace("_", " ").capitalize()
    return raw[:200]


def _already_recorded(exposure: actions.ExposureIn) -> bool:
    return Exposure.objects.filter(
        contact__person_id=exposure.person_id,
        via_person_id=exposure.via_person_id,
        venue__isnull=True,
        start=exposure.start,
    ).exists()


def _report_unlinked_contacts(ctx: Import) -> None:
    message = _("No relationship links this contact to an imported case: not imported.")
    reported = set()
    for row, _record, table in ctx.contacts_by_id.values():
        if row not in ctx.linked_contact_rows and row not in reported:
            reported.add(row)
            ctx.problem(table.file, row, table.columns["id"], message)


def file_too_large() -> str:
    return _("The file is larger than 50 MB.")


def cases_file_missing() -> str:
    return _("Choose the cases file; contacts and relationships are optional.")
