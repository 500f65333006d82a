"""Contact lists to Excel in the background: 100,000 rows in seconds, with progress.

The export runs as a job (`cases.export_contacts`) for the user who asked, over what that user
may see when the job runs (scope and status filter), identifiers masked unless the user may
reveal them (then the export is audited as a reveal). The file is kept under FANGKONG_DATA/exports
and only its owner may download it.
"""

from __future__ import annotations

from pathlib import Path

import xlsxwriter
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from epicore import idcard
from fangkong.accounts import audit
from fangkong.accounts.roles import REVEAL_PEOPLE
from fangkong.cases.models import ContactStatus
from fangkong.cases.queries import access_contacts
from fangkong.jobs import queue
from fangkong.jobs.models import Job

KIND = "cases.export_contacts"
CHUNK = 5000
HEADER = ("姓名", "证件号码", "手机号码", "现住址编码", "类别", "末次暴露", "来源病例", "状态")


def request_export(user, status: str = "") -> Job:
    return queue.enqueue(KIND, {"user_id": user.pk, "status": status})


def export_path(job_id: int) -> Path:
    folder = Path(settings.DATA_DIR) / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"contacts-{job_id}.xlsx"


def owned_export(user, job_id: int) -> Job | None:
    job = Job.objects.filter(pk=job_id, kind=KIND).first()
    return job if job is not None and job.args.get("user_id") == user.pk else None


@queue.task(KIND)
def export_contacts(job: Job, user_id: int, status: str = "") -> dict:
    user = get_user_model().objects.get(pk=user_id)
    contacts = access_contacts(user)
    if status in ContactStatus.values:
        contacts = contacts.filter(status=status)
    full = user.can(REVEAL_PEOPLE)
    total = contacts.count()
    path = export_path(job.pk)
    # XlsxWriter in constant-memory mode writes each row as it comes: 100,000 rows in seconds
    # and flat memory (openpyxl's write-only mode spent ~0.4 ms a row here).
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet("密接名单")
    # ID numbers are written as strings and the column is text: Excel keeps all 18 digits.
    sheet.set_column(1, 1, 20, book.add_format({"num_format": "@"}))
    sheet.write_row(0, 0, HEADER)
    degrees, statuses = _labels()
    done = 0
    # One query streamed through a server-side cursor: repeated keyset queries would each scan
    # the county's rows again to find the next 5,000 of one status.
    for row in _rows(contacts).iterator(chunk_size=CHUNK):
        done += 1
        sheet.write_row(done, 0, _cells(row, full, degrees, statuses))
        if done % CHUNK == 0:
            queue.report_progress(job, done, total, f"{done:,} / {total:,}")
    queue.report_progress(job, done, total, f"{done:,} / {total:,}")
    book.close()
    audit.record(user, "cases.export_contacts", object_type="contact",
                 jurisdiction_code=user.scope_code or "", reason="export" if full else "",
                 details={"rows": done, "full_identifiers": full, "job": job.pk})  # fmt: skip
    return {"rows": done, "file": path.name, "at": timezone.now().isoformat()}


def _rows(contacts):
    return contacts.order_by("pk").values_list(
        "pk", "person__name", "person__doc_number", "person__phone", "jurisdiction_id",
        "degree", "last_exposure", "case__number", "status",
    )  # fmt: skip


def _labels():
    from django.utils.translation import override

    from fangkong.cases.models import Degree

    with override("zh-hans"):
        return (
            {d.value: str(d.label) for d in Degree},
            {s.value: str(s.label) for s in ContactStatus},
        )


def _cells(row, full: bool, degrees, statuses) -> list:
    _pk, name, doc, phone, place, degree, exposure, case, status = row
    if not full:
        name, doc = idcard.mask_name(name), idcard.mask_document(doc)
        phone = idcard.mask_phone(phone) if phone else ""
    when = timezone.localtime(exposure).strftime("%Y-%m-%d %H:%M")
    return [
        name,
        doc,
        phone,
        place,
        degrees.get(degree, degree),
        when,
        case,
        statuses.get(status, status),
    ]
