"""The registry of route policies, read from the app's URL map.

Deny by default: `ensure_every_route_guarded` refuses an app in which any route has no
declared policy (Keystone's "every API is enforced" check, done at start-up).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

from policies.decorators import policy_of
from policies.hooks import is_initialised
from policies.rules import RoutePolicy

IMPLICIT_METHODS = frozenset({"HEAD", "OPTIONS"})


class UnguardedRouteError(RuntimeError):
    """A route declares no policy; the app must not start."""


@dataclass(frozen=True)
class RouteEntry:
    rule: str
    methods: tuple[str, ...]
    endpoint: str
    policy: RoutePolicy


def route_policies(app: Flask) -> list[RouteEntry]:
    """Every route with its policy, sorted by path; raises if any route has none."""
    entries: list[RouteEntry] = []
    unguarded: list[str] = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        policy = policy_of(view) if view is not None else None
        methods = tuple(sorted((rule.methods or set()) - IMPLICIT_METHODS))
        if policy is None:
            unguarded.append(f"{'|'.join(methods)} {rule.rule} (endpoint {rule.endpoint!r})")
            continue
        entries.append(RouteEntry(rule.rule, methods, rule.endpoint, policy))
    if unguarded:
        raise UnguardedRouteError(
            "these routes declare no policy (add @public, @authenticated, @require or "
            "@tenant_scoped): " + "; ".join(sorted(unguarded))
        )
    return sorted(entries, key=lambda e: (e.rule, e.methods))


def ensure_every_route_guarded(app: Flask) -> list[RouteEntry]:
    if not is_initialised(app):
        raise UnguardedRouteError("policies.init_app(app, hooks) was not called; no route could be enforced")
    return route_policies(app)
