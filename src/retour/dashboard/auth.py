"""Dashboard security primitives: password hashes, session tokens, CSRF tokens, login limits, roles.

Passwords are hashed with Argon2id (argon2-cffi). A session cookie holds nothing but a random token
(`secrets.token_urlsafe(32)`); the store keeps only its SHA-256, with the user and the times that decide
the idle and absolute timeouts, so logging out or a new password ends a session for good (issue 22). The
CSRF token is a keyed digest of the session token. Login attempts are limited per client address and per
account, in tables that forget and never grow past a fixed size, and only a few password checks run at
once. Nothing here touches the store or HTTP.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from retour.config import Project
from retour.errors import ConfigError

SECRET_FILE = ".retour-dashboard-secret"
MIN_PASSWORD_LENGTH = 8
LIMITER_MAX_KEYS = 10_000
"""Addresses (or accounts) a login limiter remembers at most; the least recently failing go first."""
TOUCH_SECONDS = 60
"""A session's last-seen time is written at most once a minute, never on every request."""
_USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
_HASHER = PasswordHasher()


class Role(StrEnum):
    """What a user may do: viewers read, analysts also change data, admins also manage users."""

    VIEWER = "viewer"
    ANALYST = "analyst"
    ADMIN = "admin"


_RANK = {Role.VIEWER: 0, Role.ANALYST: 1, Role.ADMIN: 2}


def parse_role(value: str) -> Role:
    """The Role named `value`, or a ConfigError listing the roles."""
    try:
        return Role(value)
    except ValueError:
        raise ConfigError(
            f"Unknown role '{value}'.", f"Use one of: {', '.join(r.value for r in Role)}."
        ) from None


def role_allows(role: str, needed: Role) -> bool:
    """True when `role` is `needed` or above it (viewer < analyst < admin)."""
    try:
        return _RANK[Role(role)] >= _RANK[needed]
    except ValueError:
        return False


def check_user_name(name: str) -> str:
    """The name itself when it is a valid user name (letters, digits, `_.@-`, at most 64)."""
    if not _USER_NAME.match(name):
        raise ConfigError(
            f"'{name}' is not a valid user name.",
            "Use 1 to 64 letters, digits or the signs _ . @ - (starting with a letter or digit).",
        )
    return name


def hash_password(password: str) -> str:
    """Argon2id hash of a password of at least MIN_PASSWORD_LENGTH characters."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ConfigError(
            f"The password is too short ({len(password)} characters).",
            f"Choose one of at least {MIN_PASSWORD_LENGTH} characters.",
        )
    return _HASHER.hash(password)


_DUMMY_HASH = _HASHER.hash("retour-no-such-user")


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; an unknown user (None) costs the same time as a wrong password."""
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def load_secret(project: Project) -> bytes:
    """The key CSRF tokens are made with: from the environment variable in settings, else a file in DIR."""
    from_env = os.environ.get(project.settings.dashboard.secret_env, "")
    if from_env:
        return from_env.encode()
    path = project.path(SECRET_FILE)
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32))
    return Path(path).read_text().strip().encode()


def utc_now() -> dt.datetime:
    """The current time in UTC, without a time zone (as the store keeps times)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Session:
    """A browser's session: the random token its cookie holds, the CSRF token derived from it, and the
    language chosen before signing in. Whether it is signed in is for the store to say."""

    token: str
    csrf: str
    language: str | None = None


class SessionPolicy:
    """Makes session tokens and judges stored sessions against the idle and absolute timeouts.

    `clock` gives the current UTC time (tests move it); `secret` keys the CSRF tokens.
    """

    def __init__(
        self,
        secret: bytes,
        absolute_minutes: int,
        idle_minutes: int,
        secure_cookies: bool = False,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self._secret = secret
        self.absolute = dt.timedelta(minutes=absolute_minutes)
        self.idle = dt.timedelta(minutes=idle_minutes)
        self.secure_cookies = secure_cookies
        self.clock = clock

    @property
    def max_age_seconds(self) -> int:
        return int(self.absolute.total_seconds())

    def start(self, language: str | None = None) -> Session:
        """A session with a new random token (issued anew at login and logout, against fixation)."""
        return self.resume(secrets.token_urlsafe(32), language)  # type: ignore[return-value]

    def resume(self, token: str | None, language: str | None = None) -> Session | None:
        """The session a cookie's token stands for; None when the value is not a token retour makes."""
        if not token or not _TOKEN.match(token):
            return None
        csrf = hmac.new(self._secret, b"csrf:" + token.encode(), hashlib.sha256).hexdigest()
        return Session(token=token, csrf=csrf, language=language)

    @staticmethod
    def digest(session: Session) -> str:
        """The SHA-256 of the session token: all the store keeps of it."""
        return hashlib.sha256(session.token.encode()).hexdigest()

    def is_live(self, created_at: dt.datetime, last_seen_at: dt.datetime) -> bool:
        """Whether a stored session is within both its absolute and its idle timeout."""
        now = self.clock()
        return now - created_at < self.absolute and now - last_seen_at < self.idle

    def needs_touch(self, last_seen_at: dt.datetime) -> bool:
        """Whether `last_seen_at` is old enough (a minute) to be written again."""
        return (self.clock() - last_seen_at).total_seconds() >= TOUCH_SECONDS

    def forget_before(self) -> dt.datetime:
        """Sessions created before this time are past the absolute timeout: the store may delete them."""
        return self.clock() - self.absolute


