"""Passwords, keys, tokens and the per-request token state check."""

from __future__ import annotations

from app.security.passwords import Passwords
from app.services import services
from app.settings import Settings


def passwords() -> Passwords:
    return services().passwords


def settings() -> Settings:
    return services().settings


def client_secret_key() -> bytes:
    """The key of the HMAC that hashes integration client secrets."""
    return services().client_secret_key
