"""Integration clients: per-tenant machine credentials, and the OAuth 2.0 client credentials
grant (RFC 6749 §4.4) that turns them into access tokens.

Rules: a client's scopes are a subset of its creator's permissions, and a client never
holds more than its owner holds now (app.clients.bounds); whoever revokes, rotates or edits
a client must hold every scope of it (nobody strips or takes over a colleague's integration
holding more than they do); revoking (`revoked_at`), rotating, narrowing or re-owning
(`authz_version` + 1) makes the client's older tokens fail on their next request: these are
ORM attribute changes, which bump the revocation epoch (app.security.revocation) in the same
transaction.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Collection, Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.audit import AuditAction, record, record_alone, record_counted_failure
from app.catalog.effective import effective_scopes, ensure_grantable_now, held_now
from app.catalog.store import current_catalog
from app.clients.bounds import owner_for
from app.clients.oauth import (
    ClientCredentials,
    client_credentials_from_request,
    invalid_client,
    invalid_request,
    invalid_scope,
    unauthorized_client,
    unsupported_grant_type,
)
from app.clients.schemas import TokenRequest
from app.database import flush_or_conflict, unit_of_work
from app.errors import Conflict, FieldError, ValidationFailed
from app.pagination import paginate
from app.partial import UNCHANGED, Unchanged
from app.scoping import get_in_tenant, get_tenant
from app.security.tokens import TokenClaims, issue_access_token
from app.settings import Settings
from models import Client, Tenant, User, utcnow
from policies.principal import Principal, PrincipalKind
from policies.problems import PermissionDenied

__all__ = [
    "ClientAuthenticationFailed",
    "ClientCredentials",
    "FailureReason",
    "authenticate_client",
    "client_credentials_from_request",
    "create_client",
    "hash_client_secret",
    "issue_client_token",
    "list_clients",
    "revoke_client",
    "rotate_secret",
    "update_client",
]

CLIENT_ID_PREFIX = "cli_"
CLIENT_GRANT_TYPE = "client_credentials"
# 32 random bytes: 256 bits, beyond any guessing, so the secret needs no key stretching.
SECRET_BYTES = 32
MAX_CLIENT_ID_LENGTH = 64  # models.Client.client_id
# Compared against when the client is unknown, so that the answer costs the same (no enumeration).
_NO_SUCH_HASH = "0" * 64
ROTATE_REVOKED = "A revoked client cannot be given a new secret; create a new client."
UPDATE_REVOKED = "A revoked client cannot be changed; create a new client."
NO_ACTIVE_OWNER = "The client has no active owner; an administrator must re-own it."


# --- secrets ------------------------------------------------------------------------------


def new_client_id() -> str:
    return CLIENT_ID_PREFIX + secrets.token_urlsafe(16)


def new_client_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def hash_client_secret(secret: str, key: bytes) -> str:
    """HMAC-SHA256 of the secret under the deployment's client-secret key, in hex.

    A keyed fast hash and not argon2: the secret is 256 random bits, so there is nothing for
    key stretching to protect (a password's low entropy is why argon2 exists), and argon2
    would add tens of milliseconds of CPU to every token request. The key keeps a leaked
    table of hashes from being checked offline without the key as well.
    """
    return hmac.new(key, secret.encode("utf-8"), hashlib.sha256).hexdigest()


# --- administration ---------------------------------------------------------------------


def list_clients(
    session: Session, tenant_id: uuid.UUID, *, limit: int, cursor: str | None
) -> tuple[list[Client], str | None]:
    """The tenant's clients, revoked ones included, oldest first."""
    return paginate(session, select(Client).where(Client.tenant_id == tenant_id), Client, limit, cursor)


def new_client(
    tenant_id: uuid.UUID,
    *,
    name: str,
    scopes: Collection[str],
    owner_id: uuid.UUID | None,
    secret_key: bytes,
) -> tuple[Client, str]:
    """A client row (not yet added) with a fresh client_id, and its secret, stored only as
    an HMAC. The grant guard is the caller's business."""
    secret = new_client_secret()
    client = Client(
        tenant_id=tenant_id,
        client_id=new_client_id(),
        name=name,
        secret_hash=hash_client_secret(secret, secret_key),
        scopes=sorted({str(p) for p in scopes}),
        created_by=owner_id,
    )
    return client, secret


def create_client(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    name: str,
    scopes: Collection[str],
    actor: Principal,
    secret_key: bytes,
) -> tuple[Client, str]:
    """A new client and its secret (the only time the secret exists outside the caller)."""
    with unit_of_work(session):
        tenant = get_tenant(session, tenant_id)
        ensure_grantable_now(session, actor, scopes, in_platform_tenant=tenant.is_platform, field="scopes")
        client, secret = new_client(
            tenant_id, name=name, scopes=scopes, owner_id=owner_for(session, actor), secret_key=secret_key
        )
        session.add(client)
        flush_or_conflict(session, "A client with this client_id already exists; try again.")
        record(
            session,
            AuditAction.CLIENT_CREATED,
            actor,
            target=client,
            details={"client_id": client.client_id, "name": name, "scopes": client.scopes},
        )
    return client, secret


def rotate_secret(
    session: Session, tenant_id: uuid.UUID, client_uuid: uuid.UUID, actor: Principal, *, secret_key: bytes
) -> tuple[Client, str]:
    """A new secret; the old one and every token issued before stop working at once."""
    with unit_of_work(session):
        client = get_in_tenant(session, Client, tenant_id, client_uuid)
        if client.revoked_at is not None:
            raise Conflict(ROTATE_REVOKED)
        # The new secret hands its holder the client's scopes: nobody gets what they do not hold.
        _ensure_holds_scopes(session, actor, client, "give a new secret to")
        secret = new_client_secret()
        client.secret_hash = hash_client_secret(secret, secret_key)
        client.secret_rotated_at = utcnow()
        # In SQL, so that two concurrent rotations both count.
        client.authz_version = Client.authz_version + 1
        record(
            session,
            AuditAction.CLIENT_SECRET_ROTATED,
            actor,
            target=client,
            details={"client_id": client.client_id},
        )
    return client, secret


def revoke_client(session: Session, tenant_id: uuid.UUID, client_uuid: uuid.UUID, actor: Principal) -> None:
    """Revoke for good (idempotent): no new tokens, and its tokens fail on their next request."""
    with unit_of_work(session):
        client = get_in_tenant(session, Client, tenant_id, client_uuid)
        if client.revoked_at is not None:
            return
        _ensure_holds_scopes(session, actor, client, "revoke")
        client.revoked_at = utcnow()
        record(
            session, AuditAction.CLIENT_REVOKED, actor, target=client, details={"client_id": client.client_id}
        )


def update_client(
    session: Session,
    tenant_id: uuid.UUID,
    client_uuid: uuid.UUID,
    actor: Principal,
    *,
    name: str | Unchanged = UNCHANGED,
    scopes: Collection[str] | Unchanged = UNCHANGED,
    owner_id: uuid.UUID | Unchanged = UNCHANGED,
) -> Client:
    """Rename, narrow the scopes, or re-own (app.partial).

    The editor must hold every scope of the client, as for revoking and rotating. Scopes only
    narrow (a wider client is a new client, created under the grant guard). The new owner is
    an active user of the client's tenant; the client then holds what both its scopes and its
    new owner allow. Narrowing or re-owning ends the client's older tokens.
    """
    with unit_of_work(session):
        client = get_in_tenant(session, Client, tenant_id, client_uuid)
        if client.revoked_at is not None:
            raise Conflict(UPDATE_REVOKED)
        _ensure_holds_scopes(session, actor, client, "change")
        details: dict[str, Any] = {}
        if name is not UNCHANGED and name != client.name:
            details["name"] = {"from": client.name, "to": name}
            client.name = name
        if scopes is not UNCHANGED:
            wanted = sorted({str(p) for p in scopes})
            wider = sorted(set(wanted) - set(client.scopes))
            if wider:
                raise ValidationFailed(
                    [FieldError("scopes", "can only be narrowed; create a new client for more")]
                )
            if wanted != sorted(client.scopes):
                details["scopes"] = {"from": sorted(client.scopes), "to": wanted}
                client.scopes = wanted
        if owner_id is not UNCHANGED and owner_id != client.created_by:
            _ensure_may_own(session, tenant_id, owner_id)
            details["owner_id"] = {
                "from": str(client.created_by) if client.created_by else None,
                "to": str(owner_id),
            }
            client.created_by = owner_id
        if not details:
            return client
        if "scopes" in details or "owner_id" in details:
            # In SQL, so that concurrent changes all count; older tokens carry the old bound.
            client.authz_version = Client.authz_version + 1
        record(
            session,
            AuditAction.CLIENT_UPDATED,
            actor,
            target=client,
            details={"client_id": client.client_id, **details},
        )
    session.refresh(client)
    return client


def _ensure_holds_scopes(session: Session, actor: Principal, client: Client, verb: str) -> None:
    """Nobody revokes, rotates or changes a client holding a permission they lack (the rule of
    users and roles: nobody strips, or takes over, a colleague holding more than they do)."""
    catalog = current_catalog(session)
    # A permission removed from the catalog since is no longer at stake.
    missing = {s for s in client.scopes if catalog.knows(s)} - held_now(session, actor, catalog)
    if missing:
        raise PermissionDenied(
            missing,
            detail=f"You cannot {verb} a client holding permissions you do not hold: "
            + ", ".join(sorted(missing))
            + ".",
        )


def _ensure_may_own(session: Session, tenant_id: uuid.UUID, owner_id: uuid.UUID) -> None:
    """The owner is an active user of the client's own tenant (422 otherwise, whatever the
    reason, so that another tenant's users cannot be probed)."""
    active = session.scalar(
        select(User.is_active).where(User.id == owner_id, User.tenant_id == tenant_id).with_for_update()
    )
    if not active:
        raise ValidationFailed([FieldError("owner_id", "is not an active user of this tenant")])


# --- client authentication --------------------------------------------------------------


class FailureReason(enum.StrEnum):
    UNKNOWN_CLIENT = "unknown_client"
    WRONG_SECRET = "wrong_secret"
    REVOKED_CLIENT = "revoked_client"
    TENANT_SUSPENDED = "tenant_suspended"


class ClientAuthenticationFailed(Exception):
    """The client could not be authenticated. `reason` is for the audit log, not the caller:
    an unknown client, a wrong secret and a revoked client must look the same from outside.
    Only TENANT_SUSPENDED comes after a correct secret (`client` is set when one was found)."""

    def __init__(self, reason: FailureReason, client: Client | None = None) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.client = client


# Built once: on the token endpoint, constructing the statement cost more than running it.
CLIENT_WITH_TENANT = (
    select(Client, Tenant)
    .join(Tenant, Tenant.id == Client.tenant_id)
    .where(Client.client_id == bindparam("client_id"))
)


def authenticate_client(
    session: Session, *, client_id: str, client_secret: str, secret_key: bytes
) -> tuple[Client, Tenant]:
    """The active client these credentials belong to, and its tenant (loaded with it: the
    session keeps no object nobody holds); raises ClientAuthenticationFailed.

    One indexed query and one HMAC whatever the outcome, compared in constant time, so the
    answer's timing does not tell an unknown client from a wrong secret or a revoked client.
    """
    row = None
    if len(client_id) <= MAX_CLIENT_ID_LENGTH:  # longer is unknown without asking the database
        row = session.execute(CLIENT_WITH_TENANT, {"client_id": client_id}).one_or_none()
    presented = hash_client_secret(client_secret, secret_key)
    matched = hmac.compare_digest(presented, row.Client.secret_hash if row else _NO_SUCH_HASH)
    if row is None:
        raise ClientAuthenticationFailed(FailureReason.UNKNOWN_CLIENT)
    client: Client = row.Client
    tenant: Tenant = row.Tenant
    if not matched:
        raise ClientAuthenticationFailed(FailureReason.WRONG_SECRET, client)
    if client.revoked_at is not None:
        raise ClientAuthenticationFailed(FailureReason.REVOKED_CLIENT, client)
    if not tenant.is_active:
        raise ClientAuthenticationFailed(FailureReason.TENANT_SUSPENDED, client)
    return client, tenant


# --- the client credentials grant -------------------------------------------------------


def issue_client_token(
    session: Session,
    params: Mapping[str, Any],
    credentials: ClientCredentials | None,
    *,
    secret_key: bytes,
    settings: Settings,
) -> dict[str, Any]:
    """RFC 6749 §4.4: an access token for an authenticated client, with the scopes it asked
    for (a subset of its own) or all of them; §5.1 response, no refresh token (§4.4.3).

    Raises OAuthError; every issue is audited, and every refusal of a client's credentials
    is counted in the audit log (one event per client per window: `_record_refusal`).
    """
    token_request = _validate(params)
    if token_request.grant_type != CLIENT_GRANT_TYPE:
        raise unsupported_grant_type("Only the client_credentials grant is supported.")
    if credentials is None:
        raise invalid_client("Client authentication is required (HTTP Basic or client_secret_post).")

    try:
        client, tenant = authenticate_client(
            session,
            client_id=credentials.client_id,
            client_secret=credentials.client_secret,
            secret_key=secret_key,
        )
    except ClientAuthenticationFailed as failed:
        _record_refusal(session, settings, failed.reason, failed.client, credentials.client_id)
        if failed.reason is FailureReason.TENANT_SUSPENDED:
            # Told only to a client that proved its secret: nothing is revealed to a guesser.
            raise unauthorized_client("The client's tenant is suspended.") from None
        raise invalid_client() from None

    # Read after the client (its authz_version): an owner demoted in between ends this token too.
    allowed = effective_scopes(session, client, tenant)
    if allowed is None:
        _record_refusal(session, settings, "no_active_owner", client, client.client_id)
        raise unauthorized_client(NO_ACTIVE_OWNER)
    requested = set(token_request.scope.split()) if token_request.scope is not None else None
    # A scope parameter naming nothing (only spaces) is malformed, not a request for everything.
    if requested is not None and (not requested or not requested <= allowed):
        _record_refusal(
            session, settings, "invalid_scope", client, client.client_id, requested=sorted(requested)
        )
        raise invalid_scope("The requested scope exceeds the scopes granted to the client.")
    granted = sorted(requested if requested is not None else allowed)

    claims = TokenClaims(
        tenant_id=client.tenant_id,
        roles=[],
        permissions=granted,
        authz_version=client.authz_version,
        client_id=client.client_id,
    )
    access_token, jti = issue_access_token(client.client_id, claims)
    # Audited before it is answered; the event alone is the change (one INSERT, its own commit).
    record_alone(
        session,
        AuditAction.CLIENT_TOKEN_ISSUED,
        actor_id=client.client_id,
        actor_type=PrincipalKind.CLIENT.value,
        target=client,
        details={"client_id": client.client_id, "scopes": granted, "jti": jti},
    )
    return {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": settings.access_token_ttl,
        "scope": " ".join(granted),
    }


def _validate(params: Mapping[str, Any]) -> TokenRequest:
    try:
        return TokenRequest.model_validate(dict(params))
    except ValidationError as exc:
        fields = sorted({str(e["loc"][0]) for e in exc.errors(include_input=False) if e["loc"]})
        if "grant_type" in fields and "grant_type" not in params:
            raise invalid_request("The grant_type parameter is required.") from None
        raise invalid_request("Malformed parameters: " + ", ".join(fields) + ".") from None


def _record_refusal(
    session: Session,
    settings: Settings,
    reason: str,
    client: Client | None,
    presented_client_id: str,
    **details: Any,
) -> None:
    """CLIENT_TOKEN_REFUSED with the reason (never the secret), committed on its own.

    Anyone who knows a client_id can be refused, so refusals are counted, not written one by
    one: one event per client per window (`token_refusal_audit_window_seconds`), and one
    outside every tenant for all unknown client_ids, naming the latest one presented.
    """
    record_counted_failure(
        session,
        AuditAction.CLIENT_TOKEN_REFUSED,
        settings.token_refusal_audit_window_seconds,
        str(reason),
        tenant_id=client.tenant_id if client else None,
        target_type="client",
        target_id=str(client.id) if client else None,
        latest={"client_id": presented_client_id[:MAX_CLIENT_ID_LENGTH], **details},
    )


def _record_as_client(session: Session, action: AuditAction, client: Client, **kwargs: Any) -> None:
    record(
        session,
        action,
        actor_id=client.client_id,
        actor_type=PrincipalKind.CLIENT.value,
        target=client,
        **kwargs,
    )