def csrf_matches(session: Session, token: str | None) -> bool:
    """Constant-time comparison of a submitted token with the session's."""
    return bool(token) and hmac.compare_digest(session.csrf.encode(), str(token).encode())


class FailureCounter:
    """Failed logins per key in a sliding window, remembering at most `max_keys` keys; thread-safe.

    Each key keeps at most `attempts` times, and keys are ordered by their latest failure, so the table
    is bounded however many addresses or names an attacker invents: when it is full, the key that failed
    least recently (usually one whose failures have all left the window) is forgotten.
    """

    def __init__(
        self,
        attempts: int,
        window_seconds: float = 60.0,
        max_keys: int = LIMITER_MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.attempts = attempts
        self.window_seconds = window_seconds
        self.max_keys = max_keys
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._failures)

    def retry_after(self, key: str) -> int:
        """0 when an attempt is allowed, else whole seconds until the oldest failure leaves the window."""
        with self._lock:
            failures = self._failures.get(key)
            if failures is None:
                return 0
            now = self._clock()
            while failures and now - failures[0] >= self.window_seconds:
                failures.popleft()
            if not failures:
                del self._failures[key]
                return 0
            if len(failures) < self.attempts:
                return 0
            return max(1, int(failures[0] + self.window_seconds - now + 0.999))

    def failed(self, key: str) -> None:
        with self._lock:
            failures = self._failures.pop(key, None)
            if failures is None:
                while len(self._failures) >= self.max_keys:
                    self._failures.popitem(last=False)
                failures = deque(maxlen=self.attempts)
            failures.append(self._clock())
            self._failures[key] = failures

    def forget(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


class LoginLimiter:
    """Who may try a password now: failures per client address and per account, and a cap on password
    checks running at once (each Argon2 check takes 64 MiB; a login finding them all busy is refused
    at once rather than queued)."""

    def __init__(
        self,
        per_address: int,
        per_account: int,
        concurrent_checks: int,
        window_seconds: float = 60.0,
        max_keys: int = LIMITER_MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.addresses = FailureCounter(per_address, window_seconds, max_keys, clock)
        self.accounts = FailureCounter(per_account, window_seconds, max_keys, clock)
        self._checks = threading.BoundedSemaphore(concurrent_checks)

    @staticmethod
    def account_key(user_name: str) -> str:
        return user_name.strip().lower()[:64]

    def retry_after(self, address: str, user_name: str) -> int:
        """Seconds to wait before the next attempt from `address` on `user_name` (0: go ahead)."""
        return max(
            self.addresses.retry_after(address), self.accounts.retry_after(self.account_key(user_name))
        )

    def failed(self, address: str, user_name: str | None) -> None:
        """Count a failure for the address, and for the account when it exists (`user_name` not None)."""
        self.addresses.failed(address)
        if user_name is not None:
            self.accounts.failed(self.account_key(user_name))

    def succeeded(self, user_name: str) -> None:
        """The account's failures are forgotten; the address's are not (a valid account of one's own
        must not reset the count of guesses at others')."""
        self.accounts.forget(self.account_key(user_name))

    @contextmanager
    def password_check(self) -> Iterator[bool]:
        """True inside when a password check may run now, False when all slots are busy."""
        acquired = self._checks.acquire(blocking=False)
        try:
            yield acquired
        finally:
            if acquired:
                self._checks.release()
