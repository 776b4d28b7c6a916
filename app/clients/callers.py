"""For the policy layer (policies.PolicyHooks.client_authenticator): a client authenticating in
the request itself (RFC 6749 §2.3), with its effective scopes now."""

from __future__ import annotations

from flask import request

from app.catalog.effective import effective_scopes
from app.clients import service
from app.clients.oauth import client_credentials_from_request, invalid_client, request_params
from app.database import db_session
from app.security import client_secret_key
from app.security.token_state import token_state_checker
from policies.hooks import ClientCaller


def request_client() -> ClientCaller | None:
    """None when the request carries no client credentials; wrong ones are `invalid_client`."""
    credentials = client_credentials_from_request(request_params())
    if credentials is None:
        if not request.headers.get("Authorization", "").lower().startswith("bearer "):
            # RFC 7662 §2.1: the caller must authenticate; answered in RFC 6749 §5.2 form.
            raise invalid_client("Authenticate as a client, or with an access token.")
        return None
    session = db_session()
    try:
        client, tenant = service.authenticate_client(
            session,
            client_id=credentials.client_id,
            client_secret=credentials.client_secret,
            secret_key=client_secret_key(),
        )
    except service.ClientAuthenticationFailed:
        raise invalid_client() from None
    # Bounded by its owner now; no active owner, no scope.
    scopes = effective_scopes(session, client, tenant) or frozenset()
    token_state_checker().touch_client(client.client_id, client.tenant_id)  # its own last_used_at only
    return ClientCaller(client.client_id, client.tenant_id, scopes)
