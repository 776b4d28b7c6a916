"""Key rotation under threaded workers: every thread that meets a token of a key rotated in
by another process verifies it, whichever thread reloads the key ring (issue 18, item 6)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import jwt

from app import create_app
from app.security.tokens import _verify, key_ring
from tests.conftest import PASSWORD
from tests.factories import UserFactory

THREADS = 32


def test_every_thread_verifies_a_token_of_a_key_rotated_in_elsewhere(tmp_path, make_settings, bind_app, db):
    settings = make_settings(key_dir=tmp_path / "keys")
    worker = bind_app(create_app(settings, TESTING=True))  # started before the rotation
    with worker.app_context():
        old_kid = key_ring().active.kid
        rotate = worker.cli.commands["keys"].commands["rotate"]  # the operator's command
    assert worker.test_cli_runner().invoke(rotate).exit_code == 0
    elsewhere = bind_app(create_app(settings, TESTING=True))  # another worker, after the rotation
    user = UserFactory()
    login = elsewhere.test_client().post(
        "/auth/login", json={"tenant": user.tenant.slug, "username": user.username, "password": PASSWORD}
    )
    token = login.get_json()["access_token"]
    assert jwt.get_unverified_header(token)["kid"] != old_kid
    start = threading.Barrier(THREADS)

    def verify() -> str:
        with worker.app_context():
            start.wait()
            try:
                _verify(token, key_ring(), worker.extensions["flask-jwt-extended"].audiences)
            except jwt.InvalidTokenError as error:
                return str(error)
            return "ok"

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(lambda _: verify(), range(THREADS)))

    assert outcomes == ["ok"] * THREADS
