"""Community fact sheets, the synthesis report and result tables, in French and English, HTML and PDF.

The report only reads stored results (estimates, gaps, index scores, needs) and the study's registers,
gathered in a `ReportData` bundle; it computes no statistic. One rendering path: Jinja2 templates to
HTML, the same HTML to PDF with WeasyPrint; charts are altair specs rendered to SVG by vl-convert,
the locator map is drawn from a boundary file shipped in the package. Every output carries the stamp
(retour version, config hash, data hash, round, date) and, for synthetic data, says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from retour.report.context import page_context
from retour.report.data import Cell, IndicatorInfo, ReportData, indicator_frame
from retour.report.factsheet import factsheet_context
from retour.report.i18n import LANGUAGES, Formatter, check_language
from retour.report.narrative import Community, load_communities, parse_communities
from retour.report.render import Rendered, render_fitted
from retour.report.synthesis import synthesis_context
from retour.report.tables import write_tables

__all__ = [
    "FORMATS", "LANGUAGES", "Cell", "Community", "IndicatorInfo", "OutputFile", "Rendered", "ReportData",
    "indicator_frame", "load_communities", "parse_communities", "render_factsheet", "render_synthesis",
    "write_outputs", "write_tables",
]

FORMATS = ("html", "pdf")
FACTSHEET_PAGES = 2
Progress = Callable[[str], None]


@dataclass(frozen=True)
class OutputFile:
    """A file the report wrote: what it is, for which community (or ''), language and format."""

    kind: str
    community_id: str
    language: str
    format: str
    path: Path
    pages: int | None = None


def render_factsheet(community_id: str, data: ReportData, language: str = "fr", fmt: str = "html") -> Rendered:
    """One community's fact sheet: HTML, and with `fmt="pdf"` also the PDF (two A4 pages)."""
    formatter = Formatter(check_language(language))
    context = {**page_context(data, formatter), **factsheet_context(data, community_id, formatter)}
    return render_fitted("factsheet.html", context, formatter, pdf=fmt == "pdf", max_pages=FACTSHEET_PAGES)


def render_synthesis(data: ReportData, language: str = "fr", fmt: str = "html") -> Rendered:
    """The synthesis report: methodology, Tableau 1, needs matrix, main gaps, actors, C4D."""
    formatter = Formatter(check_language(language))
    context = {**page_context(data, formatter), **synthesis_context(data, formatter)}
    return render_fitted("synthesis.html", context, formatter, pdf=fmt == "pdf")


def _write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def write_outputs(data: ReportData, out_dir: Path, languages: Sequence[str] = LANGUAGES,
                  formats: Sequence[str] = FORMATS, progress: Progress | None = None) -> list[OutputFile]:
    """Write every fact sheet and the synthesis per language and format, and the tables, under `out_dir`.

    Layout: `<out_dir>/<round>/<lang>/factsheet-<community>.{html,pdf}`, `.../synthesis.{html,pdf}`,
    `<out_dir>/<round>/tables/` (XLSX per language, CSV). `progress` is called with a short message
    before each document.
    """
    for language in languages:
        check_language(language)
    root = Path(out_dir) / data.round_name
    written: list[OutputFile] = []
    pdf = "pdf" in formats
    for language in languages:
        folder = root / language
        jobs = [("factsheet", c.id) for c in data.communities] + [("synthesis", "")]
        for kind, community_id in jobs:
            if progress:
                progress(f"{kind} {community_id or ''} ({language})".replace("  ", " "))
            rendered = (render_factsheet(community_id, data, language, "pdf" if pdf else "html")
                        if kind == "factsheet" else render_synthesis(data, language, "pdf" if pdf else "html"))
            stem = f"factsheet-{community_id}" if kind == "factsheet" else "synthesis"
            if "html" in formats:
                written.append(OutputFile(kind, community_id, language, "html",
                                          _write(folder / f"{stem}.html", rendered.html)))
            if pdf and rendered.pdf is not None:
                written.append(OutputFile(kind, community_id, language, "pdf",
                                          _write(folder / f"{stem}.pdf", rendered.pdf), rendered.pages))
    if progress:
        progress("tables")
    for path in write_tables(data, root / "tables", languages):
        written.append(OutputFile("tables", "", "", path.suffix.lstrip("."), path))
    return written

