from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.accounts import actions, audit
from fangkong.accounts.models import AuditEntry
from fangkong.accounts.queries import access_account_by_id, access_accounts
from fangkong.accounts.roles import MANAGE_ACCOUNTS, VIEW_AUDIT, Role
from fangkong.geo.models import in_subtree


@login_required
def audit_log(request):
    """Recent audit entries about the auditor's jurisdiction, and the chain check on demand."""
    if not request.user.can(VIEW_AUDIT) or not request.user.scope_code:
        raise Http404
    entries = AuditEntry.objects.filter(in_subtree("jurisdiction_code", request.user.scope_code))
    before = request.GET.get("before")
    if before and before.isdigit():
        entries = entries.filter(seq__lt=int(before))
    entries = list(entries.order_by("-seq")[:100])
    report = None
    if request.GET.get("verify"):
        report = audit.verify()
        audit.record(request.user, "audit.verify", details={"ok": report.ok})
    return render(
        request,
        "accounts/audit.html",
        {"entries": entries, "report": report, "older": entries[-1].seq if entries else None},
    )


def _require_manager(user) -> None:
    if not user.can(MANAGE_ACCOUNTS):
        raise Http404


@login_required
def account_list(request):
    _require_manager(request.user)
    accounts = access_accounts(request.user).order_by("jurisdiction_id", "username")
    return render(request, "accounts/list.html", {"accounts": accounts[:500]})


@login_required
def account_new(request):
    _require_manager(request.user)
    errors: dict[str, str] = {}
    data = request.POST if request.method == "POST" else {"jurisdiction": request.user.scope_code}
    if request.method == "POST":
        try:
            actions.do_create_account(
                request.user, actions.check_new_account(request.user, request.POST)
            )
            messages.success(request, _("Account created."))
            return redirect("accounts")
        except actions.AccountInvalid as invalid:
            errors = invalid.errors
    roles = [(v, label) for v, label in Role.choices if v != Role.RESIDENT]
    return render(request, "accounts/new.html", {"data": data, "errors": errors, "roles": roles})


@login_required
@require_POST
def account_active(request, account_id: int):
    _require_manager(request.user)
    account = access_account_by_id(request.user, account_id)
    if account.pk == request.user.pk:
        messages.error(request, _("You cannot disable your own account."))
    else:
        activate = request.POST.get("active") == "1"
        actions.do_set_active(request.user, account, activate, request.POST.get("reason", ""))
    return redirect("accounts")
