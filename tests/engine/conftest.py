"""Engine tests run without Django: neutralise the platform's autouse fixtures here."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fast_hashing():
    """The root conftest speeds up Django's password hashing; the engine has none."""
    yield
