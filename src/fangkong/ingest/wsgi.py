"""The ingestion endpoint as a plain WSGI application (one scan, one transaction).

This is the simple path: tests call it in-process, and it serves under any WSGI server on
SQLite or PostgreSQL. Production throughput comes from `fangkong serve-ingest` (server.py),
which runs the same `Gate` and the same SQL but commits concurrent scans in groups.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connection, transaction

from fangkong.ingest.core import REASONS, Gate, Refused, Reply, Scan, record_batch_sync
from fangkong.ingest.core import refuse_device as _refuse
from fangkong.ingest.device import device_key


class DatabaseDevices:
    """Device registration read from the database on every scan (the simple path); answers
    like the server's DeviceRegistry."""

    def check(self, device_id: int, venue_id: int) -> None:
        from fangkong.ingest.models import ScannerDevice

        row = (
            ScannerDevice.objects.filter(pk=device_id, venue_id=venue_id)
            .values_list("id", "revoked_at")
            .first()
        )
        if row is None:
            known_venue = ScannerDevice.objects.filter(venue_id=venue_id).exists()
            _refuse(known_venue, device_id, venue_id, False)
        elif row[1] is not None:
            _refuse(True, device_id, venue_id, True)


def record_one(scan: Scan) -> Reply:
    """Record one scan in its own transaction: the batch SQL on PostgreSQL, the ORM elsewhere."""
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            return record_batch_sync(cursor, [scan])[0]
    return _record_orm(scan)


def _record_orm(scan: Scan) -> Reply:
    from fangkong.healthcode.models import CodeState
    from fangkong.ingest.core import SLACK, _answer
    from fangkong.people.models import Person
    from fangkong.venues.models import CheckIn, Venue
    from fangkong.venues.scanning import DUPLICATE_WINDOW

    with transaction.atomic():
        state = CodeState.objects.filter(subject=scan.subject).first()
        if state is None:
            return Refused(400, "unknown_subject", "no person holds this code").reply()
        if not Venue.objects.filter(pk=scan.venue_id).exists():
            return Refused(403, "unknown_venue", f"venue {scan.venue_id} is not registered").reply()
        person = Person.objects.select_for_update().get(pk=state.person_id)
        recent = (
            CheckIn.objects.filter(
                person_id=person.pk,
                venue_id=scan.venue_id,
                t_in__gte=scan.t_in - DUPLICATE_WINDOW,
                t_in__lte=scan.t_in + SLACK,
            )
            .order_by("-t_in")
            .first()
        )
        checkin = recent or CheckIn.objects.create(
            person_id=person.pk, venue_id=scan.venue_id, t_in=scan.t_in, source="health_code"
        )
        colour = CodeState.objects.get(pk=person.pk).colour
    return Reply(
        200,
        _answer(checkin.pk, recent is not None, colour, scan.venue_id, checkin.t_in, person.name),
    )


def get_application():
    """For a WSGI server: `gunicorn 'fangkong.ingest.wsgi:get_application()'`."""
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangkong.settings")
    django.setup()
    return make_app()


def make_app(gate: Gate | None = None, record=record_one):
    from fangkong.healthcode.keys import key_ring

    gate = gate or Gate(key_ring, device_key(settings.SECRET_KEY), DatabaseDevices())

    def application(environ, start_response):
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length else b""
        try:
            scan = gate.admit(
                environ.get("REQUEST_METHOD", "GET"),
                environ.get("PATH_INFO", "/"),
                environ.get("HTTP_AUTHORIZATION", ""),
                body,
                time.time(),
            )
            reply = record(scan)
        except Refused as refused:
            reply = refused.reply()
        payload = reply.encode()
        start_response(
            f"{reply.status} {REASONS.get(reply.status, '')}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
        )
        return [payload]

    return application
