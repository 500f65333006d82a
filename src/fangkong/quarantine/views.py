"""Pages for headquarters (occupancy, capacity, reserve), site staff (rooms, arrivals, readings,
alerts, release), grid workers (follow-up after release) and residents (their own readings).

Scope: a site, its rooms and stays belong to the site's jurisdiction; a home follow-up task to the
person's grid. Outside the user's subtree everything is 404.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from fangkong.accounts import audit
from fangkong.accounts.queries import require_capability
from fangkong.accounts.roles import (
    EDIT_CASES,
    FOLLOW_UP,
    MANAGE_SITES,
    OPERATE_SITES,
    VIEW_CASES,
    Role,
)
from fangkong.cases.models import TracingRun
from fangkong.errors import Refused
from fangkong.geo.models import in_subtree
from fangkong.quarantine import actions, monitoring, planning, stays
from fangkong.quarantine.models import (
    Alert,
    FollowUp,
    Room,
    RoomState,
    Site,
    Slot,
    Stay,
    Transfer,
)


def _scope(user) -> str:
    if not user.scope_code:
        raise Http404
    return user.scope_code


def _in_scope(queryset, field: str, user):
    return queryset.filter(in_subtree(field, _scope(user)))


def _one(queryset, pk: int):
    found = queryset.filter(pk=pk).first()
    if found is None:
        raise Http404
    return found


@login_required
def occupancy(request):
    """Headquarters' view: every site in scope, roll-up by county, capacity and the reserve."""
    require_capability(request.user, VIEW_CASES)
    rows = planning.occupancy(_scope(request.user))
    active = [r for r in rows if not r["site__standby"]]
    totals = {k: sum(r[k] for r in active) for k in ("total", "occupied", "free")}
    alerts = _in_scope(Alert.objects, "stay__room__site__jurisdiction_id", request.user)
    return render(
        request,
        "quarantine/occupancy.html",
        {
            "rows": rows,
            "totals": totals,
            "counties": planning.by_county(rows),
            "capacity": planning.capacity(request.user.scope_code, rows),
            "open_alerts": alerts.filter(acknowledged_at__isnull=True).count(),
            "can_manage": request.user.can(MANAGE_SITES),
        },
    )


@login_required
@require_POST
def site_reserve(request, site_id: int, action: str):
    require_capability(request.user, MANAGE_SITES)
    site = _one(_in_scope(Site.objects, "jurisdiction_id", request.user), site_id)
    step = {"activate": actions.activate_site, "stand-down": actions.stand_down_site}.get(action)
    if step is None:
        raise Http404
    _attempt(request, lambda: step(request.user, site), _("Done."))
    return redirect("occupancy")


def _attempt(request, work, done_message: str) -> bool:
    """Run one action; a refusal becomes an error message with its reason, nothing changes."""
    try:
        work()
    except Refused as refused:
        messages.error(request, refused.message)
        return False
    messages.success(request, done_message)
    return True


@login_required
def site_detail(request, site_id: int):
    require_capability(request.user, VIEW_CASES)
    site = _one(_in_scope(Site.objects, "jurisdiction_id", request.user), site_id)
    audit.record(request.user, "quarantine.site_view", object_type="site", object_id=site.pk)
    open_stays = list(
        Stay.objects.filter(room__site=site, ended_at__isnull=True)
        .select_related("person", "room")
        .order_by("room__number")
    )
    today, slot = timezone.localdate(), _current_slot()
    missing = {s.pk for s in monitoring.missing_readings(open_stays, today, slot)}
    return render(
        request,
        "quarantine/site.html",
        {
            "site": site,
            "rooms": site.rooms.order_by("number"),
            "arriving": [s for s in open_stays if s.checked_in_at is None],
            "staying": [_stay_row(s, s.pk in missing) for s in open_stays if s.checked_in_at],
            "alerts": Alert.objects.filter(stay__room__site=site, acknowledged_at__isnull=True)
            .select_related("stay__person", "stay__room", "reading")
            .order_by("raised_at"),
            "transfers": Transfer.objects.filter(
                stay__room__site=site, state__in=("planned", "en_route")
            ).select_related("stay__person", "stay__room"),
            "doctors": site.staff.filter(duty="doctor").select_related("user"),
            "slot": Slot(slot).label,
            "can_operate": request.user.can(OPERATE_SITES),
            "room_moves": _room_moves(),
        },
    )


