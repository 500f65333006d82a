"""Campaign pages: the list with completion for headquarters (the testing command view), a
campaign's page (completion by area with drill-down, who is missing, pool-size advice, sites and
time slots, roster, bulk results)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from epicore import divisions
from fangkong.accounts import audit
from fangkong.accounts.roles import RECORD_RESULTS, RUN_CAMPAIGNS, TAKE_SAMPLES
from fangkong.errors import Refused
from fangkong.geo.models import in_subtree
from fangkong.labs import bulk, campaigns
from fangkong.labs.models import Campaign, CampaignKind, Outcome, SamplingSite, TubeState
from fangkong.people.importing import FileProblem, read_table_file

CAMPAIGN_ROLES = (RUN_CAMPAIGNS, TAKE_SAMPLES, RECORD_RESULTS)


def _ancestors(code: str) -> list[str]:
    ancestors = []
    while (code := divisions.parent_code_of(code)) is not None:
        ancestors.append(code)
    return ancestors


def campaigns_for(user):
    """Campaigns inside the user's subtree, and those of areas that contain it (a grid worker
    samples for the city's campaign)."""
    if not any(user.can(c) for c in CAMPAIGN_ROLES) or not user.scope_code:
        return Campaign.objects.none()
    scope = user.scope_code
    return Campaign.objects.filter(
        in_subtree("jurisdiction_id", scope) | Q(jurisdiction_id__in=_ancestors(scope))
    )


def _campaign(user, campaign_id: int) -> Campaign:
    campaign = campaigns_for(user).filter(pk=campaign_id).first()
    if campaign is None:
        raise Http404
    return campaign


def _when(text: str):
    value = parse_datetime((text or "").strip().replace("T", " "))
    if value is None:
        raise Refused("bad_time", _("Give times as YYYY-MM-DD HH:MM."))
    return timezone.make_aware(value) if timezone.is_naive(value) else value


@login_required
def campaign_list(request):
    user = request.user
    if not any(user.can(c) for c in CAMPAIGN_ROLES) or not user.scope_code:
        raise Http404
    if request.method == "POST":
        _create(request)
        return redirect("campaigns")
    rows = (
        campaigns_for(user)
        .annotate(
            sampled=Count("samples", distinct=True),
            tubes_resulted=Count("tubes", filter=Q(tubes__state=TubeState.RESULTED), distinct=True),
            tubes_positive=Count(
                "tubes",
                filter=Q(tubes__state=TubeState.RESULTED) & ~Q(tubes__outcome=Outcome.NEGATIVE),
                distinct=True,
            ),
            tubes_held=Count("tubes", filter=Q(tubes__state=TubeState.HELD), distinct=True),
        )
        .order_by("-starts_at")
    )
    return render(
        request,
        "labs/campaigns.html",
        {"rows": rows[:100], "kinds": CampaignKind.choices, "can_run": user.can(RUN_CAMPAIGNS)},
    )


def _create(request) -> None:
    if not request.user.can(RUN_CAMPAIGNS):
        raise Http404
    post = request.POST
    try:
        code = post.get("jurisdiction") or request.user.scope_code
        if not code.startswith(request.user.scope_code):
            raise Refused("outside", _("The campaign's area must lie inside your jurisdiction."))
        campaign = campaigns.create(
            request.user, post.get("name", ""), post.get("kind", ""), code,
            _when(post.get("starts_at")), _when(post.get("ends_at")),
            int(post.get("tube_size") or 10),
            int(post["expected"]) if post.get("expected", "").strip().isdigit() else None,
            int(post["repeat_days"]) if post.get("repeat_days", "").strip().isdigit() else 0,
        )  # fmt: skip
    except Refused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, _("Campaign %(name)s created.") % {"name": campaign.name})


