"""What the policy layer needs from the app, as one typed object registered once.

As flask-jwt-extended's `JWTManager` registers its loaders, the app hands `init_app` a
`PolicyHooks` naming every hook; a hook left out is a TypeError when the app is built, so
"is it wired" holds by construction (no silent no-op, such as a denial nobody audits).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, fields

from flask import Flask, current_app

from policies.principal import Principal
from policies.problems import Problem

# The policy layer's own key, as flask-jwt-extended keeps "flask-jwt-extended"; the app's
# services are at "authz" (app.services).
EXTENSION = "authz.policies"


@dataclass(frozen=True)
class ClientCaller:
    """A client admitted by a route's client scope: it proved its secret in the request itself,
    or presented its own access token; `scopes` are its effective scopes now."""

    client_id: str
    tenant_id: uuid.UUID
    scopes: frozenset[str]


# The one state lookup a token gets per request (revocation, deactivation, tenant suspension);
# it raises to deny.
TokenStateCheck = Callable[[Principal], None]
# Whether a tenant exists: a platform operator may name any tenant id, and one that does not
# exist must be a 404 on every route, as for everyone else.
TenantExists = Callable[[uuid.UUID], bool]
# How a denial is recorded (the audit log); returns the decision id the problem carries.
DenialRecorder = Callable[[Principal, Problem], str]
# The application permissions defined now: a token's claim keeps one only while it is in the
# catalog (removal takes effect at once).
ApplicationCatalog = Callable[[], frozenset[str]]
# How a client authenticates in the request (RFC 6749 §2.3): None when the request carries
# no client credentials; raises to refuse wrong ones.
ClientAuthenticator = Callable[[], ClientCaller | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyHooks:
    """Every hook is required: the dataclass refuses to be built without one."""

    token_state_check: TokenStateCheck
    tenant_exists: TenantExists
    denial_recorder: DenialRecorder
    application_catalog: ApplicationCatalog
    client_authenticator: ClientAuthenticator

    def __post_init__(self) -> None:
        for f in fields(self):
            if not callable(getattr(self, f.name)):
                raise TypeError(f"policy hook {f.name!r} must be callable")


def init_app(app: Flask, hooks: PolicyHooks) -> None:
    """Register the policy layer's hooks on `app` (once)."""
    if not isinstance(hooks, PolicyHooks):
        raise TypeError("init_app() takes a PolicyHooks")
    if EXTENSION in app.extensions:
        raise RuntimeError("the policy layer is already initialised on this app")
    app.extensions[EXTENSION] = hooks


def is_initialised(app: Flask) -> bool:
    return isinstance(app.extensions.get(EXTENSION), PolicyHooks)


def current_hooks() -> PolicyHooks:
    """The current app's hooks: one lookup, then plain attributes."""
    hooks: PolicyHooks = current_app.extensions[EXTENSION]
    return hooks
