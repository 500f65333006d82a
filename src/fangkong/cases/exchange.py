"""Assistance lists as files (xlsx and CSV) in the column layout of docs/assistance-lists.md.

The receiving county gets the full identifiers (it must find the people) and the export is
audited like any reveal; anyone else who may see the request gets them masked.
"""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook

from epicore import idcard
from fangkong.cases.models import AssistanceRequest

COLUMNS = (
    ("request", "协查编号"),
    ("row", "序号"),
    ("name", "姓名"),
    ("doc_type", "证件类型"),
    ("doc_number", "证件号码"),
    ("phone", "手机号码"),
    ("jurisdiction", "现住址编码"),
    ("address", "详细地址"),
    ("exposure", "暴露情况"),
    ("state", "核查状态"),
    ("note", "备注"),
)


def rows_of(request: AssistanceRequest, full: bool) -> list[list[str]]:
    rows = []
    for number, item in enumerate(request.items.select_related("person").order_by("id"), 1):
        person = item.person
        rows.append(
            [
                request.number,
                str(number),
                person.name if full else idcard.mask_name(person.name),
                person.get_doc_type_display(),
                person.doc_number if full else idcard.mask_document(person.doc_number),
                person.phone if full else idcard.mask_phone(person.phone) if person.phone else "",
                person.jurisdiction_id,
                person.address if full else "",
                item.exposure,
                item.get_state_display(),
                item.note,
            ]
        )
    return rows


def to_xlsx(request: AssistanceRequest, full: bool) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "协查名单"
    sheet.append([zh for _, zh in COLUMNS])
    for row in rows_of(request, full):
        sheet.append(row)
    for cell in sheet["E"]:  # ID numbers stay text, or Excel turns them into 3.5e17
        cell.number_format = "@"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def to_csv(request: AssistanceRequest, full: bool) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([zh for _, zh in COLUMNS])
    writer.writerows(rows_of(request, full))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 correctly
