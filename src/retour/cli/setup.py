"""Commands that start a study: `retour init`, `retour demo` and `retour form`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from retour.cli.common import FormatOption, OutputFormat, app, emit, info, info_synthetic, records_of, stderr


def _default_example() -> str:
    """The example `init` copies unless told otherwise (examples/DEFAULT), read without the study layer."""
    from importlib import resources

    return (resources.files("retour") / "examples" / "DEFAULT").read_text(encoding="utf-8").strip()


def _shipped_examples() -> str:
    """The shipped example studies, for --example's help. Read from the package folder as
    `retour.study.example_names` does, so that `retour --help` need not import the study layer."""
    from importlib import resources

    folder = resources.files("retour") / "examples"
    return ", ".join(sorted(path.name for path in folder.iterdir() if path.joinpath("retour.toml").is_file()))


@app.command("init")
def init_command(
    directory: Annotated[Path, typer.Argument(help="Folder to create the study in.", show_default=False)],
    template: Annotated[str | None, typer.Option(
        "--example", "--template", "-t", metavar="NAME",
        help=f"Shipped example study to copy: {_shipped_examples()} (default {_default_example()}).")] = None,
    blank: Annotated[bool, typer.Option("--blank", help="Write a blank study instead: every settings file "
                                                        "with its keys explained in comments, no "
                                                        "questionnaire.")] = False,
    from_form: Annotated[Path | None, typer.Option(
        "--from-form", metavar="FORM.xlsx", show_default=False,
        help="Draft the study from your questionnaire (XLSForm): copy it as instrument.xlsx, guess the "
             "design fields, propose one commented-out indicator per select and number question and list "
             "the communities of the community question.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Write into a folder that is not empty: add the "
                                                        "example's files that are missing and leave every "
                                                        "existing file as it is.")] = False,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Like --force, but replace existing files with the example's: files you edited "
                            "(retour.toml, indicators.toml, ...) are replaced and your edits lost.")] = False,
) -> None:
    """Create a study folder (settings, questionnaire, indicator catalogue, registers) from an example,
    from your questionnaire (--from-form) or blank (--blank).

    The store and out/ of a folder that is already a study are never touched; files already in data/
    are kept. With --from-form, each design field guessed from the questionnaire is marked
    `# guessed from FIELD (TYPE)` in retour.toml, and one it could not guess `# set me`.

    Example:
        retour init my-study
        retour form my-study
        retour init my-study --example senegal-2025
        retour init my-study --from-form my-form.xlsx
        retour init my-study --blank
        retour init my-study --force
    """
    from retour.study import create_blank_study, create_study, create_study_from_form

    if sum((blank, from_form is not None, template is not None)) > 1:
        raise typer.BadParameter("give only one of --example, --blank and --from-form.")
    if blank:
        made = create_blank_study(directory, force=force, overwrite=overwrite)
    elif from_form is not None:
        made = create_study_from_form(directory, from_form, force=force, overwrite=overwrite)
    else:
        example = template or _default_example()
        made = create_study(directory, template=example, force=force, overwrite=overwrite)
    root = made.project.root
    origin, theirs = ("the example", "the example's") if not (blank or from_form) else (
        "a new study", "those of a new study")
    if not made.kept:
        info(f"Created study '{made.project.settings.study.id}' in {root}.")
    else:
        names = ", ".join(path.relative_to(directory).as_posix() for path in made.written) or "none"
        info(f"Added {len(made.written)} file(s) of {origin} to {root}: {names}.")
        kept = ", ".join(path.relative_to(directory).as_posix() for path in made.kept)
        info(f"Left alone {len(made.kept)} existing file(s): {kept}. "
             f"Pass --overwrite to replace them with {theirs}.")
    from rich.markup import escape

    for line in _next_steps(directory, blank, from_form is not None):
        info(escape(line))  # the lines name [design]: not rich markup


def _next_steps(directory: Path, blank: bool, from_form: bool) -> list[str]:
    """What to do after `retour init`, in order."""
    if blank:
        return [f"Next: copy your questionnaire (XLSForm) to {directory / 'instrument.xlsx'}, set the "
                f"[design] fields of {directory / 'retour.toml'} to its field names, then run "
                f"`retour form {directory}`.",
                f"Or start again from the questionnaire: retour init {directory} --from-form FORM.xlsx "
                "--overwrite"]
    if from_form:
        return [f"Next: check the [design] lines of {directory / 'retour.toml'} (`# set me` where nothing "
                f"was guessed), keep and complete candidates in {directory / 'indicators.toml'} (at least "
                "one per pillar), then:",
                f"  retour form {directory}",
                f"  retour synth {directory} --rows 300"]
    return [f"Next: retour form {directory}"]


@app.command("form")
def form_command(
    directory: Annotated[Path, typer.Argument(help="The study folder (or a questionnaire .xlsx).",
                                              show_default=False)],
    output: FormatOption = OutputFormat.TABLE,
    validate: Annotated[bool, typer.Option("--validate/--no-validate",
                                           help="Run ODK Validate (needs Java).")] = True,
    monitoring: Annotated[bool, typer.Option(
        "--monitoring", help="Write the short monitoring form for case managers (out/monitoring.xlsx: only "
                             "what the individual score needs) and check it instead.")] = False,
) -> None:
    """Check the questionnaire (XLSForm) with retour, pyxform and ODK Validate; write out/instrument.xml.

    Every problem is listed with its sheet, row and column. Exit code 1 when there is any error
    (warnings, such as a missing translation, do not stop the XForm from being written). With
    --monitoring, the short form for follow-up visits (3, 6 and 12 months after return) is derived from
    the questionnaire, the indicator catalogue and the score weights, then checked the same way; it
    asks the interview date and consent only when scoring.interview_date_field and
    scoring.consent_field name them.

    Example:
        retour form my-study
        retour form my-study --format json
        retour form my-study --monitoring
    """
    from retour.errors import SchemaError
    from retour.form import build_form

    if monitoring:
        from retour.config import load_project
        from retour.study import write_monitoring_form

        check = write_monitoring_form(load_project(directory), validate=validate)
    else:
        check = build_form(directory, validate=validate)
    if check.problems or output is not OutputFormat.TABLE:  # CSV and JSON: a header or [] when none
        records = [{"severity": p.severity.value, "sheet": p.source, "row": p.row, "column": p.column,
                    "message": p.message, "hint": p.hint} for p in check.problems]
        emit(records, output, title=f"Questionnaire problems: {check.xlsform}",
             columns=["severity", "sheet", "row", "column", "message", "hint"])
    if not check.ok:
        raise SchemaError(f"{len(check.errors)} error(s) in {check.xlsform}; no XForm written.",
                          "Fix them in the workbook (see sheet, row, column), then run `retour form` again.")
    if monitoring:
        info(f"Monitoring form written to {check.xlsform}; it is valid. XForm written to {check.xform_path}")
        return
    info(f"The questionnaire is valid. XForm written to {check.xform_path}")


@app.command("demo")
def demo_command(
    study_dir: Annotated[Path, typer.Argument(help="Folder for the example study (created if missing).")
                         ] = Path("demo-study"),
    lang: Annotated[str, typer.Option("--lang", help="Report language: fr, en or all.")] = "all",
    output_format: Annotated[str, typer.Option("--report-format", help="Report format: html, pdf or all.")
                             ] = "all",
    output: FormatOption = OutputFormat.TABLE,
) -> None:
    """Run the whole pipeline on the default example study and print its Tableau 1.

    Creates the study folder if needed, generates the synthetic baseline (calibrated to the 2018 study's
    published figures), ingests it, estimates every indicator, builds the index, classifies needs and
    writes fact sheets, the synthesis and tables to DIR/out/.

    Example:
        retour demo demo-study
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from retour.demo import run_demo

    languages = ("fr", "en") if lang == "all" else (lang,)
    formats = ("html", "pdf") if output_format == "all" else (output_format,)
    if set(languages) - {"fr", "en"}:
        raise typer.BadParameter("use fr, en or all.", param_hint="--lang")
    if set(formats) - {"html", "pdf"}:
        raise typer.BadParameter("use html, pdf or all.", param_hint="--report-format")
    columns = (TextColumn("{task.description:<10}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=stderr, transient=True) as bar:
        task = bar.add_task("demo", total=1.0)
        run = run_demo(study_dir, languages, formats,
                       progress=lambda stage, share: bar.update(task, completed=share, description=stage))
    emit(records_of(run.tableau_1), output, title="Tableau 1")
    timing = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in run.seconds.items())
    info(f"{run.rows_ingested} respondents; {len(run.outputs)} files in {run.output_dir} ({timing}).")
    from retour.config import load_project

    info_synthetic(load_project(study_dir))
