"""The peers we measure ourselves against, each as a small app of its own with a bare
JSON route of the same kind beside its protected one, mounted under one WSGI dispatcher:

- `/fje`: flask-jwt-extended's `@jwt_required()` alone, and with a permission read from
  a claim (what its docs suggest for roles);
- `/casbin`: flask-jwt-extended plus pycasbin's RBAC-with-domains enforcer over a policy
  of 100 tenants with three roles each;
- `/fst`: Flask-Security-Too's token authentication and `permissions_required`, which
  loads the user from the database on every request.

Every peer signs with RS256 like our service, so that the comparison is of what happens
around the signature, not of the algorithm.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import casbin
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, abort, jsonify
from flask_jwt_extended import JWTManager, create_access_token, get_jwt, jwt_required
from werkzeug.middleware.dispatcher import DispatcherMiddleware

PERMISSION = "projects:read"
TENANTS = 100
CASBIN_MODEL = """
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub, r.dom) && r.dom == p.dom && r.obj == p.obj && r.act == p.act
"""


def _rsa_pem() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def _with_bare(app: Flask) -> Flask:
    app.add_url_rule("/bare", "bare", lambda: jsonify(ok=True))
    return app


def fje_app(private: bytes, public: bytes) -> Flask:
    app = Flask("peer-fje")
    app.config.update(JWT_ALGORITHM="RS256", JWT_PRIVATE_KEY=private, JWT_PUBLIC_KEY=public)
    JWTManager(app)

    @app.get("/protected")
    @jwt_required()
    def protected() -> Any:
        return jsonify(ok=True)

    @app.get("/permission")
    @jwt_required()
    def permission() -> Any:
        if PERMISSION not in get_jwt().get("permissions", ()):
            abort(403)
        return jsonify(ok=True)

    return _with_bare(app)


def casbin_app(private: bytes, public: bytes, model_path: str) -> Flask:
    app = Flask("peer-casbin")
    app.config.update(JWT_ALGORITHM="RS256", JWT_PRIVATE_KEY=private, JWT_PUBLIC_KEY=public)
    JWTManager(app)
    enforcer = casbin.Enforcer(model_path)
    for tenant in range(TENANTS):
        domain = f"tenant-{tenant}"
        for role, actions in (("admin", ("read", "write")), ("member", ("read",)), ("viewer", ("read",))):
            for action in actions:
                enforcer.add_policy(role, domain, "projects", action)
        enforcer.add_grouping_policy(f"user-{tenant}", "member", domain)

    @app.get("/protected")
    @jwt_required()
    def protected() -> Any:
        claims = get_jwt()
        if not enforcer.enforce(claims["sub"], claims.get("tenant", ""), "projects", "read"):
            abort(403)
        return jsonify(ok=True)

    return _with_bare(app)


def fst_app(database_path: str, secret: str) -> tuple[Flask, Callable[[], str]]:
    """Flask-Security-Too over plain SQLAlchemy; returns the app and a token maker."""
    from flask_security import (
        RoleMixin,
        Security,
        SQLAlchemySessionUserDatastore,
        UserMixin,
        auth_token_required,
        permissions_required,
    )
    from flask_security.models import sqla as fs_models
    from sqlalchemy import create_engine
    from sqlalchemy.orm import DeclarativeBase, scoped_session, sessionmaker

    class Base(DeclarativeBase):
        pass

    fs_models.FsModels.set_db_info(base_model=Base)

    class Role(Base, fs_models.FsRoleMixin, RoleMixin):
        __tablename__ = "role"

    class User(Base, fs_models.FsUserMixin, UserMixin):
        __tablename__ = "user"

    engine = create_engine(f"sqlite:///{database_path}")
    session = scoped_session(sessionmaker(bind=engine))
    Base.metadata.create_all(engine)  # a peer's own throwaway schema, not ours
    app = Flask("peer-fst")
    app.config.update(
        SECRET_KEY=secret,
        SECURITY_PASSWORD_SALT=secret[:16],
        SECURITY_PASSWORD_HASH="argon2",  # noqa: S106 - a hash scheme name, not a password
        WTF_CSRF_ENABLED=False,
        SECURITY_CSRF_IGNORE_UNAUTH_ENDPOINTS=True,
    )
    datastore = SQLAlchemySessionUserDatastore(session, User, Role)
    Security(app, datastore)
    app.teardown_appcontext(lambda _exc: session.remove())

    @app.get("/protected")
    @auth_token_required
    @permissions_required(PERMISSION)
    def protected() -> Any:
        return jsonify(ok=True)

    def make_token() -> str:
        with app.app_context():
            user = datastore.find_user(email="member@example.com")
            if user is None:
                role = datastore.find_or_create_role("member", permissions={PERMISSION})
                user = datastore.create_user(email="member@example.com", password="x" * 16, roles=[role])
                session.commit()
            return str(user.get_auth_token())

    return _with_bare(app), make_token


class Peers:
    """The dispatcher app and the headers each protected route needs."""

    def __init__(self, workdir: str | None = None) -> None:
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="peers-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        private_path, public_path = self.workdir / "peer-key.pem", self.workdir / "peer-key.pub"
        if not private_path.exists():
            private, public = _rsa_pem()
            private_path.write_bytes(private)
            public_path.write_bytes(public)
        private, public = private_path.read_bytes(), public_path.read_bytes()
        model = self.workdir / "casbin-model.conf"
        model.write_text(CASBIN_MODEL)
        self.fje = fje_app(private, public)
        self.casbin = casbin_app(private, public, str(model))
        secret = self.workdir / "fst-secret"
        if not secret.exists():
            secret.write_text(os.urandom(32).hex())
        self.fst, self._fst_token = fst_app(str(self.workdir / "fst.db"), secret.read_text())
        root = Flask("peers-root")
        self.wsgi = DispatcherMiddleware(root, {"/fje": self.fje, "/casbin": self.casbin, "/fst": self.fst})

    def headers(self) -> dict[str, dict[str, str]]:
        with self.fje.app_context():
            plain = create_access_token("user-7")
            with_claim = create_access_token(
                "user-7", additional_claims={"tenant": "tenant-7", "permissions": [PERMISSION]}
            )
        return {
            "fje": {"Authorization": f"Bearer {plain}"},
            "fje-claim": {"Authorization": f"Bearer {with_claim}"},
            "casbin": {"Authorization": f"Bearer {with_claim}"},
            "fst": {"Authentication-Token": self._fst_token(), "Accept": "application/json"},
        }


def create_peers_app() -> DispatcherMiddleware:
    """The gunicorn entry point: `benchmarks.peer_apps:create_peers_app()`."""
    return Peers(os.environ["AUTHZ_PEERS_DIR"]).wsgi
