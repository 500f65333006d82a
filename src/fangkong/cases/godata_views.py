"""The page where tracers upload Go.Data exports and read the mapping report."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from fangkong.accounts.queries import require_capability
from fangkong.accounts.roles import EDIT_CASES, EDIT_PEOPLE
from fangkong.cases import godata
from fangkong.people.importing import FileProblem

MAX_UPLOAD = 50 * 1024 * 1024  # a Go.Data export of a large outbreak, not a denial of service


@login_required
def godata_import(request):
    require_capability(request.user, EDIT_CASES)
    require_capability(request.user, EDIT_PEOPLE)  # unregistered people are registered
    context: dict = {"files": godata.file_label}
    status = 200
    if request.method == "POST":
        try:
            context["report"] = godata.import_godata(request.user, *_uploads(request))
        except FileProblem as problem:
            context["file_problem"], status = str(problem), 400
    return render(request, "cases/godata_import.html", context, status=status)


def _uploads(request) -> list[godata.Upload | None]:
    uploads = []
    for name in ("cases", "contacts", "relationships"):
        upload = request.FILES.get(name)
        if upload is not None and upload.size > MAX_UPLOAD:
            raise FileProblem(godata.file_too_large())
        uploads.append(godata.Upload(upload.name, upload.read()) if upload else None)
    if uploads[0] is None:
        raise FileProblem(godata.cases_file_missing())
    return uploads
