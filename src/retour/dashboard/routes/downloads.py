"""Downloads: fact sheets as PDF and result tables as XLSX."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from retour.dashboard import exports, pages
from retour.dashboard.i18n import LANGUAGES
from retour.dashboard.routes.common import chosen_round, round_context
from retour.dashboard.web import PageError, dashboard_of, language_of, render, render_text

router = APIRouter()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/downloads")
def downloads_page(request: Request) -> Response:
    dashboard = dashboard_of(request)
    round_name = chosen_round(request)
    content = pages.downloadable(dashboard.access, round_name)
    return render(
        request,
        "downloads.html",
        {
            **round_context(request, round_name),
            **content,
            "section": "downloads",
            "communities": pages.community_ids(dashboard.access, dashboard.labels, round_name),
        },
    )


@router.get("/downloads/factsheet/{community_id}.pdf")
def factsheet_pdf(request: Request, community_id: str, lang: str | None = None) -> Response:
    dashboard = dashboard_of(request)
    round_name = chosen_round(request)
    if community_id not in pages.community_ids(dashboard.access, dashboard.labels, round_name):
        raise PageError(404, "error.not_found.title", "error.not_found.body", what=community_id)
    language = lang if lang in LANGUAGES else language_of(request)
    study = dashboard.project.settings.study
    boundaries = dashboard.project.path(study.boundaries) if study.boundaries else None

    def print_page() -> str:
        content = pages.community(dashboard.access, dashboard.labels, round_name, community_id)
        return render_text(
            request,
            "factsheet_print.html",
            {
                **round_context(request, round_name),
                **content,
                "lang": language,
                "map_svg": pages.locator_svg(
                    dashboard.labels, community_id, language, study.country, boundaries
                ),
                "min_cell": dashboard.project.settings.estimation.min_cell,
            },
        )

    pdf = exports.factsheet_pdf(dashboard, round_name, community_id, language, print_page)
    name = f"{dashboard.project.settings.study.id}-{community_id}-{round_name}-{language}.pdf"
    return Response(
        pdf, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.get("/downloads/tables.xlsx")
def tables_xlsx(request: Request) -> Response:
    dashboard = dashboard_of(request)
    round_name = chosen_round(request)
    data = exports.tables_xlsx(dashboard.access, round_name)
    name = f"{dashboard.project.settings.study.id}-tables-{round_name}.xlsx"
    return Response(data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})
