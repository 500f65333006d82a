"""Pages for labs (result uploads, held tubes, recalls) and sampling sites (tubes)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from epicore import idcard
from epicore.errors import ValidationError
from fangkong.accounts.queries import require_capability
from fangkong.accounts.roles import RECORD_RESULTS, TAKE_SAMPLES
from fangkong.geo.models import in_subtree
from fangkong.labs import actions, box_views, uploads
from fangkong.labs.campaign_views import campaigns_for
from fangkong.labs.models import Tube, TubeState
from fangkong.people.importing import FileProblem, read_table_file
from fangkong.people.models import DocType, Person


@login_required
def lab_home(request):
    require_capability(request.user, RECORD_RESULTS)
    report, problem = None, None
    if request.method == "POST" and request.FILES.get("file"):
        upload = request.FILES["file"]
        try:
            rows = read_table_file(upload.name, upload.read(), uploads.RESULTS)
        except FileProblem as error:
            problem = str(error)
        else:
            report = uploads.apply_rows(request.user, rows, request.POST.get("lab", "")[:100])
    return render(
        request,
        "labs/home.html",
        {
            "report": report,
            "problem": problem,
            "held": Tube.objects.filter(state=TubeState.HELD).order_by("-id")[:50],
            "recalls": actions.pending_retests().count(),
            **box_views.lab_page_context(request.user),  # boxes arriving, turnaround
        },
        status=400 if problem else 200,
    )


def _person_by_id_number(text: str) -> Person:
    try:
        number = idcard.parse_resident_id(text).number
    except ValidationError as error:
        raise actions.Refused(error.code, error.message) from None
    person = Person.objects.filter(doc_type=DocType.RESIDENT_ID, doc_number=number).first()
    if person is None:
        raise actions.Refused("unknown_person", _("Nobody with this ID number is registered."))
    return person


def _recalls_in_scope(user):
    """People registered in the user's area whose pooled tube was positive: they must be found
    and sampled alone (单采复核), wherever the tube was sampled."""
    recalls = actions.pending_retests().filter(
        in_subtree("person__jurisdiction_id", user.scope_code)
    )
    return recalls.select_related("person", "retest_of").order_by("sampled_at")[:200]


def _chosen_campaign(request):
    chosen = request.POST.get("campaign")
    if not chosen:
        return None
    campaign = campaigns_for(request.user).filter(pk=chosen if chosen.isdigit() else 0).first()
    if campaign is None:
        raise actions.Refused("unknown_campaign", _("Choose one of the campaigns shown."))
    return campaign


@login_required
def sampling(request):
    require_capability(request.user, TAKE_SAMPLES)
    message, refused = None, None
    if request.method == "POST":
        step, barcode = request.POST.get("step"), request.POST.get("barcode", "")
        try:
            if step == "open":
                actions.open_tube(
                    request.user,
                    barcode,
                    int(request.POST.get("size") or 10),
                    request.POST.get("site", "")[:100],
                    request.user.scope_code,
                    campaign=_chosen_campaign(request),
                )
                message = _("Tube %(b)s opened.") % {"b": barcode}
            elif step == "scan":
                person = _person_by_id_number(request.POST.get("doc_number", ""))
                actions.scan_into(request.user, barcode, person)
                message = _("%(name)s added to %(b)s.") % {
                    "name": idcard.mask_name(person.name),
                    "b": barcode,
                }
            elif step == "seal":
                sealed = actions.seal(request.user, barcode)
                message = _("Tube %(b)s sealed with %(n)s people.") % {
                    "b": barcode,
                    "n": sealed["members"],
                }
                if sealed["under_filled"]:
                    message += " " + _("The tube is not full.")
        except actions.Refused as error:
            refused = error
    return render(
        request,
        "labs/sampling.html",
        {
            "message": message,
            "refused": refused,
            "data": request.POST,
            "recalls": _recalls_in_scope(request.user),
            "campaigns": campaigns_for(request.user).filter(
                starts_at__lte=timezone.now(), ends_at__gte=timezone.now()
            ),
        },
        status=400 if refused else 200,
    )
