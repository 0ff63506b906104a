"""Study-wide pages: overview, ranking (Tableau 1) and the comparison of rounds."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from retour.dashboard import pages
from retour.dashboard.routes.common import chosen_round, round_context, round_names
from retour.dashboard.web import PageError, dashboard_of, is_htmx, render

router = APIRouter()


@router.get("/")
def overview(request: Request) -> Response:
    dashboard = dashboard_of(request)
    round_name = chosen_round(request)
    content = pages.overview(
        dashboard.access,
        dashboard.labels,
        round_names(request),
        round_name,
        dashboard.project.settings.design.community,
    )
    return render(
        request, "overview.html", {**round_context(request, round_name), **content, "section": "overview"}
    )


@router.get("/ranking")
def ranking(request: Request, sort: str = "composite", order: str = "asc") -> Response:
    dashboard = dashboard_of(request)
    round_name = chosen_round(request)
    if sort not in pages.PILLARS:
        raise PageError(404, "error.not_found.title", "error.not_found.body", what=sort)
    content = pages.ranking(dashboard.access, round_name, sort, descending=order == "desc")
    context = {
        **round_context(request, round_name),
        **content,
        "section": "ranking",
        "interval_level": round(dashboard.project.settings.index.interval_level * 100),
    }
    template = (
        "_ranking_table.html"
        if is_htmx(request) and request.headers.get("hx-target") == "ranking"
        else "ranking.html"
    )
    return render(request, template, context)


@router.get("/rounds")
def rounds(request: Request, community: str = "all") -> Response:
    dashboard = dashboard_of(request)
    latest = chosen_round(request, None)
    content = pages.rounds_comparison(dashboard.access, dashboard.labels, round_names(request), community)
    choices = ["all", *pages.community_ids(dashboard.access, dashboard.labels)]
    if community not in choices:
        raise PageError(404, "error.not_found.title", "error.not_found.body", what=community)
    return render(
        request,
        "rounds.html",
        {
            **round_context(request, latest),
            **content,
            "section": "rounds",
            "community_id": community,
            "community_choices": choices,
        },
    )
