import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from fangkong.accounts import actions
from fangkong.accounts.models import AuditEntry, User
from fangkong.testing import COUNTY_A, COUNTY_B

GOOD = {
    "username": "new_tracer",
    "role": "tracer",
    "jurisdiction": COUNTY_A,
    "password": "a-Long-enough-passw0rd",
}


def test_admin_creates_an_account_in_scope_and_it_is_audited(login, world):
    client = login("admin")
    response = client.post("/accounts/new/", GOOD)
    assert response.status_code == 302
    user = User.objects.get(username="new_tracer")
    assert (user.role, user.jurisdiction_id) == ("tracer", COUNTY_A)
    assert AuditEntry.objects.filter(action="account.create", object_id=str(user.pk)).exists()


def test_account_checks_name_every_problem(world):
    with pytest.raises(actions.AccountInvalid) as caught:
        actions.check_new_account(
            world.users["admin"],
            {"username": "tracer_a", "role": "resident", "jurisdiction": "99", "password": "1"},
        )
    assert set(caught.value.errors) == {"username", "role", "jurisdiction", "password"}


def test_county_admin_cannot_reach_another_county(world, client):
    admin_b = User.objects.create_user(
        "admin_b", password="x", role="admin", jurisdiction_id=COUNTY_B
    )
    client.force_login(admin_b)
    assert (
        client.post(f"/accounts/{world.users['tracer_a'].pk}/active/", {"active": "0"}).status_code
        == 404
    )
    with pytest.raises(actions.AccountInvalid):
        actions.check_new_account(admin_b, {**GOOD, "jurisdiction": COUNTY_A})
    page = client.get("/accounts/").content.decode()
    assert "tracer_b" in page and "tracer_a" not in page


def test_disabled_account_is_logged_out(login, world, client):
    admin = login("admin")
    admin.post(f"/accounts/{world.users['tracer_a'].pk}/active/", {"active": "0", "reason": "离职"})
    client.force_login(world.users["tracer_a"])
    world.users["tracer_a"].refresh_from_db()
    assert not world.users["tracer_a"].is_active
    assert client.get("/people/").status_code == 302  # back to the login page
    entry = AuditEntry.objects.filter(action="account.disable").order_by("-seq").first()
    assert entry.reason == "离职"


def test_create_account_command(world, capsys):
    call_command(
        "create_account",
        username="cmd2",
        role="command",
        jurisdiction="3502",
        password="a-Long-enough-passw0rd",
    )
    assert "created cmd2" in capsys.readouterr().out
    with pytest.raises(CommandError, match="jurisdiction"):
        call_command(
            "create_account",
            username="cmd3",
            role="command",
            jurisdiction="0",
            password="a-Long-enough-passw0rd",
        )
