"""The revocation epoch: bumped in the same transaction as any change that can revoke a
token, and mirrored to Redis after commit when Redis is configured.

Changes are detected where they happen, on every SQLAlchemy session: a flush that
deactivates or deletes a user, changes `authz_version`, revokes a login session or a
client, or changes a tenant's status bumps the epoch. Bulk statements that revoke call
`mark_revocation` (app.auth.service does). Over-bumping only costs cache misses.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import event, inspect, update
from sqlalchemy.orm import Session, UOWTransaction

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
PENDING = "authz.epoch_pending"
PUBLISHER = "authz.epoch_publisher"

BUMP = (
    update(TokenStateEpoch)
    .where(TokenStateEpoch.id == EPOCH_ROW_ID)
    .values(value=TokenStateEpoch.value + 1)
    .returning(TokenStateEpoch.value)
)


def mark_revocation(session: Session) -> None:
    """Bump the epoch now, inside the caller's transaction (for bulk revoking statements)."""
    value = session.connection().execute(BUMP).scalar_one()
    session.info[PENDING] = value


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


@event.listens_for(Session, "after_commit")
def _publish_after_commit(session: Session) -> None:
    value = session.info.pop(PENDING, None)
    if value is None or not has_app_context():
        return
    publish = current_app.extensions.get(PUBLISHER)
    if publish is not None:
        publish(value)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(PENDING, None)
