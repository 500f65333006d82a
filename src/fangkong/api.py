"""The JSON API: one NinjaAPI, a router per domain; OpenAPI at /api/openapi.json, docs at /api/docs."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.security import django_auth

from fangkong.accounts.api import router as accounts_router
from fangkong.cases.api import router as cases_router
from fangkong.geo.api import router as geo_router
from fangkong.healthcode.api import router as healthcode_router
from fangkong.labs.api import router as labs_router
from fangkong.people.api import router as people_router
from fangkong.venues.api import router as venues_router

api = NinjaAPI(
    title="Fangkong API",
    version="1",
    description="Integrated epidemic prevention and control platform. Every call is scoped to the "
    "caller's jurisdiction: records outside it answer 404.",
    auth=django_auth,
    urls_namespace="api",
)


@api.exception_handler(PermissionError)
def permission_denied(request: HttpRequest, exc: PermissionError):
    return api.create_response(request, {"detail": str(exc)}, status=403)


api.add_router("/", accounts_router)
api.add_router("/jurisdictions", geo_router)
api.add_router("/people", people_router)
api.add_router("/", cases_router)
api.add_router("/", healthcode_router)
api.add_router("/", venues_router)
api.add_router("/", labs_router)
