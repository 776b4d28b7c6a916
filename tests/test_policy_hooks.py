"""The policy layer is wired through one typed hooks object: a missing hook stops start-up."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from flask import Flask

from app.audit import record_denial
from app.catalog.store import application_names
from app.clients.callers import request_client
from app.projects.routes import delete_project, rename_project
from app.scoping import tenant_exists
from app.security.token_state import token_state_checker
from policies import (
    Ownership,
    Permission,
    PolicyHooks,
    UnguardedRouteError,
    ensure_every_route_guarded,
    init_app,
    policy_of,
    public,
    tenant_scoped,
)
from policies.hooks import EXTENSION


def _hooks(**changes: object) -> dict[str, object]:
    hooks: dict[str, object] = {
        "token_state_check": lambda principal: None,
        "tenant_exists": lambda tenant_id: True,
        "denial_recorder": lambda principal, problem: "decision",
        "application_catalog": frozenset,
        "client_authenticator": lambda: None,
    }
    hooks.update(changes)
    return hooks


def _bare_app() -> Flask:
    app = Flask(__name__, static_folder=None)

    @app.get("/status")
    @public("status page")
    def status() -> str:
        return "ok"

    return app


@pytest.mark.parametrize("hook", [f.name for f in dataclasses.fields(PolicyHooks)])
def test_a_hook_left_out_is_a_type_error(hook):
    given = _hooks()
    del given[hook]
    with pytest.raises(TypeError, match=hook):
        PolicyHooks(**given)  # type: ignore[arg-type]


def test_a_hook_that_is_not_callable_is_a_type_error():
    with pytest.raises(TypeError, match="denial_recorder"):
        PolicyHooks(**_hooks(denial_recorder=None))  # type: ignore[arg-type]


def test_hooks_are_keyword_only_and_frozen():
    with pytest.raises(TypeError):
        PolicyHooks(*_hooks().values())  # type: ignore[misc]
    hooks = PolicyHooks(**_hooks())  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        hooks.denial_recorder = lambda principal, problem: "other"  # type: ignore[misc]


def test_an_app_without_the_policy_layer_does_not_start():
    with pytest.raises(UnguardedRouteError, match="init_app"):
        ensure_every_route_guarded(_bare_app())


def test_init_app_registers_one_entry_once():
    app = _bare_app()
    before = set(app.extensions)
    init_app(app, PolicyHooks(**_hooks()))  # type: ignore[arg-type]
    assert set(app.extensions) - before == {EXTENSION}
    assert [e.rule for e in ensure_every_route_guarded(app)] == ["/status"]
    with pytest.raises(RuntimeError, match="already"):
        init_app(app, PolicyHooks(**_hooks()))  # type: ignore[arg-type]


def test_init_app_refuses_anything_but_hooks():
    with pytest.raises(TypeError, match="PolicyHooks"):
        init_app(_bare_app(), _hooks())  # type: ignore[arg-type]


def test_the_app_wires_its_own_hooks(app):
    hooks = app.extensions[EXTENSION]
    with app.app_context():
        checker = token_state_checker()
    assert hooks == PolicyHooks(
        token_state_check=checker,
        tenant_exists=tenant_exists,
        denial_recorder=record_denial,
        application_catalog=application_names,
        client_authenticator=request_client,
    )
    legacy = {"token_state_check", "tenant_exists", "denial_recorder", "application_catalog"}
    assert not legacy & {key.removeprefix("authz.") for key in app.extensions}


def test_ownership_is_declared_as_data():
    def owner_of(tenant_id: uuid.UUID, view_args: object) -> uuid.UUID | None:
        return None

    rule = Ownership(owner_of, Permission.PROJECTS_MANAGE)

    @tenant_scoped(Permission.PROJECTS_WRITE, ownership=rule)
    def view() -> None: ...

    assert policy_of(view).ownership is rule  # type: ignore[union-attr]
    with pytest.raises(TypeError):
        tenant_scoped(Permission.PROJECTS_WRITE, owner=owner_of)  # type: ignore[call-arg]


@pytest.mark.parametrize("view", [rename_project, delete_project])
def test_project_changes_need_the_owner_or_projects_manage(view):
    ownership = policy_of(view).ownership  # type: ignore[union-attr]
    assert ownership is not None
    assert ownership.override is Permission.PROJECTS_MANAGE
