"""Regional assistance requests (区域协查): push contacts living elsewhere to their county, and
follow the receiver's steps (acknowledge, locate, control, report back) with deadlines.

Deadlines: the 9th edition of the national protocol (2022-06) asks that close contacts be found
and put under control within 24 hours of the case being reported (“24小时内完成密接的判定和
管控”); acknowledging within 2 hours is our operational default so a sender knows early whether
a request has been seen. Both are settings (FANGKONG_ASSIST_ACK_HOURS, FANGKONG_ASSIST_DONE_HOURS).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.accounts import audit
from fangkong.accounts.roles import EDIT_CASES, VIEW_CASES
from fangkong.batches import commits_beside, in_own_connections
from fangkong.cases.actions import CaseInvalid, next_number
from fangkong.cases.models import (
    AssistanceEvent,
    AssistanceItem,
    AssistanceRequest,
    Case,
    Contact,
    Degree,
    ItemState,
    RequestState,
)
from fangkong.geo.models import in_subtree

ACK_HOURS = int(getattr(settings, "FANGKONG_ASSIST_ACK_HOURS", 2))
DONE_HOURS = int(getattr(settings, "FANGKONG_ASSIST_DONE_HOURS", 24))
COUNTY_DIGITS = 6  # GB/T 2260: the first six digits name the county


def county_of(code: str) -> str:
    return code[:COUNTY_DIGITS]


def _exposure_text(contact: Contact) -> str:
    return f"{contact.get_degree_display()} · {timezone.localtime(contact.last_exposure):%Y-%m-%d %H:%M}"


def push_contacts(actor, case: Case) -> list[AssistanceRequest]:
    """One request per receiving county for the case's contacts living outside its county.

    Idempotent: contacts already pushed for this case are not pushed again.
    """
    home = county_of(case.jurisdiction_id)
    if connection.vendor == "postgresql":
        # A case pushed for the first time (its tracing run's push) has nobody to leave out:
        # looking each contact up among the items cost ~3 s of each county's ~4 s there.
        fresh = not AssistanceItem.objects.filter(request__case=case).exists()
        return _send_beside(
            lambda county, people: _send(
                actor, case, county, _unpushed_in_database(case, county, fresh), people
            ),
            _counties_in_database(case, home, fresh),
        )
    pushed = set(
        AssistanceItem.objects.filter(request__case=case).values_list("person_id", flat=True)
    )
    by_county: dict[str, list[Contact]] = defaultdict(list)
    for contact in Contact.objects.filter(case=case).exclude(person_id__in=pushed):
        if county_of(contact.jurisdiction_id) != home:
            by_county[county_of(contact.jurisdiction_id)].append(contact)
    return [
        _send(actor, case, county, _items_of(contacts), len(contacts))
        for county, contacts in sorted(by_county.items())
    ]


# A dense outbreak's push is ~800,000 items in five requests, ~17 s of inserts by one
# PostgreSQL backend while the other core sat idle (docs/benchmarks.md): the requests are sent
# by this many connections at once, each request in its own transaction as before.
PUSH_CONNECTIONS = 2


def _send_beside(send, counties: list[tuple[str, int]], threaded=None) -> list:
    """send(county, people) for each county, in the counties' order; shared among
    PUSH_CONNECTIONS threads with their own connections when each may commit on its own
    (outside a caller's transaction), largest first to even out their shares."""
    if threaded is None:
        threaded = commits_beside()
    if not threaded or PUSH_CONNECTIONS < 2 or len(counties) < 2:
        return [send(county, people) for county, people in counties]
    shares: list[list[tuple[str, int]]] = [[] for _ in range(PUSH_CONNECTIONS)]
    for county in sorted(counties, key=lambda c: -c[1]):
        min(shares, key=lambda share: sum(people for _, people in share)).append(county)
    sent = in_own_connections(
        lambda share: [(county, send(county, people)) for county, people in share],
        [share for share in shares if share],
    )
    by_county = dict(pair for part in sent for pair in part)
    return [by_county[county] for county, _ in counties]


def _items_of(contacts: list[Contact]):
    """The request's items, written once the request exists."""

    def write(request: AssistanceRequest) -> None:
        AssistanceItem.objects.bulk_create(
            AssistanceItem(
                request=request, person_id=c.person_id, contact=c, exposure=_exposure_text(c)
            )
            for c in contacts
        )

    return write


# PostgreSQL: a run's million contacts are pushed by statements, not loaded as objects (issue 4's
# end-to-end benchmark). The same rows as the ORM path; the exposure text as _exposure_text.
ITEMS = AssistanceItem._meta.db_table
_ALL = f"FROM {Contact._meta.db_table} c WHERE c.case_id = %s"
_UNPUSHED = (
    f"{_ALL} AND NOT EXISTS (SELECT 1 FROM "
    f"{ITEMS} i JOIN {AssistanceRequest._meta.db_table} r ON r.id = i.request_id "
    "WHERE r.case_id = c.case_id AND i.person_id = c.person_id)"
)


def _to_push(fresh: bool) -> str:
    """The case's contacts to push (%s: the case): every one when it was never pushed."""
    return _ALL if fresh else _UNPUSHED


def _counties_in_database(case: Case, home: str, fresh: bool) -> list[tuple[str, int]]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT left(c.jurisdiction_id, {COUNTY_DIGITS}) AS county, count(*) "
            f"{_to_push(fresh)} "
            f"AND left(c.jurisdiction_id, {COUNTY_DIGITS}) <> %s GROUP BY county ORDER BY county",
            [case.pk, home],
        )
        return cursor.fetchall()


