"""`retour check`: list every problem of a study's settings files at once."""

from __future__ import annotations

import typer

from retour.cli.common import FormatOption, OutputFormat, StudyDir, app, emit, info

_COLUMNS = ("file", "line", "field", "message", "hint")


@app.command("check")
def check_command(study: StudyDir, output: FormatOption = OutputFormat.TABLE) -> None:
    """Check every settings file of a study and the references between them, and list all problems.

    Reads retour.toml, the questionnaire, indicators.toml, index.toml, needs.toml, the registers
    (communities, actors, value chains, recommendations) and the score weights; each problem comes with
    its file, line, field and how to fix it. Exits with 1 when there is any problem. Every other command
    runs the checks of the files it reads before it starts.

    Example:
        retour check my-study
        retour check my-study --format csv > problems.csv
    """
    from retour.study.check import check_study, checked_files

    problems = check_study(study)
    files = checked_files(study)
    if not problems:
        info(f"No problems found in {len(files)} files.")
        return
    emit([problem.as_record() for problem in problems], output, title=f"Problems ({len(problems)})",
         columns=_COLUMNS)
    in_files = len({problem.file for problem in problems})
    info(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {in_files} "
         f"file{'s' if in_files != 1 else ''} of {len(files)} checked.")
    raise typer.Exit(1)
