"""Every page and endpoint, every persona: who gets what. Out of scope is always 404.

`test_every_route_is_in_the_matrix` fails when a new URL is added without rows here.
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from fangkong.cases.models import AssistanceItem, TracingRun
from fangkong.testing import COUNTY_A, COUNTY_B

PERSONAS = [
    None,
    "command",
    "tracer_a",
    "tracer_b",
    "grid_a",
    "lab_a",
    "quarantine_a",
    "supplies_a",
    "venue_a",
    "auditor",
    "admin",
    "resident_a",
]
ALL_STAFF = PERSONAS[1:]

# (route pattern, method, path template, data, {persona: status}, default status for the rest)
# Path templates are filled from the world: {a}=person in grid A, {a2}=another in county A,
# {b}=person in county B, {A}/{B}=county codes, {ga}=grid A.
PAGE_LOGIN = 302  # anonymous visitors are sent to the login page
API_ANON = 401
VIEWERS = {"command", "tracer_a", "tracer_b", "grid_a", "quarantine_a"}
EDITORS = {"tracer_a", "tracer_b", "grid_a"}
GEO = {
    "command",
    "tracer_a",
    "tracer_b",
    "grid_a",
    "lab_a",
    "quarantine_a",
    "supplies_a",
    "auditor",
    "admin",
}


CASE_VIEWERS = {"command", "tracer_a", "tracer_b", "grid_a", "quarantine_a"}
CASE_A = {"command", "tracer_a", "quarantine_a"}
PERSON_A = {"command", "tracer_a", "grid_a", "quarantine_a", "resident_a"}
CODE_READERS = {"command", "tracer_a", "tracer_b", "grid_a", "quarantine_a", "venue_a"}
ASSIST_BOTH = {"command", "tracer_a", "tracer_b", "quarantine_a"}
OVERRIDERS = {"command", "tracer_a", "tracer_b"}
OVERRIDE_A = {"command", "tracer_a"}
VENUE_A = {"command", "tracer_a", "grid_a", "quarantine_a", "venue_a"}
SITE_A = {"command", "tracer_a", "grid_a", "quarantine_a"}
CAMPAIGN_A = {"command", "grid_a", "lab_a"}
SAMPLERS_A = {"grid_a", "lab_a"}
TRACERS = {"tracer_a", "tracer_b"}
INVESTIGATION_A = {"command", "tracer_a"}


def allow(personas, status=200, anon=PAGE_LOGIN, others=404):
    table = {p: (status if p in personas else others) for p in ALL_STAFF}
    table[None] = anon
    return table


CASES = [
    ("", "get", "/", None, {**allow(ALL_STAFF), "resident_a": 302}),
    ("login/", "get", "/login/", None, {**allow(ALL_STAFF), None: 200}),
    ("logout/", "post", "/logout/", {}, {**allow(ALL_STAFF, 302), None: 302}),
    (
        "i18n/setlang/",
        "post",
        "/i18n/setlang/",
        {"language": "en"},
        {**allow(ALL_STAFF, 302), None: 302},
    ),
    ("geo/", "get", "/geo/", None, allow(GEO, 302)),
    ("geo/<str:code>/", "get", "/geo/{A}/", None, allow(GEO - {"tracer_b", "grid_a"})),
    (
        "geo/<str:code>/",
        "get",
        "/geo/{B}/",
        None,
        allow({"command", "tracer_b", "auditor", "admin"}),
    ),
    ("geo/<str:code>/", "get", "/geo/{ga}/", None, allow(GEO - {"tracer_b"})),
    ("people/", "get", "/people/", None, allow(VIEWERS)),
    ("people/", "get", "/people/?j={A}", None, allow(VIEWERS - {"tracer_b", "grid_a"})),
    ("people/", "get", "/people/?q=张", None, allow(VIEWERS)),
    ("people/new/", "get", "/people/new/", None, allow(EDITORS)),
    ("people/import/", "get", "/people/import/", None, allow(EDITORS)),
    (
        "people/<int:person_id>/",
        "get",
        "/people/{a}/",
        None,
        allow({"command", "tracer_a", "grid_a", "quarantine_a", "resident_a"}),
    ),
    (
        "people/<int:person_id>/",
        "get",
        "/people/{a2}/",
        None,
        allow({"command", "tracer_a", "quarantine_a"}),
    ),
    ("people/<int:person_id>/", "get", "/people/{b}/", None, allow({"command", "tracer_b"})),
    (
        "people/<int:person_id>/reveal/",
        "post",
        "/people/{a}/reveal/",
        {"reason": "流调"},
        allow({"command", "tracer_a", "grid_a", "quarantine_a", "resident_a"}),
    ),
    (
        "people/<int:person_id>/reveal/",
        "post",
        "/people/{b}/reveal/",
        {"reason": "流调"},
        allow({"command", "tracer_b"}),
    ),
    # Cases: a case is seen in the subtree of its reporting jurisdiction (person_a2's grid in
    # county A); its contact person_b lives in county B and is county B's to handle.
    ("people/<int:person_id>/case/", "get", "/people/{a}/case/", None, allow({"tracer_a"})),
    ("people/<int:person_id>/case/", "get", "/people/{b}/case/", None, allow({"tracer_b"})),
    ("cases/", "get", "/cases/", None, allow(CASE_VIEWERS)),
    # Go.Data import: tracers (cases and people editors) only; anyone else 404.
    ("cases/import/godata/", "get", "/cases/import/godata/", None, allow(TRACERS)),
    (
        "cases/import/godata/",
        "post",
        "/cases/import/godata/",
        {},
        allow(TRACERS, 400),  # no cases file: the page says so
    ),
    ("cases/<int:case_id>/", "get", "/cases/{c}/", None, allow(CASE_A)),
    (
        "cases/<int:case_id>/reclassify/",
        "post",
        "/cases/{c}/reclassify/",
        {"classification": "asymptomatic"},
        allow({"tracer_a"}, 302),
    ),
    ("cases/<int:case_id>/trace/", "post", "/cases/{c}/trace/", {}, allow({"tracer_a"}, 302)),
    # Investigations (流调报告): the tracing team and headquarters read them, in scope; only
    # tracers write. Site staff and grid workers see cases, not investigations.
    (
        "cases/<int:case_id>/investigation/",
        "get",
        "/cases/{c}/investigation/",
        None,
        allow(INVESTIGATION_A),
    ),  # fmt: skip
    (
        "cases/<int:case_id>/investigation/<str:part>/",
        "post",
        "/cases/{c}/investigation/core/",
        {"occupation": "教师"},
        allow({"tracer_a"}, 302),
    ),  # fmt: skip
    (
        "cases/<int:case_id>/investigation/<str:part>/",
        "post",
        "/cases/{c}/investigation/submit-core/",
        {},
        allow({"tracer_a"}, 302),
    ),  # fmt: skip
    (
        "cases/<int:case_id>/investigation/<str:part>/",
        "post",
        "/cases/{c}/investigation/nope/",
        {},
        allow(set(), 302, others=404),
    ),  # fmt: skip
    (
        "cases/<int:case_id>/investigation/<str:kind>/<int:item_id>/",
        "post",
        "/cases/{c}/investigation/itinerary/{ie}/",
        {},
        allow({"tracer_a"}, 302),
    ),  # fmt: skip
    (
        "cases/<int:case_id>/investigation/<str:kind>/<int:item_id>/",
        "post",
        "/cases/{c}/investigation/named/{nc}/",
        {},
        allow({"tracer_a"}, 302),
    ),  # fmt: skip
    (
        "investigations/",
        "get",
        "/investigations/",
        None,
        allow({"command", "tracer_a", "tracer_b"}),
    ),  # fmt: skip
    ("tracing/<int:run_id>/", "get", "/tracing/{tr}/", None, allow(CASE_A)),
    ("tracing/<int:run_id>/assign/", "post", "/tracing/{tr}/assign/", {}, allow({"tracer_a"}, 302)),
    ("quarantine/", "get", "/quarantine/", None, allow(CASE_VIEWERS)),
    # Quarantine: a site in grid A is seen by case viewers of that subtree, worked by its site
    # staff; reserve sites are headquarters'; home follow-up is the grid worker's.
    ("quarantine/sites/<int:site_id>/", "get", "/quarantine/sites/{qs}/", None, allow(SITE_A)),
    (
        "quarantine/sites/<int:site_id>/<str:action>/",
        "post",
        "/quarantine/sites/{qs}/activate/",
        {},
        allow({"command"}, 302),
    ),
    (
        "quarantine/rooms/<int:room_id>/state/",
        "post",
        "/quarantine/rooms/{qr}/state/",
        {"state": "out_of_service"},
        allow({"quarantine_a"}, 302),
    ),
    ("quarantine/stays/<int:stay_id>/", "get", "/quarantine/stays/{st}/", None, allow(SITE_A)),
    (
        "quarantine/stays/<int:stay_id>/<str:action>/",
        "post",
        "/quarantine/stays/{st}/reading/",
        {"slot": "pm", "temperature": "36.5"},
        allow({"quarantine_a"}, 302),
    ),
    (
        "quarantine/transfers/<int:transfer_id>/<str:step>/",
        "post",
        "/quarantine/transfers/{qt}/depart/",
        {},
        allow({"quarantine_a"}, 302),
    ),
    (
        "quarantine/alerts/<int:alert_id>/ack/",
        "post",
        "/quarantine/alerts/{qa}/ack/",
        {},
        allow({"quarantine_a"}, 302),
    ),
    ("quarantine/follow-ups/", "get", "/quarantine/follow-ups/", None, allow({"grid_a"})),
    (
        "quarantine/follow-ups/<int:task_id>/done/",
        "post",
        "/quarantine/follow-ups/{qf}/done/",
        {},
        allow({"grid_a"}, 302),
    ),
    ("me/quarantine/", "get", "/me/quarantine/", None, allow({"resident_a"})),
    # Testing campaigns: headquarters run them; sampling and lab staff of the area see them.
    ("labs/campaigns/", "get", "/labs/campaigns/", None, allow(CAMPAIGN_A)),
    ("labs/campaigns/<int:campaign_id>/", "get", "/labs/campaigns/{cp}/", None, allow(CAMPAIGN_A)),
    (
        "labs/campaigns/<int:campaign_id>/<str:action>/",
        "post",
        "/labs/campaigns/{cp}/site/",
        {"name": "湖滨采样点"},
        allow({"command"}, 302),
    ),
    ("cases/<int:case_id>/fhir.json", "get", "/cases/{c}/fhir.json", None, allow(CASE_A)),
    ("contacts/", "get", "/contacts/", None, allow(CASE_VIEWERS)),
    ("contacts/export/", "post", "/contacts/export/", {}, allow(CASE_VIEWERS, 302)),
    # An export belongs to whoever asked for it (tracer_a here), nobody else.
    ("exports/<int:job_id>/", "get", "/exports/{ex}/", None, allow({"tracer_a"})),
    ("exports/<int:job_id>/file", "get", "/exports/{ex}/file", None, allow({"tracer_a"})),
    ("graph/", "get", "/graph/", None, allow(CASE_VIEWERS)),
    (
        "contacts/<int:contact_id>/status/",
        "post",
        "/contacts/{kb}/status/",
        {"status": "located"},
        allow({"tracer_b"}, 302),
    ),
    # Health codes: a resident sees their own code; staff read a person's colour history with
    # the same scope as the person page; the public key set is public.
    ("me/code/", "get", "/me/code/", None, allow({"resident_a"})),
    ("people/<int:person_id>/code/", "get", "/people/{a}/code/", None, allow(PERSON_A)),
    (
        "people/<int:person_id>/code/",
        "get",
        "/people/{b}/code/",
        None,
        allow({"command", "tracer_b"}),
    ),
    ("healthcode/keys.json", "get", "/healthcode/keys.json", None, {**allow(ALL_STAFF), None: 200}),
    # Travellers' certificates (外防输入): whoever reads codes at a checkpoint; not scoped to a
    # jurisdiction, a certificate is not a record of the register.
    ("certs/check/", "get", "/certs/check/", None, allow(CODE_READERS)),
    ("certs/check/", "post", "/certs/check/", {"text": "HC1:NOT A CERT"}, allow(CODE_READERS)),
    # Venues: code readers of the venue's subtree print posters and run the door scanner.
    ("me/scan/", "get", "/me/scan/", None, allow({"resident_a"})),
    ("venues/", "get", "/venues/", None, allow(CODE_READERS)),
    ("venues/<int:venue_id>/poster/", "get", "/venues/{va}/poster/", None, allow(VENUE_A)),
    (
        "venues/<int:venue_id>/poster/",
        "get",
        "/venues/{vb}/poster/",
        None,
        allow({"command", "tracer_b"}),
    ),
    ("venues/<int:venue_id>/scan/", "get", "/venues/{va}/scan/", None, allow(VENUE_A)),
    # Manual colours and appeals: command and tracers of the person's subtree.
    ("people/<int:person_id>/override/", "get", "/people/{a}/override/", None, allow(OVERRIDE_A)),
    ("overrides/", "get", "/overrides/", None, allow(OVERRIDERS)),
    (
        "overrides/<int:override_id>/decide/",
        "post",
        "/overrides/{ov}/decide/",
        {"approve": "1"},
        allow(OVERRIDE_A, 302),
    ),
    ("me/appeal/", "get", "/me/appeal/", None, allow({"resident_a"})),
    ("appeals/", "get", "/appeals/", None, allow(OVERRIDERS)),
    (
        "appeals/<int:appeal_id>/answer/",
        "post",
        "/appeals/{ap}/answer/",
        {"answer": "已核实，系误判"},
        allow(OVERRIDE_A, 302),
    ),
    # Assistance requests: both ends (and the levels above them) see a request; only the
    # receiving county's tracers act on it.
    ("assist/", "get", "/assist/", None, allow(CASE_VIEWERS)),
    ("assist/<int:request_id>/", "get", "/assist/{xr}/", None, allow(ASSIST_BOTH)),
    (
        "assist/<int:request_id>/list.<str:fmt>",
        "get",
        "/assist/{xr}/list.xlsx",
        None,
        allow(ASSIST_BOTH),
    ),
    (
        "assist/<int:request_id>/<str:action>/",
        "post",
        "/assist/{xr}/ack/",
        {},
        allow({"tracer_b"}, 302),
    ),
    (
        "assist/<int:request_id>/items/<int:item_id>/",
        "post",
        "/assist/{xr}/items/{xi}/",
        {"state": "located"},
        allow({"tracer_b"}, 302),
    ),
    ("labs/", "get", "/labs/", None, allow({"lab_a"})),
    ("labs/sampling/", "get", "/labs/sampling/", None, allow({"lab_a", "grid_a"})),
    # Transport boxes: sampling staff of the box's subtree pack and hand over; its labs receive.
    ("labs/boxes/", "get", "/labs/boxes/", None, allow(SAMPLERS_A)),
    (
        "labs/boxes/",
        "post",
        "/labs/boxes/",
        {"step": "seal", "code": "矩阵箱1"},
        allow(SAMPLERS_A, 302),
    ),
    ("labs/boxes/<int:box_id>/", "get", "/labs/boxes/{bx}/", None, allow(SAMPLERS_A)),
    (
        "labs/boxes/receive/",
        "post",
        "/labs/boxes/receive/",
        {"code": "矩阵箱1", "lab": "矩阵实验室"},
        allow({"lab_a"}, 302),
    ),
    ("audit/", "get", "/audit/", None, allow({"auditor"})),
    ("accounts/", "get", "/accounts/", None, allow({"admin"})),
    ("accounts/new/", "get", "/accounts/new/", None, allow({"admin"})),
    (
        "accounts/<int:account_id>/active/",
        "post",
        "/accounts/{sa}/active/",
        {"active": "0"},
        allow({"admin"}, 302),
    ),
    # JSON API
    ("api/me", "get", "/api/me", None, allow(ALL_STAFF, anon=API_ANON)),
    ("api/openapi.json", "get", "/api/openapi.json", None, {**allow(ALL_STAFF), None: 200}),
    ("api/docs", "get", "/api/docs", None, {**allow(ALL_STAFF), None: 200}),
    (
        "api/jurisdictions/{code}",
        "get",
        "/api/jurisdictions/{A}",
        None,
        allow(GEO - {"tracer_b", "grid_a"}, anon=API_ANON),
    ),
    (
        "api/jurisdictions/{code}",
        "get",
        "/api/jurisdictions/{B}",
        None,
        allow({"command", "tracer_b", "auditor", "admin"}, anon=API_ANON),
    ),
    ("api/people", "get", "/api/people", None, allow(VIEWERS, anon=API_ANON)),
    (
        "api/people",
        "get",
        "/api/people?jurisdiction={B}",
        None,
        allow({"command", "tracer_b"}, anon=API_ANON),
    ),
    (
        "api/people/search",
        "get",
        "/api/people/search?q=13800138000",
        None,
        allow(VIEWERS, anon=API_ANON),
    ),
    (
        "api/people/{person_id}",
        "get",
        "/api/people/{a}",
        None,
        allow({"command", "tracer_a", "grid_a", "quarantine_a", "resident_a"}, anon=API_ANON),
    ),
    (
        "api/people/{person_id}",
        "get",
        "/api/people/{b}",
        None,
        allow({"command", "tracer_b"}, anon=API_ANON),
    ),
    (
        "api/people/{person_id}/reveal",
        "post",
        "/api/people/{a}/reveal",
        {"reason": "流调"},
        allow({"command", "tracer_a", "grid_a", "quarantine_a", "resident_a"}, anon=API_ANON),
    ),
    (
        "api/people/{person_id}/reveal",
        "post",
        "/api/people/{b}/reveal",
        {"reason": "流调"},
        allow({"command", "tracer_b"}, anon=API_ANON),
    ),
    # Writes: roles without the capability get 403 (the endpoint is public in the OpenAPI
    # document); a body naming a place outside the caller's scope is refused field by field.
    (
        "api/people",
        "post",
        "/api/people",
        {"doc_number": "x", "name": "x", "jurisdiction": "x"},
        allow(EDITORS, 422, anon=API_ANON, others=403),
    ),
    (
        "api/people/import",
        "post",
        "/api/people/import",
        "FILE",
        allow(EDITORS, 200, anon=API_ANON, others=403),
    ),
    ("api/cases", "get", "/api/cases", None, allow(CASE_VIEWERS, anon=API_ANON)),
    ("api/cases/{case_id}", "get", "/api/cases/{c}", None, allow(CASE_A, anon=API_ANON)),
    (
        "api/cases",
        "post",
        "/api/cases",
        {"person_id": "{a}", "classification": "confirmed", "onset_date": "2022-03-01"},
        {**allow({"tracer_a"}, 201, anon=API_ANON, others=403), "tracer_b": 404},
    ),
    ("api/contacts", "get", "/api/contacts", None, allow(CASE_VIEWERS, anon=API_ANON)),
    ("api/me/code", "get", "/api/me/code", None, allow({"resident_a"}, anon=API_ANON)),
    (
        "api/healthcode/verify",
        "post",
        "/api/healthcode/verify",
        {"token": "FK1:NOT A TOKEN"},
        allow(CODE_READERS, anon=API_ANON, others=403),
    ),
    (
        "api/scan/venue",
        "post",
        "/api/scan/venue",
        {"token": "FK1:NOT A TOKEN"},
        allow({"resident_a"}, 400, anon=API_ANON, others=403),
    ),
    (
        "api/scan/person",
        "post",
        "/api/scan/person",
        {"venue_id": "{va}", "doc_number": "123"},
        {**allow(VENUE_A, 400, anon=API_ANON, others=403), "tracer_b": 404},
    ),
    (
        "api/labs/results",
        "post",
        "/api/labs/results",
        [{"barcode": "NOPE", "result": "negative", "lab": "矩阵实验室"}],
        allow({"lab_a"}, anon=API_ANON, others=403),
    ),
    (
        "api/audit/verify",
        "get",
        "/api/audit/verify",
        None,
        allow({"auditor"}, anon=API_ANON, others=403),
    ),
]


@pytest.fixture
def site_world(world):
    """A site in grid A with a checked-in stay (and a fever alert), an arrival with a transfer
    under way, and a home follow-up task due today in grid A."""
    from datetime import timedelta

    from django.utils import timezone

    from fangkong.quarantine import monitoring, stays
    from fangkong.quarantine.models import FollowUp, HomeMonitoring, Room, Site, Stay

    site = Site.objects.create(name="矩阵隔离点", jurisdiction_id=world.grid_a)
    rooms = [Room.objects.create(site=site, number=str(n)) for n in (1, 2, 3)]
    now = timezone.now()
    stay = Stay.objects.create(person=world.person_a, room=rooms[0], category="case",
                               started_at=now, checked_in_at=now)  # fmt: skip
    arriving = Stay.objects.create(
        person=world.person_a2, room=rooms[1], category="case", started_at=now
    )
    transfer = stays.order_transfer(None, arriving.pk, "闽D·1", "王", "某小区", now)
    reading = monitoring.record_reading(None, stay, "am", "38.0", at=now - timedelta(hours=12))
    home = HomeMonitoring.objects.create(
        person=world.person_a, stay=stay, jurisdiction_id=world.grid_a, setting="home",
        rules="2022-11", phase=1, starts_at=now, ends_at=now + timedelta(days=3),
    )  # fmt: skip
    task = FollowUp.objects.create(monitoring=home, due=timezone.localdate(), kind="visit")
    return {"qs": site.pk, "qr": rooms[2].pk, "st": stay.pk, "qt": transfer.pk,
            "qa": reading.alert.pk, "qf": task.pk}  # fmt: skip


@pytest.fixture
def campaign_world(world):
    """A testing campaign over county A, running now."""
    from datetime import timedelta

    from django.utils import timezone

    from fangkong.labs.models import Campaign

    now = timezone.now()
    campaign = Campaign.objects.create(name="矩阵全员核酸", kind="area", jurisdiction_id=COUNTY_A,
                                       starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=9))  # fmt: skip
    return {"cp": campaign.pk}


@pytest.fixture
def box_world(world):
    """A transport box packing in grid A, addressed to a lab."""
    from fangkong.labs import boxes

    box = boxes.open_box(None, "矩阵箱1", "矩阵采样点", "矩阵实验室", world.grid_a)
    return {"bx": box.pk}


@pytest.fixture
def investigation_world(world):
    """An itinerary entry and a named contact (matched to person_a) in case_a's investigation."""
    from fangkong.cases import investigations

    investigation = investigations.access_investigation(world.users["tracer_a"], world.case_a.pk)
    entry, _ = investigations.add_itinerary_entry(
        world.users["tracer_a"], investigation,
        {"venue": world.venue_a.pk, "t_in": "2022-03-03 12:00", "travel": "walk"},
    )  # fmt: skip
    named = investigations.add_named_contacts(
        world.users["tracer_a"], investigation,
        [{"name": "张伟", "doc_number": world.person_a.doc_number,
          "exposed_from": "2022-03-03 12:00"}],
    ).saved[0]  # fmt: skip
    return {"ie": entry.pk, "nc": named.pk}


