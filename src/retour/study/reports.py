"""Report stage: a round's fact sheets, synthesis and tables from stored results (issue 9)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from retour.config import Project
from retour.errors import RetourError
from retour.study import INSTRUMENT_FILE, stamp
from retour.study.needs import load_actor_register
from retour.study.rounds import baseline_round, change_base, refresh_comparison


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


def report_data(project: Project, round_name: str, con: Any, with_changes: bool = True) -> Any:
    """The `ReportData` bundle of a round: stored results, catalogue and registers (nothing computed).

    The actors carry the analysts' dashboard edits, read through `con`. The change since baseline is
    the stored comparison of the baseline (the first survey round) with this round, unless
    `with_changes` is False."""
    import datetime as dt
    import json

    import polars as pl

    from retour import store
    from retour.errors import EstimationError
    from retour.report import ReportData, indicator_frame, load_communities

    estimates = store.read_results(con, "estimates", round_name)
    if estimates.height == 0:
        raise EstimationError(f"No estimates for round '{round_name}': there is nothing to report yet.",
                              f"Run `retour estimate {project.root} --round {round_name}` first.")
    specs = store.read_results(con, "index_specs", round_name)
    register = load_actor_register(project, con=con) if project.path("actors.yaml").exists() else None
    base = baseline_round(project) if with_changes else None

    def comparison(table: str) -> pl.DataFrame:
        if base is None or base == round_name:
            return pl.DataFrame()
        stored = store.read_results(con, table, round_name, key={"from_round": base})
        return stored.drop("round", strict=False)

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
        changes=comparison("changes"),
        score_changes=comparison("score_changes"),
        need_changes=comparison("need_changes"),
    )


def write_report(project: Project, round_name: str | None = None, languages: tuple[str, ...] = ("fr", "en"),
                 formats: tuple[str, ...] = ("html", "pdf"),
                 progress: Callable[[str], None] | None = None, workers: int | None = None,
                 notify: Callable[[str], None] | None = None) -> list[Any]:
    """Write a round's fact sheets, synthesis and tables to `out/<round>/` and record a `report` run.

    Reads stored results (estimates, gaps, index scores, needs) and the study's registers; returns
    the `OutputFile`s written. For a later survey round, the comparison with the baseline is run first
    when it is missing or stale (see `change_since_baseline`), so the change section is always today's.
    `progress(message)` is called as each document is finished; `notify(line)` is told what was done
    besides (the comparison). Documents are made by `workers` processes (None: one per two CPUs, at
    most 4; 1: in this process); see `retour.report.render_documents` for the
    `if __name__ == "__main__":` guard scripts then need.
    """
    import json

    from retour import store
    from retour.report import write_outputs

    round_name = round_name or project.settings.index.reference_round
    project.settings.round(round_name)
    with_changes = change_since_baseline(project, round_name, progress, notify)
    con = store.connect(project.store_path)
    try:
        data = report_data(project, round_name, con, with_changes=with_changes)
        written = write_outputs(data, project.output_dir, languages, formats, progress, workers)
        details = json.dumps({"files": len(written), "languages": list(languages), "formats": list(formats)})
        store.record_run(con, "report", round_name, dict(data.stamp), details)
    finally:
        con.close()
    return written


def change_since_baseline(project: Project, round_name: str, progress: Callable[[str], None] | None = None,
                          notify: Callable[[str], None] | None = None) -> bool:
    """Make sure a later round's stored comparison with the baseline is today's; False when the report
    must leave the change section out because the comparison failed (`notify` is told why).

    Nothing is done for the baseline itself, a monitoring round, or rounds without stored submissions.
    """
    from retour import store

    con = store.connect(project.store_path)
    try:
        base = change_base(project, con, round_name)
    finally:
        con.close()
    if base is None:
        return True
    say = notify or (lambda _line: None)
    if progress is not None:
        progress(f"compare {base} -> {round_name}")
    try:
        state = refresh_comparison(project, base, round_name)
    except RetourError as error:
        say(f"Évolution depuis {base} omise / change since {base} left out: {error}")
        return False
    if state != "current":
        why = {"missing": ("absente", "none stored"), "stale": ("données ou réglages modifiés",
                                                                 "data or settings changed")}[state]
        say(f"Comparaison {base} -> {round_name} recalculée ({why[0]}) / "
            f"{base} -> {round_name} compared first ({why[1]}).")
    return True
