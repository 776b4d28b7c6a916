"""Which new usernames are accepted (RFC 8265, UTS #39), in one place.

- The PRECIS UsernameCaseMapped profile (RFC 8265 §3.3, `precis-i18n`): letters and digits
  of any script plus ASCII punctuation; no spaces, symbols, control or compatibility
  characters (ligatures, Roman numerals), which NFKC would silently change.
- One script per name, as UTS #39 §5.2 "highly restrictive" allows: Latin with Cyrillic
  ("al\u0456ce", with a Cyrillic i) is refused, Japanese and Chinese mixes are not.
- Uniqueness by look (the confusables skeleton) is enforced by the database, per tenant:
  `models.user.username_skeleton` and its unique constraint, so two concurrent creates of
  look-alike names give one 201 and one 409.

Only new names are held to these rules: existing names keep logging in as they are.
"""

from __future__ import annotations

import precis_i18n
from confusable_homoglyphs import categories

from models.user import MAX_SKELETON_LENGTH, username_skeleton

_PROFILE = precis_i18n.get_profile("UsernameCaseMapped")
_SCRIPTLESS = frozenset({"COMMON", "INHERITED"})
# UTS #39 §5.2 highly restrictive: one script, or Latin with one of these CJK sets.
_CJK_SETS = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
_REASONS = {
    "spaces": "must not contain spaces",
    "has_compat": "must not contain compatibility characters (ligatures, styled letters)",
    "empty": "must not be empty",
    "bidi_rule": "mixes left-to-right and right-to-left text",
}


def username_problem(value: str) -> str | None:
    """Why `value` cannot be a new username, or None."""
    try:
        enforced = _PROFILE.enforce(value)
    except UnicodeError as exc:
        reason = str(getattr(exc, "reason", "")).rsplit("/", 1)[-1]
        return _REASONS.get(reason, f"is not a valid username under RFC 8265 ({reason.replace('_', ' ')})")
    scripts = set(categories.unique_aliases(enforced)) - _SCRIPTLESS
    if len(scripts) > 1 and not any(scripts <= allowed for allowed in _CJK_SETS):
        return "mixes scripts (" + ", ".join(sorted(s.title() for s in scripts)) + ")"
    if len(username_skeleton(value)) > MAX_SKELETON_LENGTH:
        return "is too long once made comparable"
    return None
