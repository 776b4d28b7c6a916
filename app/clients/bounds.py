"""A client never holds more than its owner holds now (API.md, Client).

The owner is `Client.created_by`: the user who created the client or last re-owned it.
A client's effective scopes are its stored scopes that its owner still holds; a deleted or
deactivated owner leaves it none until an admin re-owns it. This module is the one place
that derives them: the token endpoint and introspection call it.

Tokens already issued follow through the revocation machinery, not through this module:
whatever changes an owner's permissions bumps the `authz_version` of the clients they own
(app.auth.service.invalidate_access_tokens), and a client's token state is live only while
its owner exists and is active (app.security.token_state).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.service import effective_access
from models import Client, Tenant, User
from policies.catalog import PLATFORM_PERMISSIONS, Permission
from policies.principal import Principal, PrincipalKind

_CATALOG = frozenset(p.value for p in Permission)
_PLATFORM = frozenset(p.value for p in PLATFORM_PERMISSIONS)


def owner_permissions(session: Session, owner_id: uuid.UUID | None) -> frozenset[str] | None:
    """What the owner holds now (their roles, in their own tenant); None when the owner is
    gone or inactive."""
    if owner_id is None:
        return None
    row = session.execute(
        select(User, Tenant).join(Tenant, Tenant.id == User.tenant_id).where(User.id == owner_id)
    ).one_or_none()
    if row is None or not row.User.is_active:
        return None
    return frozenset(effective_access(session, row.User, row.Tenant).permissions)


def effective_scopes(session: Session, client: Client, tenant: Tenant) -> frozenset[str] | None:
    """The client's scopes that its owner still holds, within the catalog and (outside the
    platform tenant) without platform permissions; None when it has no active owner."""
    held = owner_permissions(session, client.created_by)
    if held is None:
        return None
    scopes = {s for s in client.scopes if s in _CATALOG} & held
    if not tenant.is_platform:
        scopes -= _PLATFORM  # defence in depth: never effective outside the platform tenant
    return frozenset(scopes)


def owner_for(session: Session, actor: Principal) -> uuid.UUID | None:
    """Who owns a client that `actor` creates: the user themselves, or, for a client creating
    a client, that client's own owner (so a chain of clients stays bounded by one person)."""
    if actor.kind is PrincipalKind.USER:
        return actor.subject_uuid
    return session.scalar(
        select(Client.created_by).where(
            Client.client_id == actor.subject, Client.tenant_id == actor.tenant_id
        )
    )
