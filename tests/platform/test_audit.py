import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from fangkong.accounts import audit
from fangkong.accounts.db import set_append_only
from fangkong.accounts.models import AuditEntry, AuditHead


@pytest.fixture
def chain(world):
    for i in range(5):
        audit.record(
            world.users["tracer_a"],
            "test.event",
            object_type="person",
            object_id=i,
            reason=f"reason {i}",
            details={"n": i, "名": "张"},
        )
    return list(AuditEntry.objects.order_by("-seq")[:5])[::-1]


def _raw(sql, params=()):
    """Tamper as a database administrator would: around the ORM and the triggers."""
    set_append_only(connection, False)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
    finally:
        set_append_only(connection, True)


def test_intact_chain_verifies(chain):
    report = audit.verify()
    assert report.ok, report.problems
    assert report.head_seq == chain[-1].seq


def test_edited_row_is_detected(chain):
    _raw("UPDATE accounts_auditentry SET reason = %s WHERE seq = %s", ["edited", chain[2].seq])
    report = audit.verify()
    assert f"entry {chain[2].seq} was changed after it was written" in report.problems


def test_deleted_middle_row_is_detected(chain):
    _raw("DELETE FROM accounts_auditentry WHERE seq = %s", [chain[1].seq])
    problems = audit.verify().problems
    assert any("missing (deleted)" in p for p in problems)


def test_deleted_tail_is_detected(chain):
    _raw("DELETE FROM accounts_auditentry WHERE seq = %s", [chain[-1].seq])
    problems = audit.verify().problems
    assert any("head records entry" in p for p in problems)


def test_rewritten_tail_and_head_caught_by_published_head(chain):
    published = (chain[-1].seq, chain[-1].hash)
    _raw("DELETE FROM accounts_auditentry WHERE seq = %s", [chain[-1].seq])
    _raw(
        "UPDATE accounts_audithead SET seq = %s, hash = %s WHERE id = 1",
        [chain[-2].seq, chain[-2].hash],
    )
    assert audit.verify().ok  # a careful forger fooled the database alone...
    assert not audit.verify(expect_head=published).ok  # ...but not the published head


def test_recomputed_hash_still_breaks_the_link(chain):
    entry = chain[2]
    values = {name: getattr(entry, name) for name in audit.HASHED_FIELDS}
    values["at"] = audit._timestamp(entry.at)
    values["reason"] = "forged"
    forged = audit.entry_hash(entry.prev_hash, values)
    _raw(
        "UPDATE accounts_auditentry SET reason = %s, hash = %s WHERE seq = %s",
        ["forged", forged, entry.seq],
    )
    problems = audit.verify().problems
    assert f"entry {chain[3].seq} does not follow the entry before it" in problems


def test_orm_refuses_to_change_entries(chain):
    entry = chain[0]
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        AuditEntry.objects.filter(seq=entry.seq).update(reason="x")
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().delete()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE accounts_auditentry SET reason = 'x'",
        "DELETE FROM accounts_auditentry",
    ],
)
def test_database_refuses_to_change_entries(chain, sql):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)


def test_head_follows_appends(chain):
    head = AuditHead.objects.get(id=1)
    assert (head.seq, head.hash) == (chain[-1].seq, chain[-1].hash)


def test_command_exit_status(chain, capsys):
    call_command("audit", "verify")
    assert "audit chain OK" in capsys.readouterr().out
    _raw("UPDATE accounts_auditentry SET actor_username = 'someone' WHERE seq = %s", [chain[0].seq])
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="BROKEN"):
        call_command("audit", "verify")


def test_person_page_view_is_audited_with_who_what_why(login, world):
    client = login("tracer_a")
    before = AuditEntry.objects.count()
    client.get(f"/people/{world.person_a.pk}/?reason=密接排查")
    entry = AuditEntry.objects.order_by("-seq").first()
    assert AuditEntry.objects.count() == before + 1
    assert (entry.action, entry.actor_username, entry.object_id, entry.reason) == (
        "person.view",
        "tracer_a",
        str(world.person_a.pk),
        "密接排查",
    )
    assert entry.jurisdiction_code == world.person_a.jurisdiction_id


def test_refused_read_leaves_no_trace_of_the_person(login, world):
    client = login("tracer_b")
    before = AuditEntry.objects.count()
    assert client.get(f"/people/{world.person_a.pk}/").status_code == 404
    assert AuditEntry.objects.count() == before
