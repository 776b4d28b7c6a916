"""`/tenants/{tid}/clients`: integration clients; create and rotate answer the secret once."""

from __future__ import annotations

from typing import Any

from flask_openapi3 import APIBlueprint, Tag

from app.clients import service
from app.clients.schemas import (
    ClientCreate,
    ClientOut,
    ClientPage,
    ClientPath,
    ClientUpdate,
    ClientWithSecretOut,
)
from app.database import db_session
from app.partial import sent
from app.schemas import PROBLEM_RESPONSES, PageQuery, ProblemOut, TenantPath, page_of
from app.security import client_secret_key
from models import Client
from policies import Permission, current_principal, tenant_scoped

bp = APIBlueprint(
    "clients", __name__, url_prefix="/tenants/<uuid:tid>/clients", abp_tags=[Tag(name="clients")]
)


def out(client: Client) -> dict[str, Any]:
    return ClientOut.model_validate(client).model_dump(mode="json")


def out_with_secret(client: Client, secret: str) -> dict[str, Any]:
    return {**out(client), "client_secret": secret}


@bp.get("", responses={200: ClientPage, **PROBLEM_RESPONSES})
@tenant_scoped(Permission.CLIENTS_READ)
def list_clients(path: TenantPath, query: PageQuery) -> dict[str, Any]:
    """The tenant's integration clients, revoked ones included, oldest first, a page at a time."""
    items, next_cursor = service.list_clients(db_session(), path.tid, limit=query.limit, cursor=query.cursor)
    return page_of([out(c) for c in items], next_cursor)


@bp.post("", responses={201: ClientWithSecretOut, 409: None, **PROBLEM_RESPONSES})
@tenant_scoped(Permission.CLIENTS_WRITE)
def create_client(path: TenantPath, body: ClientCreate) -> tuple[dict[str, Any], int]:
    """Create a client with scopes the caller holds; its secret is in this answer only."""
    client, secret = service.create_client(
        db_session(),
        path.tid,
        name=body.name,
        scopes=body.scopes,
        actor=current_principal(),
        secret_key=client_secret_key(),
    )
    return out_with_secret(client, secret), 201


@bp.patch("/<uuid:cid>", responses={200: ClientOut, 409: ProblemOut, **PROBLEM_RESPONSES})
@tenant_scoped(Permission.CLIENTS_WRITE)
def update_client(path: ClientPath, body: ClientUpdate) -> dict[str, Any]:
    """Rename, narrow the scopes, or re-own (`owner_id`): the caller must hold every scope of
    the client; narrowing or re-owning ends its older tokens."""
    client = service.update_client(
        db_session(),
        path.tid,
        path.cid,
        current_principal(),
        **sent(body),
    )
    return out(client)


@bp.delete("/<uuid:cid>", responses={204: None, **PROBLEM_RESPONSES})
@tenant_scoped(Permission.CLIENTS_WRITE)
def revoke_client(path: ClientPath) -> tuple[str, int]:
    """Revoke a client: no new tokens, and its tokens stop working on their next request."""
    service.revoke_client(db_session(), path.tid, path.cid, current_principal())
    return "", 204


@bp.post(
    "/<uuid:cid>/secret",
    responses={200: ClientWithSecretOut, 409: ProblemOut, **PROBLEM_RESPONSES},
    operation_id="rotateClientSecret",
)
@tenant_scoped(Permission.CLIENTS_WRITE)
def rotate_secret(path: ClientPath) -> dict[str, Any]:
    """A new secret, in this answer only; the old one and the client's tokens stop working."""
    client, secret = service.rotate_secret(
        db_session(), path.tid, path.cid, current_principal(), secret_key=client_secret_key()
    )
    return out_with_secret(client, secret)
