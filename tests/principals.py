"""The Principal a service sees, for service tests that run without HTTP."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session, object_session

from app.catalog.effective import user_access
from models import Tenant, User
from policies.principal import Principal, PrincipalKind


def principal_for(user: User, session: Session | None = None) -> Principal:
    """What a fresh access token of `user` carries: the roles and the effective permissions
    the user holds now, through the derivation login uses (app.catalog.effective)."""
    session = session or object_session(user)
    assert session is not None, "pass the session the user was loaded in"
    access = user_access(session, user.id, session.get_one(Tenant, user.tenant_id))
    return Principal(
        kind=PrincipalKind.USER,
        subject=str(user.id),
        tenant_id=user.tenant_id,
        roles=tuple(access.roles),
        permissions=access.permissions,
        token_id=uuid.uuid4().hex,
        token_type="access",
        issued_at=0,
        authz_version=user.authz_version,
        session_id=uuid.uuid4(),
    )
