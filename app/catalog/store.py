"""The permission catalog as the app reads it: built-in members plus the application
permissions table, cached per worker behind the revocation epoch.

Every change to an application permission bumps the epoch in its own transaction
(app.catalog.service), so a cached catalog is trusted only while the epoch it was loaded
under is current: the next request after a change, in any worker, reloads it.
"""

from __future__ import annotations

import threading
from types import MappingProxyType

from flask import has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.security.token_state import token_state_checker
from app.services import services
from models import ApplicationPermission
from policies.derivation import ApplicationEntry, Catalog

_ENTRIES = select(
    ApplicationPermission.name,
    ApplicationPermission.owner_override,
    ApplicationPermission.member,
    ApplicationPermission.description,
)


def load_catalog(session: Session, version: int = 0) -> Catalog:
    """One query: every application permission."""
    entries = {
        name: ApplicationEntry(name, owner_override, member, description)
        for name, owner_override, member, description in session.execute(_ENTRIES)
    }
    return Catalog(MappingProxyType(entries), version)


class CatalogCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._catalog: Catalog | None = None

    def get(self, session: Session) -> Catalog:
        # Read the epoch BEFORE loading, as the token state does.
        epoch = token_state_checker().current_epoch()
        with self._lock:
            cached = self._catalog
        if cached is not None and cached.version == epoch:
            return cached
        catalog = load_catalog(session, epoch)
        with self._lock:
            self._catalog = catalog
        return catalog

    def clear(self) -> None:
        with self._lock:
            self._catalog = None


def catalog_cache() -> CatalogCache:
    return services().catalog_cache


def current_catalog(session: Session) -> Catalog:
    """The catalog now (at most one query, none while the revocation epoch is unchanged).
    Outside an app (a service called directly), it is simply loaded."""
    if not has_app_context():
        return load_catalog(session)
    return catalog_cache().get(session)


def application_names() -> frozenset[str]:
    """For the policy layer (policies.PolicyHooks.application_catalog): the names defined now."""
    from app.database import db_session

    return frozenset(current_catalog(db_session()).application)
