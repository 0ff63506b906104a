"""User accounts, for administrators: list, add, change role, remove."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from retour.dashboard import users
from retour.dashboard.auth import Role
from retour.dashboard.routes.common import chosen_round, round_context
from retour.dashboard.web import dashboard_of, render, require, viewer_of
from retour.errors import RetourError

router = APIRouter(dependencies=[Depends(require(Role.ADMIN))])


def _page(request: Request, message: tuple[str, str] | None = None, status: int = 200) -> Response:
    dashboard = dashboard_of(request)
    context = {
        **round_context(request, chosen_round(request)),
        "section": "users",
        "accounts": users.list_users(dashboard.access),
        "roles": [role.value for role in Role],
        "message": message,
    }
    return render(request, "users.html", context, status=status)


@router.get("/users")
def users_page(request: Request) -> Response:
    return _page(request)


@router.post("/users")
def add_account(
    request: Request,
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "viewer",
    language: Annotated[str, Form()] = "fr",
) -> Response:
    try:
        users.add_user(dashboard_of(request).access, name.strip(), password, role, language)
    except RetourError as error:
        return _page(request, ("error", str(error)), status=422)
    return RedirectResponse("/users", status_code=303)


@router.post("/users/{name}/role")
def change_role(request: Request, name: str, role: Annotated[str, Form()]) -> Response:
    if name == viewer_of(request).name:
        return _page(request, ("error", "users.not_yourself"), status=422)
    try:
        users.change_role(dashboard_of(request).access, name, role)
    except RetourError as error:
        return _page(request, ("error", str(error)), status=422)
    return RedirectResponse("/users", status_code=303)


@router.post("/users/{name}/remove")
def remove_account(request: Request, name: str) -> Response:
    if name == viewer_of(request).name:
        return _page(request, ("error", "users.not_yourself"), status=422)
    try:
        users.remove_user(dashboard_of(request).access, name)
    except RetourError as error:
        return _page(request, ("error", str(error)), status=422)
    return RedirectResponse("/users", status_code=303)
