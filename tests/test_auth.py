"""Login, refresh rotation with reuse detection, logout and /auth/me."""

from __future__ import annotations

import statistics
import time

import jwt
import pytest
from sqlalchemy import select

from app.services import services
from models import AuditEvent, LoginSession, User
from tests.conftest import PASSWORD, bearer
from tests.factories import UserFactory


@pytest.fixture
def bob(acme):
    return UserFactory(tenant=acme, username="Bob", roles=["member"])


def login_body(tenant="acme", username="bob", password=PASSWORD):
    return {"tenant": tenant, "username": username, "password": password}


def public_key(app):
    return services(app).key_ring.active.verification_material


def test_login_issues_a_bearer_pair(client, bob):
    response = client.post("/auth/login", json=login_body())

    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 15 * 60
    assert response.headers["Cache-Control"] == "no-store"


def test_access_token_carries_tenant_roles_permissions_and_session(app, client, acme, bob):
    token = client.post("/auth/login", json=login_body()).get_json()["access_token"]

    header = jwt.get_unverified_header(token)
    claims = jwt.decode(
        token,
        public_key(app),
        algorithms=["RS256"],
        issuer="https://authz.test",
        audience="https://authz.test",
    )
    assert header["typ"] == "at+jwt"
    assert claims["aud"] == "https://authz.test"

    assert header["alg"] == "RS256"
    assert header["kid"] == services(app).key_ring.active.kid
    assert claims["sub"] == str(bob.id)
    assert claims["tenant_id"] == str(acme.id)
    assert claims["roles"] == ["member"]
    assert claims["permissions"] == sorted(
        ["tenant:read", "users:read", "roles:read", "projects:read", "projects:write"]
    )
    assert claims["type"] == "access"
    assert {"iat", "nbf", "exp", "jti", "sid", "iss"} <= set(claims)


def test_username_is_matched_case_insensitively_after_nfkc(client, bob):
    # U+FF22 FULLWIDTH B normalises (NFKC) to B, then folds to b.
    response = client.post("/auth/login", json=login_body(username="\uff22OB"))

    assert response.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        login_body(tenant="nowhere"),
        login_body(username="nobody"),
        login_body(password="a-wrong-but-long-password"),
    ],
    ids=["unknown tenant", "unknown user", "wrong password"],
)
def test_every_credential_failure_is_the_same_401(client, bob, body):
    response = client.post("/auth/login", json=body)

    assert response.status_code == 401
    assert response.get_json()["code"] == "invalid_credentials"
    assert response.get_json()["detail"] == "The tenant, username or password is wrong."
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_inactive_user_cannot_log_in(client, acme):
    UserFactory(tenant=acme, username="gone", is_active=False)

    response = client.post("/auth/login", json=login_body(username="gone"))

    assert response.status_code == 401
    assert response.get_json()["code"] == "invalid_credentials"


def test_unknown_user_costs_about_as_much_as_a_wrong_password(client, bob):
    bodies = {
        "wrong password": login_body(password="a-wrong-but-long-password"),
        "unknown user": login_body(username="nobody"),
        "unknown tenant": login_body(tenant="nowhere"),
    }
    samples: dict[str, list[float]] = {name: [] for name in bodies}
    for _ in range(7):  # interleaved, so that noise on a shared machine hits every path alike
        for name, body in bodies.items():
            started = time.perf_counter()
            client.post("/auth/login", json=body)
            samples[name].append(time.perf_counter() - started)
    median = {name: statistics.median(values) for name, values in samples.items()}

    # Ratios measured side by side: each path pays one argon2 verify.
    assert 0.5 < median["unknown user"] / median["wrong password"] < 2.0, median
    assert 0.5 < median["unknown tenant"] / median["wrong password"] < 2.0, median


def test_failed_and_successful_logins_are_audited(client, db, acme, bob):
    client.post("/auth/login", json=login_body(password="a-wrong-but-long-password"))
    client.post("/auth/login", json=login_body())

    actions = db.scalars(select(AuditEvent.action).where(AuditEvent.tenant_id == acme.id)).all()
    assert "auth.login.failed" in actions
    assert "auth.login.succeeded" in actions


def test_login_without_tenant_needs_a_default_tenant(client, bob):
    response = client.post("/auth/login", json={"username": "bob", "password": PASSWORD})

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "tenant"


