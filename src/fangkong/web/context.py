from fangkong.accounts.roles import (
    FOLLOW_UP,
    MANAGE_ACCOUNTS,
    OVERRIDE_CODES,
    RECORD_RESULTS,
    RUN_CAMPAIGNS,
    TAKE_SAMPLES,
    VERIFY_CODES,
    VIEW_AUDIT,
    VIEW_CASES,
    VIEW_GEO,
    VIEW_INVESTIGATIONS,
    VIEW_PEOPLE,
)


def navigation(request):
    """Which menu entries to show; the pages themselves check again (404 when not allowed)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": {}}
    return {
        "nav": {
            "geo": user.can(VIEW_GEO) and bool(user.scope_code),
            "people": user.can(VIEW_PEOPLE),
            "cases": user.can(VIEW_CASES) and bool(user.scope_code),
            "investigations": user.can(VIEW_INVESTIGATIONS) and bool(user.scope_code),
            "my_code": user.role == "resident" and bool(user.person_id),
            "venues": user.can(VERIFY_CODES) and bool(user.scope_code),
            "follow_ups": user.can(FOLLOW_UP) and bool(user.scope_code),
            "overrides": user.can(OVERRIDE_CODES) and bool(user.scope_code),
            "labs": user.can(RECORD_RESULTS),
            "sampling": user.can(TAKE_SAMPLES) and bool(user.scope_code),
            "campaigns": bool(user.scope_code)
            and any(user.can(c) for c in (RUN_CAMPAIGNS, TAKE_SAMPLES, RECORD_RESULTS)),
            "audit": user.can(VIEW_AUDIT),
            "accounts": user.can(MANAGE_ACCOUNTS),
        }
    }
