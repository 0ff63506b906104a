"""Files the dashboard hands out: result tables as an XLSX workbook, fact sheets as PDF.

Tables are written as stored, one sheet per table. A fact sheet PDF comes from the report module's
renderer when it has one; until then from the dashboard's own print template, through WeasyPrint.
"""

from __future__ import annotations

import io
from typing import Any

import xlsxwriter

from retour.dashboard import pages
from retour.dashboard.access import StoreAccess

STATIC = __import__("pathlib").Path(__file__).parent / "static"


def tables_xlsx(access: StoreAccess, round_name: str) -> bytes:
    """Every stored result table of the round, one worksheet each, in one workbook."""
    buffer = io.BytesIO()
    with xlsxwriter.Workbook(buffer, {"in_memory": True}) as workbook:
        for table in pages.RESULT_TABLES:
            frame = access.results(table, round_name)
            if frame.height:
                frame.write_excel(workbook=workbook, worksheet=table[:31], autofit=True)
    return buffer.getvalue()


def html_to_pdf(html: str) -> bytes:
    """A PDF of an HTML page whose assets are the dashboard's static files."""
    from weasyprint import HTML

    return HTML(string=html, base_url=str(STATIC) + "/").write_pdf()


def report_bundle(dashboard: Any, round_name: str) -> Any:
    """The report module's data bundle for a round, read through a read-only connection and kept while
    the store is unchanged."""
    from retour import study

    return dashboard.access.memo(
        ("report_data", round_name),
        lambda: dashboard.access.read(lambda con: study.report_data(dashboard.project, round_name, con)),
    )


def factsheet_html(dashboard: Any, round_name: str, community_id: str, language: str) -> str:
    """The report's HTML fact sheet of a community (a whole document), kept while the store is unchanged."""
    from retour.report import render_factsheet

    return dashboard.access.memo(
        ("factsheet.html", round_name, community_id, language),
        lambda: render_factsheet(community_id, report_bundle(dashboard, round_name), language, "html").html,
    )


def factsheet_pdf(
    dashboard: Any, round_name: str, community_id: str, language: str, print_html: Any
) -> bytes:
    """The community's fact sheet as PDF, kept while the store is unchanged: the report's two-page fiche,
    or, when the report cannot be made (its registers are missing), the dashboard's print page."""
    from retour.errors import RetourError
    from retour.report import render_factsheet

    def build() -> bytes:
        try:
            rendered = render_factsheet(community_id, report_bundle(dashboard, round_name), language, "pdf")
        except RetourError:
            return html_to_pdf(print_html())
        return rendered.pdf

    return dashboard.access.memo(("factsheet.pdf", round_name, community_id, language), build)
