"""Reading people lists from CSV or Excel: encodings, headers in Chinese or English, row numbers.

Problems with the file itself (wrong encoding, truncated, no header) raise FileProblem with a
message; problems with single rows are left to the actions, which report them by row and field.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

# Header aliases, Chinese first (the layout documented in docs/import-people.md).
HEADERS = {
    "doc_type": ("证件类型", "doc_type", "document type"),
    "doc_number": (
        "证件号码",
        "身份证号",
        "身份证号码",
        "doc_number",
        "document number",
        "id number",
    ),
    "nationality": ("国籍", "nationality"),
    "name": ("姓名", "name"),
    "phone": ("手机号码", "手机号", "联系电话", "phone", "mobile"),
    "jurisdiction": ("现住址编码", "网格编码", "jurisdiction", "jurisdiction code"),
    "address": ("详细地址", "现住址", "address"),
}
REQUIRED = ("doc_number", "name", "jurisdiction")
DOC_TYPE_ALIASES = {
    "身份证": "resident_id",
    "居民身份证": "resident_id",
    "护照": "passport",
    "港澳通行证": "hk_macao_permit",
    "港澳居民来往内地通行证": "hk_macao_permit",
    "台胞证": "taiwan_permit",
    "台湾居民来往大陆通行证": "taiwan_permit",
    "外国人永久居留身份证": "foreign_permanent_id",
    "其他": "other",
}


class FileProblem(Exception):
    pass


@dataclass(frozen=True)
class Layout:
    """Which columns a list has: field -> header aliases (Chinese first), and the required ones."""

    headers: dict[str, tuple[str, ...]]
    required: tuple[str, ...]
    # field -> {what people write: the value we store}, e.g. 身份证 -> resident_id
    value_aliases: dict[str, dict[str, str]] = field(default_factory=dict)


PEOPLE = Layout(HEADERS, REQUIRED, {"doc_type": DOC_TYPE_ALIASES})


def _header_map(header: list[Any], layout: Layout = PEOPLE) -> dict[str, int]:
    lookup = {alias.lower(): name for name, aliases in layout.headers.items() for alias in aliases}
    columns: dict[str, int] = {}
    for index, cell in enumerate(header):
        name = lookup.get(str(cell or "").strip().lower())
        if name and name not in columns:
            columns[name] = index
    missing = [n for n in layout.required if n not in columns]
    if missing:
        wanted = ", ".join(layout.headers[n][0] for n in missing)
        raise FileProblem(
            _("The header row lacks the column(s): %(columns)s.") % {"columns": wanted}
        )
    return columns


def _decode(data: bytes) -> str:
    # Excel on Chinese Windows saves CSV in GBK; GB 18030 is its superset. UTF-8 first: GBK
    # would "decode" many UTF-8 files into nonsense instead of failing.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise FileProblem(_("The file is neither UTF-8 nor GBK text."))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel turns long numbers into floats; ID numbers must be text
    return str(value).strip()


def _rows_to_records(
    rows: Iterator[list[Any]], first_row: int, layout: Layout = PEOPLE
) -> Iterator[tuple[int, dict]]:
    try:
        header = next(rows)
    except StopIteration:
        raise FileProblem(_("The file is empty.")) from None
    columns = _header_map(header, layout)
    for number, row in enumerate(rows, start=first_row + 1):
        if not any(_cell(v) for v in row):
            continue
        record = {n: _cell(row[i]) if i < len(row) else "" for n, i in columns.items()}
        if len(row) < len(header):
            record["_short"] = "1"
        for name, aliases in layout.value_aliases.items():
            record[name] = aliases.get(record.get(name, ""), record.get(name))
        yield number, record


def read_csv(data: bytes, layout: Layout = PEOPLE) -> list[tuple[int, dict]]:
    text = _decode(data)
    return list(_rows_to_records(iter(csv.reader(io.StringIO(text, newline=""))), 1, layout))


def read_xlsx(data: bytes, layout: Layout = PEOPLE) -> list[tuple[int, dict]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        merged = _merged_ranges(data)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise FileProblem(_("The Excel file is damaged or truncated.")) from None
    sheet = book.worksheets[0]
    rows = _fill_merged(([c for c in row] for row in sheet.iter_rows(values_only=True)), merged)
    return list(_rows_to_records(rows, 1, layout))


_MERGE = re.compile(rb'<mergeCell ref="([A-Z]+)(\d+):([A-Z]+)(\d+)"')


def _column_index(letters: bytes) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + letter - 64
    return index - 1


def _merged_ranges(data: bytes) -> list[tuple[int, int, int, int]]:
    """Merged cells of the first sheet, (first row, first column, last row, last column), rows
    from 1 and columns from 0. Read-only openpyxl does not expose them, and loading the whole
    workbook to get them costs ten times as much on a 50,000-row list."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = sorted(n for n in archive.namelist() if n.startswith("xl/worksheets/sheet"))
        if not names:
            return []
        xml = archive.read(
            "xl/worksheets/sheet1.xml" if "xl/worksheets/sheet1.xml" in names else names[0]
        )
    return [
        (int(r1), _column_index(c1), int(r2), _column_index(c2))
        for c1, r1, c2, r2 in _MERGE.findall(xml)
    ]


def _fill_merged(rows: Iterator[list[Any]], merged) -> Iterator[list[Any]]:
    """Every cell of a merged range takes the value of its top-left cell, as a person reading
    the sheet sees it (a request number or an exposure merged down over several people)."""
    if not merged:
        yield from rows
        return
    covering: dict[int, list[tuple[int, int, int, int]]] = {}
    for area in merged:
        for number in range(area[0], area[2] + 1):
            covering.setdefault(number, []).append(area)
    values: dict[tuple[int, int, int, int], Any] = {}
    for number, row in enumerate(rows, start=1):
        for area in covering.get(number, ()):
            first_row, first_col, _last_row, last_col = area
            if number == first_row:
                values[area] = row[first_col] if first_col < len(row) else None
            row = list(row) + [None] * max(0, last_col + 1 - len(row))
            for column in range(first_col, last_col + 1):
                row[column] = values.get(area)
        yield row


def read_table_file(filename: str, data: bytes, layout: Layout) -> list[tuple[int, dict]]:
    """(row number as the user sees it, fields) for each non-empty data row of a list."""
    if filename.lower().endswith((".xlsx", ".xlsm")):
        return read_xlsx(data, layout)
    if filename.lower().endswith((".csv", ".txt")):
        return read_csv(data, layout)
    raise FileProblem(_("Upload a .csv or .xlsx file."))


def read_people_file(filename: str, data: bytes) -> list[tuple[int, dict]]:
    return read_table_file(filename, data, PEOPLE)
