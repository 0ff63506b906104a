"""Dashboard user accounts: add, list, remove, change password, role or language.

Checks names, roles and passwords, hashes passwords, and writes through the store's one writer. Used by
`retour users` (through `retour.study`) and by the dashboard itself; it never handles HTTP.
"""

from __future__ import annotations

from typing import Any

from retour import store
from retour.dashboard.access import StoreAccess
from retour.dashboard.auth import check_user_name, hash_password, parse_role
from retour.dashboard.i18n import LANGUAGES
from retour.errors import ConfigError

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
    """Delete a user; their sessions end at their next request."""
    _require(access.write(lambda con: store.remove_user(con, name)), name)
    return {"name": name, "removed": True}


def change_password(access: StoreAccess, name: str, password: str) -> dict[str, Any]:
    """Set a new password; every session opened with the old one ends."""
    password_hash = hash_password(password)
    _require(access.write(lambda con: store.update_user(con, name, password_hash=password_hash)), name)
    return {"name": name, "password_changed": True}


def change_role(access: StoreAccess, name: str, role: str) -> dict[str, Any]:
    """Give a user another role."""
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
