"""Strong and unconfusable credentials: each password rule (zxcvbn beside the length rule)
at creation, reset, change and bootstrap; each username rule (RFC 8265, one script,
look-alikes are duplicates, also when created concurrently); the migration (issue 15)."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import create_engine

from app.cli import DEMO_ACCOUNTS, DEMO_PASSWORD
from app.provisioning import builtin_role, create_tenant, create_user
from app.security.password_policy import name_words, password_problem
from app.services import services
from models.base import UTCDateTime
from policies import BuiltinRole
from tests.conftest import PASSWORD, bearer
from tests.databases import ROOT, fresh_database, upgrade
from tests.factories import TenantFactory, UserFactory

STRONG = "plum-otter-kettle-58"


@pytest.fixture
def admin_headers(acme, auth_headers):
    return auth_headers(UserFactory(tenant=acme, username="alice", roles=["admin"]))


def create(client, tenant, headers, username, password=STRONG):
    return client.post(
        f"/tenants/{tenant.id}/users", json={"username": username, "password": password}, headers=headers
    )


def assert_refused(response, field, reason, password):
    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["errors"]
    assert errors == [{"field": field, "message": reason}]
    assert password not in response.get_data(as_text=True)  # never echoed


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("password1234", "too common"),
        ("qwertyuiop12", "too common"),
        ("erinerinerin", "too similar to the username or the tenant's name"),
        ("acmeacmeacme", "too similar to the username or the tenant's name"),
        ("erin12345678", "too similar to the username or the tenant's name"),
        ("AcmeCorp2024!", "too similar to the username or the tenant's name"),  # "Acme Corp"
        ("acmecorp1234", "too similar to the username or the tenant's name"),
        ("x" * 11, "at least 12 characters"),  # the length rule first
        ("x" * 1025, "at most 1024 characters"),
    ],
)
def test_weak_passwords_are_refused_at_creation(client, acme, admin_headers, password, reason):
    response = create(client, acme, admin_headers, "erin", password)

    assert response.status_code == 422
    messages = {e["message"] for e in response.get_json()["errors"]}
    assert any(reason in message for message in messages), messages
    assert password not in response.get_data(as_text=True)


def test_a_weak_password_is_refused_at_reset(client, acme, admin_headers):
    erin = UserFactory(tenant=acme, username="erin")

    response = client.patch(
        f"/tenants/{acme.id}/users/{erin.id}", json={"password": "password1234"}, headers=admin_headers
    )

    assert_refused(response, "password", "too common", "password1234")


def test_a_weak_password_is_refused_at_change(client, acme, auth_headers):
    headers = auth_headers(UserFactory(tenant=acme, username="erin"))

    response = client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": "erin-erin-acme"},
        headers=headers,
    )

    assert_refused(
        response, "new_password", "too similar to the username or the tenant's name", "erin-erin-acme"
    )


def test_a_strong_password_is_accepted_everywhere(client, acme, admin_headers, login):
    created = create(client, acme, admin_headers, "erin")
    assert created.status_code == 201

    tokens = client.post("/auth/login", json={"tenant": "acme", "username": "erin", "password": STRONG})
    changed = client.post(
        "/auth/password",
        json={"current_password": STRONG, "new_password": "violet-harbor-canyon-19"},
        headers=bearer(tokens.get_json()["access_token"]),
    )
    assert changed.status_code == 204


def test_existing_weak_hashes_keep_working(client, acme):
    UserFactory(tenant=acme, username="olduser", password="password1234")  # set before the rule

    response = client.post(
        "/auth/login", json={"tenant": "acme", "username": "olduser", "password": "password1234"}
    )

    assert response.status_code == 200


def test_bootstrap_refuses_a_guessable_password(app, db):
    result = app.test_cli_runner().invoke(
        args=["bootstrap", "--username", "root", "--password-stdin"], input="password1234\n"
    )

    assert result.exit_code != 0
    assert "too common" in result.output
    assert "password1234" not in result.output


def test_the_demo_and_readme_passwords_pass_the_rule():
    for slug, name, username in DEMO_ACCOUNTS:
        assert (
            password_problem(DEMO_PASSWORD, user_inputs=name_words(username, slug, name), min_score=3) is None
        )
    # The README's walk-through creates dana in acme with this one.
    readme = (ROOT / "README.md").read_text()
    assert "violet-harbor-canyon-19" in readme
    assert DEMO_PASSWORD in readme
    dana = name_words("dana", "acme", "Acme Corp")
    assert password_problem("violet-harbor-canyon-19", user_inputs=dana, min_score=3) is None


# --- usernames -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "reason"),
    [
        ("al\u0456ce", "mixes scripts (Cyrillic, Latin)"),  # Cyrillic i in a Latin name
        ("p\u0430ypal", "mixes scripts (Cyrillic, Latin)"),
        ("dana scully", "must not contain spaces"),
        ("\ufb01nn", "must not contain compatibility characters (ligatures, styled letters)"),
        (
            "\U0001d41a\U0001d41b\U0001d41c",
            "must not contain compatibility characters (ligatures, styled letters)",
        ),
    ],
)
def test_usernames_outside_rfc_8265_or_mixing_scripts_are_refused(
    client, acme, admin_headers, username, reason
):
    response = create(client, acme, admin_headers, username)

    assert response.status_code == 422
    assert {"field": "username", "message": f"Value error, {reason}"} in response.get_json()["errors"]


@pytest.mark.parametrize(
    "username", ["\u5c71\u7530\u305f\u308d\u3046", "\u0418\u0432\u0430\u043d", "dana.o-neil_2"]
)
def test_single_script_names_of_any_script_are_welcome(client, acme, admin_headers, username):
    assert create(client, acme, admin_headers, username).status_code == 201


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("alice2", "a1ice2"),  # digit one for small L
        ("modern", "rnodern"),  # r n for m
        ("ace", "\u0430\u0441\u0435"),  # all-Cyrillic a, es, ie: a whole-script look-alike
        ("bob", "BOB"),  # case, as before
        ("alice2", "aIice2"),  # capital I for small L: alike as written, not once case-folded
        ("linda", "Iinda"),
        ("BOB", "B0B"),  # capital O and digit zero
    ],
)
def test_a_look_alike_of_an_existing_name_is_a_duplicate(client, acme, admin_headers, first, second):
    assert create(client, acme, admin_headers, first).status_code == 201

    response = create(client, acme, admin_headers, second)

    assert response.status_code == 409
    assert response.get_json()["code"] == "conflict"


def test_look_alikes_in_different_tenants_are_fine(client, acme, admin_headers, auth_headers):
    globex = TenantFactory(slug="globex")
    globex_headers = auth_headers(UserFactory(tenant=globex, roles=["admin"]))

    assert create(client, acme, admin_headers, "alice2").status_code == 201
    assert create(client, globex, globex_headers, "a1ice2").status_code == 201


def test_names_from_before_the_rules_keep_logging_in(client, acme):
    UserFactory(tenant=acme, username="Dana Scully")  # a space: refused today, allowed then

    response = client.post(
        "/auth/login", json={"tenant": "acme", "username": "dana scully", "password": PASSWORD}
    )

    assert response.status_code == 200


def test_two_concurrent_look_alike_creates_give_one_201_and_one_409(committing_app, monkeypatch):
    import app.users.service as users_service

    hashed = services(committing_app).passwords.hash(PASSWORD)
    with services(committing_app).database.sessions() as session, session.begin():
        acme = create_tenant(session, "acme", "Acme Corp")
        create_user(session, acme, "root", hashed, roles=[builtin_role(session, acme, BuiltinRole.ADMIN)])
        acme_id = acme.id
    api = committing_app.test_client()
    token = api.post("/auth/login", json={"tenant": "acme", "username": "root", "password": PASSWORD})
    headers = bearer(token.get_json()["access_token"])

    # Both requests pass their checks before either inserts (on PostgreSQL both are inside
    # their transactions; SQLite's single writer lets the second in after the first).
    # Under the database timeout (2 s): on SQLite the other create waits to begin meanwhile.
    both_checked = threading.Barrier(2, timeout=1)
    original = users_service._ensure_grantable

    def meet_then_grant(session, actor, tenant, roles):
        with contextlib.suppress(threading.BrokenBarrierError):  # SQLite: the other waits to begin
            both_checked.wait()
        original(session, actor, tenant, roles)

    monkeypatch.setattr(users_service, "_ensure_grantable", meet_then_grant)
    results: list[int] = []

    def create_as(name):
        client = committing_app.test_client()
        answer = client.post(
            f"/tenants/{acme_id}/users", json={"username": name, "password": STRONG}, headers=headers
        )
        results.append(answer.status_code)

    threads = [threading.Thread(target=create_as, args=(name,)) for name in ("mallory", "rnallory")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(results) == [201, 409]


TENANTS = sa.table(
    "tenants",
    sa.column("id", sa.Uuid()),
    sa.column("slug", sa.String()),
    sa.column("name", sa.String()),
    sa.column("status", sa.String()),
    sa.column("created_at", UTCDateTime()),
)


def skeletons_after_upgrade(
    tmp_path, from_revision: str, names: list[str], stored_skeleton: Callable[[str], str] | None = None
) -> dict[str, str | None]:
    """Users named `names` (one a day, oldest first) in a database at `from_revision`, with
    `stored_skeleton(name)` as their skeleton if that revision has the column; then upgraded
    to head: each name's skeleton."""
    columns = [sa.column(name, sa.String()) for name in ("username", "username_key", "password_hash")]
    if stored_skeleton is not None:
        columns.append(sa.column("username_skeleton", sa.String()))
    users = sa.table(
        "users",
        *columns,
        sa.column("id", sa.Uuid()),
        sa.column("tenant_id", sa.Uuid()),
        sa.column("is_active", sa.Boolean()),
        sa.column("authz_version", sa.Integer()),
        sa.column("created_at", UTCDateTime()),
    )
    with fresh_database(tmp_path, f"skeletons{from_revision}") as url:
        upgrade(url, from_revision)
        engine = create_engine(url)
        tenant_id, start = uuid.uuid4(), datetime(2026, 1, 1, tzinfo=UTC)
        with engine.begin() as connection:
            connection.execute(
                TENANTS.insert().values(
                    id=tenant_id, slug="acme", name="Acme", status="active", created_at=start
                )
            )
            for n, name in enumerate(names):
                stored = {} if stored_skeleton is None else {"username_skeleton": stored_skeleton(name)}
                connection.execute(
                    users.insert().values(
                        id=uuid.uuid4(),
                        tenant_id=tenant_id,
                        username=name,
                        username_key=name.casefold(),
                        password_hash="x",
                        is_active=True,
                        authz_version=1,
                        created_at=start + timedelta(days=n),
                        **stored,
                    )
                )
        upgrade(url)
        with engine.connect() as connection:
            rows = dict(connection.execute(sa.text("SELECT username, username_skeleton FROM users")).all())
        engine.dispose()
    return rows


def test_the_migration_computes_skeletons_and_keeps_old_look_alikes(tmp_path):
    rows = skeletons_after_upgrade(tmp_path, "0004", ["alice", "a1ice", "Dana Scully"])  # a pair, a space

    # The older of two look-alikes keeps the skeleton; the newer keeps its name and logs in.
    assert rows == {"alice": "a1ice", "a1ice": None, "Dana Scully": "dana scu11y"}


def test_the_migration_recomputes_skeletons_as_written(tmp_path):
    """Databases that ran 0006 hold skeletons of the case-folded names, where "aIice" did not
    look like "alice"; 0009 computes them again, and the newer of two look-alikes gets NULL."""
    from models.confusables import skeleton
    from models.user import username_key

    def as_0006_computed(name: str) -> str:
        return skeleton(username_key(name))

    rows = skeletons_after_upgrade(tmp_path, "0008", ["alice", "aIice", "linda"], as_0006_computed)

    assert rows == {"alice": "a1ice", "aIice": None, "linda": "1inda"}
