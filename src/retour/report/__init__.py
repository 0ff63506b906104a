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

from retour.report.data import Cell, IndicatorInfo, ReportData, indicator_frame
from retour.report.documents import (
    Document,
    factsheet_job,
    render_documents,
    render_factsheet,
    render_synthesis,
    synthesis_job,
)
from retour.report.i18n import LANGUAGES, check_language
from retour.report.narrative import Community, load_communities, parse_communities
from retour.report.render import Job, Rendered
from retour.report.tables import write_tables

__all__ = [
    "FORMATS",
    "LANGUAGES",
    "Cell",
    "Community",
    "Document",
    "IndicatorInfo",
    "Job",
    "OutputFile",
    "Rendered",
    "ReportData",
    "factsheet_job",
    "indicator_frame",
    "load_communities",
    "parse_communities",
    "render_documents",
    "render_factsheet",
    "render_synthesis",
    "synthesis_job",
    "write_outputs",
    "write_tables",
]

FORMATS = ("html", "pdf")
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
    `<out_dir>/<round>/tables/` (XLSX per language, CSV). `progress` is told each document as it is
    finished. Documents are built in this process (`workers=1`) or by that many worker processes
    (None: one per CPU, at most 4); see `render_documents` for what a calling script then needs.
    """
    for language in languages:
        check_language(language)
    root = Path(out_dir) / data.round_name
    documents = [
        Document(kind, community_id, language)
        for language in languages
        for kind, community_id in [*(("factsheet", c.id) for c in data.communities), ("synthesis", "")]
    ]

    def finished(document: Document, rendered: Rendered) -> None:
        if progress:
            pages = f": {rendered.pages} pages" if rendered.pages else ""
            progress(f"{document.name}{pages}")

    rendered_all = render_documents(documents, data, "pdf" in formats, workers, finished)
    written: list[OutputFile] = []
    for document, rendered in zip(documents, rendered_all, strict=True):
        stem = (
            root
            / document.language
            / (f"factsheet-{document.community_id}" if document.kind == "factsheet" else "synthesis")
        )
        if "html" in formats:
            path = _write(stem.with_suffix(".html"), rendered.html)
            written.append(OutputFile(document.kind, document.community_id, document.language, "html", path))
        if "pdf" in formats and rendered.pdf is not None:
            path = _write(stem.with_suffix(".pdf"), rendered.pdf)
            written.append(
                OutputFile(
                    document.kind, document.community_id, document.language, "pdf", path, rendered.pages
                )
            )
    if progress:
        progress("tables")
    for path in write_tables(data, root / "tables", languages, data.rank_probabilities):
        written.append(OutputFile("tables", "", "", path.suffix.lstrip("."), path))
    return written
