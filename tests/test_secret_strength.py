"""Production refuses published and predictable secrets (issue 14, item 5), without echoing them."""

from __future__ import annotations

import base64
import random
import secrets

import pytest

from app.secret_strength import REQUIRED_BITS, alphabet_bits, pattern_bits, weakness
from app.settings import SettingsError, load_settings

PRODUCTION = {"env": "production", "database_url": "postgresql+psycopg://db/authz", "key_dir": "/keys"}

WEAK = {
    "jwt.io's example": "a-string-secret-at-least-256-bits-long",
    "jwt.io's older example": "your-256-bit-secret",
    "hex digits in order": "0123456789abcdef0123456789abcdef",
    "hex digits in order, 64 of them": "0123456789abcdef" * 4,
    "one letter repeated": "a" * 64,
    "a repeated pattern": "Xy7!" * 16,
    "the alphabet": "abcdefghijklmnopqrstuvwxyz" * 2,
    "a keyboard walk and a year": "qwertyuiopasdfghjklzxcvbnm" + "2026" * 8,
    "a dashed phrase": "correct-horse-battery-staple-is-a-famous-example-of-a-passphrase-really",
    "a spaced sentence": "this is my very long and very secret production signing key for the api",
    "a camel-case phrase": "CorrectHorseBatteryStapleIsAFamousExampleOfAPassphraseReallyLongOne",
    "an underscored phrase with a year": "my_super_secret_production_key_2026_for_the_authorization_service",
    "32 random hex digits (128 bits)": "9f86d081884c7d659a2feaa0c55ad015",
    "a published example, shouted": "A-STRING-SECRET-AT-LEAST-256-BITS-LONG",
    # Random-looking, so only the list of published examples can refuse them.
    "Flask's documented secrets.token_hex() output": (
        "192b9bdd22ab9ed4d12e236c78afcb9a393ec15f71bbf5dc987d54727823bcbf"
    ),
    "RFC 7515's example HMAC key (Appendix A.1)": (
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
    ),
}


def _seeded(alphabet: str, length: int, seed: int) -> str:
    rng = random.Random(seed)  # reproducible stand-ins for what generators print
    return "".join(rng.choice(alphabet) for _ in range(length))


STRONG = {
    "secrets.token_urlsafe(48)": secrets.token_urlsafe(48),
    "secrets.token_hex(48)": secrets.token_hex(48),
    "openssl rand -hex 32 (fixed sample)": _seeded("0123456789abcdef", 64, 1),
    "openssl rand -base64 48 (fixed sample)": base64.b64encode(random.Random(2).randbytes(48)).decode(),
    "secrets.token_urlsafe(32) (fixed sample)": _seeded(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", 43, 3
    ),
}


@pytest.mark.parametrize("name", ["secret_key", "client_secret_key"])
@pytest.mark.parametrize("secret", WEAK.values(), ids=WEAK.keys())
def test_production_refuses_a_weak_secret_without_echoing_it(name, secret):
    values = {**PRODUCTION, "client_secret_key": secrets.token_urlsafe(48), name: secret}
    if name == "secret_key":
        values["jwt_algorithm"] = "HS256"
    env_name = f"AUTHZ_{name.upper()}"

    with pytest.raises(SettingsError, match=env_name) as refused:
        load_settings(_env_file=None, **values)

    message = str(refused.value)
    assert secret not in message
    assert secret[:12] not in message
    assert "secrets.token_urlsafe" in message  # says how to make a good one


@pytest.mark.parametrize("secret", STRONG.values(), ids=STRONG.keys())
def test_production_accepts_a_generated_secret(secret):
    settings = load_settings(
        _env_file=None, **PRODUCTION, jwt_algorithm="HS256", secret_key=secret, client_secret_key=secret
    )

    assert settings.is_production


@pytest.mark.parametrize("secret", WEAK.values(), ids=WEAK.keys())
def test_development_still_starts_with_any_secret(secret):
    assert not load_settings(_env_file=None, jwt_algorithm="HS256", secret_key=secret).is_production


def test_the_estimate_sees_through_length():
    hex_run = "0123456789abcdef" * 4

    assert alphabet_bits(hex_run) == REQUIRED_BITS  # as long as a random 256-bit hex key
    assert pattern_bits(hex_run) < 32  # and worth almost nothing
    assert weakness(hex_run, "K") is not None
    assert weakness(STRONG["openssl rand -hex 32 (fixed sample)"], "K") is None
