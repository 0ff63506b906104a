"""The shared core of the `retour` command line: the app, output helpers, shared options, entry point.

Command modules register on `app`; `main` is the one place a `RetourError` becomes `Error: ...`, exit 1.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from retour import __version__
from retour.errors import RetourError
from retour.spreadsheet_safety import neutralise_records

app = typer.Typer(
    name="retour",
    help="Measure how returning migrants and their communities reintegrate.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
# Piped or redirected output (make demo | tee, CI logs) is not cut to 80 columns: tables keep ids whole.
stdout = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
stderr = Console(stderr=True, soft_wrap=True)
_state = {"debug": False}


class OutputFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


StudyDir = Annotated[Path, typer.Argument(help="The study folder (made by `retour init`).",
                                         show_default=False, metavar="DIR")]
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
        writer.writerows(neutralise_records(rows))  # opened in spreadsheets: no text runs as a formula
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


def info_synthetic(project: Any) -> None:
    """Say on stderr, in each of the study's languages, that its data are synthetic (not for real data)."""
    from retour.study import synthetic_notes

    notes = synthetic_notes(project)
    if notes:
        info(" / ".join(notes.values()) + ".")


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


def _only_community(frame: Any, community: str | None) -> Any:
    """Rows of one community (all rows when None); a ConfigError naming the known ones if it has none."""
    from retour.errors import ConfigError

    if community is None:
        return frame
    known = frame["community_id"].unique(maintain_order=True).to_list() if frame.height else []
    if community not in known:
        raise ConfigError(f"No results for community '{community}'.",
                          f"Communities with results: {', '.join(known) or 'none'}.")
    return frame.filter(frame["community_id"] == community)


# Commands in the order a study goes through them, for `retour --help` and docs/cli.md.
PIPELINE_ORDER = ("init", "demo", "check", "form", "synth", "ingest", "problems", "estimate", "index",
                  "needs", "actors", "score", "report", "compare", "serve", "users", "backup")


def _keep_examples(command: Any) -> None:
    """Stop the help formatter from re-wrapping `Example:` blocks (click's `\\b` marker), recursively."""
    if command.help and "\nExample:" in command.help and "\b\nExample:" not in command.help:
        command.help = command.help.replace("\nExample:", "\n\b\nExample:")
    for sub in getattr(command, "commands", {}).values():
        _keep_examples(sub)


def root_command() -> Any:
    """The click command tree of the `retour` app, as the console script and the docs use it."""
    command = typer.main.get_command(app)
    _keep_examples(command)
    order = {name: position for position, name in enumerate(PIPELINE_ORDER)}
    command.commands = dict(sorted(command.commands.items(), key=lambda item: order.get(item[0], len(order))))
    return command


def main(argv: Iterable[str] | None = None) -> None:
    """Entry point of the `retour` console script: the one place errors become `Error: ...`, exit 1."""
    command = root_command()
    try:
        code = command.main(args=list(argv) if argv is not None else None, prog_name="retour",
                            standalone_mode=False)
        if isinstance(code, int) and code:  # a command's `typer.Exit(1)` comes back as its exit code here
            sys.exit(code)
    except RetourError as error:
        if _state["debug"]:
            raise
        typer.echo(f"Error: {error}", err=True)
        sys.exit(1)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        typer.echo("Aborted.", err=True)
        sys.exit(1)
    except typer.TyperException as error:  # usage errors and bad parameters (typer's bundled click)
        show = getattr(error, "show", None)
        if show is not None:
            show()
        else:
            typer.echo(f"Error: {error}", err=True)
        sys.exit(getattr(error, "exit_code", 2))
    except KeyboardInterrupt:
        typer.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception as error:  # a damaged store found by a query rather than at opening (issue 22)
        from retour.store import damage_error

        damaged = damage_error(error)
        if damaged is None or _state["debug"]:
            raise
        typer.echo(f"Error: {damaged}", err=True)
        sys.exit(1)
