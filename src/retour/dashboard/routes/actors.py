"""The actor map: actors by community and dimension, and analysts' edits."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from retour.dashboard import actions, pages
from retour.dashboard.auth import Role
from retour.dashboard.routes.common import chosen_round, round_context
from retour.dashboard.web import PageError, dashboard_of, is_htmx, render, require, viewer_of
from retour.errors import RetourError

router = APIRouter()


REGISTER_FILES = (
    "actors.yaml",
    "value_chains.yaml",
    "recommendations.yaml",
    "needs.toml",
    "communities.yaml",
)


@cache
def _register(root: Path, config_hash: str, stamp: tuple[float, ...]) -> Any:  # re-read when a file changes
    from retour import study
    from retour.config import load_project

    project = load_project(root)  # keyed by folder, not by Project: its settings hold texts (dicts)
    if not project.path("actors.yaml").exists():
        return None
    return study.load_actor_register(project, edits=False)  # pages lay the stored edits over it


def register_of(request: Request) -> Any:
    """The actor register, read again when one of its files changes; a 503 page if it is invalid."""
    project = dashboard_of(request).project
    stamp = tuple(
        project.path(name).stat().st_mtime if project.path(name).exists() else 0.0 for name in REGISTER_FILES
    )
    try:
        return _register(project.root, project.config_hash(), stamp)
    except RetourError as error:
        raise PageError(503, "actors.missing", detail=str(error)) from None


@router.get("/actors")
def actors_page(request: Request, community: str = "", dimension: str = "") -> Response:
    dashboard = dashboard_of(request)
    round_name = chosen_round(request, None)
    content = pages.actors(dashboard.access, register_of(request), community or None, dimension or None)
    context = {
        **round_context(request, round_name),
        **content,
        "section": "actors",
        "community_id": community,
        "dimension": dimension,
        "dimensions": pages.ACTOR_DIMENSIONS,
        "community_choices": sorted(dashboard.labels.communities, key=dashboard.labels.community),
    }
    if is_htmx(request) and request.headers.get("hx-target") == "actor-list":
        return render(request, "_actors_table.html", context)
    return render(request, "actors.html", context)


@router.get("/actors/{actor_id}/edit", dependencies=[Depends(require(Role.ANALYST))])
def edit_form(request: Request, actor_id: str) -> Response:
    record = pages.actor(dashboard_of(request).access, register_of(request), actor_id)
    if record is None:
        raise PageError(404, "error.not_found.title", "error.not_found.body", what=actor_id)
    return render(request, "_actor_form.html", {"actor": record, "dimensions": pages.ACTOR_DIMENSIONS})


@router.post("/actors/{actor_id}", dependencies=[Depends(require(Role.ANALYST))])
def save_actor(
    request: Request,
    actor_id: str,
    dimensions: Annotated[list[str], Form()] = [],  # noqa: B006
    strengths_fr: Annotated[str, Form()] = "",
    strengths_en: Annotated[str, Form()] = "",
    weaknesses_fr: Annotated[str, Form()] = "",
    weaknesses_en: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/actors",
) -> Response:  # noqa: A002
    dashboard = dashboard_of(request)
    texts = {
        "strengths_fr": strengths_fr,
        "strengths_en": strengths_en,
        "weaknesses_fr": weaknesses_fr,
        "weaknesses_en": weaknesses_en,
    }
    try:
        actions.edit_actor(
            dashboard.access, register_of(request), actor_id, set(dimensions), texts, viewer_of(request).name
        )
    except actions.FormError:
        raise PageError(404, "error.not_found.title", "error.not_found.body", what=actor_id) from None
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Refresh": "true"})
    return RedirectResponse(next if next.startswith("/actors") else "/actors", status_code=303)
