"""Venue pages: list, printable code poster, the door scanner; and the resident's scan page."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from epicore.healthcode import qr
from fangkong.accounts.roles import VERIFY_CODES, Role
from fangkong.healthcode.service import inline_svg
from fangkong.venues import scanning
from fangkong.venues.models import Venue


@login_required
def venue_list(request):
    if not request.user.can(VERIFY_CODES):
        raise Http404
    venues = scanning.access_venues(request.user).select_related("jurisdiction")
    after = request.GET.get("after", "")
    if after.isdigit():
        venues = venues.filter(id__gt=int(after))
    rows = list(venues.order_by("id")[: settings.PAGE_SIZE + 1])
    more = len(rows) > settings.PAGE_SIZE
    rows = rows[: settings.PAGE_SIZE]
    return render(
        request,
        "venues/list.html",
        {"venues": rows, "next_after": rows[-1].pk if more else None},
    )


@login_required
def venue_poster(request, venue_id: int):
    venue = scanning.access_venue_by_id(request.user, venue_id)
    token = scanning.venue_token(venue)
    svg = inline_svg(qr.poster_qr_svg(token))
    return render(
        request,
        "venues/poster.html",
        {"venue": venue, "qr": mark_safe(svg), "token": token},  # segno output of our token
    )


@login_required
def venue_scanner(request, venue_id: int):
    venue = scanning.access_venue_by_id(request.user, venue_id)
    outcome, refused = None, None
    if request.method == "POST":
        try:
            if request.POST.get("token", "").strip():
                outcome = scanning.venue_scans_person(request.user, venue, request.POST["token"])
            else:
                outcome = scanning.checkpoint_enters_id(
                    request.user, venue, request.POST.get("doc_number", "")
                )
        except scanning.ScanRefused as error:
            refused = error
    return render(
        request,
        "venues/scanner.html",
        {"venue": venue, "outcome": outcome, "refused": refused},
        status=400 if refused else 200,
    )


@login_required
def my_scan(request):
    """A resident pastes (or their phone's camera reads) a venue code."""
    if request.user.role != Role.RESIDENT or not request.user.person_id:
        raise Http404
    outcome, refused = None, None
    if request.method == "POST":
        try:
            outcome = scanning.resident_scans_venue(request.user, request.POST.get("token", ""))
        except scanning.ScanRefused as error:
            refused = error
    venue = Venue.objects.get(pk=outcome.checkin.venue_id) if outcome else None
    return render(
        request,
        "venues/my_scan.html",
        {"outcome": outcome, "refused": refused, "venue": venue, "title": _("Scan a venue code")},
        status=400 if refused else 200,
    )
