"""Serve a study's dashboard and manage its users (issue 11)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from retour.config import Project


def serve_dashboard(project: Project, host: str = "127.0.0.1", port: int = 8000,
                    notify: Callable[[str], None] | None = None) -> None:
    """Run the dashboard of a study with uvicorn until interrupted (Ctrl+C)."""
    import uvicorn

    from retour.dashboard import create_app
    from retour.dashboard.access import StoreAccess
    from retour.dashboard.users import list_users

    access = StoreAccess(project.store_path)
    if notify is not None:
        if not list_users(access):
            notify(f"No dashboard user yet: add one with "
                   f"`retour users {project.root} add NAME --role admin`.")
        notify(f"Dashboard of '{project.settings.study.name}' on http://{host}:{port}/ (Ctrl+C to stop).")
    uvicorn.run(create_app(project, access), host=host, port=port, log_level="warning")


def add_dashboard_user(project: Project, name: str, password: str, role: str,
                       language: str = "fr") -> dict[str, Any]:
    """Create a dashboard user with a role (viewer, analyst, admin); the password is stored hashed."""
    from retour.dashboard.access import StoreAccess
    from retour.dashboard.users import add_user

    return add_user(StoreAccess(project.store_path), name, password, role, language)


def list_dashboard_users(project: Project) -> list[dict[str, Any]]:
    """Every dashboard user: name, role, language, when created, when the password last changed."""
    from retour.dashboard.access import StoreAccess
    from retour.dashboard.users import list_users

    return list_users(StoreAccess(project.store_path))


def remove_dashboard_user(project: Project, name: str) -> dict[str, Any]:
    """Delete a dashboard user; their open sessions end at their next request."""
    from retour.dashboard.access import StoreAccess
    from retour.dashboard.users import remove_user

    return remove_user(StoreAccess(project.store_path), name)


def change_dashboard_password(project: Project, name: str, password: str) -> dict[str, Any]:
    """Give a dashboard user a new password; their sessions opened with the old one end."""
    from retour.dashboard.access import StoreAccess
    from retour.dashboard.users import change_password

    return change_password(StoreAccess(project.store_path), name, password)