def _current_slot() -> str:
    return Slot.MORNING if timezone.localtime().hour < 14 else Slot.EVENING


def _room_moves() -> dict[str, list]:
    labels = dict(RoomState.choices)
    return {
        src: [(dst, labels[dst]) for dst in sorted(dsts)]
        for src, dsts in actions.ROOM_MOVES.items()
    }


def _stay_row(stay: Stay, missing_reading: bool) -> dict:
    regimen = stays.regimen_of(stay)
    today = timezone.localdate()
    start = timezone.localdate(stay.last_exposure_at) if stay.last_exposure_at else None
    upcoming = [t for t in stays.schedule_of(stay) if t.due >= today]
    return {
        "stay": stay,
        "regimen": regimen.label if regimen else "",
        "day": (today - start).days if start else None,
        "of": regimen.first.days if regimen else None,
        "next_test": upcoming[0].due if upcoming else None,
        "test_today": bool(upcoming) and upcoming[0].due == today,
        "missing_reading": missing_reading,
        "releasable": regimen is not None and not stays.blockers(stay),
    }


def _stay_in_scope(request, stay_id: int) -> Stay:
    require_capability(request.user, VIEW_CASES)
    queryset = _in_scope(Stay.objects, "room__site__jurisdiction_id", request.user)
    return _one(queryset.select_related("person", "room__site"), stay_id)


@login_required
def stay_detail(request, stay_id: int):
    stay = _stay_in_scope(request, stay_id)
    audit.record(
        request.user, "quarantine.stay_view", object_type="person", object_id=stay.person_id
    )
    results = stays.results_of(stay.person_id)
    negatives = {r.sampled for r in results if not r.positive}
    schedule = [{"test": t, "met": t.due in negatives} for t in stays.schedule_of(stay)]
    return render(
        request,
        "quarantine/stay.html",
        {
            "stay": stay,
            "regimen": stays.regimen_of(stay),
            "schedule": schedule,
            "blockers": stays.blockers(stay) if stay.ended_at is None else [],
            "readings": stay.readings.order_by("-day", "-slot"),
            "transfers": stay.transfers.order_by("-created_at"),
            "symptoms": _symptom_choices(),
            "slots": Slot.choices,
            "can_operate": request.user.can(OPERATE_SITES) and stay.ended_at is None,
        },
    )


def _symptom_choices() -> list[tuple[str, str]]:
    return [(code, SYMPTOM_LABELS[code]) for code in monitoring.SYMPTOMS]


SYMPTOM_LABELS = {
    "cough": gettext_lazy("cough"),
    "fatigue": gettext_lazy("fatigue"),
    "sore_throat": gettext_lazy("sore throat"),
    "nasal_congestion": gettext_lazy("nasal congestion"),
    "runny_nose": gettext_lazy("runny nose"),
    "loss_of_smell_or_taste": gettext_lazy("loss of smell or taste"),
    "conjunctivitis": gettext_lazy("conjunctivitis"),
    "muscle_pain": gettext_lazy("muscle pain"),
    "diarrhoea": gettext_lazy("diarrhoea"),
    "shortness_of_breath": gettext_lazy("shortness of breath"),
}


@login_required
@require_POST
def stay_act(request, stay_id: int, action: str):
    stay = _stay_in_scope(request, stay_id)
    require_capability(request.user, OPERATE_SITES)
    steps = {
        "check-in": (lambda: stays.check_in(request.user, stay.pk), _("Checked in.")),
        "release": (lambda: stays.release(request.user, stay.pk), _("Released.")),
        "reading": (lambda: _reading(request, stay), _("Reading recorded.")),
        "transfer": (lambda: _transfer(request, stay), _("Transfer ordered.")),
    }
    if action not in steps:
        raise Http404
    work, done = steps[action]
    _attempt(request, work, done)
    if request.POST.get("back") == "site":
        return redirect("site", site_id=stay.room.site_id)
    return redirect("stay", stay_id=stay.pk)


def _reading(request, stay: Stay, by_resident: bool = False):
    return monitoring.record_reading(
        request.user,
        stay,
        request.POST.get("slot", ""),
        request.POST.get("temperature", ""),
        request.POST.getlist("symptoms"),
        by_resident=by_resident,
    )


