"""Community pages: each community's fact sheet for a round, in the viewer's language."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from retour.dashboard import exports, pages
from retour.dashboard.routes.common import chosen_round, round_context
from retour.dashboard.web import PageError, dashboard_of, language_of, render, render_text
from retour.errors import RetourError

router = APIRouter()


@router.get("/communities")
def community_index(request: Request) -> Response:
    dashboard = dashboard_of(request)
    round_name = chosen_round(request)
    ids = pages.community_ids(dashboard.access, dashboard.labels, round_name)
    if not ids:
        raise PageError(404, "error.not_found.title", "error.not_found.body", what="/communities")
    return RedirectResponse(f"/communities/{ids[0]}?round={round_name}", status_code=303)


@router.get("/communities/{community_id}")
async def community_page(request: Request, community_id: str) -> Response:
    dashboard = dashboard_of(request)
    round_name = chosen_round(request)
    known = pages.community_ids(dashboard.access, dashboard.labels)
    if community_id not in known:
        raise PageError(404, "error.not_found.title", "error.not_found.body", what=community_id)
    language = language_of(request)

    def sections() -> str:  # the same for every reader of a language: kept while the store is unchanged
        content = pages.community(dashboard.access, dashboard.labels, round_name, community_id)
        return render_text(
            request,
            "_community_sections.html",
            {
                **content,
                "round": round_name,
                "min_cell": dashboard.project.settings.estimation.min_cell,
                "map_svg": None,  # the embedded fact sheet has the locator map
            },
        )

    html = dashboard.access.memo(("community", round_name, community_id, language), sections)
    return render(
        request,
        "community.html",
        {
            **round_context(request, round_name),
            "section": "communities",
            "communities": known,
            "community_id": community_id,
            "sections": html,
        },
    )


@router.get("/communities/{community_id}/factsheet")
def community_factsheet(request: Request, community_id: str) -> Response:
    """The report module's fact sheet as a document of its own, shown in a frame of the community page."""
    dashboard = dashboard_of(request)
    round_name = chosen_round(request)
    if community_id not in pages.community_ids(dashboard.access, dashboard.labels):
        raise PageError(404, "error.not_found.title", "error.not_found.body", what=community_id)
    try:
        html = exports.factsheet_html(dashboard, round_name, community_id, language_of(request))
    except RetourError as error:
        raise PageError(404, "community.no_factsheet", detail=str(error)) from None
    return HTMLResponse(html)
