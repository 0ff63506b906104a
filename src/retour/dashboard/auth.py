"""Dashboard security primitives: password hashes, signed sessions, CSRF tokens, login limits, roles.

Passwords are hashed with Argon2id (argon2-cffi). A session is a signed, timestamped cookie
(itsdangerous) holding the user name, a per-session CSRF token and a fingerprint of the user's password
hash, so changing a password ends every session opened before. Nothing here touches the store or HTTP.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, URLSafeTimedSerializer

from retour.config import Project
from retour.errors import ConfigError

SECRET_FILE = ".retour-dashboard-secret"
MIN_PASSWORD_LENGTH = 8
_USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
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
    """The key that signs sessions: from the environment variable in settings, else a file kept in DIR."""
    from_env = os.environ.get(project.settings.dashboard.secret_env, "")
    if from_env:
        return from_env.encode()
    path = project.path(SECRET_FILE)
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32))
    return Path(path).read_text().strip().encode()


@dataclass(frozen=True)
class Session:
    """What the session cookie carries. `user` is None before login (the CSRF token already exists)."""

    csrf: str
    user: str | None = None
    fingerprint: str = ""
    language: str | None = None


class SessionSigner:
    """Signs sessions into cookie values and reads them back, refusing altered or expired ones."""

    def __init__(self, secret: bytes, max_age_seconds: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="retour-dashboard-session")
        self._secret = secret
        self.max_age_seconds = max_age_seconds

    def new(self, user: str | None = None, password_hash: str = "", language: str | None = None) -> Session:
        """A fresh session with a new CSRF token (always issued anew at login, against fixation)."""
        fingerprint = self.fingerprint(password_hash) if user else ""
        return Session(csrf=secrets.token_urlsafe(32), user=user, fingerprint=fingerprint, language=language)

    def fingerprint(self, password_hash: str) -> str:
        """A keyed digest of the password hash: a new password makes older sessions invalid."""
        return hmac.new(self._secret, password_hash.encode(), hashlib.sha256).hexdigest()[:24]

    def dump(self, session: Session) -> str:
        return self._serializer.dumps([session.csrf, session.user, session.fingerprint, session.language])

    def load(self, value: str | None) -> Session | None:
        """The session in a cookie value; None when missing, tampered with or older than max age."""
        if not value:
            return None
        try:
            csrf, user, fingerprint, language = self._serializer.loads(value, max_age=self.max_age_seconds)
        except (BadSignature, ValueError, TypeError):
            return None
        return Session(csrf=csrf, user=user, fingerprint=fingerprint, language=language)

    @staticmethod
    def with_language(session: Session, language: str) -> Session:
        return replace(session, language=language)


def csrf_matches(session: Session, token: str | None) -> bool:
    """Constant-time comparison of a submitted token with the session's."""
    return bool(token) and hmac.compare_digest(session.csrf.encode(), str(token).encode())


class LoginLimiter:
    """Failed logins per key (user name + client address) in a sliding window; thread-safe.

    After `attempts` failures within `window_seconds`, `retry_after(key)` gives the seconds to wait.
    """

    def __init__(
        self, attempts: int, window_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.attempts = attempts
        self.window_seconds = window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and now - failures[0] >= self.window_seconds:
            failures.popleft()
        return failures

    def retry_after(self, key: str) -> int:
        """0 when an attempt is allowed, else whole seconds until the oldest failure leaves the window."""
        with self._lock:
            now = self._clock()
            failures = self._recent(key, now)
            if len(failures) < self.attempts:
                return 0
            return max(1, int(failures[0] + self.window_seconds - now + 0.999))

    def failed(self, key: str) -> None:
        with self._lock:
            now = self._clock()
            self._recent(key, now).append(now)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