def test_login_rehashes_a_password_stored_with_old_parameters(client, db, bob):
    from argon2 import PasswordHasher

    bob.password_hash = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    db.flush()
    old_hash = bob.password_hash

    assert client.post("/auth/login", json=login_body()).status_code == 200

    db.expire_all()
    new_hash = db.get(User, bob.id).password_hash
    assert new_hash != old_hash
    assert "m=19456,t=2,p=1" in new_hash


def test_me_describes_the_caller(client, acme, bob, auth_headers):
    response = client.get("/auth/me", headers=auth_headers(bob))

    body = response.get_json()
    assert response.status_code == 200
    assert body["user"]["username"] == "Bob"
    assert "password_hash" not in body["user"]
    assert body["tenant"]["slug"] == "acme"
    assert body["roles"] == ["member"]
    assert "projects:write" in body["permissions"]


def test_refresh_rotates_the_pair(client, bob, login):
    first = login(bob)

    response = client.post("/auth/refresh", headers=bearer(first["refresh_token"]))

    assert response.status_code == 200
    second = response.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    assert client.get("/auth/me", headers=bearer(second["access_token"])).status_code == 200


def test_reused_refresh_token_revokes_the_whole_session(client, db, bob, login):
    first = login(bob)
    second = client.post("/auth/refresh", headers=bearer(first["refresh_token"])).get_json()

    replay = client.post("/auth/refresh", headers=bearer(first["refresh_token"]))

    assert replay.status_code == 401
    assert replay.get_json()["code"] == "token_revoked"
    # The thief's replay ends the session for the legitimate holder too.
    assert client.post("/auth/refresh", headers=bearer(second["refresh_token"])).status_code == 401
    assert client.get("/auth/me", headers=bearer(second["access_token"])).status_code == 401
    assert db.scalars(select(AuditEvent).where(AuditEvent.action == "auth.refresh.reuse_detected")).one()


def test_logout_revokes_the_session_at_once(client, db, bob, login):
    tokens = login(bob)

    assert client.post("/auth/logout", headers=bearer(tokens["access_token"])).status_code == 204

    after = client.get("/auth/me", headers=bearer(tokens["access_token"]))
    assert after.status_code == 401
    assert after.get_json()["code"] == "token_revoked"
    assert client.post("/auth/refresh", headers=bearer(tokens["refresh_token"])).status_code == 401
    session = db.scalars(select(LoginSession).where(LoginSession.user_id == bob.id)).one()
    assert session.revoked_reason == "logout"


def test_logout_leaves_other_sessions_alone(client, bob, login):
    laptop, phone = login(bob), login(bob)

    client.post("/auth/logout", headers=bearer(laptop["access_token"]))

    assert client.get("/auth/me", headers=bearer(phone["access_token"])).status_code == 200


def test_deactivated_user_is_refused_on_the_next_request(client, db, bob, login):
    tokens = login(bob)
    bob.is_active = False
    db.flush()

    response = client.get("/auth/me", headers=bearer(tokens["access_token"]))

    assert response.status_code == 401
    assert response.get_json()["code"] == "token_revoked"


def test_role_change_makes_older_access_tokens_fail_but_refresh_picks_up_new_roles(client, db, bob, login):
    tokens = login(bob)
    bob.authz_version += 1  # what a role change does
    db.flush()

    assert client.get("/auth/me", headers=bearer(tokens["access_token"])).status_code == 401
    refreshed = client.post("/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert refreshed.status_code == 200
    assert client.get("/auth/me", headers=bearer(refreshed.get_json()["access_token"])).status_code == 200


def test_suspended_tenant_answers_403_tenant_suspended(client, db, acme, bob, login):
    tokens = login(bob)
    acme.status = "suspended"
    db.flush()

    response = client.get("/auth/me", headers=bearer(tokens["access_token"]))

    assert response.status_code == 403
    assert response.get_json()["code"] == "tenant_suspended"
    # Logging in to a suspended tenant is no password oracle (tests/security/test_abuse_login.py).
    assert client.post("/auth/login", json=login_body()).status_code == 401


def test_deleted_user_tokens_stop_working(client, db, bob, login):
    tokens = login(bob)
    db.delete(bob)
    db.flush()

    assert client.get("/auth/me", headers=bearer(tokens["access_token"])).status_code == 401
