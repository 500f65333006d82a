from __future__ import annotations

import os

import pytest

# The compiled tracing loops (epicore.tracing.kernels) index arrays without checks in
# production; under test every index is checked, so a wrong size raises instead of
# corrupting memory. Set before numba is first imported (it reads its config then).
os.environ.setdefault("NUMBA_BOUNDSCHECK", "1")
from hypothesis import HealthCheck, settings

# The machines are 2 shared cores: a property test may not fail because the machine is busy.
# Correctness is what the examples check; speed is measured by the benchmark commands.
settings.register_profile(
    "shared-machine", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("shared-machine")

_WORLD: dict = {}
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Build the shared test world once; each test runs in a transaction rolled back after it."""
    from django.test.utils import override_settings

    from fangkong.testing import build_world

    with django_db_blocker.unblock(), override_settings(PASSWORD_HASHERS=FAST_HASHERS):
        _WORLD["world"] = build_world()
    yield


@pytest.fixture
def world(db):
    """The shared world with its objects fetched afresh, so no test sees another's changes."""
    import dataclasses

    from fangkong.accounts.models import User
    from fangkong.cases.models import Case, Contact
    from fangkong.people.models import Person
    from fangkong.venues.models import Venue

    base = _WORLD["world"]
    people = {
        f: Person.objects.get(pk=getattr(base, f).pk) for f in ("person_a", "person_a2", "person_b")
    }
    users = {name: User.objects.get(pk=u.pk) for name, u in base.users.items()}
    case_a = Case.objects.get(pk=base.case_a.pk)
    contact_b = Contact.objects.get(pk=base.contact_b.pk)
    venues = {f: Venue.objects.get(pk=getattr(base, f).pk) for f in ("venue_a", "venue_b")}
    return dataclasses.replace(
        base, users=users, case_a=case_a, contact_b=contact_b, **people, **venues
    )


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture
def login(client, world):
    """login("tracer_a") -> the test client logged in as that persona (None: anonymous)."""

    def _login(username: str | None):
        client.logout()
        if username:
            client.force_login(world.users[username])
        return client

    return _login
