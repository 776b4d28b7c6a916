"""What stops the service from starting, said in one line (for the server's start-up)."""

from __future__ import annotations

from app.settings import SettingsError, load_settings


def startup_problem() -> str | None:
    """None when the workers would start; else why not, without echoing any value."""
    try:
        settings = load_settings()
        # Production settings always name a key directory (the settings refuse otherwise).
        if settings.is_production and not settings.jwt_algorithm.is_symmetric and settings.key_dir:
            from app.security.key_store import KeyStore

            store = KeyStore(settings.key_dir, settings.jwt_algorithm, settings.refresh_token_ttl)
            try:
                store.load()
            except SettingsError:
                return (
                    f"no signing key in {settings.key_dir}: run `flask --app app keys init` once "
                    "(with the same settings) before starting the service"
                )
    except SettingsError as error:
        return str(error)
    return None