@login_required
def campaign_detail(request, campaign_id: int):
    campaign = _campaign(request.user, campaign_id)
    scope = request.user.scope_code
    # Drill down, never above what both the campaign and the user cover.
    deepest = scope if scope.startswith(campaign.jurisdiction_id) else campaign.jurisdiction_id
    under = request.GET.get("under") or deepest
    if not under.startswith(deepest):
        raise Http404
    units = campaigns.completion(campaign, under)
    missing = None
    if len(under) >= 9 and campaign.kind != CampaignKind.VOLUNTEER:  # a township or below
        after = int(request.GET.get("after") or 0)
        missing = campaigns.missing_people(campaign, under, after)
        audit.record(request.user, "labs.campaign_missing", object_type="campaign",
                     object_id=campaign.pk, jurisdiction_code=under)  # fmt: skip
    return render(
        request,
        "labs/campaign.html",
        {
            "campaign": campaign,
            "totals": campaigns.totals(campaign),
            "units": units,
            "under": under,
            "up": divisions.parent_code_of(under) if len(under) > len(deepest) else None,
            "missing": missing,
            "advice": campaigns.pool_advice(campaign),
            "sites": campaign.sites.prefetch_related("slots").order_by("name"),
            "can_run": request.user.can(RUN_CAMPAIGNS),
            "can_upload": request.user.can(RECORD_RESULTS),
        },
    )


@login_required
@require_POST
def campaign_act(request, campaign_id: int, action: str):
    campaign = _campaign(request.user, campaign_id)
    steps = {"site": _add_site, "slot": _add_slot, "roster": _add_roster, "results": _bulk_results}
    if action not in steps:
        raise Http404
    try:
        steps[action](request, campaign)
    except Refused as refused:
        messages.error(request, refused.message)
    except PermissionError:
        raise Http404 from None
    return redirect("campaign", campaign_id=campaign.pk)


def _add_site(request, campaign):
    post = request.POST
    campaigns.add_site(request.user, campaign, post.get("name", ""),
                       post.get("jurisdiction", "") or campaign.jurisdiction_id, post.get("address", ""))  # fmt: skip
    messages.success(request, _("Sampling site added."))


def _add_slot(request, campaign):
    site = SamplingSite.objects.filter(campaign=campaign, pk=request.POST.get("site") or 0).first()
    if site is None:
        raise Refused("unknown_site", _("Choose a sampling site of this campaign."))
    expected = request.POST.get("expected", "0")
    campaigns.add_slot(request.user, site, _when(request.POST.get("starts_at")),
                       _when(request.POST.get("ends_at")), int(expected) if expected.isdigit() else 0)  # fmt: skip
    messages.success(request, _("Time slot added."))


def _add_roster(request, campaign):
    report = campaigns.add_roster(
        request.user, campaign, request.POST.get("numbers", "").splitlines()
    )
    messages.success(
        request,
        _("%(a)s added to the roster, %(b)s already on it.")
        % {"a": report.added, "b": report.already},
    )
    for line, problem in report.problems[:50]:
        messages.error(request, _("Line %(n)s: %(p)s") % {"n": line, "p": problem})


def _bulk_results(request, campaign):
    if not request.user.can(RECORD_RESULTS):
        raise PermissionError
    upload = request.FILES.get("file")
    if upload is None:
        raise Refused("no_file", _("Choose a file."))
    try:
        records = read_table_file(upload.name, upload.read(), bulk.MEMBER_RESULTS)
    except FileProblem as problem:
        raise Refused("bad_file", str(problem)) from None
    report = bulk.import_member_results(
        request.user, records, request.POST.get("lab", "")[:100], request.user.scope_code, campaign
    )
    messages.success(request, _("%(rows)s rows read: %(tubes)s new tubes with %(members)s people, %(pos)s positive tubes; %(bad)s rows not imported.") % {
        "rows": report.rows, "tubes": report.tubes_new, "members": report.members,
        "pos": report.positives, "bad": report.rejected_rows})  # fmt: skip
    for row, column, problem in report.problems[:100]:
        messages.error(
            request, _("Row %(r)s, %(c)s: %(p)s") % {"r": row, "c": column, "p": problem}
        )
