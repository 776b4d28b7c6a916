"""How much a configured secret (`AUTHZ_SECRET_KEY`, `AUTHZ_CLIENT_SECRET_KEY`) could be guessed.

A secret's length says little: `0123456789abcdef0123456789abcdef` is 32 bytes and no secret at
all, and `a-string-secret-at-least-256-bits-long` is printed on jwt.io. The estimate here is
the cost in bits of the cheapest description of the secret under a few simple models, the way
zxcvbn scores passwords: each character drawn from the secret's alphabet, or a run (`abcd`,
`0000`), a repeat of an earlier part, or a word of a phrase. Each model is an optimistic guess
for an attacker, so the estimate is an upper bound of what the secret is worth: a high one does
not prove randomness, but a low one proves its absence.

Nothing here returns, logs or raises the secret itself (OWASP ASVS 4.0 V2.10.4, V6.4.1).
"""

from __future__ import annotations

import itertools
import math
import re
import string

REQUIRED_BITS = 256  # the HMAC-SHA256 key size (RFC 7518 §3.2), as entropy, not length
# Random strings show short runs, repeats and word-like stretches by chance (a 64-hex-digit
# key from `openssl rand -hex 32` often holds one); such savings, up to this many bits, are
# forgiven. The alphabet bound itself (length x bits per character) has no allowance.
CHANCE_ALLOWANCE_BITS = 32
# A word of a phrase costs about this much: a word drawn at random from a 7,776-word Diceware
# list is 12.9 bits, and words chosen by a person are worth less.
WORD_BITS = 13
SEPARATOR_BITS = 1
# Patterns longer than this are priced as if this long: the estimate only gets more generous.
_LONGEST_PATTERN = 64
# Only the start of a very long secret is analysed (its length alone then suffices).
_ANALYSED = 512

# Published example secrets (tutorials, library READMEs, jwt.io, framework defaults), compared
# after lower-casing and dropping everything but letters and digits.
PUBLISHED_EXAMPLES = frozenset(
    {
        "astringsecretatleast256bitslong",  # jwt.io's default HS256 secret
        "your256bitsecret",  # jwt.io, earlier
        "0123456789abcdef0123456789abcdef",
        "0123456789abcdef",
        "secret",
        "supersecret",
        "supersecretkey",
        "supersecretjwtkey",
        "secretkey",
        "jwtsecret",
        "jwtsecretkey",
        "mysecret",
        "mysecretkey",
        "yoursecretkey",
        "yoursecretkeyhere",
        "changeme",
        "changethis",
        "changethissecret",
        "changeinproduction",
        "keyboardcat",  # express-session's README
        "shhhhh",  # jsonwebtoken's README
        "thisisasecret",
        "thisismysecret",
        "notasecret",
        "development",
        "dev",
        "test",
        "default",
        "password",
        # Random-looking, but printed in documentation and copied into configurations:
        # Flask's quickstart shows this `secrets.token_hex()` output ...
        "192b9bdd22ab9ed4d12e236c78afcb9a393ec15f71bbf5dc987d54727823bcbf",
        # ... and RFC 7515 Appendix A.1 this HMAC key (its JWK `k`), used by many test suites.
        "aym1sysppbydfgzld3umj1qzkobwvmkoqqestjqlrt1qs0gzh75aktmn3yj0ips4hcguutwjazzr1z9caow",
    }
)

# A secret reads as a phrase when words cover at least this share of it.
PHRASE_COVERAGE = 0.6
HOW_TO_GENERATE = "generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
_WORD = re.compile(r"[a-z]{2,12}|[A-Z][a-z]{1,11}|[A-Z]{2,12}")
_CAMEL_TOKEN = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
_CAMEL_WORD = re.compile(r"[A-Z]?[a-z]{2,11}")
CAMEL_PHRASE_COVERAGE = 0.8


def is_published_example(secret: str) -> bool:
    return re.sub(r"[^a-z0-9]", "", secret.lower()) in PUBLISHED_EXAMPLES


