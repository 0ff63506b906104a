"""Files the dashboard hands out: result tables as an XLSX workbook, fact sheets as PDF.

Tables are written as stored, one sheet per table, with text cells that a spreadsheet would run as a
formula escaped (`retour.spreadsheet_safety`, issue 22). A fact sheet PDF comes from the report module's
renderer when it has one; until then from the dashboard's own print template, through WeasyPrint.
"""

from __future__ import annotations

import io
from typing import Any

import xlsxwriter

from retour.dashboard import pages
from retour.dashboard.access import StoreAccess
from retour.spreadsheet_safety import neutralise_frame

STATIC = __import__("pathlib").Path(__file__).parent / "static"


def tables_xlsx(access: StoreAccess, round_name: str) -> bytes:
    """Every stored result table of the round, one worksheet each, in one workbook; numbers as numbers,
    text never as a formula."""
    buffer = io.BytesIO()
    options = {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    with xlsxwriter.Workbook(buffer, options) as workbook:
        for table in pages.RESULT_TABLES:
            frame = access.results(table, round_name)
            if frame.height:
                neutralise_frame(frame).write_excel(workbook=workbook, worksheet=table[:31], autofit=True)
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


def current_results(dashboard: Any, round_name: str) -> None:
    """Refuse (409, saying which stages to run again) a round whose stored results were computed before
    its submissions or the study's settings last changed: a document made from them would be stamped
    and read as today's. Not kept between requests: a settings file can change without the store."""
    from retour import study
    from retour.dashboard.web import PageError
    from retour.errors import RetourError

    record = dashboard.access.read(lambda con: study.results_record(dashboard.project, con, round_name))
    try:
        record.check(dashboard.project, round_name)
    except RetourError as error:
        raise PageError(409, "community.no_factsheet", detail=str(error)) from None


def factsheet_pdf(
    dashboard: Any, round_name: str, community_id: str, language: str, print_html: Any
) -> bytes:
    """The community's fact sheet as PDF, kept while the store is unchanged: the report's two-page fiche,
    or, when the report cannot be made (its registers are missing), the dashboard's print page. Results
    out of date with the data or settings are refused (`current_results`), never printed."""
    from retour.errors import RetourError
    from retour.report import render_factsheet

    current_results(dashboard, round_name)

    def build() -> bytes:
        try:
            rendered = render_factsheet(community_id, report_bundle(dashboard, round_name), language, "pdf")
        except RetourError:
            return html_to_pdf(print_html())
        return rendered.pdf

    return dashboard.access.memo(("factsheet.pdf", round_name, community_id, language), build)
