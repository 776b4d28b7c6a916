"""Passwords, keys, tokens and the per-request token state check."""

from __future__ import annotations

from flask import current_app

from app.security.passwords import Passwords
from app.settings import Settings

PASSWORDS = "authz.passwords"
SETTINGS = "authz.settings"
CLIENT_SECRET_KEY = "authz.client_secret_key"


def passwords() -> Passwords:
    found: Passwords = current_app.extensions[PASSWORDS]
    return found


def settings() -> Settings:
    found: Settings = current_app.extensions[SETTINGS]
    return found


def client_secret_key() -> bytes:
    """The key of the HMAC that hashes integration client secrets."""
    key: bytes = current_app.extensions[CLIENT_SECRET_KEY]
    return key
