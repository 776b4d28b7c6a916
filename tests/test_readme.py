"""The README works in a fresh clone: its links stay inside the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_readme_link_is_a_file_of_the_repository():
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)]+)\)", readme) + re.findall(r"<(https?://[^>]+)>", readme)

    assert targets, "the README links to its contract"
    for target in targets:
        path = (ROOT / target.split("#", 1)[0]).resolve()
        assert "://" not in target, f"{target} leaves the repository"
        assert path.is_relative_to(ROOT), f"{target} leaves the repository"
        assert path.exists(), f"{target} is not in the repository"


def test_the_walk_through_names_its_tools_and_uses_no_placeholder_token():
    readme = (ROOT / "README.md").read_text()

    assert "`jq`" in readme
    assert "<access_token>" not in readme
    assert (
        "gunicorn -c gunicorn.conf.py -b 0.0.0.0:8000 'app:create_app()'" in readme
    )  # the production command
    assert "instance/" in readme


def test_every_shell_variable_of_the_walk_through_is_in_its_table():
    """The walk-through says every shell variable it uses in one place: its table."""
    readme = (ROOT / "README.md").read_text()
    walk_through = readme[readme.index("## A walk-through with curl") : readme.index("## Protect a route")]
    blocks = "\n".join(re.findall(r"```sh\n(.*?)```", walk_through, re.S))
    used = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", blocks))
    used |= set(re.findall(r"(?m)(?:^|[;(\s])([A-Z][A-Z0-9_]*)=", blocks))
    table_rows = "\n".join(line for line in walk_through.splitlines() if line.startswith("| `"))
    in_table = set(re.findall(r"`([A-Z][A-Z0-9_]*)`", table_rows))

    assert {"API", "ACME", "TOKEN"} <= used
    assert used <= in_table, f"missing from the walk-through's table: {sorted(used - in_table)}"
