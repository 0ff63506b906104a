"""Dashboard user accounts and their sessions: add, list, remove, change password, role or language;
open, find, keep alive and end sessions.

Checks names, roles and passwords, hashes passwords, and writes through the store's one writer. A new
password, a new role or removal ends every session of the user (the store does it in the same
transaction). Used by `retour users` (through `retour.study`) and by the dashboard itself; it never
handles HTTP.
"""

from __future__ import annotations

from typing import Any

from retour import store
from retour.dashboard.access import StoreAccess
from retour.dashboard.auth import Session, SessionPolicy, check_user_name, hash_password, parse_role
from retour.dashboard.i18n import LANGUAGES
from retour.errors import ConfigError, StoreError

PUBLIC_COLUMNS = ("name", "role", "language", "created_at", "password_changed_at")


def _language(value: str) -> str:
    if value not in LANGUAGES:
        raise ConfigError(f"Unknown language '{value}'.", f"Use one of: {', '.join(LANGUAGES)}.")
    return value


def add_user(
    access: StoreAccess, name: str, password: str, role: str, language: str = "fr"
) -> dict[str, Any]:
    """Create a user; returns their public record (no hash)."""
    check_user_name(name)
    role_value = parse_role(role).value
    password_hash = hash_password(password)
    access.write(lambda con: store.add_user(con, name, password_hash, role_value, _language(language)))
    return {"name": name, "role": role_value, "language": language}


def list_users(access: StoreAccess) -> list[dict[str, Any]]:
    """Every user's public record (name, role, language, dates), sorted by name."""
    users = access.write(store.read_users)
    return users.select(PUBLIC_COLUMNS).to_dicts()


def _require(found: bool, name: str) -> None:
    if not found:
        raise ConfigError(f"There is no user called '{name}'.", "List them with: retour users DIR list")


def remove_user(access: StoreAccess, name: str) -> dict[str, Any]:
    """Delete a user and end their sessions."""
    _require(access.write(lambda con: store.remove_user(con, name)), name)
    return {"name": name, "removed": True}


def change_password(access: StoreAccess, name: str, password: str) -> dict[str, Any]:
    """Set a new password; every session of the user ends."""
    password_hash = hash_password(password)
    _require(access.write(lambda con: store.update_user(con, name, password_hash=password_hash)), name)
    return {"name": name, "password_changed": True}


def change_role(access: StoreAccess, name: str, role: str) -> dict[str, Any]:
    """Give a user another role; their sessions end (they sign in again with the new role)."""
    role_value = parse_role(role).value
    _require(access.write(lambda con: store.update_user(con, name, role=role_value)), name)
    return {"name": name, "role": role_value}


def change_language(access: StoreAccess, name: str, language: str) -> dict[str, Any]:
    """Remember the language a user reads the dashboard in."""
    _require(access.write(lambda con: store.update_user(con, name, language=_language(language))), name)
    return {"name": name, "language": language}


def find_user(access: StoreAccess, name: str) -> dict[str, Any] | None:
    """A user's full record (with the password hash) from the cached users table; None if unknown."""
    by_name = access.cached(
        ("users_by_name",),
        lambda con: {row["name"]: row for row in store.read_users(con).iter_rows(named=True)},
    )
    return by_name.get(name)


def open_session(access: StoreAccess, policy: SessionPolicy, session: Session, user_name: str) -> None:
    """Record `session` (a fresh one: see `SessionPolicy.start`) as signed in for `user_name`."""
    now = policy.clock()
    access.write(
        lambda con: store.add_dashboard_session(
            con, policy.digest(session), user_name, now, policy.forget_before()
        )
    )


def session_user(access: StoreAccess, policy: SessionPolicy, session: Session) -> dict[str, Any] | None:
    """The record of the user signed in with `session`, None when it is unknown, revoked or timed out.

    Reads the cached sessions table; at most once a minute per session, writes its last-seen time.
    """
    by_digest = access.cached(
        ("dashboard_sessions",),
        lambda con: {
            row["token_sha256"]: row for row in store.read_dashboard_sessions(con).iter_rows(named=True)
        },
    )
    digest = policy.digest(session)
    found = by_digest.get(digest)
    if found is None or not policy.is_live(found["created_at"], found["last_seen_at"]):
        return None
    user = find_user(access, found["user_name"])
    if user is not None and policy.needs_touch(found["last_seen_at"]):
        now = policy.clock()
        try:
            access.write(lambda con: store.touch_dashboard_session(con, digest, now))
        except StoreError:
            pass  # another process holds the store: the next request after it is done writes it
    return user


def end_session(access: StoreAccess, policy: SessionPolicy, session: Session) -> None:
    """Revoke one session (at logout)."""
    access.write(
        lambda con: store.revoke_dashboard_sessions(con, why="logout", token_sha256=policy.digest(session))
    )
