"""The `retour` command line: parse arguments, call one library function, present its result.

Commands compute nothing themselves. Results go to stdout as a table, CSV or JSON (flat records with
stable snake_case keys); progress and warnings go to stderr. A `RetourError` becomes a one-line
`Error: ...` and exit code 1, in one place (`main`); `--debug` shows the traceback instead.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.console import Console
from rich.table import Table

from retour import __version__
from retour.errors import RetourError

app = typer.Typer(
    name="retour",
    help="Measure how returning migrants and their communities reintegrate.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)
_state = {"debug": False}


class OutputFormat(str, Enum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


StudyDir = Annotated[Path, typer.Argument(help="The study folder (made by `retour init`).", show_default=False)]
FormatOption = Annotated[OutputFormat, typer.Option("--format", "-f", help="How to print results.")]
RoundOption = Annotated[str, typer.Option("--round", "-r", help="Round name, as in retour.toml.")]


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 10)
    if isinstance(value, Enum):
        return value.value
    return value


def emit(records: Sequence[Mapping[str, Any]], output: OutputFormat, title: str | None = None,
         columns: Sequence[str] | None = None) -> None:
    """Print flat records to stdout as a rich table, CSV or JSON (the same keys in all three)."""
    keys = list(columns) if columns else (list(records[0].keys()) if records else [])
    rows = [{key: _cell(record.get(key)) for key in keys} for record in records]
    if output is OutputFormat.JSON:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=1, default=str) + "\n")
    elif output is OutputFormat.CSV:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        sys.stdout.write(buffer.getvalue())
    else:
        table = Table(title=title, show_lines=False, header_style="bold")
        for key in keys:
            table.add_column(key, overflow="fold")
        for row in rows:
            table.add_row(*["" if row[key] is None else _format_table_value(row[key]) for key in keys])
        stdout.print(table)


def _format_table_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def records_of(frame: Any) -> list[dict[str, Any]]:
    """Records of a polars frame (or an iterable of mappings) for `emit`."""
    if hasattr(frame, "to_dicts"):
        return frame.to_dicts()
    return [dict(row) for row in frame]


def warn(message: str) -> None:
    """A warning for the user, on stderr."""
    stderr.print(f"[yellow]Warning:[/yellow] {message}", highlight=False)


def info(message: str) -> None:
    """Progress or a summary line, on stderr."""
    stderr.print(message, highlight=False)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"retour {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show the full traceback on errors.")] = False,
) -> None:
    """Measure how returning migrants and their communities reintegrate.

    Example:
        retour demo
    """
    _state["debug"] = debug


@app.command("init")
def init_command(
    directory: Annotated[Path, typer.Argument(help="Folder to create the study in.", show_default=False)],
    template: Annotated[str, typer.Option("--template", "-t", help="Shipped example study to copy.")] = "mali-2018",
    force: Annotated[bool, typer.Option("--force", help="Write into a folder that is not empty.")] = False,
) -> None:
    """Create a study folder (settings, questionnaire, indicator catalogue, registers) from an example.

    Example:
        retour init my-study
        retour form my-study
    """
    from retour.study import init_study

    project = init_study(directory, template=template, force=force)
    info(f"Created study '{project.settings.study.id}' in {project.root}.")
    info(f"Next: retour form {directory}")


@app.command("form")
def form_command(
    directory: Annotated[Path, typer.Argument(help="The study folder (or a questionnaire .xlsx).",
                                              show_default=False)],
    output: FormatOption = OutputFormat.TABLE,
    validate: Annotated[bool, typer.Option("--validate/--no-validate",
                                           help="Run ODK Validate (needs Java).")] = True,
) -> None:
    """Check the questionnaire (XLSForm) with retour, pyxform and ODK Validate; write out/instrument.xml.

    Every problem is listed with its sheet, row and column. Exit code 1 when there is any error
    (warnings, such as a missing translation, do not stop the XForm from being written).

    Example:
        retour form my-study
        retour form my-study --format json
    """
    from retour.errors import SchemaError
    from retour.form import build_form

    check = build_form(directory, validate=validate)
    if check.problems:
        records = [{"severity": p.severity.value, "sheet": p.source, "row": p.row, "column": p.column,
                    "message": p.message, "hint": p.hint} for p in check.problems]
        emit(records, output, title=f"Questionnaire problems: {check.xlsform}",
             columns=["severity", "sheet", "row", "column", "message", "hint"])
    if not check.ok:
        raise SchemaError(f"{len(check.errors)} error(s) in {check.xlsform}; no XForm written.",
                          "Fix them in the workbook (sheet, row and column above) and run `retour form` again.")
    info(f"The questionnaire is valid. XForm written to {check.xform_path}")


def main(argv: Iterable[str] | None = None) -> None:
    """Entry point of the `retour` console script: the one place errors become `Error: ...`, exit 1."""
    command = typer.main.get_command(app)
    try:
        command.main(args=list(argv) if argv is not None else None, prog_name="retour", standalone_mode=False)
    except RetourError as error:
        if _state["debug"]:
            raise
        click.echo(f"Error: {error}", err=True)
        sys.exit(1)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
