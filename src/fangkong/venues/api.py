from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema, Status

from epicore import idcard
from fangkong.venues import scanning

router = Router(tags=["venues and scans"])


class VenueScanIn(Schema):
    token: str  # the venue poster's code, scanned by a resident


class PersonScanIn(Schema):
    venue_id: int
    token: str = ""  # the resident's health code, scanned by the venue
    doc_number: str = ""  # or an ID card number typed at a checkpoint


class ScanOut(Schema):
    checkin_id: int
    merged: bool
    colour: str
    venue_id: int
    t_in: datetime
    name: str  # masked


class RefusedOut(Schema):
    error: str
    message: str


def _out(outcome: scanning.ScanOutcome) -> ScanOut:
    return ScanOut(
        checkin_id=outcome.checkin.pk,
        merged=outcome.merged,
        colour=outcome.colour,
        venue_id=outcome.checkin.venue_id,
        t_in=outcome.checkin.t_in,
        name=idcard.mask_name(outcome.person.name),
    )


@router.post(
    "/scan/venue",
    response={200: ScanOut, 400: RefusedOut},
    summary="A resident scanned a venue code: record the check-in, answer the colour",
)
def scan_venue(request: HttpRequest, data: VenueScanIn):
    try:
        return _out(scanning.resident_scans_venue(request.user, data.token))
    except scanning.ScanRefused as refused:
        if refused.code == "not_a_resident":
            raise PermissionError(refused.message) from None
        return Status(400, {"error": refused.code, "message": refused.message})


@router.post(
    "/scan/person",
    response={200: ScanOut, 400: RefusedOut},
    summary="A venue scanned a resident's code (or typed an ID number): check-in and colour",
)
def scan_person(request: HttpRequest, data: PersonScanIn):
    if not request.user.can(scanning.VERIFY_CODES):
        raise PermissionError("your role may not scan codes")
    venue = scanning.access_venue_by_id(request.user, data.venue_id)
    try:
        if data.token:
            outcome = scanning.venue_scans_person(request.user, venue, data.token)
        else:
            outcome = scanning.checkpoint_enters_id(request.user, venue, data.doc_number)
    except scanning.ScanRefused as refused:
        return Status(400, {"error": refused.code, "message": refused.message})
    return _out(outcome)
