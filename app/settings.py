"""Settings: one typed object read from `AUTHZ_*` variables and validated at start-up.

Development works with no variable at all; `AUTHZ_ENV=production` refuses to start on
anything that would make tokens forgeable (OWASP ASVS 4.0 V2.10 / V6.4: no default secrets).
"""

from __future__ import annotations

import enum
import re
from pathlib import Path
from typing import Annotated, Any, Self

import click
from limits import parse_many
from pydantic import AfterValidator, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.secret_strength import HOW_TO_GENERATE, weakness


class Environment(enum.StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class SigningAlgorithm(enum.StrEnum):
    RS256 = "RS256"
    ES256 = "ES256"
    EDDSA = "EdDSA"
    HS256 = "HS256"

    @property
    def is_symmetric(self) -> bool:
        return self is SigningAlgorithm.HS256


# Secrets that appear in tutorials and examples; a deployment using one has none.
WELL_KNOWN_SECRETS = frozenset(
    {
        "super-secret",
        "supersecret",
        "secret",
        "secret-key",
        "secret_key",
        "jwt-secret",
        "jwt_secret_key",
        "changeme",
        "change-me",
        "change_me",
        "your-secret-key",
        "your_secret_key",
        "mysecret",
        "password",
        "development",
        "dev",
        "test",
        "default",
    }
)
# An origin (RFC 6454): scheme, host, optional port; no path, wildcard or pattern.
ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")
MIN_SECRET_BYTES = 32  # RFC 7518 §3.2: an HS256 key must be at least as long as the hash output.

# OWASP Password Storage Cheat Sheet (2025): argon2id, m=19 MiB, t=2, p=1 at the least.
OWASP_MIN_MEMORY_KIB = 19 * 1024
OWASP_MIN_TIME_COST = 2


def _valid_rate_limit(value: str) -> str:
    try:
        parse_many(value)
    except ValueError:
        raise ValueError("not a rate limit such as '10 per minute' or '5/second;100/hour'") from None
    return value


RateLimit = Annotated[str, AfterValidator(_valid_rate_limit)]


class SettingsError(click.ClickException, ValueError):
    """The configuration is unsafe or inconsistent; the message says why.

    A click exception, so that a `flask --app app ...` command refused at start-up prints
    `Error: <why>` in one line instead of a traceback.
    """


class Settings(BaseSettings):
    # A .env file in the working directory may hold settings; the environment wins over it.
    model_config = SettingsConfigDict(
        env_prefix="AUTHZ_", extra="ignore", frozen=True, env_file=".env", env_file_encoding="utf-8"
    )

    env: Environment = Environment.DEVELOPMENT
    database_url: str | None = None
    redis_url: str | None = None
    # Namespaces our Redis keys: deployments (or test runs) sharing one Redis stay apart.
    redis_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")] = "authz"
    default_tenant: str | None = None
    issuer: str = "http://127.0.0.1:5000"
    audience: str | None = None
    access_token_ttl: Annotated[int, Field(ge=30, le=24 * 3600)] = 15 * 60
    refresh_token_ttl: Annotated[int, Field(ge=300, le=365 * 24 * 3600)] = 30 * 24 * 3600
    # RFC 8725 §3.1 / §3.8 allow a small clock-skew margin, no more.
    token_leeway: Annotated[int, Field(ge=0, le=60)] = 10
    jwt_algorithm: SigningAlgorithm = SigningAlgorithm.RS256
    secret_key: SecretStr | None = None
    # Keys the hash of integration client secrets (HMAC-SHA256); a leaked table alone
    # then cannot be used to check guessed secrets.
    client_secret_key: SecretStr | None = None
    key_dir: Path | None = None
    argon2_memory_kib: Annotated[int, Field(ge=8)] = OWASP_MIN_MEMORY_KIB
    argon2_time_cost: Annotated[int, Field(ge=1)] = OWASP_MIN_TIME_COST
    argon2_parallelism: Annotated[int, Field(ge=1, le=16)] = 1
    max_body_bytes: Annotated[int, Field(ge=1024)] = 64 * 1024
    # The decision API's bodies: a batch of 1,000 evaluations needs more than other routes.
    decision_max_body_bytes: Annotated[int, Field(ge=1024)] = 1024 * 1024
    # Browser origins allowed to call the API (CORS), comma-separated exact origins; none by default.
    cors_origins: str = ""
    # Abuse resistance (docs/abuse-resistance.md). Limits are Flask-Limiter strings
    # ("10 per 15 minutes", several joined by ";"), kept in Redis when redis_url is set.
    rate_limits_enabled: bool = True
    # How many proxies in front of us append to X-Forwarded-For; 0 trusts no such header.
    trusted_proxy_count: Annotated[int, Field(ge=0, le=5)] = 0
    login_limit_per_address: RateLimit = "30 per minute"
    # Counts failed logins only (a wrong password, an unknown user alike).
    login_limit_per_account: RateLimit = "10 per 15 minutes"
    token_limit_per_address: RateLimit = "60 per minute"
    token_limit_per_client: RateLimit = "60 per minute"
    # Counts wrong current passwords only.
    password_change_limit_per_session: RateLimit = "5 per 15 minutes"
    introspect_limit_per_caller: RateLimit = "1200 per minute"
    refresh_limit_per_session: RateLimit = "10 per minute"
    # Per-account backoff: after `free` failures each attempt waits base * 2^n seconds, capped.
    login_backoff_free_failures: Annotated[int, Field(ge=1, le=1000)] = 5
    login_backoff_base_seconds: Annotated[float, Field(gt=0, le=3600)] = 15.0
    login_backoff_max_seconds: Annotated[float, Field(gt=0, le=24 * 3600)] = 900.0
    # A quiet account forgets its failures after this long.
    login_backoff_forget_seconds: Annotated[int, Field(ge=60)] = 24 * 3600
    # Failed logins of one account within this window are one audit event with a count.
    login_failure_audit_window_seconds: Annotated[int, Field(ge=1)] = 15 * 60
    # Refused token requests of one client (of every unknown client_id together) within this
    # window are one audit event with a count.
    token_refusal_audit_window_seconds: Annotated[int, Field(ge=1)] = 15 * 60
    # zxcvbn score (0-4) a new password needs, beside the length rule.
    password_min_score: Annotated[int, Field(ge=0, le=4)] = 3
    # Seconds any one wait on the database may take (a statement, a lock, a pool slot):
    # a stopped or frozen database answers 503 within about this long.
    database_timeout: Annotated[float, Field(ge=0.5, le=120)] = 2.0

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def cors_origin_list(self) -> tuple[str, ...]:
        return tuple(origin.strip() for origin in self.cors_origins.split(",") if origin.strip())

    @field_validator("cors_origins")
    @classmethod
    def _exact_origins(cls, value: str) -> str:
        """Each a scheme, host and optional port; never `*` or a pattern (exact matches only)."""
        for origin in (o.strip() for o in value.split(",") if o.strip()):
            if not ORIGIN.fullmatch(origin):
                raise ValueError("AUTHZ_CORS_ORIGINS takes exact origins such as https://app.example")
        return value

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        if not self.is_production:
            return self
        problems = []
        if self.jwt_algorithm.is_symmetric:
            problems.extend(secret_problems(self.secret_key))
        elif self.key_dir is None:
            problems.append("AUTHZ_KEY_DIR must name the directory holding the signing keys")
        if (
            not self.client_secret_key
            or len(self.client_secret_key.get_secret_value().encode()) < MIN_SECRET_BYTES
        ):
            problems.append(
                f"AUTHZ_CLIENT_SECRET_KEY must be set to at least {MIN_SECRET_BYTES} random bytes; "
                + HOW_TO_GENERATE
            )
        else:
            problems.extend(secret_strength_problems(self.client_secret_key, "AUTHZ_CLIENT_SECRET_KEY"))
        if not self.database_url:
            problems.append(
                "AUTHZ_DATABASE_URL must be set (the development SQLite file is not for production)"
            )
        if self.argon2_memory_kib < OWASP_MIN_MEMORY_KIB or self.argon2_time_cost < OWASP_MIN_TIME_COST:
            problems.append("argon2 parameters are below OWASP's minimum (19 MiB, t=2)")
        if problems:
            raise SettingsError("refusing to start in production: " + "; ".join(problems))
        return self


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment (and `overrides`), with errors that never echo a value."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        reasons = []
        for error in exc.errors(include_input=False, include_url=False):
            field = ".".join(str(part) for part in error["loc"])
            reasons.append(f"{field}: {error['msg']}" if field else error["msg"])
        raise SettingsError("invalid settings: " + "; ".join(reasons)) from None


def secret_problems(secret_value: SecretStr | None) -> list[str]:
    secret = secret_value.get_secret_value() if secret_value else ""
    if not secret:
        return ["AUTHZ_SECRET_KEY is missing (HS256 needs a shared secret)"]
    if secret.strip().lower() in WELL_KNOWN_SECRETS:
        return ["AUTHZ_SECRET_KEY is a well-known example value"]
    if len(secret.encode()) < MIN_SECRET_BYTES:
        return [f"AUTHZ_SECRET_KEY is shorter than {MIN_SECRET_BYTES} bytes; {HOW_TO_GENERATE}"]
    return secret_strength_problems(secret_value, "AUTHZ_SECRET_KEY")


def secret_strength_problems(secret_value: SecretStr | None, name: str) -> list[str]:
    """A published example or a predictable secret (app.secret_strength), named, never shown."""
    reason = weakness(secret_value.get_secret_value(), name) if secret_value else None
    return [reason] if reason else []