def _unpushed_in_database(case: Case, county: str, fresh: bool):
    labels = {value: str(label) for value, label in Degree.choices}

    def write(request: AssistanceRequest) -> None:
        text = (
            "CASE c.degree "
            + " ".join(["WHEN %s THEN %s"] * len(labels))
            + " END || ' · ' || to_char(c.last_exposure AT TIME ZONE %s, 'YYYY-MM-DD HH24:MI')"
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {ITEMS} (request_id, person_id, contact_id, exposure, "
                f"state, note) SELECT %s, c.person_id, c.id, {text}, %s, '' "
                f"{_to_push(fresh)} "
                f"AND left(c.jurisdiction_id, {COUNTY_DIGITS}) = %s ORDER BY c.person_id",
                [request.pk, *[x for pair in labels.items() for x in pair],
                 timezone.get_current_timezone_name(), ItemState.PENDING, case.pk, county],
            )  # fmt: skip

    return write


def _send(actor, case: Case, county: str, write_items, people: int) -> AssistanceRequest:
    now = timezone.now()
    sender = county_of(case.jurisdiction_id)
    with transaction.atomic():
        request = AssistanceRequest.objects.create(
            number=f"pending-{uuid.uuid4().hex}",  # numbered last, see below
            from_jurisdiction_id=sender,
            to_jurisdiction_id=county,
            case=case,
            sent_at=now,
            acknowledge_by=now + timedelta(hours=ACK_HOURS),
            complete_by=now + timedelta(hours=DONE_HOURS),
            created_by=actor,
        )
        write_items(request)
        AssistanceEvent.objects.create(request=request, by=actor, kind="sent")
        # Numbered and audited last: both lock a row shared by every sender until commit, so
        # requests written at once (_send_beside) wait for each other only at their ends.
        request.number = next_number(f"XC{sender}-{now.year}")
        request.save(update_fields=["number"])
        audit.record(
            actor,
            "assist.sent",
            object_type="assistance",
            object_id=request.pk,
            jurisdiction_code=county,
            details={"case": case.pk, "people": people},
        )
    return request


def access_requests(user) -> QuerySet[AssistanceRequest]:
    """Requests the user's subtree sent or received (higher levels see both, rolled up)."""
    if not user.is_authenticated or not user.can(VIEW_CASES) or not user.scope_code:
        return AssistanceRequest.objects.none()
    scope = user.scope_code
    return AssistanceRequest.objects.filter(
        in_subtree("from_jurisdiction_id", scope) | in_subtree("to_jurisdiction_id", scope)
    )


def _receiving(user, request_id: int) -> AssistanceRequest:
    """A request the user must act on as receiver; 404 otherwise (senders cannot act on it)."""
    if not user.can(EDIT_CASES) or not user.scope_code:
        raise Http404
    request = (
        AssistanceRequest.objects.filter(in_subtree("to_jurisdiction_id", user.scope_code))
        .filter(pk=request_id)
        .first()
    )
    if request is None:
        raise Http404
    return request


def _move(actor, request: AssistanceRequest, state: str, stamp: str) -> AssistanceRequest:
    """One step of the receiver: new state, its time, an event and an audit entry."""
    with transaction.atomic():
        request.state = state
        setattr(request, stamp, timezone.now())
        request.save(update_fields=["state", stamp])
        AssistanceEvent.objects.create(request=request, by=actor, kind=state)
        audit.record(actor, f"assist.{state}", object_type="assistance", object_id=request.pk)
    return request


def acknowledge(actor, request_id: int) -> AssistanceRequest:
    request = _receiving(actor, request_id)
    if request.state != RequestState.SENT:
        return request
    return _move(actor, request, RequestState.ACKNOWLEDGED, "acknowledged_at")


def set_item_state(actor, request_id: int, item_id: int, state: str, note: str = "") -> None:
    request = _receiving(actor, request_id)
    if state not in ItemState.values or state == ItemState.PENDING:
        raise CaseInvalid({"state": _("Choose located, under control, not found or elsewhere.")})
    if request.state == RequestState.COMPLETED:
        raise CaseInvalid({"state": _("This request is already completed.")})
    item = request.items.filter(pk=item_id).first()
    if item is None:
        raise Http404
    with transaction.atomic():
        if request.state == RequestState.SENT:
            request.state, request.acknowledged_at = RequestState.ACKNOWLEDGED, timezone.now()
            request.save(update_fields=["state", "acknowledged_at"])
        item.state, item.note, item.updated_at = state, note[:300], timezone.now()
        item.save(update_fields=["state", "note", "updated_at"])
        AssistanceEvent.objects.create(request=request, item=item, by=actor, kind=state, note=note)
        audit.record(
            actor,
            "assist.item",
            object_type="assistance",
            object_id=request.pk,
            details={"item": item.pk, "state": state},
        )


def complete(actor, request_id: int) -> AssistanceRequest:
    """Report back: allowed once every person has an outcome."""
    request = _receiving(actor, request_id)
    if request.parts.exists():
        raise CaseInvalid({"state": _("A split push completes when all its parts do.")})
    if request.items.filter(state=ItemState.PENDING).exists():
        raise CaseInvalid({"state": _("Give an outcome for every person first.")})
    done = _move(actor, request, RequestState.COMPLETED, "completed_at")
    _complete_parent(actor, done)
    return done


def _complete_parent(actor, part: AssistanceRequest) -> None:
    """A push from above is reported back when the last of its parts is."""
    parent = part.parent
    if parent is None or parent.state == RequestState.COMPLETED:
        return
    if not parent.parts.exclude(state=RequestState.COMPLETED).exists():
        _move(actor, parent, RequestState.COMPLETED, "completed_at")


def overdue(now=None) -> Q:
    """Requests past a deadline they have not met."""
    now = now or timezone.now()
    late_ack = Q(state=RequestState.SENT, acknowledge_by__lt=now)
    late_done = ~Q(state=RequestState.COMPLETED) & Q(complete_by__lt=now)
    return late_ack | late_done
