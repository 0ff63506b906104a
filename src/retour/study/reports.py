"""Report stage: a round's fact sheets, synthesis and tables from stored results (issue 9)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from retour.config import Project
from retour.errors import EstimationError, RetourError
from retour.study import INSTRUMENT_FILE, changed_inputs, stage_inputs_hash, stamp
from retour.study.needs import load_actor_register
from retour.study.rounds import baseline_round, change_base, refresh_comparison


def _report_catalogue(project: Project
                      ) -> tuple[list[dict[str, Any]], tuple[Any, ...], tuple[Any, ...], dict[str, Any]]:
    """What reports take from the catalogue: its indicators (choice shares expanded) as records, its
    groups and its fact-sheet blocks. A catalogue that cannot be checked against the questionnaire
    gives its indicators as written, no groups and no blocks."""
    from retour.registers import catalogue_indicators, read_toml

    path = project.path("indicators.toml")
    if not path.exists():
        return [], (), (), {}
    try:
        from retour.indicators import load_catalogue
        from retour.schema import load_instrument

        catalogue = load_catalogue(path, load_instrument(project.path(INSTRUMENT_FILE)))
        records = [{"id": i.id, "label_fr": i.label_fr, "label_en": i.label_en, "kind": i.kind,
                    "higher_is_better": i.higher_is_better, "pillar": i.pillar, "theme": i.theme,
                    "fiche_block": i.fiche_block, "short_label_fr": i.short_label_fr,
                    "short_label_en": i.short_label_en} for i in catalogue.indicators]
        return records, catalogue.groups, catalogue.fiche_blocks, dict(catalogue.themes)
    except (ImportError, OSError, RetourError):
        return list(catalogue_indicators(read_toml(path)).values()), (), (), {}


RESULT_STAGES = (("estimate", "estimates"), ("index", "index_scores"), ("needs", "needs"))  # in run order


@dataclass(frozen=True)
class ResultsRecord:
    """What a round's stored results were computed from, and whether they are still the study's.

    `stamp`: the stamp of the round's latest `estimate` run (its data and config hashes; today's when
    no run was recorded, as for results stored by hand). `rerun`: the stages to run again, in order,
    when the data or the settings changed after them (empty when current); `why`: what changed.
    """

    stamp: dict[str, str]
    rerun: tuple[str, ...] = ()
    why: str = ""

    def check(self, project: Project, round_name: str) -> None:
        """Refuse out-of-date results: an EstimationError naming the stages to run again."""
        if not self.rerun:
            return
        commands = ", then ".join(f"retour {name} {project.root} --round {round_name}" for name in self.rerun)
        raise EstimationError(f"The results of round '{round_name}' are out of date: {self.why}.",
                              f"Run again: {commands}.")


def results_record(project: Project, con: Any, round_name: str) -> ResultsRecord:
    """The round's `ResultsRecord`, from the runs the estimate, index and needs stages recorded.

    A stage is out of date when the settings files it reads (`STAGE_INPUTS`; all of them for a run
    recorded before) changed since its run, when its data hash is not the
    round's submissions' today (checked when the round has stored submissions), or when a stage it
    rests on ran after it; it and every later stage with stored results must run again.
    """
    from retour import store

    config_now = project.config_hash()
    counted = store.count_submissions(con, project.settings.design.community)
    held = int(counted.filter(counted["round"] == round_name)["respondents"].sum()) if counted.height else 0
    data_now = store.data_hash(con, round_name)
    runs = {stage: store.latest_run(con, stage, round_name) for stage, _ in RESULT_STAGES}
    stored = {stage: store.read_results(con, table, round_name).height > 0 for stage, table in RESULT_STAGES}
    estimate = runs["estimate"]
    run_stamp = stamp(project, data_now, round_name)
    if estimate is not None:
        run_stamp |= {"data_hash": str(estimate["data_hash"]), "config_hash": str(estimate["config_hash"])}
    latest_before, rested_on = 0, ""
    for position, (stage, _) in enumerate(RESULT_STAGES):
        run = runs[stage]
        if run is None or not stored[stage]:
            continue
        why = ""
        details = json.loads(str(run["details"] or "{}"))
        recorded = details.get("inputs_hash")
        inputs_then, inputs_now = ((recorded, stage_inputs_hash(project, stage)) if recorded
                                   else (run["config_hash"], config_now))
        if inputs_then != inputs_now:
            files = ", ".join(changed_inputs(project, stage, details)) if recorded else "settings files"
            why = (f"the study's {files} changed after `retour {stage}` ran (config "
                   f"{inputs_then}, now {inputs_now})")
        elif held and run["data_hash"] != data_now:
            why = (f"its submissions changed after `retour {stage}` ran (data {run['data_hash']}; the store "
                   f"now holds {held} submissions, data {data_now})")
        elif int(run["run_id"]) < latest_before:
            why = f"`retour {stage}` ran before the latest `retour {rested_on}`"
        if int(run["run_id"]) > latest_before:
            latest_before, rested_on = int(run["run_id"]), stage
        if why:
            later = [name for name, _ in RESULT_STAGES[position + 1:] if stored[name]]
            return ResultsRecord(run_stamp, (stage, *later), why)
    return ResultsRecord(run_stamp)


def report_data(project: Project, round_name: str, con: Any, with_changes: bool = True) -> Any:
    """The `ReportData` bundle of a round: stored results, catalogue and registers (nothing computed).

    The actors carry the analysts' dashboard edits, read through `con`. The change since baseline is
    the stored comparison of the baseline (the first survey round) with this round, unless
    `with_changes` is False. The stamp is that of the estimates (see `results_record`); results the
    data or settings have changed since are refused with the stages to run again."""
    import datetime as dt
    import json

    import polars as pl

    from retour import store
    from retour.report import ReportData, indicator_frame, load_communities

    estimates = store.read_results(con, "estimates", round_name)
    if estimates.height == 0:
        raise EstimationError(f"No estimates for round '{round_name}': there is nothing to report yet.",
                              f"Run `retour estimate {project.root} --round {round_name}` first.")
    record = results_record(project, con, round_name)
    record.check(project, round_name)
    specs = store.read_results(con, "index_specs", round_name)
    register = load_actor_register(project, con=con) if project.path("actors.yaml").exists() else None
    base = baseline_round(project) if with_changes else None

    def comparison(table: str) -> pl.DataFrame:
        if base is None or base == round_name:
            return pl.DataFrame()
        stored = store.read_results(con, table, round_name, key={"from_round": base})
        return stored.drop("round", strict=False)

    indicators, groups, fiche_blocks, themes = _report_catalogue(project)
    return ReportData(
        settings=project.settings,
        round_name=round_name,
        stamp=record.stamp,
        communities=load_communities(project.root, [lvl.id for lvl in project.settings.places.admin_levels]),
        indicators=indicator_frame(indicators),
        folder=project.root,
        groups=groups,
        fiche_blocks=fiche_blocks,
        themes=themes,
        estimates=estimates.drop("round"),
        gaps=store.read_results(con, "gaps", round_name).drop("round", strict=False),
        index_scores=store.read_results(con, "index_scores", round_name).drop("round", strict=False),
        rank_probabilities=store.read_results(con, "index_rank_probabilities", round_name)
        .drop("round", strict=False),
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
    the `OutputFile`s written. Results whose data or settings changed since the estimate, index or
    needs stage ran are refused first, with the stages to run again (see `results_record`). For a
    later survey round, the comparison with the baseline is run first when it is missing or stale (see
    `change_since_baseline`), so the change section is always today's. The store is only read while
    the documents are made (a read-only connection, closed before rendering) and written once at the
    end to record the run, so the dashboard stays usable meanwhile.
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
    _read_store(project, lambda con: results_record(project, con, round_name)).check(project, round_name)
    with_changes = change_since_baseline(project, round_name, progress, notify)
    data = _read_store(project, lambda con: report_data(project, round_name, con, with_changes=with_changes))
    written = write_outputs(data, project.output_dir, languages, formats, progress, workers)
    details = json.dumps({"files": len(written), "languages": list(languages), "formats": list(formats)})
    con = store.connect(project.store_path)
    try:
        store.record_run(con, "report", round_name, dict(data.stamp), details)
    finally:
        con.close()
    return written


def _read_store(project: Project, read: Callable[[Any], Any]) -> Any:
    """`read(con)` on a read-only connection to the study's store (created first if it does not exist)."""
    from retour import store

    if not project.store_path.exists():
        store.connect(project.store_path).close()
    con = store.open_read_only(project.store_path)
    try:
        return read(con)
    finally:
        con.close()


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
