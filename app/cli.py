"""`flask --app app ...` commands: bootstrap, demo, policies."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import NoAppException, ScriptInfo, with_appcontext
from sqlalchemy import inspect, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app import key_store
from app.catalog.definitions import DefinitionError, read_definitions
from app.catalog.effective import effective_scopes
from app.catalog.service import apply_definitions
from app.clients.service import new_client
from app.database import database, unit_of_work
from app.provisioning import add_role, builtin_role, create_tenant, create_user
from app.security import client_secret_key, passwords, settings
from app.security.key_store import KeyStore
from app.security.keys import JWKS_MAX_AGE, JWKS_STALE_WHILE_REVALIDATE
from app.security.password_policy import name_words, password_problem
from app.settings import Settings, SettingsError, load_settings
from models import PLATFORM_TENANT_SLUG, Project, Tenant, User, username_key
from policies import BuiltinRole, Permission, route_policies

# Held to the same rule as every password (checked when `demo` runs).
DEMO_PASSWORD = "plum-otter-kettle-58"


PLATFORM_TENANT_NAME = "Platform"
DEMO_TENANTS = (("acme", "Acme Corp"), ("globex", "Globex Corporation"))
DEMO_ACCOUNTS = tuple((slug, name, user) for slug, name in DEMO_TENANTS for user in ("alice", "bob", "carol"))
# Each demo tenant's integration, owned by its admin alice (who holds both): a gateway's
# narrow needs, reading projects and checking tokens (POST /auth/introspect).
DEMO_CLIENT_SCOPES = (Permission.PROJECTS_READ, Permission.TOKENS_INTROSPECT)


def register_commands(app: Flask) -> None:
    app.cli.add_command(bootstrap)
    app.cli.add_command(demo)
    app.cli.add_command(policies_command)
    app.cli.add_command(keys_command)
    app.cli.add_command(permissions_command)


@click.command("bootstrap")
@with_appcontext
@click.option("--username", required=True, help="The first platform administrator.")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from stdin.")
def bootstrap(username: str, password_stdin: bool) -> None:
    """Create the platform tenant and its first platform-admin (idempotent)."""
    password = sys.stdin.readline().rstrip("\r\n")
    problem = password_problem(
        password,
        user_inputs=name_words(username, PLATFORM_TENANT_SLUG, PLATFORM_TENANT_NAME),
        min_score=passwords().min_score,
    )
    if problem:
        raise click.UsageError(f"the password: {problem}")
    _require_schema()
    with database().sessions() as session, unit_of_work(session):
        tenant = session.scalars(select(Tenant).where(Tenant.slug == PLATFORM_TENANT_SLUG)).one_or_none()
        if tenant is None:
            tenant = create_tenant(session, PLATFORM_TENANT_SLUG, PLATFORM_TENANT_NAME)
            click.echo("created the platform tenant")
        exists = session.scalars(
            select(User).where(User.tenant_id == tenant.id, User.username_key == username_key(username))
        ).one_or_none()
        if exists is not None:
            click.echo(f"user {username!r} already exists in the platform tenant; nothing changed")
            return
        role = builtin_role(session, tenant, BuiltinRole.PLATFORM_ADMIN)
        create_user(session, tenant, username, passwords().hash(password), roles=[role])
        click.echo(f"created platform-admin {username!r}")


def _require_schema() -> None:
    """A database without our tables gets one clear sentence, not SQL's traceback."""
    try:
        has_schema = inspect(database().engine).has_table(Tenant.__tablename__)
    except OperationalError:
        raise click.ClickException("the database is not answering; check AUTHZ_DATABASE_URL") from None
    if not has_schema:
        raise click.ClickException(
            "the database has no schema yet: run the migrations first (`alembic upgrade head`, "
            "with the same AUTHZ_DATABASE_URL)"
        )