def alphabet_bits(secret: str) -> float:
    """Length x log2 of the smallest common alphabet holding every character of `secret`."""
    chars = set(secret)
    if not chars:
        return 0.0
    alphabets = (
        set(string.digits),
        set("0123456789abcdef"),
        set("0123456789ABCDEF"),
        set(string.ascii_lowercase),
        set(string.ascii_uppercase),
        set(string.ascii_lowercase + string.digits),
        set(string.ascii_letters),
        set(string.ascii_letters + string.digits),
        set(string.ascii_letters + string.digits + "-_"),  # base64url
        set(string.ascii_letters + string.digits + "+/="),  # base64
        set(string.printable) - set(string.whitespace) | {" "},
    )
    size = next((len(a) for a in alphabets if chars <= a), None)
    if size is None:  # beyond printable ASCII: count each distinct character generously
        size = max(len(chars), 95) * 2
    return len(secret) * math.log2(size)


def pattern_bits(secret: str) -> float:
    """The cheapest description of `secret` as characters of its alphabet, runs, repeats and words."""
    text = secret[:_ANALYSED]
    n = len(text)
    if n == 0:
        return 0.0
    per_char = alphabet_bits(text) / n
    position_bits = math.log2(n + 1)
    words = _phrase_words(text)
    cost = [0.0] + [math.inf] * n
    for i in range(n):
        here = cost[i]
        if here == math.inf:
            continue
        cost[i + 1] = min(cost[i + 1], here + per_char)
        for j in range(i + 3, min(n, i + _LONGEST_PATTERN) + 1):
            piece = text[i:j]
            if _is_run(piece):
                # its first character, its length and its step
                cost[j] = min(cost[j], here + per_char + position_bits + 2)
            if text.find(piece, 0, i) != -1 or _is_repeat_of_itself(piece):
                # where the earlier copy starts and how long it is
                cost[j] = min(cost[j], here + 2 * position_bits)
        if i in words:
            cost[words[i]] = min(cost[words[i]], here + WORD_BITS)
        elif words and not text[i].isalnum():
            cost[i + 1] = min(cost[i + 1], here + SEPARATOR_BITS)  # the phrase's one separator
    return cost[n] + (alphabet_bits(secret[_ANALYSED:]) if len(secret) > _ANALYSED else 0.0)


def _phrase_words(text: str) -> dict[int, int]:
    """Where each word starts and ends, when `text` reads as a phrase: words joined by one kind
    of separator (`a-string-secret`, `my secret key`) or in camel case (`CorrectHorseBattery`),
    covering most of it. Empty otherwise: in random base64 the word-like stretches are chance.
    """
    separators = {c for c in text if not c.isalnum()}
    if len(separators) > 1:
        return {}
    if separators:
        tokens = [m.span() for m in re.finditer(f"[^{re.escape(next(iter(separators)))}]+", text)]
        word, coverage = _WORD, PHRASE_COVERAGE
    else:  # camel case: in random base64 the case changes at random, seldom like this
        tokens = [m.span() for m in _CAMEL_TOKEN.finditer(text)]
        word, coverage = _CAMEL_WORD, CAMEL_PHRASE_COVERAGE
    words = {start: end for start, end in tokens if word.fullmatch(text, start, end)}
    covered = sum(end - start for start, end in words.items())
    return words if len(tokens) >= 3 and covered >= coverage * len(text) else {}


def _is_run(piece: str) -> bool:
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(piece)}
    return len(steps) == 1 and abs(next(iter(steps))) <= 1


def _is_repeat_of_itself(piece: str) -> bool:
    """`abab`, `xyzxyzx`: a piece made of a shorter unit over and over."""
    for period in range(1, len(piece) // 2 + 1):
        if all(piece[k] == piece[k - period] for k in range(period, len(piece))):
            return True
    return False


def weakness(secret: str, name: str) -> str | None:
    """Why `secret` is not fit to be `name`, in words that never include it; None when it is."""
    how = HOW_TO_GENERATE
    if is_published_example(secret):
        return f"{name} is a published example value; {how}"
    if alphabet_bits(secret) < REQUIRED_BITS:
        return f"{name} cannot hold {REQUIRED_BITS} bits of randomness (too short for its alphabet); {how}"
    if pattern_bits(secret) < REQUIRED_BITS - CHANCE_ALLOWANCE_BITS:
        return f"{name} is predictable (runs, repeats or words: far below {REQUIRED_BITS} bits); {how}"
    return None
