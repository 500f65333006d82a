"""Creating and changing accounts: administrators act inside their own subtree only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from fangkong.accounts import audit
from fangkong.accounts.roles import MANAGE_ACCOUNTS, Role
from fangkong.errors import FieldErrors
from fangkong.geo.models import Jurisdiction


class AccountInvalid(FieldErrors):
    pass


@dataclass(frozen=True)
class CleanAccount:
    username: str
    role: str
    jurisdiction_code: str
    password: str


def check_may_manage(actor) -> None:
    if actor is not None and not actor.can(MANAGE_ACCOUNTS):
        raise PermissionError("this role may not manage accounts")


def check_new_account(actor, data: Mapping[str, Any]) -> CleanAccount:
    """Validate a new staff account; raise AccountInvalid naming every bad field."""
    errors: dict[str, str] = {}
    username = str(data.get("username") or "").strip()
    if not username or len(username) > 150:
        errors["username"] = _("Give a user name of at most 150 characters.")
    elif get_user_model().objects.filter(username=username).exists():
        errors["username"] = _("This user name is taken.")
    role = str(data.get("role") or "")
    if role not in Role.values or role == Role.RESIDENT:
        errors["role"] = _("Choose a staff role.")
    code = str(data.get("jurisdiction") or "").strip()
    if not Jurisdiction.objects.filter(code=code).exists():
        errors["jurisdiction"] = _("Unknown jurisdiction code %(code)s.") % {"code": code}
    elif actor is not None and not code.startswith(actor.scope_code or "-"):
        errors["jurisdiction"] = _("Jurisdiction %(code)s is outside your jurisdiction.") % {
            "code": code
        }
    password = str(data.get("password") or "")
    try:
        password_validation.validate_password(password)
    except DjangoValidationError as error:
        errors["password"] = " ".join(error.messages)
    if errors:
        raise AccountInvalid(errors)
    return CleanAccount(username, role, code, password)


def do_create_account(actor, clean: CleanAccount):
    check_may_manage(actor)
    with transaction.atomic():
        user = get_user_model().objects.create_user(
            username=clean.username,
            password=clean.password,
            role=clean.role,
            jurisdiction_id=clean.jurisdiction_code,
        )
        audit.record(
            actor,
            "account.create",
            object_type="user",
            object_id=user.pk,
            jurisdiction_code=clean.jurisdiction_code,
            details={"username": clean.username, "role": clean.role},
        )
    return user


def do_set_active(actor, user, active: bool, reason: str):
    """Disable (or re-enable) an account; disabled accounts can no longer log in."""
    check_may_manage(actor)
    with transaction.atomic():
        user.is_active = active
        user.save(update_fields=["is_active"])
        audit.record(
            actor,
            "account.enable" if active else "account.disable",
            object_type="user",
            object_id=user.pk,
            jurisdiction_code=user.jurisdiction_id or "",
            reason=reason,
        )
    return user
