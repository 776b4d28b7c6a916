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
