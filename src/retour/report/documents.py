"""Build and render a round's documents (fact sheets, synthesis), one at a time or in worker processes.

A document is built in two steps: its context (numbers formatted, charts drawn to SVG) from the
`ReportData` bundle, then its HTML and, when asked, its PDF. Both steps are CPU-bound, so a batch can
be spread over worker processes: each worker receives the bundle once, then builds and renders the
documents it is given. Results come back in the order asked for.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context

from retour.report.change import change_context
from retour.report.context import page_context
from retour.report.data import ReportData
from retour.report.factsheet import factsheet_context
from retour.report.i18n import Formatter, check_language
from retour.report.render import Job, Rendered
from retour.report.synthesis import synthesis_context

FACTSHEET_PAGES = 2
MAX_WORKERS = 4


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


@dataclass(frozen=True)
class Document:
    """One document of a batch: a community's fact sheet (`community_id`) or the synthesis ('')."""

    kind: str
    community_id: str
    language: str

    @property
    def name(self) -> str:
        return f"{self.kind} {self.community_id} ({self.language})".replace("  ", " ")

    def render(self, data: ReportData, pdf: bool) -> Rendered:
        if self.kind == "factsheet":
            return render_factsheet(self.community_id, data, self.language, "pdf" if pdf else "html")
        return render_synthesis(data, self.language, "pdf" if pdf else "html")


def default_workers(documents: int) -> int:
    """Worker processes for a batch: one per two CPUs (at most MAX_WORKERS), never more than the documents.

    A worker costs several CPU-seconds to start (imports, fonts, the chart engine) and a fact sheet about
    one, so on two CPUs one process is as fast as two, and faster when the machine is busy.
    """
    return max(1, min((os.cpu_count() or 1) // 2, MAX_WORKERS, documents))


_BUNDLE: dict[str, ReportData] = {}


def _start_worker(data: ReportData) -> None:
    _BUNDLE["data"] = data


def _render_in_worker(document: Document, pdf: bool) -> Rendered:
    return document.render(_BUNDLE["data"], pdf)


def render_documents(
    documents: Sequence[Document],
    data: ReportData,
    pdf: bool,
    workers: int | None = 1,
    done: Callable[[Document, Rendered], None] | None = None,
) -> list[Rendered]:
    """Build and render every document (HTML, and PDF when `pdf`); results in the order given.

    `workers=1` works in this process; otherwise that many processes (None: `default_workers`, which
    is 1 on a two-CPU machine).
    Workers are started with `spawn` (the calling process runs vl-convert's threads, which a forked
    child must not inherit), which imports the calling script again: a script that asks for workers
    keeps its top-level code under `if __name__ == "__main__":`. `done` is called as each finishes.
    """
    count = default_workers(len(documents)) if workers is None else max(1, workers)
    results: dict[int, Rendered] = {}
    if count == 1 or len(documents) < 2:
        for number, document in enumerate(documents):
            results[number] = document.render(data, pdf)
            if done:
                done(document, results[number])
        return [results[n] for n in range(len(documents))]
    with ProcessPoolExecutor(
        max_workers=count, mp_context=get_context("spawn"), initializer=_start_worker, initargs=(data,)
    ) as pool:
        futures = {pool.submit(_render_in_worker, d, pdf): n for n, d in enumerate(documents)}
        for future in as_completed(futures):
            number = futures[future]
            results[number] = future.result()
            if done:
                done(documents[number], results[number])
    return [results[n] for n in range(len(documents))]
