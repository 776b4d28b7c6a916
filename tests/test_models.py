"""What the database itself guarantees, on SQLite as on PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.exc import IntegrityError

from models import Project, UserRole, username_key
from tests.factories import RoleFactory, TenantFactory, UserFactory


def test_foreign_keys_are_enforced(db):
    db.add(Project(tenant_id=uuid.uuid4(), name="orphan"))

    with pytest.raises(IntegrityError):
        db.flush()


def test_a_membership_cannot_cross_tenants(db):
    acme, globex = TenantFactory(), TenantFactory()
    user = UserFactory(tenant=acme, roles=[])
    foreign_role = RoleFactory(tenant=globex)

    db.add(UserRole(tenant_id=acme.id, user_id=user.id, role_id=foreign_role.id))

    with pytest.raises(IntegrityError):
        db.flush()


def test_usernames_are_unique_per_tenant_case_insensitively(db):
    acme = TenantFactory()
    UserFactory(tenant=acme, username="Alice")

    with pytest.raises(IntegrityError):
        UserFactory(tenant=acme, username="ALICE")


def test_the_same_username_may_exist_in_two_tenants(db):
    UserFactory(tenant=TenantFactory(), username="alice")
    UserFactory(tenant=TenantFactory(), username="alice")


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ("Alice", "alice"),
        ("\uff21lice", "alice"),
        ("STRASSE", "strasse"),
        ("Stra\u00dfe", "strasse"),
        ("\ufb01ne", "fine"),
    ],
)
def test_username_key_is_nfkc_casefolded(given, key):
    assert username_key(given) == key
