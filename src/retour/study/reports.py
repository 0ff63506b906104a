"""Report stage: a round's fact sheets, synthesis and tables from stored results (issue 9)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from retour.config import Project
from retour.errors import RetourError
from retour.study import INSTRUMENT_FILE, stamp
from retour.study.needs import load_actor_register


def _report_indicators(project: Project) -> list[dict[str, Any]]:
    """Catalogue entries the reports label and colour indicators with (choice shares expanded)."""
    from retour.registers import catalogue_indicators, read_toml

    path = project.path("indicators.toml")
    if not path.exists():
        return []
    try:
        from retour.indicators import load_catalogue
        from retour.schema import load_instrument

        catalogue = load_catalogue(path, load_instrument(project.path(INSTRUMENT_FILE)))
        return [{"id": i.id, "label_fr": i.label_fr, "label_en": i.label_en, "kind": i.kind,
                 "higher_is_better": i.higher_is_better, "pillar": i.pillar, "theme": i.theme,
                 "fiche_block": i.fiche_block} for i in catalogue.indicators]
    except (ImportError, OSError, RetourError):
        return list(catalogue_indicators(read_toml(path)).values())


def report_data(project: Project, round_name: str, con: Any) -> Any:
    """The `ReportData` bundle of a round: stored results, catalogue and registers (nothing computed).

    The actors carry the analysts' dashboard edits, read through `con`."""
    import datetime as dt
    import json

    from retour import store
    from retour.errors import EstimationError
    from retour.report import ReportData, indicator_frame, load_communities

    estimates = store.read_results(con, "estimates", round_name)
    if estimates.height == 0:
        raise EstimationError(f"No estimates for round '{round_name}': there is nothing to report yet.",
                              f"Run `retour estimate {project.root} --round {round_name}` first.")
    specs = store.read_results(con, "index_specs", round_name)
    register = load_actor_register(project, con=con) if project.path("actors.yaml").exists() else None
    return ReportData(
        settings=project.settings,
        round_name=round_name,
        stamp=stamp(project, store.data_hash(con, round_name), round_name),
        communities=load_communities(project.root),
        indicators=indicator_frame(_report_indicators(project)),
        estimates=estimates.drop("round"),
        gaps=store.read_results(con, "gaps", round_name).drop("round", strict=False),
        index_scores=store.read_results(con, "index_scores", round_name).drop("round", strict=False),
        index_spec=json.loads(specs["spec"][0]) if specs.height and "spec" in specs.columns else {},
        needs=store.read_results(con, "needs", round_name).drop("round", strict=False),
        actors=register.actors if register else (),
        recommendations=register.recommendations if register else (),
        generated_on=dt.date.today(),
        changes=store.read_results(con, "changes", round_name).drop("round", strict=False),
        score_changes=store.read_results(con, "score_changes", round_name).drop("round", strict=False),
        need_changes=store.read_results(con, "need_changes", round_name).drop("round", strict=False),
    )


def write_report(project: Project, round_name: str | None = None, languages: tuple[str, ...] = ("fr", "en"),
                 formats: tuple[str, ...] = ("html", "pdf"),
                 progress: Callable[[str], None] | None = None, workers: int | None = None) -> list[Any]:
    """Write a round's fact sheets, synthesis and tables to `out/<round>/` and record a `report` run.

    Reads stored results only (estimates, gaps, index scores, needs) and the study's registers; returns
    the `OutputFile`s written. `progress(message)` is called as each document is finished. Documents
    are made by `workers` processes (None: one per two CPUs, at most 4; 1: in this process); see
    `retour.report.render_documents` for the `if __name__ == "__main__":` guard scripts then need.
    """
    import json

    from retour import store
    from retour.report import write_outputs

    round_name = round_name or project.settings.index.reference_round
    project.settings.round(round_name)
    con = store.connect(project.store_path)
    try:
        data = report_data(project, round_name, con)
        written = write_outputs(data, project.output_dir, languages, formats, progress, workers)
        details = json.dumps({"files": len(written), "languages": list(languages), "formats": list(formats)})
        store.record_run(con, "report", round_name, dict(data.stamp), details)
    finally:
        con.close()
    return written
