"""The needs matrix (Tableau 2) and analysts' overrides of its cells."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from retour.dashboard import actions, pages
from retour.dashboard.auth import Role
from retour.dashboard.routes.common import chosen_round, round_context
from retour.dashboard.web import PageError, dashboard_of, is_htmx, render, require, viewer_of

router = APIRouter()


@router.get("/needs")
def needs_page(request: Request, round: str | None = None) -> Response:  # noqa: A002
    dashboard = dashboard_of(request)
    round_name = chosen_round(request, round)
    content = pages.needs_matrix(dashboard.access, dashboard.labels, round_name)
    return render(request, "needs.html", {**round_context(request, round_name), **content, "section": "needs",
                                          "levels": pages.LEVELS})


def _cell_or_404(request: Request, round_name: str, community_id: str, issue_id: str) -> dict[str, object]:
    cell = pages.need_cell(dashboard_of(request).access, round_name, community_id, issue_id)
    if cell is None:
        raise PageError(404, "error.not_found.title", "error.not_found.body", what=f"{community_id}/{issue_id}")
    return cell


@router.get("/needs/{community_id}/{issue_id}/override", dependencies=[Depends(require(Role.ANALYST))])
def override_form(request: Request, community_id: str, issue_id: str,
                  round: str | None = None) -> Response:  # noqa: A002
    round_name = chosen_round(request, round)
    cell = _cell_or_404(request, round_name, community_id, issue_id)
    return render(request, "_override_form.html", {"cell": cell, "round": round_name, "levels": pages.LEVELS,
                                                   "error": None, "why": ""})


@router.get("/needs/{community_id}/{issue_id}")
def need_cell(request: Request, community_id: str, issue_id: str, round: str | None = None) -> Response:  # noqa: A002
    round_name = chosen_round(request, round)
    cell = _cell_or_404(request, round_name, community_id, issue_id)
    return render(request, "_need_cell.html", {"cell": cell, "round": round_name})


@router.post("/needs/{community_id}/{issue_id}", dependencies=[Depends(require(Role.ANALYST))])
def set_override(request: Request, community_id: str, issue_id: str, level: Annotated[str, Form()],
                 why: Annotated[str, Form()] = "", round: Annotated[str, Form()] = "") -> Response:  # noqa: A002
    dashboard = dashboard_of(request)
    round_name = chosen_round(request, round or None)
    cell = _cell_or_404(request, round_name, community_id, issue_id)
    try:
        actions.set_need_override(dashboard.access, round_name, community_id, issue_id, level, why,
                                  viewer_of(request).name)
    except actions.FormError as error:
        return render(request, "_override_form.html", {"cell": cell, "round": round_name, "levels": pages.LEVELS,
                                                       "error": error, "why": why, "chosen": level}, status=422)
    if is_htmx(request):
        updated = _cell_or_404(request, round_name, community_id, issue_id)
        return render(request, "_need_cell.html", {"cell": updated, "round": round_name, "saved": True})
    return RedirectResponse(f"/needs?round={round_name}", status_code=303)
