"""Serve a study's dashboard and manage its users (issue 11)."""

from __future__ import annotations

import dataclasses
import errno
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from retour.config import Project
from retour.errors import RetourError


def listening_socket(host: str, port: int, study: Path | str = "DIR") -> socket.socket:
    """A TCP socket bound to host:port and listening; a RetourError saying why when it cannot be
    (the port is taken, needs administrator rights, or the address is not this machine's)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    if os.name != "nt":  # as uvicorn does: a port just freed (TIME_WAIT) can be taken again at once
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise RetourError(f"Port {port} on {host} is in use (another retour serve?).",
                              f"Stop that server, or choose another port: retour serve {study} "
                              f"--port {port + 1 if port < 65535 else 8000}") from error
        if error.errno == errno.EACCES:
            raise RetourError(f"Listening on port {port} needs administrator rights.",
                              f"Use a port above 1023: retour serve {study} --port 8000") from error
        raise RetourError(f"Cannot listen on {host}:{port}: {error.strerror or error}.",
                          f"Use --host 127.0.0.1, or an address of this machine: retour serve {study} "
                          f"--host 127.0.0.1") from error
    return sock


def with_secure_cookies(project: Project) -> Project:
    """The project with `[dashboard] secure_cookies` on (what `retour serve --secure-cookies` runs)."""
    dashboard = project.settings.dashboard.model_copy(update={"secure_cookies": True})
    return dataclasses.replace(project, settings=project.settings.model_copy(update={"dashboard": dashboard}))


def server_config(project: Project, app: Any, host: str, port: int) -> Any:
    """The uvicorn configuration for a study's dashboard app.

    Forwarded headers (X-Forwarded-For, X-Forwarded-Proto) are believed only from the addresses in
    `[dashboard] trusted_proxies`; with none (the default) they are ignored, so the client address the
    login limits count is the connection's and cannot be forged (uvicorn alone would trust 127.0.0.1).
    """
    import uvicorn

    proxies = project.settings.dashboard.trusted_proxies
    return uvicorn.Config(app, host=host, port=port, log_level="warning", proxy_headers=bool(proxies),
                          forwarded_allow_ips=list(proxies) if proxies else [])


def serve_dashboard(project: Project, host: str = "127.0.0.1", port: int = 8000,
                    notify: Callable[[str], None] | None = None, secure_cookies: bool = False) -> None:
    """Run the dashboard of a study with uvicorn until interrupted (Ctrl+C).

    The port is taken first, so a port in use is a RetourError before anything starts, and `notify`
    hears the dashboard's address only once it listens. `secure_cookies` marks the cookies Secure (as
    the setting of the same name does)."""
    import uvicorn

    from retour.dashboard import create_app
    from retour.dashboard.access import StoreAccess
    from retour.dashboard.users import list_users

    if secure_cookies:
        project = with_secure_cookies(project)
    access = StoreAccess(project.store_path)
    sock = listening_socket(host, port, project.root)
    try:
        server = uvicorn.Server(server_config(project, create_app(project, access), host, port))
        if notify is not None:
            if not list_users(access):
                notify(f"No dashboard user yet: add one with "
                       f"`retour users {project.root} add NAME --role admin`.")
            shown = f"[{host}]" if ":" in host else host
            notify(f"Dashboard of '{project.settings.study.name}' on http://{shown}:{port}/ "
                   f"(Ctrl+C to stop).")
        server.run(sockets=[sock])
    finally:
        sock.close()


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
    """Delete a dashboard user; their open sessions end at once."""
    from retour.dashboard.access import StoreAccess
    from retour.dashboard.users import remove_user

    return remove_user(StoreAccess(project.store_path), name)


def change_dashboard_password(project: Project, name: str, password: str) -> dict[str, Any]:
    """Give a dashboard user a new password; their open sessions end."""
    from retour.dashboard.access import StoreAccess
    from retour.dashboard.users import change_password

    return change_password(StoreAccess(project.store_path), name, password)


def change_dashboard_role(project: Project, name: str, role: str) -> dict[str, Any]:
    """Give a dashboard user another role; their open sessions end."""
    from retour.dashboard.access import StoreAccess
    from retour.dashboard.users import change_role

    return change_role(StoreAccess(project.store_path), name, role)