@pytest.fixture
def export_world(world, settings, tmp_path):
    """tracer_a's contact export, done."""
    from fangkong.cases import export
    from fangkong.jobs import queue

    settings.DATA_DIR = tmp_path
    job = export.request_export(world.users["tracer_a"])
    queue.run_pending()
    return {"ex": job.pk}


FIXTURES_BY_PATH = {
    "/exports/": "export_world",
    "/investigation/itinerary/": "investigation_world",
    "/investigation/named/": "investigation_world",
    "/quarantine/": "site_world",
    "/labs/campaigns/": "campaign_world",
    "/labs/boxes/": "box_world",
}


def _fill(template: str, world, ids: dict | None = None) -> str:
    return template.format(
        **(ids or {}),
        a=world.person_a.pk,
        a2=world.person_a2.pk,
        b=world.person_b.pk,
        A=COUNTY_A,
        B=COUNTY_B,
        ga=world.grid_a,
        sa=world.users["supplies_a"].pk,
        c=world.case_a.pk,
        kb=world.contact_b.pk,
        va=world.venue_a.pk,
        ov=world.override_id,
        ap=world.appeal_id,
        xr=world.assist_id,
        tr=TracingRun.objects.filter(cases=world.case_a).first().pk,
        xi=AssistanceItem.objects.get(request_id=world.assist_id).pk,
        vb=world.venue_b.pk,
    )


