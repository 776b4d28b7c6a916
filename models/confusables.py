"""The Unicode confusables skeleton (UTS #39 §4): two strings that look alike have the
same skeleton. Built from the confusables table that `confusable-homoglyphs` packages
(each character with the characters it is confusable with), read once.

The table lists each confusable pair in both directions, so the prototypes of UTS #39
are recovered as classes: every character stands for the smallest member of its class,
and a character whose prototype is a sequence (m → "rn") for that sequence.
"""

from __future__ import annotations

import json
import unicodedata
from functools import cache
from importlib import resources

LEFT_TO_RIGHT_MARK = "\u200e"  # the table wraps right-to-left characters in these


@cache
def _table() -> tuple[dict[str, str], dict[str, str]]:
    """(character → representative of its class, character → multi-character prototype)."""
    raw = json.loads(resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8"))
    parent: dict[str, str] = {}

    def find(char: str) -> str:
        root = char
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(char, char) != root:
            parent[char], char = root, parent[char]
        return root

    expansions: dict[str, str] = {}
    for char, homoglyphs in raw.items():
        for entry in homoglyphs:
            other = entry["c"].replace(LEFT_TO_RIGHT_MARK, "")
            if len(other) == 1:
                a, b = find(char), find(other)
                if a != b:
                    parent[max(a, b)] = min(a, b)  # the smallest member represents the class
            elif len(char) == 1 and other:
                expansions[char] = other
    representatives = {char: find(char) for char in parent}
    return representatives, expansions


def skeleton(text: str) -> str:
    """UTS #39 skeleton: NFD, each character to its prototype, NFD again."""
    representatives, expansions = _table()
    out: list[str] = []
    for char in unicodedata.normalize("NFD", text):
        target = expansions.get(char, char)
        out.extend(representatives.get(part, part) for part in target)
    return unicodedata.normalize("NFD", "".join(out))
