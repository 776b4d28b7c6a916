"""A production set-up without tricks (issue 18, item 9): keys made before the app can load,
one-line refusals, migrations named when missing, one charset, settings from .env."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.cli import cli as flask_cli

from app.settings import load_settings
from app.startup import startup_problem
from tests.databases import upgrade
from tests.servers import ROOT, free_port

FLASK = ["--app", "app"]  # the `flask` command's own arguments, run in-process below


@pytest.fixture
def production_env(tmp_path) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AUTHZ_", "PROMETHEUS_"))  # only what the test sets
    }
    return env | {
        "AUTHZ_ENV": "production",
        "AUTHZ_DATABASE_URL": f"sqlite:///{tmp_path / 'prod.db'}",
        "AUTHZ_KEY_DIR": str(tmp_path / "keys"),
        "AUTHZ_CLIENT_SECRET_KEY": secrets.token_urlsafe(48),
        "AUTHZ_ISSUER": "https://authz.example",
    }


def run(
    command: list[str], env: dict[str, str], stdin: str = "", cwd: Path = ROOT
) -> subprocess.CompletedProcess:
    """A server start in a process of its own; a `flask` command (FLASK + args) in-process
    through Flask's own command group, which loads plugin commands as the script does."""
    if command[:2] != FLASK:
        return subprocess.run(  # noqa: S603 - fixed commands, loopback only
            command, env=env, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=120, check=False
        )
    unset = {name: None for name in os.environ if name.startswith(("AUTHZ_", "PROMETHEUS_"))}
    result = CliRunner().invoke(flask_cli, command, input=stdin, env={**unset, **env}, catch_exceptions=False)
    return subprocess.CompletedProcess(command, result.exit_code, result.stdout, result.stderr)


def test_keys_init_runs_before_any_key_exists_and_only_once(production_env, monkeypatch):
    for name, value in production_env.items():
        monkeypatch.setenv(name, value)
    assert "keys init" in (startup_problem() or "")

    first = run([*FLASK, "keys", "init"], production_env)
    again = run([*FLASK, "keys", "init"], production_env)

    assert first.returncode == 0, first.stderr
    assert "created the first signing key" in first.stdout
    assert again.returncode == 0, again.stderr
    assert "exists already" in again.stdout
    assert len(list(Path(production_env["AUTHZ_KEY_DIR"]).glob("*.pem"))) == 1
    assert startup_problem() is None
    rotated = run([*FLASK, "keys", "rotate"], production_env)
    assert rotated.returncode == 0, rotated.stderr


def test_bootstrap_before_the_migrations_says_to_run_them(production_env):
    assert run([*FLASK, "keys", "init"], production_env).returncode == 0

    result = run(
        [*FLASK, "bootstrap", "--username", "root", "--password-stdin"],
        production_env,
        "ember-falcon-tundra-73\n",
    )

    assert result.returncode != 0
    assert "alembic upgrade head" in result.stderr
    assert "Traceback" not in result.stderr


def test_bootstrap_after_the_migrations_creates_the_platform_admin(production_env):
    assert run([*FLASK, "keys", "init"], production_env).returncode == 0
    upgrade(production_env["AUTHZ_DATABASE_URL"])

    result = run(
        [*FLASK, "bootstrap", "--username", "root", "--password-stdin"],
        production_env,
        "ember-falcon-tundra-73\n",
    )

    assert result.returncode == 0, result.stderr
    assert "created platform-admin" in result.stdout


@pytest.mark.parametrize("problem", ["no key", "short client secret key"])
def test_the_server_refuses_to_start_in_one_line(production_env, problem):
    if problem == "short client secret key":
        production_env["AUTHZ_CLIENT_SECRET_KEY"] = "short"
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{free_port()}"]

    result = run([*command, "app:create_app()"], production_env)

    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("authz: ")
    assert ("keys init" if problem == "no key" else "AUTHZ_CLIENT_SECRET_KEY") in lines[0]
    assert production_env["AUTHZ_CLIENT_SECRET_KEY"] not in lines[0]  # never echoes a value


def test_metrics_name_one_charset(client, db):
    content_type = client.get("/metrics").headers["Content-Type"]

    assert content_type.count("charset") == 1


def test_settings_come_from_a_dotenv_file_and_the_environment_wins(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("AUTHZ_ISSUER=https://from-dotenv.example\nAUTHZ_AUDIENCE=from-dotenv\n")
    monkeypatch.chdir(tmp_path)
    for name in ("AUTHZ_ISSUER", "AUTHZ_AUDIENCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AUTHZ_AUDIENCE", "from-environment")

    settings = load_settings()

    assert settings.issuer == "https://from-dotenv.example"
    assert settings.audience == "from-environment"


def test_a_cli_command_refused_at_start_up_says_why_in_one_line(production_env):
    production_env["AUTHZ_CLIENT_SECRET_KEY"] = "short"

    result = run([*FLASK, "policies"], production_env)

    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "AUTHZ_CLIENT_SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr
