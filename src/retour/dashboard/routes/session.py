"""Sign in, sign out, language switch and the health check.

A login is refused (429) while its client address or its account has too many recent failures, and
at once while every password-check slot is busy; only then is the password checked (issue 22).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from retour import __version__
from retour.dashboard import actions
from retour.dashboard.auth import verify_password
from retour.dashboard.i18n import LANGUAGES
from retour.dashboard.users import end_session, find_user, open_session
from retour.dashboard.web import (
    dashboard_of,
    language_of,
    render,
    replace_session,
    session_of,
    viewer_of,
)

router = APIRouter()


def safe_next(target: str | None) -> str:
    """Only a path on this site: never another host (`//evil`, `https://...`)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/health")
async def health() -> JSONResponse:  # on the event loop: answers even while every worker thread is busy
    return JSONResponse({"status": "ok", "version": __version__})


@router.get("/login")
def login_form(request: Request, next: str = "/", lang: str | None = None) -> Response:  # noqa: A002
    if lang in LANGUAGES:
        replace_session(request, replace(session_of(request), language=lang))
    return render(
        request, "login.html", {"next": safe_next(next), "message": None, "no_users": _no_users(request)}
    )


def _no_users(request: Request) -> bool:
    from retour import store

    users = dashboard_of(request).access.cached(("users",), store.read_users)
    return users.height == 0


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:  # noqa: A002
    dashboard = dashboard_of(request)
    address = request.client.host if request.client else "unknown"
    wait = dashboard.limiter.retry_after(address, username)
    if wait:
        return _refused(request, username, next, wait)
    user = find_user(dashboard.access, username.strip())
    with dashboard.limiter.password_check() as allowed:
        if not allowed:
            return _refused(request, username, next, 1)
        accepted = verify_password(user["password_hash"] if user else None, password)
    if not accepted or user is None:
        dashboard.limiter.failed(address, user["name"] if user else None)
        return render(
            request,
            "login.html",
            {
                "next": safe_next(next),
                "message": ("login.failed", 0),
                "username": username,
                "no_users": False,
            },
            status=401,
        )
    dashboard.limiter.succeeded(user["name"])
    session = dashboard.sessions.start(user["language"] or language_of(request))
    open_session(dashboard.access, dashboard.sessions, session, user["name"])
    replace_session(request, session)
    return RedirectResponse(safe_next(next), status_code=303)


def _refused(request: Request, username: str, next: str, wait: int) -> Response:  # noqa: A002
    """429: the login form again, saying how many seconds to wait."""
    return render(
        request,
        "login.html",
        {
            "next": safe_next(next),
            "message": ("login.too_many", wait),
            "username": username,
            "no_users": False,
        },
        status=429,
        headers={"Retry-After": str(wait)},
    )


@router.post("/logout")
def logout(request: Request) -> Response:
    dashboard = dashboard_of(request)
    end_session(dashboard.access, dashboard.sessions, session_of(request))
    replace_session(request, dashboard.sessions.start(viewer_of(request).language))
    return RedirectResponse("/login", status_code=303)


@router.post("/language")
def switch_language(
    request: Request, language: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
) -> Response:  # noqa: A002
    dashboard = dashboard_of(request)
    if language in LANGUAGES:
        viewer = viewer_of(request)
        actions.save_language(dashboard.access, viewer.name, language)
    target = safe_next(next)
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)
