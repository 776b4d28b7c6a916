"""Which new passwords are accepted: the length rule first, then zxcvbn's guessability
estimate (offline dictionaries), with the user's own names counting as known words.

One home for the rule: user creation, reset, change, `bootstrap` and `demo` all call
`password_problem` (OWASP ASVS V2.1.7, NIST SP 800-63B §5.1.1.2: refuse common, expected
or context-specific passwords). The reasons name the problem, never the password.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from zxcvbn import zxcvbn

if TYPE_CHECKING:
    from zxcvbn.matching import _Match

from app.security.passwords import password_length_problem

# zxcvbn refuses longer input, and its cost grows with length: it judges the first 72
# characters, which is where a weak long password (a repeated word) shows.
ZXCVBN_MAX_LENGTH = 72
TOO_SIMILAR = "too similar to the username or the tenant's name"
TOO_COMMON = "too common"


def password_problem(password: str, *, user_inputs: Iterable[str], min_score: int) -> str | None:
    """Why `password` is refused, or None when it is accepted."""
    problem = password_length_problem(password)
    if problem or min_score <= 0:
        return problem
    known = [word for word in user_inputs if word]
    result = zxcvbn(password[:ZXCVBN_MAX_LENGTH], user_inputs=known)
    if result["score"] >= min_score:
        return None
    sources = _dictionaries(result["sequence"])
    if "user_inputs" in sources:
        return TOO_SIMILAR
    if "passwords" in sources:
        return TOO_COMMON
    warning = result["feedback"].get("warning")
    return "too easy to guess" + (f" ({warning.rstrip('.')})" if warning else "")


def _dictionaries(matches: list[_Match]) -> set[str]:
    """The dictionaries the matches came from, repeated parts ("alicealice") included."""
    found: set[str] = set()
    for match in matches:
        if match.get("dictionary_name"):
            found.add(match["dictionary_name"])
        found |= _dictionaries(match.get("base_matches") or [])
    return found


def name_words(username: str, tenant_slug: str, tenant_name: str) -> list[str]:
    """The words zxcvbn treats as known for this user: the names, their parts, and each
    name run together ("Acme Corp" is also "AcmeCorp": zxcvbn scores two known words and a
    year as three pieces, strong enough, where one known word and a year is not)."""
    words = {username, tenant_slug, tenant_name}
    for name in (username, tenant_slug, tenant_name):
        parts = name.replace("-", " ").replace("_", " ").replace(".", " ").split()
        words.update(parts)
        words.add("".join(parts))
    return sorted(word for word in words if len(word) >= 3)
