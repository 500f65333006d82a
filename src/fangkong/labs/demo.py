"""Tubes and transport boxes for `fangkong demo`, so the sampling, box and lab pages have
something to show: a box received and resulted late, a box on its way (one tube in it overdue),
a tube resulted in time, and a sealed tube waiting to be packed."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from fangkong.geo.models import in_subtree
from fangkong.labs import actions, boxes
from fangkong.labs.models import Box
from fangkong.people.models import Person

LAB = "厦门市第一医院"
SITE = "中山公园采样点"
PEOPLE_PER_TUBE = 5
# (tube, hours since its first swab, box or "" when not boxed, result it gets now or "")
TUBES = (
    ("DEMO-T01", 30, "DEMO-BOX-1", "negative"),
    ("DEMO-T02", 30, "DEMO-BOX-1", "negative"),
    ("DEMO-T03", 20, "DEMO-BOX-2", ""),
    ("DEMO-T04", 5, "DEMO-BOX-2", ""),
    ("DEMO-T05", 3, "", "negative"),
    ("DEMO-T06", 1, "", ""),
)
# (box, hours ago it was sealed, handed over, received; None: not yet)
BOXES = (("DEMO-BOX-1", 29, 28, 27), ("DEMO-BOX-2", 4.5, 4, None))


@transaction.atomic
def seed_boxes(sampler, lab_user) -> None:
    """Once per database (all or nothing); the sampler (a grid worker) samples in their grid."""
    if Box.objects.filter(code__startswith="DEMO-").exists():
        return
    now = timezone.now()
    county = in_subtree("jurisdiction_id", sampler.scope_code[:6])
    people = list(Person.objects.filter(county).order_by("id")[: PEOPLE_PER_TUBE * len(TUBES)])
    for n, (barcode, hours, _box_code, _result) in enumerate(TUBES):
        members = people[n * PEOPLE_PER_TUBE : (n + 1) * PEOPLE_PER_TUBE]
        _sampled_tube(sampler, barcode, members, now - timedelta(hours=hours))
    for code, sealed, handed_over, received in BOXES:
        _send_box(sampler, lab_user, code, now, sealed, handed_over, received)
    for barcode, _hours, _box_code, result in TUBES:
        if result:
            actions.record_result(lab_user, barcode, result, None, LAB)


def _sampled_tube(sampler, barcode: str, members, at) -> None:
    actions.open_tube(sampler, barcode, 10, SITE, sampler.scope_code, at=at)
    for minute, person in enumerate(members):
        actions.scan_into(sampler, barcode, person, at=at + timedelta(minutes=minute))
    actions.seal(sampler, barcode, at=at + timedelta(minutes=len(members)))


def _send_box(sampler, lab_user, code, now, sealed, handed_over, received) -> None:
    def ago(hours):
        return now - timedelta(hours=hours)

    tubes = [barcode for barcode, _h, box, _r in TUBES if box == code]
    boxes.open_box(sampler, code, SITE, LAB, sampler.scope_code, at=ago(sealed + 0.5))
    for barcode in tubes:
        boxes.pack(sampler, code, barcode, at=ago(sealed + 0.25))
    boxes.seal_box(sampler, code, at=ago(sealed))
    boxes.hand_over(sampler, code, "王师傅", at=ago(handed_over))
    if received is not None:
        boxes.receive(lab_user, code, LAB, at=ago(received))