@click.command("demo")
@with_appcontext
def demo() -> None:
    """Fill a development database with tenants acme and globex: users, roles, an integration
    client each (its secret printed this once) and projects. Existing tenants are left as they are."""
    if settings().is_production:
        raise click.UsageError("demo data is for development databases only")
    _require_schema()
    for slug, name, username in DEMO_ACCOUNTS:
        problem = password_problem(
            DEMO_PASSWORD,
            user_inputs=name_words(username, slug, name),
            min_score=passwords().min_score,
        )
        if problem:
            raise click.UsageError(f"the demo password: {problem}; change DEMO_PASSWORD")
    password_hash = passwords().hash(DEMO_PASSWORD)
    integrations: list[tuple[str, str, str]] = []  # (tenant slug, client_id, secret)
    with database().sessions() as session, unit_of_work(session):
        for slug, name in DEMO_TENANTS:
            if session.scalars(select(Tenant).where(Tenant.slug == slug)).one_or_none():
                click.echo(f"tenant {slug} exists; left as it is")
                continue
            tenant = create_tenant(session, slug, name)
            admin_role = builtin_role(session, tenant, BuiltinRole.ADMIN)
            member_role = builtin_role(session, tenant, BuiltinRole.MEMBER)
            auditor = add_role(
                session,
                tenant,
                "auditor",
                [Permission.TENANT_READ, Permission.USERS_READ, Permission.AUDIT_READ],
                description="Reads the audit log.",
            )
            admin = create_user(session, tenant, "alice", password_hash, roles=[admin_role])
            member = create_user(session, tenant, "bob", password_hash, roles=[member_role])
            create_user(session, tenant, "carol", password_hash, roles=[member_role, auditor])
            session.add_all(
                [
                    Project(tenant_id=tenant.id, name=f"{name} website", owner_id=admin.id),
                    Project(tenant_id=tenant.id, name=f"{name} mobile app", owner_id=member.id),
                ]
            )
            client_id, secret = _demo_client(session, tenant, owner=admin)
            integrations.append((slug, client_id, secret))
            click.echo(f"created tenant {slug} (id {tenant.id})")
    _print_login_hints()
    _print_integrations(integrations)


def _demo_client(session: Session, tenant: Tenant, *, owner: User) -> tuple[str, str]:
    """The tenant's demo integration: its client_id and its secret, stored as every client's
    is (an HMAC). Its scopes must be what its owner holds, by the token endpoint's own bound."""
    scopes = frozenset(str(scope) for scope in DEMO_CLIENT_SCOPES)
    client, secret = new_client(
        tenant.id,
        name=f"{tenant.name} demo integration",
        scopes=scopes,
        owner_id=owner.id,
        secret_key=client_secret_key(),
    )
    session.add(client)
    session.flush()
    if effective_scopes(session, client, tenant) != scopes:
        raise click.ClickException("the demo client's scopes exceed its owner's; change DEMO_CLIENT_SCOPES")
    return client.client_id, secret


def _print_login_hints() -> None:
    base = settings().issuer.rstrip("/")  # the service's URL (README: AUTHZ_ISSUER)
    click.echo(f"\nEvery demo user's password is {DEMO_PASSWORD!r}. Try:\n")
    click.echo(
        f"  curl -s -X POST {base}/auth/login -H 'Content-Type: application/json' \\\n"
        f'    -d \'{{"tenant": "acme", "username": "bob", "password": "{DEMO_PASSWORD}"}}\'\n'
    )
    click.echo("Users in acme and globex: alice (admin), bob (member), carol (member + auditor).")
    default = settings().default_tenant
    if default:
        click.echo(f"AUTHZ_DEFAULT_TENANT={default}: 'tenant' may be left out of the login body.")


def _print_integrations(integrations: list[tuple[str, str, str]]) -> None:
    """Each new demo client's id and secret: the only time the secret is shown (rotating it,
    POST /tenants/{tid}/clients/{id}/secret, makes a new one)."""
    if not integrations:
        return
    scopes = " ".join(sorted(DEMO_CLIENT_SCOPES))
    click.echo(f"\nIntegration clients, owned by alice, scopes {scopes}; each secret is shown this once:\n")
    for slug, client_id, secret in integrations:
        click.echo(f"  {slug}:\n    ID={client_id} SECRET={secret}")
    base = settings().issuer.rstrip("/")  # the service's URL (README: AUTHZ_ISSUER)
    click.echo(
        "\nPaste a tenant's ID=… SECRET=… line into your shell, then get the client's token:\n\n"
        f'  curl -s -u "$ID:$SECRET" -d grant_type=client_credentials {base}/auth/token\n'
    )


