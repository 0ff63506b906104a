"""The needs matrix (Tableau 2), the evidence behind each cell, and analysts' overrides."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from retour.dashboard import actions, pages
from retour.dashboard.auth import Role
from retour.dashboard.routes.common import chosen_round, round_context
from retour.dashboard.web import PageError, dashboard_of, is_htmx, render, render_text, require, viewer_of
from retour.errors import RetourError

router = APIRouter()


def _cell_or_404(request: Request, round_name: str, community_id: str, issue_id: str) -> dict[str, Any]:
    cell = pages.need_cell(dashboard_of(request).access, round_name, community_id, issue_id)
    if cell is None:
        raise PageError(
            404, "error.not_found.title", "error.not_found.body", what=f"{community_id}/{issue_id}"
        )
    return cell


@router.get("/needs")
def needs_page(request: Request, community: str = "", issue: str = "") -> Response:
    dashboard = dashboard_of(request)
    round_name = chosen_round(request)
    content = pages.needs_matrix(dashboard.access, dashboard.labels, round_name)
    selected = _cell_or_404(request, round_name, community, issue) if community and issue else None
    return render(
        request,
        "needs.html",
        {
            **round_context(request, round_name),
            **content,
            "section": "needs",
            "levels": pages.LEVELS,
            "selected": selected,
        },
    )


@router.get("/needs/{community_id}/{issue_id}")
def need_detail(request: Request, community_id: str, issue_id: str, round: str | None = None) -> Response:  # noqa: A002
    round_name = chosen_round(request)
    cell = _cell_or_404(request, round_name, community_id, issue_id)
    if not is_htmx(request):
        return RedirectResponse(
            f"/needs?round={round_name}&community={community_id}&issue={issue_id}", status_code=303
        )
    return render(request, "_need_detail.html", {"cell": cell, "round": round_name, "levels": pages.LEVELS})


@router.post("/needs/{community_id}/{issue_id}", dependencies=[Depends(require(Role.ANALYST))])
def set_override(
    request: Request,
    community_id: str,
    issue_id: str,
    level: Annotated[str, Form()] = "",
    why: Annotated[str, Form()] = "",
    form_round: Annotated[str, Form(alias="round")] = "",
) -> Response:
    dashboard = dashboard_of(request)
    round_name = chosen_round(request, form_round)
    cell = _cell_or_404(request, round_name, community_id, issue_id)
    try:
        actions.set_need_override(
            dashboard.project,
            dashboard.access,
            round_name,
            community_id,
            issue_id,
            level,
            why,
            viewer_of(request).name,
        )
    except (actions.FormError, RetourError) as error:
        problem = (
            error
            if isinstance(error, actions.FormError)
            else actions.FormError("common.refused", reason=str(error))
        )
        return render(
            request,
            "_need_detail.html",
            {
                "cell": cell,
                "round": round_name,
                "levels": pages.LEVELS,
                "error": problem,
                "why": why,
                "chosen": level,
            },
            status=422,
        )
    if not is_htmx(request):
        return RedirectResponse(
            f"/needs?round={round_name}&community={community_id}&issue={issue_id}", status_code=303
        )
    updated = _cell_or_404(request, round_name, community_id, issue_id)
    context = {"cell": updated, "round": round_name, "levels": pages.LEVELS, "saved": True}
    detail = render_text(request, "_need_detail.html", context)
    cell_html = render_text(request, "_need_cell_oob.html", {**context, "oob": True})
    return Response(detail + cell_html, media_type="text/html")
