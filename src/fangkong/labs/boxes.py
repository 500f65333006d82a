"""Transport boxes (转运箱) and their chain of custody, from a sampling site to a lab.

A box is opened at a site for one lab, sealed tubes are packed into it, it is sealed, handed to
a courier (in transit) and received by the lab it is addressed to. Every step is a BoxEvent with
its time and user, and an audit entry; a step out of order is refused with the reason, and
nothing changes. Sampling staff (TAKE_SAMPLES) pack, seal and hand over; lab staff
(RECORD_RESULTS) receive. A box belongs to the jurisdiction it was opened in: outside the
user's subtree it does not exist for them (refused as unknown, never a hint).
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from epicore import divisions
from fangkong.accounts import audit
from fangkong.accounts.roles import RECORD_RESULTS, TAKE_SAMPLES
from fangkong.errors import Refused
from fangkong.geo.models import in_subtree
from fangkong.labs.models import Box, BoxEvent, BoxState, Tube, TubeState

CODE_LENGTH = Box._meta.get_field("code").max_length
NAME_LENGTH = Box._meta.get_field("lab").max_length
COURIER_LENGTH = Box._meta.get_field("courier").max_length


def _require(actor, capability: str) -> None:
    if actor is not None and not actor.can(capability):
        raise PermissionError("your role may not do this")


def boxes_in_scope(actor) -> QuerySet:
    """Boxes opened in the actor's subtree (all of them for the system, actor None)."""
    if actor is None:
        return Box.objects.all()
    if not actor.scope_code:
        return Box.objects.none()
    return Box.objects.filter(in_subtree("jurisdiction_id", actor.scope_code))


def _box(actor, code: str) -> Box:
    box = boxes_in_scope(actor).select_for_update().filter(code=code.strip()).first()
    if box is None:
        raise Refused("unknown_box", _("There is no box %(code)s.") % {"code": code.strip()})
    return box


def _not_before(box: Box, at: datetime, previous: datetime | None) -> None:
    """A step dated before the previous one is a clock or typing error: the chain must read
    forwards, or the turnaround stages would be negative."""
    if previous is not None and at < previous:
        raise Refused(
            "before_previous_step",
            _("Box %(code)s: this step is dated before the previous one (%(at)s).")
            % {"code": box.code, "at": timezone.localtime(previous).strftime("%m-%d %H:%M")},
        )


def _log(actor, box: Box, kind: str, at: datetime, note: str = "", **details) -> None:
    BoxEvent.objects.create(box=box, kind=kind, at=at, by=actor, note=note[:200])
    audit.record(
        actor,
        f"labs.box_{kind}",
        object_type="box",
        object_id=box.pk,
        jurisdiction_code=box.jurisdiction_id,
        details={"code": box.code, **details},
    )


