"""The revocation epoch: bumped in the same transaction as any change that can revoke a
token, and read from the database by every protected request (app.security.token_state).

Changes are detected where they happen, on every SQLAlchemy session: a flush that
deactivates or deletes a user, changes `authz_version`, revokes a login session or a
client, or changes a tenant's status bumps the epoch. Bulk statements that revoke call
`mark_revocation` (app.auth.service does). Over-bumping only costs cache misses.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event, inspect, update
from sqlalchemy.orm import Session, UOWTransaction

from app.database import Database
from models import EPOCH_ROW_ID, Client, LoginSession, Tenant, TokenStateEpoch, User

log = logging.getLogger(__name__)

# Attributes whose change can turn a valid token into a revoked one.
WATCHED_ATTRIBUTES: dict[type, frozenset[str]] = {
    User: frozenset({"is_active", "authz_version"}),
    LoginSession: frozenset({"revoked_at"}),
    Tenant: frozenset({"status"}),
    Client: frozenset({"revoked_at", "authz_version"}),
}
WATCHED_DELETIONS = (User, LoginSession, Tenant, Client)
CURRENT_SQL = "SELECT value FROM token_state_epoch WHERE id = 1"  # models.EPOCH_ROW_ID

BUMP = (
    update(TokenStateEpoch)
    .where(TokenStateEpoch.id == EPOCH_ROW_ID)
    .values(value=TokenStateEpoch.value + 1)
    .returning(TokenStateEpoch.value)
)


def database_epoch(database: Database) -> int:
    """One primary-key read on an autocommit connection (no session needed)."""
    return int(database.read_one(CURRENT_SQL))


def mark_revocation(session: Session) -> None:
    """Bump the epoch now, inside the caller's transaction (for bulk revoking statements)."""
    session.connection().execute(BUMP)


def _revokes(instance: Any, session: Session) -> bool:
    if isinstance(instance, WATCHED_DELETIONS) and instance in session.deleted:
        return True
    watched = WATCHED_ATTRIBUTES.get(type(instance))
    if not watched:
        return False
    attributes = inspect(instance).attrs
    return any(attributes[name].history.has_changes() for name in watched)


@event.listens_for(Session, "before_flush")
def _detect_revoking_changes(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    candidates = list(session.dirty) + list(session.deleted)
    if any(_revokes(instance, session) for instance in candidates):
        session.info["authz.bump_after_flush"] = True


@event.listens_for(Session, "after_flush")
def _bump_after_flush(session: Session, _flush: UOWTransaction) -> None:
    if session.info.pop("authz.bump_after_flush", False):
        mark_revocation(session)


@event.listens_for(Session, "do_orm_execute")
def _detect_bulk_deletes(execute_state: Any) -> None:
    if execute_state.is_delete and any(
        mapper.class_ in WATCHED_DELETIONS for mapper in execute_state.all_mappers
    ):
        mark_revocation(execute_state.session)