def _transfer(request, stay: Stay):
    pickup_at = _local_datetime(request.POST.get("pickup_at", ""))
    return stays.order_transfer(
        request.user,
        stay.pk,
        request.POST.get("vehicle", ""),
        request.POST.get("escort", ""),
        request.POST.get("pickup_place", ""),
        pickup_at,
    )


def _local_datetime(text: str) -> datetime:
    value = parse_datetime(text.strip()) if text.strip() else None
    if value is None:
        raise Refused("bad_time", _("Give the pick-up time as YYYY-MM-DD HH:MM."))
    return timezone.make_aware(value) if timezone.is_naive(value) else value


@login_required
@require_POST
def transfer_step(request, transfer_id: int, step: str):
    require_capability(request.user, OPERATE_SITES)
    queryset = _in_scope(Transfer.objects, "stay__room__site__jurisdiction_id", request.user)
    transfer = _one(queryset, transfer_id)
    _attempt(request, lambda: stays.move_transfer(request.user, transfer.pk, step), _("Done."))
    return redirect("site", site_id=transfer.stay.room.site_id)


@login_required
@require_POST
def room_state(request, room_id: int):
    require_capability(request.user, OPERATE_SITES)
    room = _one(_in_scope(Room.objects, "site__jurisdiction_id", request.user), room_id)
    state = request.POST.get("state", "")
    _attempt(request, lambda: actions.set_room_state(request.user, room, state), _("Done."))
    return redirect("site", site_id=room.site_id)


@login_required
@require_POST
def alert_ack(request, alert_id: int):
    require_capability(request.user, OPERATE_SITES)
    queryset = _in_scope(Alert.objects, "stay__room__site__jurisdiction_id", request.user)
    alert = _one(queryset.select_related("stay__room"), alert_id)
    note = request.POST.get("note", "")
    _attempt(request, lambda: monitoring.acknowledge(request.user, alert, note), _("Done."))
    return redirect("site", site_id=alert.stay.room.site_id)


@login_required
def follow_ups(request):
    """The grid worker's list: today's and overdue tasks of people released to their grid."""
    require_capability(request.user, FOLLOW_UP)
    tasks = (
        _in_scope(FollowUp.objects, "monitoring__jurisdiction_id", request.user)
        .filter(
            done_at__isnull=True, due__lte=timezone.localdate(), monitoring__ended_at__isnull=True
        )
        .select_related("monitoring__person")
        .order_by("due", "id")
    )
    return render(
        request, "quarantine/follow_ups.html", {"tasks": tasks[:200], "today": timezone.localdate()}
    )


@login_required
@require_POST
def follow_up_done(request, task_id: int):
    require_capability(request.user, FOLLOW_UP)
    task = _one(_in_scope(FollowUp.objects, "monitoring__jurisdiction_id", request.user), task_id)
    note = request.POST.get("note", "")
    _attempt(request, lambda: monitoring.complete_follow_up(request.user, task, note), _("Done."))
    return redirect("follow_ups")


@login_required
def my_quarantine(request):
    """A resident in a room enters their own readings (the staff see them marked as such)."""
    user = request.user
    if user.role != Role.RESIDENT or not user.person_id:
        raise Http404
    stay = (
        Stay.objects.filter(person_id=user.person_id, ended_at__isnull=True)
        .select_related("room__site")
        .first()
    )
    if request.method == "POST" and stay is not None:
        _attempt(request, lambda: _reading(request, stay, by_resident=True), _("Reading recorded."))
        return redirect("my_quarantine")
    return render(
        request,
        "quarantine/mine.html",
        {
            "stay": stay,
            "schedule": stays.schedule_of(stay) if stay else [],
            "readings": stay.readings.order_by("-day", "-slot")[:14] if stay else [],
            "symptoms": _symptom_choices(),
            "slots": Slot.choices,
        },
    )


@login_required
@require_POST
def assign_run(request, run_id: int):
    require_capability(request.user, EDIT_CASES)
    run = _one(_in_scope(TracingRun.objects, "jurisdiction_id", request.user), run_id)
    result = actions.assign_run(request.user, run)
    messages.success(
        request,
        _("%(placed)s people placed in rooms; %(left)s could not be placed.")
        % {"placed": result["placed"], "left": len(result["unplaced"])},
    )
    return redirect("tracing_run", run_id=run.pk)
