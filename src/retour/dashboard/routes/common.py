"""Query parameters every page shares: the round shown."""

from __future__ import annotations

from fastapi import Request

from retour.dashboard import pages
from retour.dashboard.web import PageError, dashboard_of


def round_names(request: Request) -> list[str]:
    return [r.name for r in dashboard_of(request).project.settings.rounds]


def chosen_round(request: Request, requested: str | None = None) -> str:
    """The round asked for (form field, else `?round=`; 404 if the study has no such round), else the
    latest round with results."""
    names = round_names(request)
    requested = requested or request.query_params.get("round")
    if requested:
        if requested not in names:
            raise PageError(404, "error.not_found.title", "error.not_found.body", what=requested)
        return requested
    return pages.default_round(dashboard_of(request).access, names)


def round_context(request: Request, round_name: str) -> dict[str, object]:
    """What the round selector and the footer stamp need."""
    access = dashboard_of(request).access
    return {
        "round": round_name,
        "round_choices": pages.rounds_with_results(access, round_names(request)),
        "stamp": pages.latest_stamp(access, round_name),
    }
