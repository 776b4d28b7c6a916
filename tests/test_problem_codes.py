"""Every problem `code` the code can send is in the catalog the document and the problems
page are built from (policies.problems.PROBLEM_CODES)."""

from __future__ import annotations

import re
from pathlib import Path

from app.errors import HTTP_CODES
from policies.problems import PROBLEM_CODES

ROOT = Path(__file__).resolve().parent.parent
# `code = "x"` on a Problem class, `code="x"` as an argument, a code passed to problem_response
# or to a helper as a string literal.
CODE_LITERALS = (
    re.compile(r'\bcode\s*=\s*"([a-z_]+)"'),
    re.compile(r'problem_response\(\s*\d+,\s*"([a-z_]+)"'),
    re.compile(r'invalid\("[^"]*",\s*"([a-z_]+)"\)'),
)


def codes_in_source() -> set[str]:
    found: set[str] = set()
    for folder in ("app", "policies"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            for pattern in CODE_LITERALS:
                found.update(pattern.findall(text))
    return found


def test_every_code_in_the_source_is_catalogued():
    sent = codes_in_source() | set(HTTP_CODES.values())

    assert sent, "the scan found no codes at all"
    assert sent - set(PROBLEM_CODES) == set()


def test_every_catalogued_code_has_a_meaning():
    assert all(meaning.strip() for meaning in PROBLEM_CODES.values())
