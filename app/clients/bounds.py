"""A client never holds more than its owner holds now (API.md, Client).

The owner is `Client.created_by`: the user who created the client or last re-owned it.
A client's effective scopes are its stored scopes that its owner still holds; a deleted or
deactivated owner leaves it none until an admin re-owns it. They are derived in one place,
app.catalog.effective.effective_scopes, beside every other derivation; this module says who
owns a client that is being created.

Tokens already issued follow through the revocation machinery, not through this module:
whatever changes an owner's permissions bumps the `authz_version` of the clients they own
(app.security.revocation.invalidate_access_tokens), and a client's token state is live only while
its owner exists and is active (app.security.token_state).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Client
from policies.principal import Principal, PrincipalKind


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
