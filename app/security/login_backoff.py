"""Per-account backoff for logins: failures slow the account down from every address.

Each attempt on an account (tenant + username, whether the user exists or not) is admitted
only when the account's wait is over, and is counted as a failure the moment it is
admitted; a successful login clears the count. Counting before the password is checked
makes the bound hold under concurrency: a botnet of addresses gets no more guesses per
account than one address does. After `free_failures`, each admitted attempt makes the next
one wait `base * 2^n` seconds, never more than `max_seconds` (NIST SP 800-63B §5.2.2: limit
failed attempts without locking the owner out for good). Counts are in Redis when
configured (one script: admit-and-count is atomic across workers), else in memory.

A refused attempt costs no argon2 work, yet takes as long as a failed login does (a worker
sleeps, it does not compute): an unknown user, a wrong password and a throttled account
cannot be told apart by time (`FailurePace`).
"""

from __future__ import annotations

import contextlib
import statistics
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import redis
from flask import Flask, request
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.services import services
from app.settings import Settings
from policies.problems import Problem

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

REQUEST_STARTED = "authz.request_started"
FAILED_LOGIN = "authz.failed_login"
MAX_MEMORY_ACCOUNTS = 100_000


class RateLimited(Problem):
    status = 429
    code = "rate_limited"
    title = "Too Many Requests"

    def __init__(self, retry_after: int, detail: str = "Too many attempts; try again later.") -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})


@dataclass(frozen=True)
class BackoffPolicy:
    free_failures: int
    base_seconds: float
    max_seconds: float
    forget_seconds: int

    @classmethod
    def of(cls, settings: Settings) -> BackoffPolicy:
        return cls(
            settings.login_backoff_free_failures,
            settings.login_backoff_base_seconds,
            settings.login_backoff_max_seconds,
            settings.login_backoff_forget_seconds,
        )

    def wait_after(self, attempts: int) -> float:
        """How long the account waits after its `attempts`-th counted attempt."""
        if attempts <= self.free_failures:
            return 0.0
        wait: float = min(self.base_seconds * 2 ** (attempts - self.free_failures - 1), self.max_seconds)
        return wait


class BackoffStore(Protocol):
    def admit(self, account: str) -> float:
        """0 when the attempt may go ahead (it is counted); else the seconds left to wait."""
        ...

    def succeeded(self, account: str) -> None: ...

    def refund(self, account: str) -> None:
        """Uncount the attempt just admitted: it got no verdict (the database could not
        answer), so an outage never throttles the users who retried through it."""
        ...


