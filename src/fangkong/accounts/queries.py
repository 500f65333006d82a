from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import Http404

from fangkong.accounts.roles import MANAGE_ACCOUNTS, Role
from fangkong.geo.models import in_subtree


def require_capability(user, capability: str) -> None:
    """404, not 403, for a role without the capability: no hint that the page exists."""
    if not user.can(capability):
        raise Http404


def access_accounts(user) -> QuerySet:
    """Staff accounts inside an administrator's subtree."""
    model = get_user_model()
    if not user.is_authenticated or not user.can(MANAGE_ACCOUNTS) or not user.scope_code:
        return model.objects.none()
    return model.objects.filter(in_subtree("jurisdiction_id", user.scope_code)).exclude(
        role=Role.RESIDENT
    )


def access_account_by_id(user, account_id: int):
    account = access_accounts(user).filter(pk=account_id).first()
    if account is None:
        raise Http404
    return account