@click.command("policies")
@with_appcontext
def policies_command() -> None:
    """Print every route with what it requires."""
    entries = route_policies(current_app)
    width = max(len(f"{'|'.join(e.methods)} {e.rule}") for e in entries)
    for entry in entries:
        route = f"{'|'.join(entry.methods)} {entry.rule}"
        click.echo(f"{route:<{width}}  {entry.policy.describe()}")


@click.group("keys")
def keys_command() -> None:
    """Signing keys: init, rotate, list, prune (these run before any key exists)."""


def _store() -> KeyStore:
    """The key directory of the app when it loads, else of the settings alone: in
    production the app refuses to load without a key, which `keys init` makes."""
    try:
        app = click.get_current_context().ensure_object(ScriptInfo).load_app()
    except (SettingsError, NoAppException):
        app = None
    if app is not None:
        with app.app_context():
            the_settings = settings()
            instance = Path(app.instance_path)
    else:
        the_settings = _settings_or_exit()
        instance = Path(Flask("app", instance_relative_config=True).instance_path)
    if the_settings.jwt_algorithm.is_symmetric:
        raise click.UsageError("HS256 uses one shared secret (AUTHZ_SECRET_KEY); there are no keys to rotate")

    return key_store(instance, the_settings)


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        raise click.ClickException(str(error)) from None


@keys_command.command("init")
def keys_init() -> None:
    """Make the first signing key (once; running it again changes nothing)."""
    store = _store()
    if store.list():
        click.echo(f"a signing key exists already in {store.key_dir}; nothing changed")
        return
    store.ensure_first_key()
    click.echo(f"created the first signing key in {store.key_dir}")


@keys_command.command("stage")
@with_appcontext
def keys_stage() -> None:
    """Publish the next signing key in the JWKS; `keys rotate` makes it active later."""
    kid = _store().stage()
    click.echo(
        f"staged key {kid}: published, not signing; run `keys rotate` once every JWKS cache "
        f"has it ({JWKS_MAX_AGE + JWKS_STALE_WHILE_REVALIDATE} s from now)"
    )


@keys_command.command("rotate")
def keys_rotate() -> None:
    """Make the staged key (or a new one) active; older keys keep verifying until their tokens expire."""
    store = _store()
    staged = store.staged()
    kid = store.rotate()
    origin = "staged" if staged else "new (not staged: a downstream JWKS cache may not have it yet)"
    click.echo(f"new active key {kid}, {origin}; running workers switch to it within a second")


@keys_command.command("list")
def keys_list() -> None:
    """Every key in the key directory and its state."""
    for stored in _store().list():
        state = (
            "active"
            if stored.active
            else f"retired {stored.retired_at:%Y-%m-%d %H:%M}Z"
            if stored.retired_at
            else "staged (published, not signing yet)"
        )
        click.echo(f"{stored.kid}  {state}")


@keys_command.command("prune")
def keys_prune() -> None:
    """Remove retired keys that no valid token can have been signed with."""
    removed = _store().prune()
    click.echo(f"removed {len(removed)} key(s)" + (": " + ", ".join(removed) if removed else ""))


@click.group("permissions")
def permissions_command() -> None:
    """Application permissions (the platform's own, beside the built-in catalog)."""


@permissions_command.command("apply")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--prune", is_flag=True, help="Also remove application permissions the file does not list.")
def permissions_apply(file: Path, prune: bool) -> None:
    """Make the application permissions match FILE (TOML); prints what changed. Idempotent.

    \b
    [permissions."invoices:approve"]
    description = "Approve an invoice."
    owner_override = "invoices:manage"   # optional
    member = false                       # optional: the built-in member role holds it
    """
    try:
        definitions = read_definitions(file.read_bytes())
    except DefinitionError as exc:
        raise click.UsageError(f"{file}: {exc}") from None
    with database().sessions() as session:
        report = apply_definitions(session, definitions, prune=prune)
    for verb, names in (
        ("created", report.created),
        ("updated", report.updated),
        ("deleted", report.deleted),
    ):
        for name in names:
            click.echo(f"{verb} {name}")
    if not report.changed:
        click.echo("nothing changed")
