"""Result API for labs: a lab's information system posts its results by tube.

Each row is applied on its own (actions.record_result), exactly as a row of an uploaded file: a
bad row is answered with its refusal code and message and never blocks the others; the same
batch twice changes nothing (duplicates); a different result for a resulted tube is held.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema, Status

from fangkong.accounts.roles import RECORD_RESULTS
from fangkong.errors import Refused
from fangkong.labs import actions
from fangkong.labs.uploads import RESULT_WORDS

router = Router(tags=["labs"])

# One request is applied row by row in the request's time; bigger batches are split by the
# client (a 100,000-tube day is a few hundred requests), so no request outlives a proxy timeout.
MAX_ROWS = 2000
LAB_LENGTH = 100


class ResultIn(Schema):
    barcode: str
    result: str  # negative / positive / suspicious, or 阴性 / 阳性 / 可疑
    # A number, or text as the lab sent it: a malformed Ct is refused for its row only.
    ct: float | str | None = None
    lab: str = ""


class ResultRowOut(Schema):
    row: int  # 1-based position in the posted list
    barcode: str
    status: str  # applied / duplicate / held / refused
    code: str = ""  # the refusal code when refused
    message: str = ""


class ResultsOut(Schema):
    applied: int
    duplicates: int
    held: int
    refused: int
    rows: list[ResultRowOut]


class DetailOut(Schema):
    detail: str


def _outcome(text: str) -> str:
    outcome = RESULT_WORDS.get(text.strip().lower())
    if outcome is None:
        words = "negative, positive or suspicious (阴性, 阳性, 可疑)"
        raise Refused("bad_outcome", f"unknown result {text!r}: write {words}")
    return outcome


def _ct(value: float | str | None) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return float(value)
    except ValueError:
        raise Refused("bad_ct", f"{value!r} is not a Ct value") from None


def _lab(text: str) -> str:
    lab = text.strip()
    if not lab:
        raise Refused("lab_missing", "name the lab that tested the tube")
    if len(lab) > LAB_LENGTH:
        raise Refused("lab_too_long", f"the lab's name is longer than {LAB_LENGTH} characters")
    return lab


def _apply_row(user, number: int, row: ResultIn) -> ResultRowOut:
    try:
        status = actions.record_result(
            user, row.barcode, _outcome(row.result), _ct(row.ct), _lab(row.lab)
        )
    except Refused as refused:
        return ResultRowOut(
            row=number,
            barcode=row.barcode,
            status="refused",
            code=refused.code,
            message=refused.message,
        )
    return ResultRowOut(row=number, barcode=row.barcode, status=status)


@router.post(
    "/labs/results",
    response={200: ResultsOut, 400: DetailOut},
    summary="Post lab results by tube (applied row by row)",
)
def post_results(request: HttpRequest, data: list[ResultIn]):
    if not request.user.can(RECORD_RESULTS):
        raise PermissionError("your role may not record lab results")
    if len(data) > MAX_ROWS:
        return Status(400, {"detail": f"at most {MAX_ROWS} rows per request, got {len(data)}"})
    rows = [_apply_row(request.user, n, row) for n, row in enumerate(data, start=1)]
    count = {s: sum(1 for r in rows if r.status == s) for s in ("applied", "duplicate", "held")}
    return ResultsOut(
        applied=count["applied"],
        duplicates=count["duplicate"],
        held=count["held"],
        refused=sum(1 for r in rows if r.status == "refused"),
        rows=rows,
    )
