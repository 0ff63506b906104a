"""HTTP plumbing of the dashboard: session cookie, login and CSRF guard, roles, page rendering, errors.

Every request gets a session cookie holding only a random token (anonymous until login; the CSRF token
is derived from it); the store says whether the token's session is signed in and still live (issue 22).
`guard` runs before every route: it checks the CSRF token of every POST (form field `csrf_token` or
header `X-CSRF-Token`, which HTMX sends) and sends anyone not signed in to `/login`, except for the
public paths. `require` refuses a role below the one a route needs with a 403 page, in the user's language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders

from retour import __version__
from retour.config import Project, pick_text
from retour.dashboard.access import StoreAccess, StoreBusy
from retour.dashboard.auth import LoginLimiter, Role, Session, SessionPolicy, csrf_matches, role_allows
from retour.dashboard.i18n import (
    LANGUAGE_NAMES,
    LANGUAGES,
    format_number,
    format_percent,
    format_when,
    pick_language,
    translate,
)
from retour.dashboard.labels import Labels
from retour.dashboard.users import session_user
from retour.errors import StoreError

COOKIE = "retour_session"
LANGUAGE_COOKIE = "retour_language"
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600
PUBLIC_PATHS = frozenset({"/login", "/health"})
STATIC_PREFIX = "/static/"
FORM_OVERHEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class Dashboard:
    """Everything a request needs, built once by `create_app`."""

    project: Project
    access: StoreAccess
    sessions: SessionPolicy
    limiter: LoginLimiter
    labels: Labels
    templates: jinja2.Environment

    @property
    def max_upload_bytes(self) -> int:
        return int(self.project.settings.dashboard.upload_max_mb * 1024 * 1024)

    @property
    def upload_dir(self):  # noqa: ANN201 - a Path
        return self.project.path("uploads")


@dataclass(frozen=True)
class Viewer:
    """The signed-in user making the request."""

    name: str
    role: str
    language: str

    def can(self, needed: Role) -> bool:
        return role_allows(self.role, needed)


class PageError(Exception):
    """A request that ends on an error page: HTTP status, title key and body key of the catalogue."""

    def __init__(
        self, status: int, title: str, body: str | None = None, detail: str = "", **values: object
    ) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.body = body
        self.detail = detail
        self.values = values


class LoginRequired(Exception):
    """The request needs a signed-in user."""


def dashboard_of(request: Request) -> Dashboard:
    return request.app.state.dashboard


def session_of(request: Request) -> Session:
    return request.state.session


def replace_session(request: Request, session: Session) -> None:
    """Send a new session cookie with the response (at login and logout), and its language if any."""
    request.state.session = session
    request.state.new_session = session


def viewer_of(request: Request) -> Viewer:
    return request.state.viewer


def cookie_header(name: str, value: str, max_age: int, secure: bool) -> str:
    """A Set-Cookie value: HttpOnly, SameSite=lax, on every path, Secure when asked."""
    attributes = f"Max-Age={max_age}; Path=/; HttpOnly; SameSite=lax" + ("; Secure" if secure else "")
    return f"{name}={value}; {attributes}"


class SessionMiddleware:
    """Pure ASGI middleware: read the session cookie's token (or start an anonymous session), write it
    back when it is new or replaced, and add the security headers to every response."""

    def __init__(self, app: Any, security_headers: Mapping[str, str]) -> None:
        self.app = app
        self.security_headers = [(k.lower().encode(), v.encode()) for k, v in security_headers.items()]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy: SessionPolicy = scope["app"].state.dashboard.sessions
        cookies = Request(scope).cookies
        language = cookies.get(LANGUAGE_COOKIE)
        loaded = policy.resume(cookies.get(COOKIE), language if language in LANGUAGES else None)
        state = scope.setdefault("state", {})
        state["session"] = loaded or policy.start()
        state["new_session"] = None

        async def send_with_cookie(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.security_headers:
                    if name.decode() not in headers:
                        headers.raw.append((name, value))
                session: Session = state["session"]
                if loaded is None or state["new_session"] is not None:
                    headers.append(
                        "set-cookie",
                        cookie_header(COOKIE, session.token, policy.max_age_seconds, policy.secure_cookies),
                    )
                if state["new_session"] is not None and session.language:
                    headers.append(
                        "set-cookie",
                        cookie_header(
                            LANGUAGE_COOKIE, session.language, LANGUAGE_COOKIE_SECONDS, policy.secure_cookies
                        ),
                    )
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _signed_in(request: Request) -> Viewer | None:
    dashboard = dashboard_of(request)
    user = session_user(dashboard.access, dashboard.sessions, session_of(request))
    if user is None:
        return None
    return Viewer(name=user["name"], role=user["role"], language=pick_language(user["language"]))


async def guard(request: Request) -> None:
    """Runs before every route: CSRF on every POST, then a signed-in user outside the public paths."""
    if request.method == "POST":
        declared = request.headers.get("content-length")
        limit = dashboard_of(request).max_upload_bytes + FORM_OVERHEAD_BYTES
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise PageError(
                413,
                "error.too_large.title",
                "error.too_large.body",
                limit=format_number(
                    dashboard_of(request).project.settings.dashboard.upload_max_mb, language_of(request), 0
                ),
            )
        token = request.headers.get("x-csrf-token")
        if token is None:
            form = await request.form()
            token = form.get("csrf_token")  # type: ignore[assignment]
        if not csrf_matches(session_of(request), token):
            raise PageError(403, "error.csrf.title", "error.csrf.body")
    path = request.url.path
    if path in PUBLIC_PATHS or path.startswith(STATIC_PREFIX):
        return
    viewer = await run_in_threadpool(_signed_in, request)  # the store read must not hold the event loop
    if viewer is None:
        raise LoginRequired()
    request.state.viewer = viewer


def require(needed: Role) -> Callable[[Request], None]:
    """A dependency refusing (403) a user whose role is below `needed`."""

    def check(request: Request) -> None:
        viewer = viewer_of(request)
        if not viewer.can(needed):
            language = viewer.language
            raise PageError(
                403,
                "error.forbidden.title",
                "error.forbidden.body",
                role=translate(f"role.{viewer.role}", language),
                needed=translate(f"role.{needed.value}", language),
            )

    return check


def language_of(request: Request) -> str:
    """The viewer's language, else the session's, else the browser's first supported one, else French."""
    viewer = getattr(request.state, "viewer", None)
    if viewer is not None:
        return viewer.language
    session = getattr(request.state, "session", None)
    accepted = [
        part.split(";")[0].strip()[:2] for part in request.headers.get("accept-language", "").split(",")
    ]
    return pick_language(session.language if session else None, *accepted)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def url_with(request: Request, path: str | None = None, **changes: object) -> str:
    """The current URL (or `path`) with query parameters changed; None removes one."""
    query = dict(request.query_params)
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = str(value)
    target = path if path is not None else request.url.path
    return f"{target}?{urlencode(query)}" if query else target


