from django.contrib.auth import views as auth_views
from django.urls import include, path

from fangkong.accounts import views as account_views
from fangkong.api import api
from fangkong.cases import godata_views, investigation_views
from fangkong.cases import views as case_views
from fangkong.geo import views as geo_views
from fangkong.healthcode import views as code_views
from fangkong.labs import box_views, campaign_views
from fangkong.labs import views as lab_views
from fangkong.people import views as people_views
from fangkong.quarantine import views as quarantine_views
from fangkong.venues import views as venue_views
from fangkong.web import views as web_views

urlpatterns = [
    path("", web_views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="web/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("geo/", geo_views.tree_root, name="tree"),
    path("geo/<str:code>/", geo_views.jurisdiction, name="jurisdiction"),
    path("people/", people_views.people_list, name="people"),
    path("people/new/", people_views.person_new, name="person_new"),
    path("people/import/", people_views.people_import, name="people_import"),
    path("people/<int:person_id>/", people_views.person_detail, name="person"),
    path("people/<int:person_id>/reveal/", people_views.person_reveal, name="person_reveal"),
    path("people/<int:person_id>/case/", case_views.case_new, name="case_new"),
    path("cases/", case_views.case_list, name="cases"),
    path("cases/import/godata/", godata_views.godata_import, name="godata_import"),
    path("cases/<int:case_id>/", case_views.case_detail, name="case"),
    path("cases/<int:case_id>/reclassify/", case_views.case_reclassify, name="case_reclassify"),
    path("cases/<int:case_id>/trace/", case_views.tracing_rerun, name="tracing_rerun"),
    path("cases/<int:case_id>/fhir.json", case_views.case_fhir, name="case_fhir"),
    path(
        "cases/<int:case_id>/investigation/",
        investigation_views.investigation_detail,
        name="investigation",
    ),
    path(
        "cases/<int:case_id>/investigation/<str:part>/",
        investigation_views.investigation_part,
        name="investigation_part",
    ),
    path(
        "cases/<int:case_id>/investigation/<str:kind>/<int:item_id>/",
        investigation_views.investigation_item,
        name="investigation_item",
    ),
    path("investigations/", investigation_views.investigation_list, name="investigations"),
    path("tracing/<int:run_id>/", case_views.tracing_run, name="tracing_run"),
    path("tracing/<int:run_id>/assign/", quarantine_views.assign_run, name="assign_run"),
    path("quarantine/", quarantine_views.occupancy, name="occupancy"),
    path("quarantine/sites/<int:site_id>/", quarantine_views.site_detail, name="site"),
    path(
        "quarantine/sites/<int:site_id>/<str:action>/",
        quarantine_views.site_reserve,
        name="site_reserve",
    ),
    path("quarantine/rooms/<int:room_id>/state/", quarantine_views.room_state, name="room_state"),
    path("quarantine/stays/<int:stay_id>/", quarantine_views.stay_detail, name="stay"),
    path(
        "quarantine/stays/<int:stay_id>/<str:action>/", quarantine_views.stay_act, name="stay_act"
    ),
    path(
        "quarantine/transfers/<int:transfer_id>/<str:step>/",
        quarantine_views.transfer_step,
        name="transfer_step",
    ),
    path("quarantine/alerts/<int:alert_id>/ack/", quarantine_views.alert_ack, name="alert_ack"),
    path("quarantine/follow-ups/", quarantine_views.follow_ups, name="follow_ups"),
    path(
        "quarantine/follow-ups/<int:task_id>/done/",
        quarantine_views.follow_up_done,
        name="follow_up_done",
    ),
    path("me/quarantine/", quarantine_views.my_quarantine, name="my_quarantine"),
    path("contacts/", case_views.contact_list, name="contacts"),
    path("contacts/export/", case_views.contact_export, name="contact_export"),
    path("exports/<int:job_id>/", case_views.export_status, name="export"),
    path("exports/<int:job_id>/file", case_views.export_file, name="export_file"),
    path("graph/", case_views.transmission_graph, name="graph"),
    path("assist/", case_views.assist_list, name="assist_list"),
    path("assist/<int:request_id>/", case_views.assist_detail, name="assist"),
    path(
        "assist/<int:request_id>/list.<str:fmt>",
        case_views.assist_export,
        name="assist_export",
    ),
    path("assist/<int:request_id>/<str:action>/", case_views.assist_act, name="assist_act"),
    path(
        "assist/<int:request_id>/items/<int:item_id>/",
        case_views.assist_item,
        name="assist_item",
    ),
    path("contacts/<int:contact_id>/status/", case_views.contact_status, name="contact_status"),
    path("me/code/", code_views.my_code, name="my_code"),
    path("me/scan/", venue_views.my_scan, name="my_scan"),
    path("venues/", venue_views.venue_list, name="venues"),
    path("venues/<int:venue_id>/poster/", venue_views.venue_poster, name="venue_poster"),
    path("venues/<int:venue_id>/scan/", venue_views.venue_scanner, name="venue_scanner"),
    path("people/<int:person_id>/code/", code_views.colour_history, name="colour_history"),
    path("healthcode/keys.json", code_views.key_set, name="key_set"),
    path("certs/check/", code_views.cert_check, name="cert_check"),
    path("people/<int:person_id>/override/", code_views.override_new, name="override_new"),
    path("overrides/", code_views.override_list, name="overrides"),
    path("overrides/<int:override_id>/decide/", code_views.override_decide, name="override_decide"),
    path("me/appeal/", code_views.my_appeal, name="my_appeal"),
    path("appeals/", code_views.appeal_list, name="appeals"),
    path("appeals/<int:appeal_id>/answer/", code_views.appeal_answer, name="appeal_answer"),
    path("labs/", lab_views.lab_home, name="labs"),
    path("labs/sampling/", lab_views.sampling, name="sampling"),
    path("labs/boxes/", box_views.box_list, name="boxes"),
    path("labs/boxes/receive/", box_views.box_receive, name="box_receive"),
    path("labs/boxes/<int:box_id>/", box_views.box_detail, name="box"),
    path("labs/campaigns/", campaign_views.campaign_list, name="campaigns"),
    path("labs/campaigns/<int:campaign_id>/", campaign_views.campaign_detail, name="campaign"),
    path(
        "labs/campaigns/<int:campaign_id>/<str:action>/",
        campaign_views.campaign_act,
        name="campaign_act",
    ),
    path("audit/", account_views.audit_log, name="audit"),
    path("accounts/", account_views.account_list, name="accounts"),
    path("accounts/new/", account_views.account_new, name="account_new"),
    path("accounts/<int:account_id>/active/", account_views.account_active, name="account_active"),
    path("api/", api.urls),
]
