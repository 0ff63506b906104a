"""Uploads: analysts send a survey export, which goes through ingest; the page shows what came of it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from retour.dashboard import actions, pages
from retour.dashboard.auth import Role
from retour.dashboard.routes.common import chosen_round, round_context
from retour.dashboard.web import dashboard_of, is_htmx, render, render_text, require, viewer_of

router = APIRouter()
PROBLEMS_SHOWN = 200


def _context(request: Request, round_name: str) -> dict[str, object]:
    dashboard = dashboard_of(request)
    return {
        **round_context(request, round_name),
        "section": "uploads",
        "history": pages.uploads(dashboard.access),
        "limit_mb": dashboard.project.settings.dashboard.upload_max_mb,
        "problems_shown": PROBLEMS_SHOWN,
    }


@router.get("/uploads")
def uploads_page(request: Request) -> Response:
    round_name = chosen_round(request)
    return render(request, "uploads.html", {**_context(request, round_name), "result": None, "error": None})


@router.post("/uploads", dependencies=[Depends(require(Role.ANALYST))])
def upload(
    request: Request,
    export: Annotated[UploadFile, File()],
    form_round: Annotated[str, Form(alias="round")] = "",
) -> Response:
    dashboard = dashboard_of(request)
    round_name = chosen_round(request, form_round)
    result, error, status = None, None, 200
    try:
        result = actions.receive_upload(
            dashboard.project,
            dashboard.access,
            export.filename or "export",
            export.file,  # copied to a private temporary file, never kept (issue 22)
            round_name,
            viewer_of(request).name,
            dashboard.max_upload_bytes,
            viewer_of(request).language,
        )
    except actions.FormError as problem:
        error, status = problem, (413 if problem.key == "error.too_large.body" else 422)
    context = {**_context(request, round_name), "result": result, "error": error}
    if not is_htmx(request):
        return render(request, "uploads.html", context, status=status)
    fragment = render_text(request, "_upload_result.html", context) + render_text(
        request, "_upload_history_card.html", {**context, "oob": True}
    )
    return HTMLResponse(fragment, status_code=status)
