"""Review: a login session's `expires_at` is never enforced.

`login` stamps `expires_at = now + refresh_token_ttl`; `refresh` rotates the refresh token
(a new one, valid for another full refresh_token_ttl) but neither checks nor moves
`expires_at`, and the token state check ignores it. After `expires_at` a session that keeps
refreshing lives on forever, yet GET /auth/sessions hides it (it lists `expires_at > now`
only): the user can no longer see, let alone pick out and end, a session that still works.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import update

from models import LoginSession, utcnow
from tests.conftest import bearer
from tests.factories import TenantFactory, UserFactory


def _age_session_past_its_expiry(db, session_id: str) -> None:
    # Same state as 31 days after a login whose refresh token was rotated on day 29:
    # the refresh token in hand is valid for weeks, the session's own expiry has passed.
    db.execute(
        update(LoginSession)
        .where(LoginSession.id == uuid.UUID(session_id))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    db.flush()


def test_a_session_past_its_expiry_either_stops_refreshing_or_stays_visible(client, db, login):
    user = UserFactory(tenant=TenantFactory())
    tokens = login(user)
    session_id = client.get("/auth/me", headers=bearer(tokens["access_token"])).get_json()["session_id"]
    _age_session_past_its_expiry(db, session_id)

    listed = client.get("/auth/sessions", headers=bearer(tokens["access_token"])).get_json()["items"]
    refreshed = client.post("/auth/refresh", headers=bearer(tokens["refresh_token"]))

    visible = session_id in {item["id"] for item in listed}
    assert refreshed.status_code == 401 or visible, (
        "the session still refreshes (and its tokens work) but /auth/sessions no longer lists it"
    )