def synthetic_note(texts: Mapping[str, str], language: str) -> str:
    """The study's synthetic-data note (`study.synthetic_note`) in `language` as a sentence, else the
    dashboard's own words for synthetic data."""
    note = pick_text(texts, language) or translate("common.synthetic", language)
    return note[:1].upper() + note[1:]


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render a template with what every page needs: words, formatting, user, CSRF token, labels."""
    return HTMLResponse(
        render_text(request, template, context), status_code=status, headers=dict(headers or {})
    )


def render_text(request: Request, template: str, context: Mapping[str, Any] | None = None) -> str:
    """The HTML of a template with the page context (for responses, and for PDF fact sheets)."""
    dashboard = dashboard_of(request)
    language = language_of(request)
    viewer = getattr(request.state, "viewer", None)
    settings = dashboard.project.settings
    values = {
        "t": lambda key, **fields: translate(key, language, **fields),
        "lang": language,
        "other_language": next(code for code in LANGUAGES if code != language),
        "language_names": LANGUAGE_NAMES,
        "num": lambda value, digits=2: format_number(value, language, digits),
        "pct": lambda value, digits=0: format_percent(value, language, digits),
        "when": lambda value, with_time=True: format_when(value, language, with_time),
        "viewer": viewer,
        "can_edit": bool(viewer and viewer.can(Role.ANALYST)),
        "csrf": session_of(request).csrf,
        "labels": dashboard.labels,
        "study": settings.study,
        "synthetic_note": synthetic_note(settings.study.synthetic_note, language),
        "settings": settings,
        "version": __version__,
        "path": request.url.path,
        "here": quote(
            str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""), safe="/?=&"
        ),
        "url_with": lambda path=None, **changes: url_with(request, path, **changes),
        "htmx": is_htmx(request),
        **(context or {}),
    }
    return dashboard.templates.get_template(template).render(values)


def error_page(request: Request, error: PageError) -> HTMLResponse:
    language = language_of(request)
    headers = {"HX-Retarget": "#messages", "HX-Reswap": "innerHTML"} if is_htmx(request) else None
    context = {
        "status": error.status,
        "title": translate(error.title, language),
        "body": translate(error.body, language, **error.values) if error.body else "",
        "detail": error.detail,
    }
    return render(request, "error.html", context, status=error.status, headers=headers)


def login_redirect(request: Request) -> Response:
    target = "/login?" + urlencode(
        {"next": str(request.url.path) + (f"?{request.url.query}" if request.url.query else "")}
    )
    if is_htmx(request):
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def store_error_page(request: Request, error: StoreError) -> HTMLResponse:
    """503 in the user's language: busy while another process writes, else the store's own message."""
    if isinstance(error, StoreBusy):
        return error_page(request, PageError(503, "error.busy.title", "error.busy.body"))
    return error_page(request, PageError(503, "error.store.title", detail=str(error)))