def _request(client, method, path, data, world):
    if data == "FILE":
        from django.core.files.uploadedfile import SimpleUploadedFile

        upload = SimpleUploadedFile("p.csv", "姓名,证件号码,现住址编码\n".encode())
        return client.post(path, {"file": upload})
    if method == "get":
        return client.get(path)
    if path.startswith("/api/") and isinstance(data, list):
        return client.post(path, data, content_type="application/json")
    if path.startswith("/api/") and data is not None:
        body = {k: _fill(v, world) if isinstance(v, str) else v for k, v in data.items()}
        body = {k: int(v) if k.endswith("_id") else v for k, v in body.items()}
        return client.post(path, body, content_type="application/json")
    return client.post(path, data or {})


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda p: p or "anonymous")
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[1]} {c[2]}")
def test_matrix(login, world, case, persona, request):
    _route, method, template, data, expected = case
    ids = {}
    for part, fixture in FIXTURES_BY_PATH.items():
        if part in template:
            ids.update(request.getfixturevalue(fixture))
    client = login(persona)
    response = _request(client, method, _fill(template, world, ids), data, world)
    assert response.status_code == expected[persona], response.content[:300]


def _routes(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


def test_every_route_is_in_the_matrix():
    covered = {case[0] for case in CASES}
    ignored_prefixes = ("api/",)  # API routes are checked from the OpenAPI document below
    routes = {r for r in _routes(get_resolver().url_patterns) if not r.startswith(ignored_prefixes)}
    assert routes - covered == set()


def test_every_api_operation_is_in_the_matrix():
    from fangkong.api import api

    covered = {(case[0], case[1]) for case in CASES}
    operations = {
        (path.lstrip("/").rstrip("/"), method.lower())
        for path, methods in api.get_openapi_schema()["paths"].items()
        for method in methods
    }
    operations |= {("api/openapi.json", "get"), ("api/docs", "get")}
    assert operations - covered == set()
