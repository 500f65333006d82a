"""The checkpoint's certificate check page (外防输入): trust list from the setting, content shown,
every check audited without the holder's personal data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fangkong.accounts import audit
from fangkong.accounts.models import AuditEntry
from fangkong.errors import FieldErrors
from fangkong.healthcode import certs

VECTORS = Path(__file__).resolve().parents[1] / "engine" / "certs_data"
SHC = (VECTORS / "shc_example_00.txt").read_text()
DCC_AT = (VECTORS / "dgc_at_1.txt").read_text()


@pytest.fixture
def trusted(settings):
    """The published test anchors as the configured trust folder."""
    settings.FANGKONG_CERT_TRUST = [VECTORS]
    return settings


def _last_check() -> dict:
    entry = AuditEntry.objects.filter(action="certs.check").latest("seq")
    return json.loads(entry.details) if isinstance(entry.details, str) else entry.details


def test_a_smart_health_card_is_verified_and_its_content_shown(world, login, trusted):
    response = login("venue_a").post("/certs/check/", {"text": SHC})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-verified="1"' in page
    assert "John B. Anyperson" in page and "1951-01-20" in page
    assert page.count('data-kind="vaccination"') == 2 and "Moderna COVID-19" in page
    assert "https://smarthealth.cards/examples/issuer" in page


def test_an_eu_certificate_shows_signature_expiry_and_doses(world, trusted):
    checked = certs.check_certificate(world.users["quarantine_a"], DCC_AT)
    result = checked.result
    assert (result.format, result.signature_valid, result.expired) == ("dcc", True, True)
    assert result.error["code"] == "expired" and checked.message
    assert checked.content.name.startswith("Musterfrau-Gößinger, Gabriele")
    assert checked.content.birth_date == "1998-02-26"
    (entry,) = checked.content.entries
    assert (entry.kind, entry.date, entry.what) == (
        "vaccination",
        "2021-02-18",
        "Comirnaty (BioNTech/Pfizer)",
    )
    assert "1/2" in entry.detail and entry.where.startswith("AT")


def test_each_check_is_audited_without_the_holders_name(world, trusted):
    certs.check_certificate(world.users["tracer_a"], SHC)
    entry = AuditEntry.objects.filter(action="certs.check").latest("seq")
    details = _last_check()
    assert (details["format"], details["verified"], details["error"]) == ("shc", True, None)
    assert entry.actor_username == "tracer_a" and len(entry.object_id) == 32
    assert entry.jurisdiction_code == world.users["tracer_a"].scope_code
    assert "Anyperson" not in entry.details and "1951" not in str(entry.details)
    assert audit.verify().ok


def test_without_a_trust_list_the_content_shows_but_nothing_is_verified(world, settings, tmp_path):
    settings.FANGKONG_CERT_TRUST = [tmp_path / "nothing-here"]
    checked = certs.check_certificate(world.users["venue_a"], SHC)
    assert checked.result.error["code"] == "no_trust_list" and not checked.result.verified
    assert checked.content.name == "John B. Anyperson"  # what was presented, for the operator
    assert _last_check()["error"] == "no_trust_list"


def test_a_key_outside_the_trust_list_is_named_as_such(world, settings, tmp_path):
    shutil.copy(VECTORS / "dgc_at_1_dsc.pem", tmp_path)
    settings.FANGKONG_CERT_TRUST = [tmp_path]
    checked = certs.check_certificate(world.users["venue_a"], SHC)
    assert checked.result.error["code"] == "unknown_kid"
    assert "不在信任列表" in checked.message


def test_a_broken_trust_file_is_reported_and_the_others_still_count(world, settings, tmp_path):
    shutil.copy(VECTORS / "shc_issuer_jwks.json", tmp_path)
    (tmp_path / "broken.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64\n")
    (tmp_path / "notes.txt").write_text("not a trust file, not read")
    settings.FANGKONG_CERT_TRUST = [tmp_path]
    checked = certs.check_certificate(world.users["venue_a"], SHC)
    assert checked.result.verified
    assert checked.trust.files == ("broken.pem", "shc_issuer_jwks.json")
    assert len(checked.trust.problems) == 1 and checked.trust.problems[0].startswith("broken.pem")


@pytest.mark.parametrize(
    "text, code",
    [
        ("https://example.org/not-a-cert", "unknown_prefix"),
        ("HC1:%%%%", "base45_invalid"),
        ("shc:/12x4", "shc_numeric_invalid"),
        (DCC_AT.strip()[:-12], None),  # truncated: some decoding layer names it
    ],
)
def test_malformed_text_gets_a_precise_reason(world, trusted, text, code):
    checked = certs.check_certificate(world.users["venue_a"], text)
    assert not checked.result.verified and checked.message
    if code:
        assert checked.result.error["code"] == code
    assert checked.content.entries == []


def test_empty_text_is_a_form_error_and_not_audited(world, login, trusted):
    before = AuditEntry.objects.filter(action="certs.check").count()
    response = login("venue_a").post("/certs/check/", {"text": "  "})
    assert response.status_code == 400
    assert 'data-testid="error-text"' in response.content.decode()
    assert AuditEntry.objects.filter(action="certs.check").count() == before
    with pytest.raises(FieldErrors):
        certs.check_certificate(world.users["venue_a"], "")


def test_roles_without_code_reading_may_not_check(world):
    with pytest.raises(PermissionError):
        certs.check_certificate(world.users["lab_a"], SHC)


def test_hostile_payload_shapes_do_not_break_the_summary():
    odd = {"nam": ["x"], "dob": {"a": 1}, "v": [1, {"mp": ["x"], "dn": 1}], "t": "x", "r": None}
    content = certs.dcc_content(odd)
    assert content.name == "" and content.birth_date == "" and len(content.entries) == 1
    assert (
        certs.shc_content({"vc": {"credentialSubject": {"fhirBundle": {"entry": 5}}}}).entries == []
    )
