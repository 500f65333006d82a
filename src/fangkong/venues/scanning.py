"""Scans that become check-ins (场所码/扫码登记): resident scans the venue's poster, the venue
scans the resident's code, or a checkpoint types an ID card number for someone without a phone.

Each scan answers the person's colour now. Repeated scans of the same person at the same venue
within DUPLICATE_WINDOW are merged into the first check-in (people scan again when the first scan
seemed slow, or at each door of one venue), so contact tracing does not count them twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.http import Http404
from django.utils import timezone

from epicore import idcard
from epicore.errors import ValidationError
from epicore.healthcode.tokens import TokenRejected, issue_venue_token, verify_venue_token
from fangkong.accounts.roles import VERIFY_CODES, Role
from fangkong.errors import Refused
from fangkong.geo.models import in_subtree
from fangkong.healthcode.keys import ensure_signing_keys, key_ring
from fangkong.healthcode.models import CodeState
from fangkong.healthcode.recolour import ensure_state
from fangkong.healthcode.service import read_scanned_code
from fangkong.people.models import DocType, Person
from fangkong.venues.models import CheckIn, CheckInSource, Venue

# Operational choice, not a protocol figure: scans closer than this at one venue are one visit.
DUPLICATE_WINDOW = timedelta(minutes=10)

# Venue kinds of the register (epicore.synth.venues) -> the kinds a venue token can carry.
TOKEN_KIND = {
    "restaurant": "restaurant",
    "convenience_store": "market",
    "supermarket": "market",
    "wet_market": "market",
    "shopping_mall": "market",
    "office_building": "workplace",
    "factory": "workplace",
    "kindergarten": "school",
    "primary_school": "school",
    "middle_school": "school",
    "university": "school",
    "hospital": "medical",
    "clinic": "medical",
    "pharmacy": "medical",
    "gym": "entertainment",
    "cinema": "entertainment",
    "ktv": "entertainment",
    "internet_cafe": "entertainment",
    "hotel": "hotel",
    "bus_station": "transport",
    "metro_station": "transport",
    "train_station": "transport",
    "barbershop": "other",
    "bank": "public_service",
    "government_office": "public_service",
}


class ScanRefused(Refused):
    pass


@dataclass(frozen=True)
class ScanOutcome:
    checkin: CheckIn
    merged: bool  # True: a repeat of a recent scan, no new check-in
    colour: str
    person: Person


def access_venues(user):
    """Venues this staff member may operate or post codes for (their subtree)."""
    if not user.is_authenticated or not user.can(VERIFY_CODES) or not user.scope_code:
        return Venue.objects.none()
    return Venue.objects.filter(in_subtree("jurisdiction_id", user.scope_code))


def access_venue_by_id(user, venue_id: int) -> Venue:
    venue = access_venues(user).filter(pk=venue_id).first()
    if venue is None:
        raise Http404
    return venue


def venue_token(venue: Venue, at: datetime | None = None) -> str:
    at = at or timezone.now()
    ensure_signing_keys(at)
    kind = TOKEN_KIND.get(venue.kind, "other")
    return issue_venue_token(key_ring(), str(venue.pk), kind, venue.jurisdiction_id, at)


def resident_scans_venue(user, token: str, at: datetime | None = None) -> ScanOutcome:
    """A resident scanned a venue's poster with their phone."""
    if user.role != Role.RESIDENT or not user.person_id:
        raise ScanRefused("not_a_resident", "only residents scan venue codes for themselves")
    at = at or timezone.now()
    try:
        claims = verify_venue_token(token.strip(), key_ring(), at)
    except TokenRejected as rejected:
        raise ScanRefused(rejected.code, rejected.message) from None
    venue = (
        Venue.objects.filter(pk=int(claims.venue_id)).first() if claims.venue_id.isdigit() else None
    )
    if venue is None:
        raise ScanRefused("unknown_venue", f"venue {claims.venue_id} is not registered")
    person = Person.objects.get(pk=user.person_id)
    return _record(user, person, venue, at, CheckInSource.VENUE_CODE)


def venue_scans_person(user, venue: Venue, token: str, at: datetime | None = None) -> ScanOutcome:
    """The venue's scanner read a resident's health code (venue from access_venue_by_id)."""
    result = read_scanned_code(token, at)
    if not result.ok:
        raise ScanRefused(result.code, result.message)
    person = result.state.person
    return _record(user, person, venue, at or timezone.now(), CheckInSource.HEALTH_CODE)


def checkpoint_enters_id(user, venue: Venue, doc_number: str, at: datetime | None = None):
    """Someone without a phone: the ID card number is typed in (or read from the card)."""
    try:
        number = idcard.parse_resident_id(doc_number).number
    except ValidationError as error:
        raise ScanRefused(error.code, error.message) from None
    person = Person.objects.filter(doc_type=DocType.RESIDENT_ID, doc_number=number).first()
    if person is None:
        raise ScanRefused("unknown_person", "nobody with this ID number is registered")
    return _record(user, person, venue, at or timezone.now(), CheckInSource.ID_CARD)


def _record(user, person: Person, venue: Venue, at: datetime, source: str) -> ScanOutcome:
    with transaction.atomic():
        # Lock the person: two simultaneous scans of one person cannot both miss each other.
        Person.objects.select_for_update().filter(pk=person.pk).first()
        recent = (
            CheckIn.objects.filter(
                person=person, venue=venue, t_in__gte=at - DUPLICATE_WINDOW, t_in__lte=at
            )
            .order_by("-t_in")
            .first()
        )
        merged = recent is not None
        # Not written to the audit log one by one: scans are the high-volume data itself (an
        # append-only table with source and time); reading them back is what gets audited.
        checkin = recent or CheckIn.objects.create(
            person=person, venue=venue, t_in=at, source=source
        )
    state = CodeState.objects.filter(person=person).first() or ensure_state(person.pk)
    return ScanOutcome(checkin, merged, state.colour, person)
