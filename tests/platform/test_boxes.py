from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from fangkong.accounts.models import AuditEntry
from fangkong.errors import Refused
from fangkong.labs import actions, boxes
from fangkong.labs.models import Box, BoxEvent, Tube

LAB = "厦门市第一医院"


@pytest.fixture
def sampler(world):
    return world.users["grid_a"]


@pytest.fixture
def lab(world):
    return world.users["lab_a"]


def _sealed_tube(world, sampler, barcode="T1", person=None, at=None):
    actions.open_tube(sampler, barcode, 5, "中山公园采样点", world.grid_a, at=at)
    actions.scan_into(sampler, barcode, person or world.person_a, at=at)
    actions.seal(sampler, barcode, at=at)
    return barcode


def _box(world, sampler, code="B1"):
    return boxes.open_box(sampler, code, "中山公园采样点", LAB, world.grid_a)


def test_a_box_goes_from_site_to_lab_with_every_hand_recorded(world, sampler, lab):
    _sealed_tube(world, sampler)
    _box(world, sampler)
    boxes.pack(sampler, "B1", "T1")
    boxes.seal_box(sampler, "B1")
    boxes.hand_over(sampler, "B1", "王师傅")
    box = boxes.receive(lab, "B1", LAB)
    assert box.state == "received" and box.courier == "王师傅"
    assert box.opened_at <= box.sealed_at <= box.handed_over_at <= box.received_at
    assert Tube.objects.get(barcode="T1").box == box
    events = list(BoxEvent.objects.filter(box=box).order_by("at", "pk"))
    assert [e.kind for e in events] == ["opened", "packed", "sealed", "handed_over", "received"]
    assert [e.by for e in events] == [sampler] * 4 + [lab]
    audited = AuditEntry.objects.filter(object_type="box", object_id=str(box.pk))
    assert audited.count() == 5


def _refusal(call) -> str:
    with pytest.raises(Refused) as refused:
        call()
    return refused.value.code


def test_packing_refuses_open_unknown_and_already_boxed_tubes(world, sampler):
    _box(world, sampler)
    actions.open_tube(sampler, "OPEN1", 5, "site", world.grid_a)
    assert _refusal(lambda: boxes.pack(sampler, "B1", "OPEN1")) == "tube_not_sealed"
    assert _refusal(lambda: boxes.pack(sampler, "B1", "NOPE")) == "unknown_tube"
    _sealed_tube(world, sampler, "T2", world.person_b)
    boxes.pack(sampler, "B1", "T2")
    _box(world, sampler, "B2")
    assert _refusal(lambda: boxes.pack(sampler, "B2", "T2")) == "tube_in_box"
    assert _refusal(lambda: boxes.pack(sampler, "NOBOX", "T2")) == "unknown_box"


def test_steps_out_of_order_are_refused_and_change_nothing(world, sampler, lab):
    _box(world, sampler)
    assert _refusal(lambda: boxes.seal_box(sampler, "B1")) == "box_empty"
    assert _refusal(lambda: boxes.hand_over(sampler, "B1", "王")) == "box_not_sealed"
    assert _refusal(lambda: boxes.receive(lab, "B1", LAB)) == "box_not_in_transit"
    _sealed_tube(world, sampler)
    boxes.pack(sampler, "B1", "T1")
    boxes.seal_box(sampler, "B1")
    _sealed_tube(world, sampler, "T3", world.person_b)
    assert _refusal(lambda: boxes.pack(sampler, "B1", "T3")) == "box_not_packing"
    assert _refusal(lambda: boxes.seal_box(sampler, "B1")) == "box_not_packing"
    assert _refusal(lambda: boxes.hand_over(sampler, "B1", "  ")) == "courier_missing"
    boxes.hand_over(sampler, "B1", "王")
    assert _refusal(lambda: boxes.receive(lab, "B1", "另一家实验室")) == "wrong_lab"
    boxes.receive(lab, "B1", LAB)
    assert _refusal(lambda: boxes.receive(lab, "B1", LAB)) == "box_not_in_transit"
    box = Box.objects.get(code="B1")
    assert box.state == "received" and box.tubes.count() == 1
    assert BoxEvent.objects.filter(box=box).count() == 5


