"""Contact lists exported to Excel by a background job: scope, masking, progress, owner only."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from fangkong.cases import export
from fangkong.jobs import queue
from fangkong.jobs.models import Job


def test_an_export_holds_what_the_user_may_see_and_only_they_download_it(
    world, login, settings, tmp_path
):
    settings.DATA_DIR = tmp_path
    client = login("tracer_b")  # contact_b (person_b) lives in county B
    response = client.post("/contacts/export/", {"status": ""})
    job = Job.objects.get(kind=export.KIND)
    assert response.status_code == 302 and response["Location"] == f"/exports/{job.pk}/"
    assert "export-state" in client.get(f"/exports/{job.pk}/").content.decode()
    queue.run_pending()
    job.refresh_from_db()
    assert job.state == "done" and job.result["rows"] == 1 and job.progress_done == 1
    download = client.get(f"/exports/{job.pk}/file")
    sheet = load_workbook(io.BytesIO(b"".join(download.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "姓名" and rows[1][1] == world.person_b.doc_number  # tracers may reveal
    assert login("tracer_a").get(f"/exports/{job.pk}/file").status_code == 404


def test_identifiers_are_masked_for_whoever_may_not_reveal_them(world):
    from datetime import UTC, datetime

    row = (1, "李娜", world.person_b.doc_number, "13700137000", world.grid_b, 1,
           datetime(2022, 3, 2, tzinfo=UTC), "B1", "to_locate")  # fmt: skip
    cells = export._cells(row, False, {1: "密切接触者"}, {"to_locate": "待落位"})
    assert cells[0] == "李*" and "*" in cells[1] and cells[2].startswith("137")
    assert "*" in cells[2] and cells[4] == "密切接触者"
