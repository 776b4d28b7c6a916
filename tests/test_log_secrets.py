"""The log of a whole run never holds a secret it used: every password, token, client
secret and hash of a run through each credential-bearing flow is searched for in what the
service logged, at DEBUG, formatted as in production (issue 18, item 8; OWASP ASVS V7.1.1)."""

from __future__ import annotations

import base64

from sqlalchemy import select

from models import Client, User
from tests.conftest import PASSWORD, bearer
from tests.factories import TenantFactory, UserFactory
from tests.logcapture import captured_log


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def test_no_secret_of_a_whole_run_reaches_the_log(client, db):
    acme = TenantFactory()
    alice = UserFactory(tenant=acme, roles=["admin"])
    bob = UserFactory(tenant=acme, roles=["member"])
    secrets: set[str] = {PASSWORD}

    def login(user, password=PASSWORD):
        answer = client.post(
            "/auth/login", json={"tenant": acme.slug, "username": user.username, "password": password}
        ).get_json()
        secrets.update(value for key, value in answer.items() if key.endswith("_token"))
        return answer

    with captured_log("DEBUG") as log:
        admin = login(alice)
        tokens = login(bob)
        wrong = "wrong-" + PASSWORD
        secrets.add(wrong)
        assert (
            client.post(
                "/auth/login", json={"tenant": acme.slug, "username": bob.username, "password": wrong}
            ).status_code
            == 401
        )
        client.get("/auth/me", headers=bearer(tokens["access_token"]))
        refreshed = client.post("/auth/refresh", headers=bearer(tokens["refresh_token"])).get_json()
        secrets.update(refreshed[key] for key in ("access_token", "refresh_token"))
        client.post("/auth/refresh", headers=bearer(tokens["refresh_token"]))  # reuse: audited
        garbage = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLW9mLWdhcmJhZ2U"
        secrets.add(garbage)
        client.get("/auth/me", headers=bearer(garbage))

        new_password = "a-brand-new-password-42"
        secrets.add(new_password)
        carol = client.post(
            f"/tenants/{acme.id}/users",
            json={"username": "carol", "password": new_password, "roles": ["member"]},
            headers=bearer(admin["access_token"]),
        )
        assert carol.status_code == 201
        changed = "changed-" + new_password
        secrets.add(changed)
        carol_tokens = client.post(
            "/auth/login", json={"tenant": acme.slug, "username": "carol", "password": new_password}
        ).get_json()
        secrets.update(carol_tokens[key] for key in ("access_token", "refresh_token"))
        client.post(
            "/auth/password",
            json={"current_password": new_password, "new_password": changed},
            headers=bearer(carol_tokens["access_token"]),
        )

        integration = client.post(
            f"/tenants/{acme.id}/clients",
            json={"name": "sync", "scopes": ["projects:read"]},
            headers=bearer(admin["access_token"]),
        ).get_json()
        assert "client_secret" in integration, integration
        secrets.add(integration["client_secret"])
        issued = client.post(
            "/auth/token",
            data={"grant_type": "client_credentials"},
            headers=basic(integration["client_id"], integration["client_secret"]),
        ).get_json()
        secrets.add(issued["access_token"])
        client.post(
            "/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": integration["client_id"],
                "client_secret": "wrong-" + integration["client_secret"],
            },
        )
        secrets.add("wrong-" + integration["client_secret"])
        client.post(
            "/auth/introspect",
            data={"token": refreshed["access_token"]},
            headers=bearer(issued["access_token"]),
        )
        rotated = client.post(
            f"/tenants/{acme.id}/clients/{integration['id']}/secret", headers=bearer(admin["access_token"])
        ).get_json()
        secrets.add(rotated["client_secret"])
        client.post("/auth/logout", headers=bearer(refreshed["access_token"]))
        client.get("/auth/me", headers=bearer(refreshed["access_token"]))  # revoked: logged 401

    secrets.update(db.scalars(select(User.password_hash)))
    secrets.update(db.scalars(select(Client.secret_hash)))
    # A token's signature alone is as good as the token for some attacks: search it too.
    secrets.update(secret.rsplit(".", 1)[-1] for secret in list(secrets) if secret.count(".") == 2)
    lines = log.lines()  # every line is one JSON object
    assert sum(line["event"] == "request" for line in lines) >= 15
    assert any(line["event"] == "auth.refresh.reuse_detected" for line in lines)
    leaked = sorted(secret[:12] + "…" for secret in secrets if secret and secret in log.text)
    assert leaked == []


def test_the_development_servers_request_lines_never_reach_the_log():
    """`flask run` (the README's development command) logs each request line, query string
    included: a token a caller wrongly put in the URL (RFC 6750 §2.3, which we refuse) would
    land in the log. The app's own `request` line says it all, without the query."""
    from werkzeug._internal import _log

    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    with captured_log("INFO") as log:
        # What werkzeug.serving.WSGIRequestHandler.log_request writes for one request.
        _log(
            "info",
            '127.0.0.1 - - [02/Dec/2026 05:18:31] "%s" %s %s\n',
            f"GET /auth/me?access_token={token} HTTP/1.1",
            "401",
            "-",
        )
        _log("info", " * Running on %s", "http://127.0.0.1:5191")

    assert token not in log.text
    assert [line["event"] for line in log.lines()] == [" * Running on http://127.0.0.1:5191"]