def _text(value: str, limit: int, code: str, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise Refused(code, _("Give the %(what)s.") % {"what": what})
    if len(text) > limit:
        raise Refused(
            code, _("The %(what)s is longer than %(n)s characters.") % {"what": what, "n": limit}
        )
    return text


def open_box(actor, code: str, site: str, lab: str, jurisdiction_code: str, at=None) -> Box:
    """A new box at a site, addressed to a lab, in the actor's jurisdiction."""
    _require(actor, TAKE_SAMPLES)
    code = _text(code, CODE_LENGTH, "box_code", _("box code"))
    site = _text(site, NAME_LENGTH, "box_site", _("sampling site"))
    lab = _text(lab, NAME_LENGTH, "box_lab", _("lab"))
    if actor is not None and not _within(actor, jurisdiction_code):
        raise Refused("out_of_scope", _("You may only open boxes in your own jurisdiction."))
    with transaction.atomic():
        if Box.objects.filter(code=code).exists():
            raise Refused("box_exists", _("Box %(code)s is already in use.") % {"code": code})
        at = at or timezone.now()
        box = Box.objects.create(
            code=code, jurisdiction_id=jurisdiction_code, site=site, lab=lab, opened_at=at
        )
        _log(actor, box, "opened", at, site=site, lab=lab)
    return box


def _within(actor, jurisdiction_code: str) -> bool:
    if not actor.scope_code:
        return False
    low, high = divisions.subtree_bounds(actor.scope_code)
    return jurisdiction_code >= low and (high is None or jurisdiction_code < high)


def pack(actor, box_code: str, barcode: str, at=None) -> Tube:
    """Put one sealed tube into a box that is still being packed."""
    _require(actor, TAKE_SAMPLES)
    with transaction.atomic():
        box = _box(actor, box_code)
        if box.state != BoxState.PACKING:
            raise Refused(
                "box_not_packing",
                _("Box %(code)s is %(state)s: no more tubes go in.")
                % {"code": box.code, "state": box.get_state_display()},
            )
        tube = _packable_tube(actor, barcode)
        at = at or timezone.now()
        _not_before(box, at, tube.sealed_at)
        tube.box = box
        tube.save(update_fields=["box"])
        _log(actor, box, "packed", at, note=tube.barcode, tube=tube.barcode)
    return tube


def _packable_tube(actor, barcode: str) -> Tube:
    tubes = Tube.objects.select_for_update(of=("self",)).select_related("box")
    if actor is not None:
        scope = actor.scope_code
        tubes = tubes.filter(in_subtree("jurisdiction_id", scope)) if scope else tubes.none()
    tube = tubes.filter(barcode=barcode.strip()).first()
    if tube is None:
        raise Refused("unknown_tube", _("Tube %(b)s was never opened.") % {"b": barcode.strip()})
    if tube.state == TubeState.OPEN:
        raise Refused(
            "tube_not_sealed", _("Tube %(b)s is still open: seal it first.") % {"b": tube.barcode}
        )
    if tube.box is not None:
        raise Refused(
            "tube_in_box",
            _("Tube %(b)s is already in box %(box)s.") % {"b": tube.barcode, "box": tube.box.code},
        )
    return tube


def seal_box(actor, box_code: str, at=None) -> Box:
    _require(actor, TAKE_SAMPLES)
    with transaction.atomic():
        box = _box(actor, box_code)
        if box.state != BoxState.PACKING:
            raise Refused(
                "box_not_packing",
                _("Box %(code)s is already sealed.") % {"code": box.code},
            )
        tubes = box.tubes.count()
        if tubes == 0:
            raise Refused("box_empty", _("Box %(code)s holds no tubes.") % {"code": box.code})
        at = at or timezone.now()
        _not_before(box, at, _last_event_at(box))
        box.state, box.sealed_at = BoxState.SEALED, at
        box.save(update_fields=["state", "sealed_at"])
        _log(actor, box, "sealed", at, tubes=tubes)
    return box


def _last_event_at(box: Box) -> datetime | None:
    last = box.events.order_by("-at").first()
    return last.at if last else box.opened_at


def hand_over(actor, box_code: str, courier: str, at=None) -> Box:
    """The sealed box leaves the site with a named courier."""
    _require(actor, TAKE_SAMPLES)
    courier = _text(courier, COURIER_LENGTH, "courier_missing", _("courier's name"))
    with transaction.atomic():
        box = _box(actor, box_code)
        if box.state != BoxState.SEALED:
            raise Refused("box_not_sealed", _state_refusal(box, _("handed over")))
        at = at or timezone.now()
        _not_before(box, at, box.sealed_at)
        box.state, box.handed_over_at, box.courier = BoxState.IN_TRANSIT, at, courier
        box.save(update_fields=["state", "handed_over_at", "courier"])
        _log(actor, box, "handed_over", at, note=courier, courier=courier)
    return box


def _state_refusal(box: Box, step: str) -> str:
    if box.state == BoxState.PACKING:
        return _("Box %(code)s is still being packed: seal it before it is %(step)s.") % {
            "code": box.code,
            "step": step,
        }
    return _("Box %(code)s cannot be %(step)s: it is %(state)s.") % {
        "code": box.code,
        "step": step,
        "state": box.get_state_display(),
    }


def receive(actor, box_code: str, lab: str, at=None) -> Box:
    """The lab the box is addressed to takes it in; another lab is refused (it would hold
    tubes that no one expects there)."""
    _require(actor, RECORD_RESULTS)
    lab = _text(lab, NAME_LENGTH, "box_lab", _("lab"))
    with transaction.atomic():
        box = _box(actor, box_code)
        if box.state != BoxState.IN_TRANSIT:
            raise Refused("box_not_in_transit", _receive_refusal(box))
        if box.lab != lab:
            raise Refused(
                "wrong_lab",
                _("Box %(code)s is addressed to %(lab)s, not %(other)s.")
                % {"code": box.code, "lab": box.lab, "other": lab},
            )
        at = at or timezone.now()
        _not_before(box, at, box.handed_over_at)
        box.state, box.received_at = BoxState.RECEIVED, at
        box.save(update_fields=["state", "received_at"])
        _log(actor, box, "received", at, note=lab, lab=lab)
    return box


def _receive_refusal(box: Box) -> str:
    if box.state == BoxState.RECEIVED:
        return _("Box %(code)s was already received at %(at)s.") % {
            "code": box.code,
            "at": timezone.localtime(box.received_at).strftime("%m-%d %H:%M"),
        }
    return _("Box %(code)s has not been handed over to a courier yet.") % {"code": box.code}
