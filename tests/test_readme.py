"""The README and docs/ work in a fresh clone: their links and paths stay inside the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# A path the documents name in backticks, e.g. `app/security/tokens.py` or `tests/test_x.py:name`.
REPOSITORY_PATH = re.compile(r"`((?:app|models|policies|alembic|tests|benchmarks|docs|\.ci)/[^`\s:]*)")
# The project's shared notes (the contract's own text among them) live beside the repository.
OUTSIDE_PATH = re.compile(r"(?<![\w.-])(?:shared/|/work/|~/)")


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


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(document: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", document.read_text(), flags=re.S)
    return {_slug(heading) for heading in re.findall(r"(?m)^#{1,6} (.+)$", text)}


def test_every_link_of_the_docs_resolves_inside_the_repository():
    """Each Markdown link of README.md and docs/*.md names a file of the repository, read
    from the linking file's own folder, and an anchor names a heading of that file."""
    checked = 0
    for document in DOCUMENTS:
        for target in re.findall(r"\]\(([^)\s]+)\)", document.read_text()):
            where = f"{document.relative_to(ROOT)}: {target}"
            assert "://" not in target, f"{where} leaves the repository"
            assert not target.startswith(("/", "mailto:")), f"{where} leaves the repository"
            file_part, _, anchor = target.partition("#")
            path = (document.parent / file_part).resolve() if file_part else document
            assert path.is_relative_to(ROOT), f"{where} leaves the repository"
            assert path.exists(), f"{where} is not in the repository"
            if anchor and path.suffix == ".md":
                assert anchor in _anchors(path), f"{where}: no such heading in {path.relative_to(ROOT)}"
            checked += 1

    assert checked >= 10, "the documents link to one another"


def test_no_document_names_a_path_outside_the_repository():
    """Notes kept beside the repository (the shared contract among them) are not shipped with
    it: a fresh clone must not send its reader there."""
    for document in DOCUMENTS:
        for number, line in enumerate(document.read_text().splitlines(), 1):
            found = OUTSIDE_PATH.search(line)
            where = f"{document.relative_to(ROOT)}:{number}"
            assert found is None, f"{where} names a path outside the repository: {line.strip()}"


def test_every_repository_path_the_docs_name_exists():
    named = 0
    for document in DOCUMENTS:
        for path in REPOSITORY_PATH.findall(document.read_text()):
            path = path.rstrip(".,")
            exists = any(ROOT.glob(path)) if "*" in path else (ROOT / path).exists()
            assert exists, f"{document.relative_to(ROOT)} names {path}, which is not in the repository"
            named += 1

    assert named >= 20


def _settings_rows() -> list[tuple[str, str]]:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Settings") : readme.index("## Production")]
    return re.findall(r"(?m)^\| (`AUTHZ_[^|]+) \| ([^|]+) \|", section)


def test_the_settings_table_names_every_setting_with_its_default():
    """Each field of app/settings.py has a row of the README's Settings table (a row may name
    several as `AUTHZ_X`, `_Y`, or a pattern with `*`), and a row whose default is one
    literal states the default the code has."""
    from app.settings import Settings

    rows = _settings_rows()
    names: list[str] = []
    patterns: list[str] = []
    for variables, _ in rows:
        first = ""
        for name in re.findall(r"`([A-Z0-9_*]+)`", variables):
            if name.startswith("AUTHZ_"):
                first = name
                (patterns if "*" in name else names).append(name)
            elif name.startswith("_"):  # `AUTHZ_ARGON2_MEMORY_KIB`, `_TIME_COST`: a prefix of the first
                cuts = [i for i, char in enumerate(first) if char == "_"]
                names.extend(first[:i] + name for i in cuts)
    for field in Settings.model_fields:
        variable = f"AUTHZ_{field.upper()}"
        assert variable in names or any(
            re.fullmatch(pattern.replace("*", ".*"), variable) for pattern in patterns
        ), f"{variable} is not in the README's Settings table"

    checked = 0
    for variables, default in rows:
        literal = re.fullmatch(r"\s*`([^`]+)`\s*", default)
        single = re.fullmatch(r"`AUTHZ_([A-Z0-9_]+)`", variables.strip())
        if not (literal and single) or single.group(1).lower() not in Settings.model_fields:
            continue
        value = Settings.model_fields[single.group(1).lower()].default
        value = getattr(value, "value", value)
        stated = literal.group(1)
        assert stated == str(value), f"README: {variables} defaults to {stated}, code: {value}"
        checked += 1
    assert checked >= 10


def test_the_install_commands_build_without_a_deprecated_license_table():
    """The README's install runs setuptools on pyproject.toml: a `license` table warns on
    every install and stops building after 2027-02-18; an SPDX string needs setuptools 77."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    license_ = project["project"]["license"]
    requires = project["build-system"]["requires"]

    assert isinstance(license_, str), "project.license must be an SPDX expression, not a table"
    assert re.fullmatch(r"[A-Za-z0-9.+-]+(?: (?:AND|OR|WITH) [A-Za-z0-9.+-]+)*", license_)
    floors = [re.fullmatch(r"setuptools>=(\d+)(?:\.\d+)*", r) for r in requires]
    assert any(f and int(f.group(1)) >= 77 for f in floors), requires