def test_a_box_code_is_used_once_and_needs_a_lab(world, sampler):
    _box(world, sampler)
    assert _refusal(lambda: _box(world, sampler)) == "box_exists"
    no_lab = lambda: boxes.open_box(sampler, "B9", "site", " ", world.grid_a)  # noqa: E731
    assert _refusal(no_lab) == "box_lab"


def test_a_step_dated_before_the_previous_one_is_refused(world, sampler):
    _sealed_tube(world, sampler)
    _box(world, sampler)
    boxes.pack(sampler, "B1", "T1")
    boxes.seal_box(sampler, "B1")
    earlier = timezone.now() - timedelta(hours=1)
    refused = _refusal(lambda: boxes.hand_over(sampler, "B1", "王", at=earlier))
    assert refused == "before_previous_step"


def test_boxes_outside_the_users_jurisdiction_do_not_exist_for_them(world, sampler):
    tracer_b_grid = world.grid_b
    outside = lambda: boxes.open_box(sampler, "B5", "site", LAB, tracer_b_grid)  # noqa: E731
    assert _refusal(outside) == "out_of_scope"
    boxes.open_box(None, "BB", "湖里采样点", LAB, world.grid_b)  # the system may
    assert _refusal(lambda: boxes.seal_box(sampler, "BB")) == "unknown_box"


def test_roles_pack_or_receive_by_capability(world, sampler):
    with pytest.raises(PermissionError):
        boxes.open_box(world.users["tracer_a"], "B7", "site", LAB, world.grid_a)
    with pytest.raises(PermissionError):
        boxes.receive(sampler, "B7", LAB)  # grid workers sample; they do not receive


def test_a_result_names_the_lab_on_the_tube(world, sampler, lab):
    _sealed_tube(world, sampler)
    actions.record_result(lab, "T1", "negative", None, LAB)
    assert Tube.objects.get(barcode="T1").lab == LAB


def test_the_boxes_page_packs_seals_and_hands_over(world, login):
    client = login("grid_a")
    _sealed_tube(world, world.users["grid_a"])
    steps = [
        {"step": "open", "code": "P1", "site": "小区", "lab": LAB},
        {"step": "pack", "code": "P1", "barcode": "T1"},
        {"step": "seal", "code": "P1"},
        {"step": "hand_over", "code": "P1", "courier": "王师傅"},
    ]
    for data in steps:
        assert client.post("/labs/boxes/", data).status_code == 302
    assert Box.objects.get(code="P1").state == "in_transit"
    page = client.get("/labs/boxes/")
    assert "P1" in page.content.decode() and "王师傅" in page.content.decode()
    refused = client.post("/labs/boxes/", {"step": "seal", "code": "P1"}, follow=True)
    assert 'data-code="box_not_packing"' not in refused.content.decode()  # message, not code
    assert "P1" in str(list(refused.context["messages"])[0])


def test_the_lab_receives_on_its_page_and_sees_the_chain(world, login):
    sampler = world.users["grid_a"]
    _sealed_tube(world, sampler)
    _box(world, sampler)
    boxes.pack(sampler, "B1", "T1")
    boxes.seal_box(sampler, "B1")
    boxes.hand_over(sampler, "B1", "王师傅")
    client = login("lab_a")
    assert "B1" in client.get("/labs/").content.decode()  # in transit, addressed to a lab
    wrong = client.post("/labs/boxes/receive/", {"code": "B1", "lab": "别的实验室"})
    assert wrong.status_code == 302 and Box.objects.get(code="B1").state == "in_transit"
    client.post("/labs/boxes/receive/", {"code": "B1", "lab": LAB})
    box = Box.objects.get(code="B1")
    assert box.state == "received"
    chain = client.get(f"/labs/boxes/{box.pk}/").content.decode()
    assert "王师傅" in chain and "T1" in chain
