"""The retour dashboard: a server-rendered web app (FastAPI, Jinja2, HTMX) over a study's store.

`create_app(project)` builds the app; `retour serve DIR` runs it with uvicorn. Pages read stored
results through short-lived read-only connections and compute no statistic; writes (users, needs
overrides, actor edits, uploads) go through one writer. Every asset is served by the app itself.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from retour.config import Project
from retour.dashboard.access import StoreAccess
from retour.dashboard.auth import LoginLimiter, SessionPolicy, load_secret
from retour.dashboard.labels import Labels, load_labels
from retour.dashboard.routes import ROUTERS
from retour.dashboard.web import (
    Dashboard,
    LoginRequired,
    PageError,
    SessionMiddleware,
    error_page,
    guard,
    login_redirect,
    store_error_page,
)
from retour.errors import RetourError, StoreError

HERE = Path(__file__).parent
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; frame-ancestors 'self'; form-action 'self'",
}

__all__ = ["create_app"]


@cache
def _labels(root: Path, config_hash: str) -> Labels:  # config_hash: read again when the study changes
    from retour.config import load_project

    return load_labels(load_project(root))


def _templates() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    return environment


def create_app(project: Project, access: StoreAccess | None = None) -> FastAPI:
    """The dashboard app for a study folder; creates or migrates its store first when it can."""
    access = access or StoreAccess(project.store_path)
    try:
        access.ensure()
    except StoreError:
        pass  # another process holds the store: pages will say so (503) until it is free
    settings = project.settings.dashboard
    labels = _labels(project.root, project.config_hash())
    if labels.coordinates:
        import retour.report.maps  # noqa: F401 - load the map module (and its package) now, not at a first visit
    dashboard = Dashboard(
        project=project,
        access=access,
        sessions=SessionPolicy(
            load_secret(project),
            settings.session_minutes,
            settings.session_idle_minutes,
            settings.secure_cookies,
        ),
        limiter=LoginLimiter(
            settings.login_attempts_per_minute, settings.login_attempts_per_account, settings.password_checks
        ),
        labels=labels,
        templates=_templates(),
    )
    app = FastAPI(
        title=f"retour: {project.settings.study.name}",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(guard)],
    )
    app.state.dashboard = dashboard
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(SessionMiddleware, security_headers=SECURITY_HEADERS)

    @app.exception_handler(PageError)
    async def on_page_error(request: Request, error: PageError) -> Response:
        return error_page(request, error)

    @app.exception_handler(LoginRequired)
    async def on_login_required(request: Request, error: LoginRequired) -> Response:
        return login_redirect(request)

    @app.exception_handler(StoreError)
    async def on_store_error(request: Request, error: StoreError) -> Response:
        return store_error_page(request, error)

    @app.exception_handler(RetourError)
    async def on_retour_error(request: Request, error: RetourError) -> Response:
        return error_page(request, PageError(422, "error.bad_request.title", detail=str(error)))

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code == 404:
            return error_page(
                request,
                PageError(404, "error.not_found.title", "error.not_found.body", what=request.url.path),
            )
        return error_page(
            request, PageError(error.status_code, "error.bad_request.title", detail=str(error.detail))
        )

    @app.exception_handler(Exception)
    async def on_bug(request: Request, error: Exception) -> Response:  # logged by uvicorn, shown politely
        return error_page(request, PageError(500, "error.internal.title", "error.internal.body"))

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, error: RequestValidationError) -> Response:
        fields = ", ".join(".".join(str(p) for p in e["loc"][1:]) for e in error.errors())
        return error_page(request, PageError(400, "error.bad_request.title", detail=fields))

    return app
