"""The dashboard's routes, one module per area; `ROUTERS` lists them for `create_app`."""

from __future__ import annotations

from retour.dashboard.routes import actors, community, downloads, needs, session, study_pages, uploads, users

ROUTERS = (
    session.router,
    study_pages.router,
    community.router,
    needs.router,
    actors.router,
    uploads.router,
    downloads.router,
    users.router,
)
