"""The attack tests' tenant: "Acme Corp", whose name words a password must not echo."""

from __future__ import annotations

import pytest

from models import Tenant
from tests.factories import TenantFactory


@pytest.fixture
def acme(db: object) -> Tenant:
    return TenantFactory(slug="acme", name="Acme Corp")
