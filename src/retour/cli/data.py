"""Commands that bring survey data into a study: `retour synth`, `retour ingest`, `retour problems`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from retour.cli.common import (
    FormatOption,
    OutputFormat,
    RoundOption,
    StudyDir,
    app,
    emit,
    info,
    records_of,
    stderr,
    warn,
)


@app.command("synth")
def synth_command(
    study: StudyDir,
    round_name: RoundOption = "baseline",
    rows: Annotated[int | None, typer.Option(
        "--rows", min=1, help="Respondents to draw from the questionnaire (default 200). A study whose "
                              "generator sets its own sample size refuses it.", show_default=False)] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random generator: the same seed gives the "
                                                     "same files, byte for byte.")] = 20180305,
    layout: Annotated[str, typer.Option(
        "--layout", metavar="kobo|odk", help="Layout of the export: kobo (XLSX and CSV, `group/question` "
                                             "headers, one 0/1 column per choice) or odk (ODK Central CSV, "
                                             "`group-question` headers).")] = "kobo",
    shift: Annotated[Path | None, typer.Option(
        "--shift", help="Study generator only: stated changes for a later round, per community and "
                        "indicator, and the programme's effect on beneficiaries (e.g. shifts_midterm.toml).",
        show_default=False)] = None,
    panel: Annotated[bool, typer.Option("--panel", help="Study generator only: re-interview the baseline "
                                                        "respondents (same case_id) instead of a fresh "
                                                        "sample.")] = False,
    check: Annotated[bool, typer.Option(
        "--check", help="Write nothing: say whether the exports in data/ are what this seed gives and, with "
                        "a study generator, print its calibration targets with the value this seed achieves "
                        "and the gap; exit 1 if a target is missed.")] = False,
    output: FormatOption = OutputFormat.TABLE,
) -> None:
    """Generate synthetic survey data and write it into the study's data/ folder as an export (named
    *-synthetic), ready for `retour ingest`.

    Without a generator of its own ([synth] generator in retour.toml), the data are drawn from the
    questionnaire alone: every choice list, constraint, relevance and required field is respected, design
    fields are filled from [design] and communities.yaml, identifying fields get made-up values, and the
    export ingests without a blocking problem. A study generator (the example's) calibrates the data to
    published figures; a later round then moves every community value by the changes stated in --shift.
    With --check the data are generated in memory only: the files in data/ are left as they are.

    Example:
        retour synth my-study --round baseline --rows 300 --seed 1
        retour synth my-study --layout odk
        retour synth my-study --check
        retour synth my-study --round midterm --shift my-study/shifts_midterm.toml --panel
    """
    from retour.config import load_project
    from retour.study import synthesise

    project = load_project(study)
    if layout not in ("kobo", "odk"):
        raise typer.BadParameter("use kobo or odk.", param_hint="--layout")
    run = synthesise(project, round_name, seed, shift=shift, panel=panel, check=check, write=not check,
                     rows=rows, layout=layout)
    for path in run.paths:
        info(f"Wrote / écrit : {path}")
    info(f"{run.respondents} respondents / répondants, round {run.round_name}, seed {run.seed}. {run.note}.")
    if not check:
        return
    _say_existing(run.existing, seed)
    if not run.checks:
        return
    emit([row.as_record() for row in run.checks], output, title="Calibration targets / cibles de calibrage")
    if run.missed:
        warn(f"{run.missed} target(s) missed / cible(s) manquée(s).")
        raise typer.Exit(1)
    info(f"All {len(run.checks)} targets met / toutes les cibles sont atteintes.")


def _say_existing(existing: tuple[tuple[Path, bool], ...], seed: int) -> None:
    """Whether the exports already in data/ are what the seed gives (a run that wrote nothing)."""
    info("Checked in memory, no file written / vérifié en mémoire, aucun fichier écrit.")
    for path, same in existing:
        if same:
            info(f"{path}: what seed {seed} gives / ce que donne la graine {seed}.")
        else:
            warn(f"{path} is not what seed {seed} gives (another seed, or edited) / n'est pas ce que donne "
                 f"la graine {seed} (autre graine, ou fichier modifié).")
    if not existing:
        info("No export of this round in data/ yet: run without --check to write it / pas encore d'export de "
             "ce tour dans data/ : relancez sans --check pour l'écrire.")


_PROBLEM_COLUMNS = ["round", "file", "row", "uuid", "column", "value", "code", "severity", "message", "hint"]
_PROGRESS_FROM_BYTES = 1_000_000  # show a progress bar for exports larger than this


@app.command("ingest")
def ingest_command(
    study: StudyDir,
    export: Annotated[Path, typer.Argument(help="The Kobo or ODK Central export: CSV or XLSX.",
                                           show_default=False)],
    round_name: Annotated[str, typer.Option("--round", "-r", show_default=False,
                                            help="Round the data belong to, as in retour.toml.")],
    reader: Annotated[str | None, typer.Option(
        "--reader", help="Read the file with this reader instead of guessing: kobo_csv, odk_csv, kobo_xlsx.")
    ] = None,
    output: FormatOption = OutputFormat.TABLE,
) -> None:
    """Read a survey export, check every row against the questionnaire, store the good rows and put
    the others in quarantine with their reasons.

    Headers may be field names or labels (French or English), with group prefixes; select_multiple
    answers may be one column or one 0/1 column per choice. Names, phone numbers and exact GPS points
    marked in the questionnaire are dropped, hashed or coarsened before anything is stored. Ingesting
    the same file again changes nothing; a corrected row ingested again leaves quarantine.

    Example:
        retour ingest my-study kobo-export.csv --round baseline
        retour problems my-study --csv
    """
    from rich.progress import Progress

    from retour.config import load_project
    from retour.study import ingest_export

    project = load_project(study)
    large = export.is_file() and export.stat().st_size > _PROGRESS_FROM_BYTES
    with Progress(console=stderr, transient=True, disable=not large) as bar:
        task = bar.add_task("Ingest", total=1.0)
        summary = ingest_export(project, export, round_name, reader=reader,
                                progress=lambda step, share: bar.update(task, completed=share,
                                                                        description=f"Ingest: {step}"))
    if summary.already_ingested:
        info(f"{summary.file_name} was already ingested into round '{round_name}' "
             f"(batch {summary.batch_id}): nothing changed.")
    if output is OutputFormat.TABLE:
        emit(summary.records(), output, title=f"{summary.file_name} -> {round_name}",
             columns=["item", "count"])
    else:
        emit(summary.data_records(), output, columns=["item", "code", "severity", "count"])
    if summary.quarantined and not summary.already_ingested:
        info(f"{summary.quarantined} row(s) in quarantine: see `retour problems {study}`.")


_CLEANING_LOG = "cleaning-log.csv"


@app.command("problems")
def problems_command(
    study: StudyDir,
    round_name: Annotated[str | None, typer.Option("--round", "-r", help="Only this round.")] = None,
    output: FormatOption = OutputFormat.TABLE,
    cleaning_log: Annotated[bool, typer.Option(
        "--csv", help=f"Write a cleaning log (with an empty 'correction' column) to {_CLEANING_LOG} in "
                      "the study's output folder, or to the file given with --output.")] = False,
    log_file: Annotated[Path | None, typer.Option(
        "--output", "-o", metavar="FILE", help="With --csv: the file to write the cleaning log to.")
    ] = None,
    language: Annotated[str | None, typer.Option(
        "--language", "-l", metavar="fr|en", show_default=False,
        help="Language of the messages and hints (default: the study's first language).")] = None,
) -> None:
    """List the open problems found by `retour ingest`: file, row, submission id, column, value,
    what is wrong and how to fix it.

    With --csv the list is written as a cleaning log a field supervisor can work from. Problems of a
    row close when a corrected export is ingested again.

    Example:
        retour problems my-study
        retour problems my-study --round baseline --format csv
        retour problems my-study --csv
        retour problems my-study --csv --output supervisor-north.csv --language en
    """
    from retour.config import load_project
    from retour.study import list_problems, write_cleaning_log

    project = load_project(study)
    if language is not None and language not in ("fr", "en"):
        raise typer.BadParameter("use fr or en.", param_hint="--language")
    if log_file is not None and not cleaning_log:
        raise typer.BadParameter("--output goes with --csv (the cleaning log).", param_hint="--output")
    if cleaning_log:
        csv_file = log_file or project.output_dir / _CLEANING_LOG
        csv_file.parent.mkdir(parents=True, exist_ok=True)
        count = write_cleaning_log(project, csv_file, round_name, language)
        info(f"Wrote {count} problem(s) to {csv_file}.")
        return
    problems = list_problems(project, round_name, language)
    if output is OutputFormat.CSV:  # a CSV may be opened in Excel: no answer runs as a formula (issue 22)
        from retour.spreadsheet_safety import neutralise_frame

        problems = neutralise_frame(problems)
    emit(records_of(problems), output, title=f"Open problems ({problems.height})", columns=_PROBLEM_COLUMNS)


@app.command("backup")
def backup_command(
    study: StudyDir,
    restore: Annotated[bool, typer.Option(
        "--restore", help="Put a kept copy back as the store instead of taking one: the newest, or FILE. "
                          "The copy must read to the end; the store it replaces is moved aside "
                          "(retour.duckdb.replaced-<time>), not deleted.")] = False,
    copy: Annotated[Path | None, typer.Argument(
        help="With --restore: the copy to restore (a file of backups/, by name or path).",
        show_default=False, metavar="[FILE]")] = None,
) -> None:
    """Take a copy of the study's store into DIR/backups/, or put one back with --restore.

    retour also takes a copy by itself before each ingest and each migration of the store, and keeps
    the newest ([store] backups_kept in retour.toml, 3 by default). A copy reads the whole store, so a
    damaged store is reported rather than copied.

    Example:
        retour backup my-study
        retour backup my-study --restore
        retour backup my-study --restore retour-20250301T101500.000000Z.duckdb
    """
    from retour.config import load_project
    from retour.store_backup import back_up
    from retour.store_backup import restore as restore_copy

    project = load_project(study)
    if copy is not None and not restore:
        raise typer.BadParameter("a FILE goes with --restore.", param_hint="FILE")
    if restore:
        restored = restore_copy(project.store_path, copy)
        info(f"Restored {restored} as {project.store_path}.")
        return
    taken = back_up(project.store_path, project.settings.store.backups_kept)
    info(f"Copied {project.store_path} to {taken}.")
