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

from retour.report.change import change_context
from retour.report.context import page_context
from retour.report.data import Cell, IndicatorInfo, ReportData, indicator_frame
from retour.report.factsheet import factsheet_context
from retour.report.i18n import LANGUAGES, Formatter, check_language
from retour.report.narrative import Community, load_communities, parse_communities
from retour.report.render import Job, Rendered, render_pdfs
from retour.report.synthesis import synthesis_context
from retour.report.tables import write_tables

__all__ = [
    "FORMATS",
    "LANGUAGES",
    "Cell",
    "Community",
    "IndicatorInfo",
    "Job",
    "OutputFile",
    "Rendered",
    "ReportData",
    "factsheet_job",
    "indicator_frame",
    "load_communities",
    "parse_communities",
    "render_factsheet",
    "render_synthesis",
    "synthesis_job",
    "write_outputs",
    "write_tables",
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


def factsheet_job(community_id: str, data: ReportData, language: str = "fr") -> Job:
    """What to render for one community's fact sheet in one language (charts drawn, numbers formatted)."""
    formatter = Formatter(check_language(language))
    context = {
        **page_context(data, formatter),
        **factsheet_context(data, community_id, formatter),
        **change_context(data, formatter, community_id),
    }
    return Job(f"factsheet {community_id} ({language})", "factsheet.html", context, language, FACTSHEET_PAGES)


def synthesis_job(data: ReportData, language: str = "fr") -> Job:
    """What to render for the synthesis report in one language."""
    formatter = Formatter(check_language(language))
    context = {
        **page_context(data, formatter),
        **synthesis_context(data, formatter),
        **change_context(data, formatter),
    }
    return Job(f"synthesis ({language})", "synthesis.html", context, language)


def render_factsheet(
    community_id: str, data: ReportData, language: str = "fr", fmt: str = "html"
) -> Rendered:
    """One community's fact sheet: HTML, and with `fmt="pdf"` also the PDF (two A4 pages)."""
    return factsheet_job(community_id, data, language).run(pdf=fmt == "pdf")


def render_synthesis(data: ReportData, language: str = "fr", fmt: str = "html") -> Rendered:
    """The synthesis report: methodology, Tableau 1, needs matrix, main gaps, actors, C4D."""
    return synthesis_job(data, language).run(pdf=fmt == "pdf")


def _write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def write_outputs(
    data: ReportData,
    out_dir: Path,
    languages: Sequence[str] = LANGUAGES,
    formats: Sequence[str] = FORMATS,
    progress: Progress | None = None,
    workers: int | None = 1,
) -> list[OutputFile]:
    """Write every fact sheet and the synthesis per language and format, and the tables, under `out_dir`.

    Layout: `<out_dir>/<round>/<lang>/factsheet-<community>.{html,pdf}`, `.../synthesis.{html,pdf}`,
    `<out_dir>/<round>/tables/` (XLSX per language, CSV). `progress` is called with a short message
    as work advances. PDFs are laid out in this process (`workers=1`), or by that many worker
    processes (None: one per CPU, at most 4). Workers are started with `spawn`, which imports the
    calling script again: a script that asks for workers must keep its top-level code under
    `if __name__ == "__main__":` (the `retour` command does).
    """
    for language in languages:
        check_language(language)
    root = Path(out_dir) / data.round_name
    written: list[OutputFile] = []
    jobs: list[tuple[Job, str, str, Path]] = []
    for language in languages:
        for community in data.communities:
            if progress:
                progress(f"factsheet {community.id} ({language})")
            jobs.append(
                (
                    factsheet_job(community.id, data, language),
                    "factsheet",
                    community.id,
                    root / language / f"factsheet-{community.id}",
                )
            )
        if progress:
            progress(f"synthesis ({language})")
        jobs.append((synthesis_job(data, language), "synthesis", "", root / language / "synthesis"))
    if "html" in formats:
        for job, kind, community_id, stem in jobs:
            html = job.run(pdf=False).html
            written.append(
                OutputFile(kind, community_id, job.language, "html", _write(stem.with_suffix(".html"), html))
            )
    if "pdf" in formats:

        def finished(job: Job, rendered: Rendered) -> None:
            if progress:
                progress(f"PDF {job.name}: {rendered.pages} pages")

        rendered_all = render_pdfs([job for job, *_ in jobs], workers, finished)
        for (job, kind, community_id, stem), rendered in zip(jobs, rendered_all, strict=True):
            written.append(
                OutputFile(
                    kind,
                    community_id,
                    job.language,
                    "pdf",
                    _write(stem.with_suffix(".pdf"), rendered.pdf or b""),
                    rendered.pages,
                )
            )
    if progress:
        progress("tables")
    for path in write_tables(data, root / "tables", languages):
        written.append(OutputFile("tables", "", "", path.suffix.lstrip("."), path))
    return written
