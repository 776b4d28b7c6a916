"""The revocation epoch: bumped in the same transaction as any change that can revoke a
token, and read from the database by every protected request (app.security.token_state).

Changes are detected where they happen, on every SQLAlchemy session: a flush that
deactivates or deletes a user, changes `authz_version`, revokes a login session or a
client, or changes a tenant's status bumps the epoch. Bulk statements that revoke call
`mark_revocation` (`revoke_sessions` and `invalidate_access_tokens` here, which the auth,
users and roles services call). Over-bumping only costs cache misses.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import Select, event, inspect, update
from sqlalchemy.orm import Session, UOWTransaction

from app.database import Database, rows_changed
from models import EPOCH_ROW_ID, Client, LoginSession, Tenant, TokenStateEpoch, User, utcnow

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


def revoke_sessions(
    session: Session, user_id: uuid.UUID, *, reason: str, keep: uuid.UUID | None = None
) -> int:
    """End every open login session of a user (but `keep`); their tokens fail at once.

    Part of the caller's unit of work. Returns how many sessions were ended.
    """
    stmt = (
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )
    if keep is not None:
        stmt = stmt.where(LoginSession.id != keep)
    ended = rows_changed(session, stmt)
    if ended:
        mark_revocation(session)
    return ended


def invalidate_access_tokens(session: Session, user_ids: list[uuid.UUID] | Select[uuid.UUID]) -> None:
    """Make every access token of these users fail on its next request (roles changed);
    their sessions survive and refresh into the new roles. Part of the caller's unit of work.

    The tokens of the clients they own fail too: a client never holds more than its owner
    holds now (app.clients.bounds), and its next token carries only what remains. `user_ids`
    may be a query selecting them (every member of every tenant is too many to list).
    """
    if isinstance(user_ids, Select) or user_ids:
        session.execute(
            update(User)
            .where(User.id.in_(user_ids))
            .values(authz_version=User.authz_version + 1)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(Client)
            .where(Client.created_by.in_(user_ids), Client.revoked_at.is_(None))
            .values(authz_version=Client.authz_version + 1)
            .execution_options(synchronize_session=False)
        )
        mark_revocation(session)


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