class MemoryBackoff:
    """One process's counts (each worker counts alone: see the README's note on workers)."""

    def __init__(self, policy: BackoffPolicy) -> None:
        self._policy = policy
        self._lock = threading.Lock()
        self._accounts: dict[str, tuple[int, float, float]] = {}  # attempts, next allowed, last seen

    def admit(self, account: str) -> float:
        now = time.monotonic()
        with self._lock:
            attempts, allowed_at, seen = self._accounts.get(account, (0, 0.0, now))
            if now - seen > self._policy.forget_seconds:
                attempts, allowed_at = 0, 0.0
            if now < allowed_at:
                return allowed_at - now
            attempts += 1
            self._accounts[account] = (attempts, now + self._policy.wait_after(attempts), now)
            if len(self._accounts) > MAX_MEMORY_ACCOUNTS:
                self._forget_oldest()
            return 0.0

    def succeeded(self, account: str) -> None:
        with self._lock:
            self._accounts.pop(account, None)

    def refund(self, account: str) -> None:
        with self._lock:
            state = self._accounts.get(account)
            if state is None:
                return
            attempts, _, seen = state
            if attempts <= 1:
                del self._accounts[account]
                return
            attempts -= 1
            self._accounts[account] = (attempts, seen + self._policy.wait_after(attempts), seen)

    def _forget_oldest(self) -> None:
        oldest = sorted(self._accounts.items(), key=lambda item: item[1][2])[: MAX_MEMORY_ACCOUNTS // 10]
        for account, _ in oldest:
            del self._accounts[account]


# BackoffPolicy.wait_after in Lua, stored with the count: `attempts` and `now` are set
# before it; ARGV free, base, max.
_STORE_COUNT_AND_WAIT = """
local free = tonumber(ARGV[1])
local wait = 0
if attempts > free then
  wait = math.min(tonumber(ARGV[2]) * 2 ^ (attempts - free - 1), tonumber(ARGV[3]))
end
redis.call('HSET', KEYS[1], 'attempts', attempts, 'allowed_at', tostring(now + wait))
"""
# KEYS[1] the account; ARGV free, base, max, forget. Redis's own clock, so that instances
# with skewed clocks agree. Returns the seconds left to wait as a string ("0": admitted).
ADMIT = (
    """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'attempts', 'allowed_at')
local attempts = tonumber(state[1]) or 0
local allowed_at = tonumber(state[2]) or 0
if now < allowed_at then
  return tostring(allowed_at - now)
end
attempts = attempts + 1
"""
    + _STORE_COUNT_AND_WAIT
    + """
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return '0'
"""
)
# KEYS[1] the account; ARGV free, base, max. One attempt uncounted, its wait recomputed.
REFUND = (
    """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local attempts = tonumber(redis.call('HGET', KEYS[1], 'attempts')) or 0
if attempts <= 1 then
  redis.call('DEL', KEYS[1])
  return '0'
end
attempts = attempts - 1
"""
    + _STORE_COUNT_AND_WAIT
    + """
return '0'
"""
)


class RedisBackoff:
    """Counts shared by every worker and instance."""

    def __init__(self, url: str, prefix: str, policy: BackoffPolicy) -> None:
        self._prefix = f"{prefix}:login-backoff:"
        self._policy = policy
        self._redis = redis.Redis.from_url(
            url, socket_timeout=0.3, socket_connect_timeout=0.3, retry=Retry(NoBackoff(), 1)
        )
        self._admit = self._redis.register_script(ADMIT)
        self._refund = self._redis.register_script(REFUND)
        self._fallback = MemoryBackoff(policy)

    def admit(self, account: str) -> float:
        policy = self._policy
        try:
            wait = self._admit(
                keys=[self._prefix + account],
                args=[policy.free_failures, policy.base_seconds, policy.max_seconds, policy.forget_seconds],
            )
        except redis.RedisError:
            return self._fallback.admit(account)  # Redis down: this worker's counts, not none
        return float(wait)

    def succeeded(self, account: str) -> None:
        self._fallback.succeeded(account)
        # On an outage the count expires with the account's forget period.
        with contextlib.suppress(redis.RedisError):
            self._redis.delete(self._prefix + account)

    def refund(self, account: str) -> None:
        self._fallback.refund(account)
        policy = self._policy
        with contextlib.suppress(redis.RedisError):
            self._refund(
                keys=[self._prefix + account],
                args=[policy.free_failures, policy.base_seconds, policy.max_seconds],
            )


class FailurePace:
    """How long a failed login takes here lately, whole request (the median of the last
    ones), so that a refused attempt can take as long without doing the work."""

    def __init__(self, first_guess: float) -> None:
        self._lock = threading.Lock()
        self._recent: deque[float] = deque([first_guess], maxlen=31)

    def failed(self) -> None:
        """Mark the current request as a failed login: its duration is observed when the app
        hands the response back (`PaceObserver`), after everything the request did (audit
        commit, rendering, the limiter's bookkeeping, closing the database session)."""
        request.environ[FAILED_LOGIN] = True

    def observe(self, seconds: float) -> None:
        with self._lock:
            self._recent.append(seconds)

    def typical(self) -> float:
        with self._lock:
            return statistics.median(self._recent)

    def wait_like_a_failure(self) -> None:
        remaining = self.typical() - (time.perf_counter() - request_started())
        if remaining > 0:
            time.sleep(remaining)


def request_started() -> float:
    return request.environ.get(REQUEST_STARTED) or time.perf_counter()


class PaceObserver:
    """WSGI middleware: times each request from entering the app to its response, and
    feeds the failed logins' times to the pace."""

    def __init__(self, wsgi_app: WSGIApplication, pace: FailurePace) -> None:
        self.wsgi_app = wsgi_app
        self.pace = pace

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        environ[REQUEST_STARTED] = time.perf_counter()
        try:
            return self.wsgi_app(environ, start_response)
        finally:
            if environ.get(FAILED_LOGIN):
                self.pace.observe(time.perf_counter() - environ[REQUEST_STARTED])


@dataclass(frozen=True)
class LoginBackoff:
    store: BackoffStore
    pace: FailurePace


def login_backoff() -> LoginBackoff:
    return services().login_backoff


def init_login_backoff(app: Flask, settings: Settings, verify_seconds: float) -> LoginBackoff:
    policy = BackoffPolicy.of(settings)
    store: BackoffStore = (
        RedisBackoff(settings.redis_url, settings.redis_prefix, policy)
        if settings.redis_url
        else MemoryBackoff(policy)
    )
    backoff = LoginBackoff(store, FailurePace(verify_seconds))
    app.wsgi_app = PaceObserver(app.wsgi_app, backoff.pace)  # type: ignore[method-assign]  # Flask's middleware idiom
    return backoff
