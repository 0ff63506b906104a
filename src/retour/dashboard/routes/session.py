"""Sign in, sign out, language switch and the health check."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from retour import __version__
from retour.dashboard import actions
from retour.dashboard.auth import verify_password
from retour.dashboard.i18n import LANGUAGES
from retour.dashboard.users import find_user
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
def health() -> JSONResponse:
    return JSONResponse({"status": "ok", "version": __version__})


@router.get("/login")
def login_form(request: Request, next: str = "/", lang: str | None = None) -> Response:  # noqa: A002
    if lang in LANGUAGES:
        replace_session(request, dashboard_of(request).signer.with_language(session_of(request), lang))
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
    client = request.client.host if request.client else "unknown"
    key = f"{username.strip().lower()}|{client}"
    wait = dashboard.limiter.retry_after(key)
    language = language_of(request)
    if wait:
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
    user = find_user(dashboard.access, username.strip())
    if not verify_password(user["password_hash"] if user else None, password) or user is None:
        dashboard.limiter.failed(key)
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
    dashboard.limiter.succeeded(key)
    replace_session(
        request, dashboard.signer.new(user["name"], user["password_hash"], user["language"] or language)
    )
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request) -> Response:
    dashboard = dashboard_of(request)
    replace_session(request, dashboard.signer.new(language=viewer_of(request).language))
    return RedirectResponse("/login", status_code=303)


@router.post("/language")
def switch_language(
    request: Request, language: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
) -> Response:  # noqa: A002
    dashboard = dashboard_of(request)
    if language in LANGUAGES:
        viewer = viewer_of(request)
        actions.save_language(dashboard.access, viewer.name, language)
        replace_session(request, dashboard.signer.with_language(session_of(request), language))
    target = safe_next(next)
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)
