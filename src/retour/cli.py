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
from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated, Any

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


StudyDir = Annotated[Path, typer.Argument(help="The study folder (made by `retour init`).", show_default=False,
                                         metavar="DIR")]
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
    template: Annotated[str, typer.Option("--template", "-t",
                                          help="Shipped example study to copy.")] = "mali-2018",
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
    monitoring: Annotated[bool, typer.Option(
        "--monitoring", help="Write the short monitoring form for case managers (out/monitoring.xlsx: only "
                             "what the individual score needs) and check it instead.")] = False,
) -> None:
    """Check the questionnaire (XLSForm) with retour, pyxform and ODK Validate; write out/instrument.xml.

    Every problem is listed with its sheet, row and column. Exit code 1 when there is any error
    (warnings, such as a missing translation, do not stop the XForm from being written). With
    --monitoring, the short form for follow-up visits (3, 6 and 12 months after return) is derived from
    the questionnaire, the indicator catalogue and the score weights, then checked the same way.

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
    if check.problems:
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


_NEEDS_COLUMNS = ["community_id", "issue_id", "level", "basis", "computed_level", "overridden", "rule",
                  "evidence", "override_by", "override_why", "override_at"]


@app.command("needs")
def needs_command(
    study: StudyDir,
    round_name: RoundOption = "baseline",
    output: FormatOption = OutputFormat.TABLE,
    community: Annotated[str | None, typer.Option("--community", "-c",
                                                  help="Show one community only.")] = None,
    matrix: Annotated[bool, typer.Option("--matrix", help="Issues x communities, one level per cell "
                                                          "(* marks an override).")] = False,
    language: Annotated[str, typer.Option("--language", "-l",
                                          help="Language of rules and evidence: fr or en.")] = "en",
    set_cell: Annotated[tuple[str, str, str] | None, typer.Option(
        "--set", metavar="COMMUNITY ISSUE LEVEL",
        help="Override one cell: level priority, important, outside_reach or none.")] = None,
    why: Annotated[str, typer.Option("--why", help="Why the override is needed (required with --set).")] = "",
    by: Annotated[str | None, typer.Option("--by", help="Who sets the override (default: your user name).")
                  ] = None,
) -> None:
    """Needs matrix: for each community and issue a level (priority, important, outside direct reach)
    with the rule and the figures behind it.

    Levels come from the rules in needs.toml over the round's estimates and index scores, from the
    analyst assessments recorded there, and from overrides set with --set, which are kept (who, when,
    why) and survive every recomputation. Results are stored per round.

    Example:
        retour needs my-study
        retour needs my-study --matrix
        retour needs my-study --set kayes water priority --why "Boreholes failed since the survey"
    """
    from retour.config import load_project
    from retour.needs import summary
    from retour.study import compute_needs, set_need_override

    project = load_project(study)
    if language not in ("fr", "en"):
        raise typer.BadParameter("use fr or en.", param_hint="--language")
    if set_cell is not None:
        community_id, issue_id, level = set_cell
        result = set_need_override(project, round_name, community_id, issue_id, level, why, by)
        info(f"Override recorded: {community_id} / {issue_id} = {level}.")
    else:
        result = compute_needs(project, round_name)
    result = _only_community(result, community)
    if matrix:
        emit(records_of(summary(result)), output, title=f"Needs ({round_name})")
        return
    if language == "fr":
        result = result.with_columns(result["rule_fr"].alias("rule"), result["evidence_fr"].alias("evidence"))
    columns = _NEEDS_COLUMNS if output is not OutputFormat.TABLE else [
        "community_id", "issue_id", "level", "basis", "overridden", "evidence"]
    emit(records_of(result), output, title=f"Needs ({round_name})", columns=columns)


@app.command("actors")
def actors_command(
    study: StudyDir,
    output: FormatOption = OutputFormat.TABLE,
    community: Annotated[str | None, typer.Option("--community", "-c", help="One community only.")] = None,
    dimension: Annotated[str | None, typer.Option(
        "--dimension", "-d", help="Actors supporting one dimension: economic, social, psychosocial, c4d.")
    ] = None,
    national: Annotated[bool, typer.Option("--national", help="Also list national partners.")] = False,
    gaps: Annotated[bool, typer.Option("--gaps", help="Per community, each priority need with the actors "
                                                      "who can address it, and the needs none covers.")
                    ] = False,
    important: Annotated[bool, typer.Option("--important", help="With --gaps: include important needs.")
                         ] = False,
    chains: Annotated[bool, typer.Option("--chains", help="Value chains and the communities each concerns.")
                      ] = False,
    round_name: RoundOption = "baseline",
    language: Annotated[str, typer.Option("--language", "-l",
                                          help="Language of strengths and weaknesses: fr or en.")] = "en",
) -> None:
    """Actor map: who works where, on which dimensions (Eco, Soc, Psycho, C4D), with strengths and
    weaknesses; or the gaps between needs and actors; or the value chains.

    Contacts in actors.yaml are never printed.

    Example:
        retour actors my-study --community kayes
        retour actors my-study --gaps
        retour actors my-study --chains
    """
    from retour.config import load_project
    from retour.study import actor_gaps, list_actors, list_value_chains

    project = load_project(study)
    if language not in ("fr", "en"):
        raise typer.BadParameter("use fr or en.", param_hint="--language")
    if chains:
        emit(records_of(list_value_chains(project)), output, title="Value chains",
             columns=["chain_id", "label_en", "label_fr", "communities", "communities_uncertain", "partners"])
        return
    if gaps:
        result = actor_gaps(project, round_name, include_important=important)
        if community is not None and result.height:
            result = result.filter(result["community_id"] == community)
        uncovered = result.filter(~result["covered"]).height
        info(f"{result.height} need(s), {uncovered} with no actor in the community.")
        columns = ["community_id", "issue_id", "level", "covered", "actors", "n_national_partners",
                   "recommendations"]
        if output is not OutputFormat.TABLE:
            columns = list(result.columns)
        emit(records_of(result), output, title=f"Needs and actors ({round_name})", columns=columns)
        return
    result = list_actors(project, community, dimension, include_national=national)
    emit(records_of(result), output, title="Actors",
         columns=["community_id", "actor_id", "name", "kind", "economic", "social", "psychosocial", "c4d",
                  "uncertain_dimensions", f"strengths_{language}", f"weaknesses_{language}"])


_TABLEAU_1_COLUMNS = ["pillar", "rank", "community_id", "score", "score_low", "score_high", "rank_low",
                      "rank_high"]
_EXPLAIN_COLUMNS = ["pillar", "component", "value", "normalised", "weight", "contribution"]


@app.command("index")
def index_command(
    study: StudyDir,
    round_name: RoundOption = "baseline",
    explain: Annotated[str | None, typer.Option(
        "--explain", metavar="COMMUNITY",
        help="Print what makes up one community's scores (from the stored index) instead of building.")
    ] = None,
    output: FormatOption = OutputFormat.TABLE,
) -> None:
    """Pillar indices (economic, social, psychosocial) and the composite reintegration score per
    community, ranked, with intervals: the study's Tableau 1.

    Indicators are normalised across communities (1 = best; later rounds use the reference round's
    goalposts), averaged within each pillar, and the composite is the mean of the three pillars, as
    index.toml and indicators.toml say. Score and rank intervals come from a survey bootstrap
    (index.bootstrap_replicates, index.interval_level in retour.toml). Run `retour estimate` first.
    --explain shows each indicator's contribution (weight x normalised / sum of weights) to its pillar
    and each pillar's to the composite.

    Example:
        retour index my-study
        retour index my-study --round midterm --format csv
        retour index my-study --explain kati
    """
    from rich.progress import Progress

    from retour.config import load_project
    from retour.index.tables import tableau_1
    from retour.study import build_index, explain_index

    project = load_project(study)
    if explain is not None:
        contributions = explain_index(project, explain, round_name)
        emit(records_of(contributions), output, columns=_EXPLAIN_COLUMNS,
             title=f"{explain}: contributions aux scores / contributions to the scores ({round_name})")
        return
    with Progress(console=stderr, transient=True) as bar:
        task = bar.add_task("Index", total=1.0)
        tables = build_index(project, round_name,
                             progress=lambda step, share: bar.update(task, completed=share,
                                                                     description=f"Index: {step}"))
    level = round(project.settings.index.interval_level * 100)
    pillars = tuple(tables.index_scores["pillar"].unique(maintain_order=True).to_list())
    emit(records_of(tableau_1(tables.index_scores, pillars)), output, columns=_TABLEAU_1_COLUMNS,
         title=f"Tableau 1 : score de réintégration / reintegration score ({round_name}, "
               f"intervalles {level} % / {level}% intervals)")
    if project.settings.study.synthetic:
        info("Données synthétiques calibrées sur des agrégats publiés / "
             "Synthetic data calibrated to published aggregates.")


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
        retour problems my-study --csv cleaning-log.csv
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
    emit(summary.records(), output, title=f"{summary.file_name} -> {round_name}", columns=["item", "count"])
    if summary.quarantined and not summary.already_ingested:
        info(f"{summary.quarantined} row(s) in quarantine: see `retour problems {study}`.")


@app.command("problems")
def problems_command(
    study: StudyDir,
    round_name: Annotated[str | None, typer.Option("--round", "-r", help="Only this round.")] = None,
    output: FormatOption = OutputFormat.TABLE,
    csv_file: Annotated[Path | None, typer.Option(
        "--csv", metavar="FILE", help="Write a cleaning log (with an empty 'correction' column) to FILE.")
    ] = None,
) -> None:
    """List the open problems found by `retour ingest`: file, row, submission id, column, value,
    what is wrong and how to fix it.

    With --csv the list is written as a cleaning log a field supervisor can work from. Problems of a
    row close when a corrected export is ingested again.

    Example:
        retour problems my-study
        retour problems my-study --round baseline --format csv
        retour problems my-study --csv cleaning-log.csv
    """
    from retour.config import load_project
    from retour.study import list_problems, write_cleaning_log

    project = load_project(study)
    if csv_file is not None:
        count = write_cleaning_log(project, csv_file, round_name)
        info(f"Wrote {count} problem(s) to {csv_file}.")
        return
    problems = list_problems(project, round_name)
    emit(records_of(problems), output, title=f"Open problems ({problems.height})", columns=_PROBLEM_COLUMNS)


@app.command("serve")
def serve_command(
    study: StudyDir,
    host: Annotated[str, typer.Option("--host", help="Address to listen on; keep 127.0.0.1 unless a "
                                                     "reverse proxy with HTTPS sits in front.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)] = 8000,
) -> None:
    """Start the study's dashboard (a web app) and keep it running until Ctrl+C.

    Every page but the sign-in page needs a user: add one first with `retour users DIR add`. The
    dashboard reads the store between requests only, so other retour commands can run meanwhile.

    Example:
        retour users my-study add amina --role admin
        retour serve my-study --port 8000
    """
    from retour.config import load_project
    from retour.study import serve_dashboard

    serve_dashboard(load_project(study), host, port, notify=info)


users_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                        context_settings={"help_option_names": ["-h", "--help"]})
app.add_typer(users_app, name="users")


class UserRole(str, Enum):
    VIEWER = "viewer"
    ANALYST = "analyst"
    ADMIN = "admin"


class UserLanguage(str, Enum):
    FR = "fr"
    EN = "en"


UserName = Annotated[str, typer.Argument(help="The user's sign-in name.", show_default=False)]
PasswordStdin = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password from the first line of standard input instead of asking.")]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_app.callback()
def users_group(context: typer.Context, study: StudyDir) -> None:
    """Manage who may sign in to the dashboard, and with which role.

    Roles: viewer (reads every page), analyst (also uploads exports, overrides needs, edits actors),
    admin (everything). Passwords are stored hashed with Argon2.

    Example:
        retour users my-study add amina --role analyst
        retour users my-study list
    """
    from retour.config import load_project

    context.obj = load_project(study)


@users_app.command("add")
def users_add_command(
    context: typer.Context,
    name: UserName,
    role: Annotated[UserRole, typer.Option("--role", help="What the user may do.")] = UserRole.VIEWER,
    language: Annotated[UserLanguage, typer.Option("--language", help="Language of the dashboard.")
                        ] = UserLanguage.FR,
    password_stdin: PasswordStdin = False,
) -> None:
    """Add a dashboard user with a role; asks for the password (twice) unless --password-stdin.

    Example:
        retour users my-study add amina --role analyst
        echo "$PASSWORD" | retour users my-study add ci-bot --role viewer --password-stdin
    """
    from retour.study import add_dashboard_user

    user = add_dashboard_user(context.obj, name, _password(password_stdin), role.value, language.value)
    info(f"Added {user['name']} ({user['role']}).")


@users_app.command("list")
def users_list_command(context: typer.Context, output: FormatOption = OutputFormat.TABLE) -> None:
    """List the dashboard users with their role and language (never their password).

    Example:
        retour users my-study list --format json
    """
    from retour.study import list_dashboard_users

    emit(list_dashboard_users(context.obj), output, title="Dashboard users",
         columns=["name", "role", "language", "created_at", "password_changed_at"])


@users_app.command("remove")
def users_remove_command(context: typer.Context, name: UserName) -> None:
    """Remove a dashboard user; their open sessions end at once.

    Example:
        retour users my-study remove amina
    """
    from retour.study import remove_dashboard_user

    remove_dashboard_user(context.obj, name)
    info(f"Removed {name}.")


@users_app.command("passwd")
def users_passwd_command(context: typer.Context, name: UserName, password_stdin: PasswordStdin = False) -> None:
    """Set a new password for a dashboard user; sessions opened with the old one end.

    Example:
        retour users my-study passwd amina
    """
    from retour.study import change_dashboard_password

    change_dashboard_password(context.obj, name, _password(password_stdin))
    info(f"Changed the password of {name}.")


_SCORE_TABLE_COLUMNS = ["case", "visit", "community_id", "economic", "social", "psychosocial", "overall",
                        "flagged", "below_threshold", "dropped", "reason"]
_SCORE_SUMMARY_COLUMNS = ["community_id", "dimension", "estimate", "ci_low", "ci_high", "n", "n_missing",
                          "suppressed", "weights", "weights_hash", "threshold"]
_CASE_SHOWN = 12  # characters of the hashed case id shown in a table (all of it in CSV and JSON)


@app.command("score")
def score_command(
    study: StudyDir,
    round_name: Annotated[str | None, typer.Option(
        "--round", "-r", help="Round to score, as in retour.toml (default: the first one).")] = None,
    case: Annotated[str | None, typer.Option(
        "--case", metavar="ID", help="Print one returnee's scores at every visit; type the case id as "
                                     "written on the form.")] = None,
    weights: Annotated[Path | None, typer.Option(
        "--weights", metavar="FILE", help="Score with this weight set (TOML) instead of the study's "
                                          "(scoring.weights_file).")] = None,
    summary: Annotated[bool, typer.Option(
        "--summary", help="Share of returnees at or above the threshold per community and dimension, "
                          "with confidence intervals.")] = False,
    flagged: Annotated[bool, typer.Option("--flagged", help="List flagged visits only.")] = False,
    language: Annotated[str, typer.Option(
        "--language", "-l", help="Language of the reasons for a missing score: fr or en.")] = "en",
    output: FormatOption = OutputFormat.TABLE,
) -> None:
    """Individual reintegration scores: every returnee of a round gets a score from 0 to 1 per
    dimension (economic, social, psychosocial) and overall, and is flagged when a dimension is below
    the threshold or a score dropped since the previous visit.

    Answers are recoded to 0..1 and weighted as the weights file says (scoring.weights_file, or
    --weights FILE); its name and hash are printed with every score. A dimension is scored over the
    answered questions when they carry at least scoring.min_answered_share of its weight; otherwise it
    gets no score, and the reason says why. In a survey round the return migrants are scored, in a
    monitoring round every visit. Scores are stored per round.

    Example:
        retour score my-study --round baseline
        retour score my-study --round baseline --flagged --format csv
        retour score my-study --case ML-0042
        retour score my-study --summary
        retour score my-study --weights economy-first.toml
    """
    from retour.config import load_project
    from retour.study import case_history, score_round

    project = load_project(study)
    if language not in ("fr", "en"):
        raise typer.BadParameter("use fr or en.", param_hint="--language")
    if case is not None:
        history = case_history(project, case, weights)
        _emit_scores(history, output, language, f"{case}: scores à chaque visite / scores at every visit")
    else:
        scored = score_round(project, round_name, weights)
        weights_text = f"{scored.weights} ({scored.weights_hash}), seuil/threshold {scored.threshold:g}"
        if summary:
            import polars as pl

            shown = ("estimate", "ci_low", "ci_high")  # blank where fewer than min_cell returnees answered
            shares = scored.summary.filter(pl.col("group_dimension") == "all").with_columns(
                pl.when(~pl.col("suppressed")).then(pl.col(c)).alias(c) for c in shown)
            emit(records_of(shares), output, columns=_SCORE_SUMMARY_COLUMNS,
                 title=f"Part au-dessus du seuil / share at or above the threshold ({scored.round}); "
                       f"poids / weights: {weights_text}")
        else:
            scores = scored.scores.filter(scored.scores["flagged"]) if flagged else scored.scores
            title = f"Scores individuels/individual scores ({scored.round}); poids/weights: {weights_text}"
            _emit_scores(scores, output, language, title)
            info(f"{scored.scores.height} visit(s) scored, {int(scored.scores['flagged'].sum())} flagged; "
                 f"weights {weights_text}.")
    if project.settings.study.synthetic:
        info("Données synthétiques calibrées sur des agrégats publiés / "
             "Synthetic data calibrated to published aggregates.")


def _emit_scores(scores: Any, output: OutputFormat, language: str, title: str) -> None:
    """Scored visits: a short table (case id cut, the reason in one language), or every column."""
    if output is OutputFormat.TABLE:
        shown = scores.with_columns(scores["case_id"].str.slice(0, _CASE_SHOWN).alias("case"),
                                    scores[f"reason_{language}"].alias("reason"))
        emit(records_of(shown), output, title=title, columns=_SCORE_TABLE_COLUMNS)
    else:
        emit(records_of(scores), output, title=title)


class ReportLanguage(StrEnum):
    FR = "fr"
    EN = "en"
    ALL = "all"


class ReportFormat(StrEnum):
    HTML = "html"
    PDF = "pdf"
    ALL = "all"


@app.command("report")
def report_command(
    study: StudyDir,
    round_name: RoundOption = "baseline",
    language: Annotated[ReportLanguage, typer.Option("--lang", "-l", help="Language of the documents.")
                        ] = ReportLanguage.ALL,
    document_format: Annotated[ReportFormat, typer.Option(
        "--format", "-f", help="Documents to write: html, pdf or all (tables are always written).")
    ] = ReportFormat.ALL,
) -> None:
    """Write the community fact sheets, the synthesis report and the result tables to DIR/out/ROUND/.

    One fact sheet per community (two A4 pages in PDF), the synthesis (method, Tableau 1 with
    intervals, needs matrix, main gaps with adjusted p-values, actors, communication for development)
    and every estimate as XLSX (one sheet per theme) and CSV, in French and English. Only stored
    results are read: run `retour estimate` (and `retour index`, `retour needs`) first. Values resting
    on fewer than estimation.min_cell respondents are shown as "—".

    Example:
        retour report my-study
        retour report my-study --round midterm --lang fr --format pdf
    """
    import time

    from retour.config import load_project
    from retour.study import write_report

    project = load_project(study)
    languages = ("fr", "en") if language is ReportLanguage.ALL else (language.value,)
    formats = ("html", "pdf") if document_format is ReportFormat.ALL else (document_format.value,)
    started = time.perf_counter()
    with stderr.status("Report") as status:
        written = write_report(project, round_name, languages, formats,
                               progress=lambda message: status.update(f"Report: {message}"))
    records = [{"kind": f.kind, "community": f.community_id, "language": f.language, "format": f.format,
                "pages": f.pages, "path": str(f.path.relative_to(project.root))} for f in written]
    emit(records, OutputFormat.TABLE, title=f"Rapport / report ({round_name})",
         columns=["kind", "community", "language", "format", "pages", "path"])
    info(f"{len(written)} file(s) written to {project.output_dir / round_name} "
         f"in {time.perf_counter() - started:.1f} s.")
    if project.settings.study.synthetic:
        info("Données synthétiques calibrées sur des agrégats publiés / "
             "Synthetic data calibrated to published aggregates.")


class CompareSection(str, Enum):
    ALL = "all"
    INDICATORS = "indicators"
    SCORES = "scores"
    NEEDS = "needs"
    QUESTIONNAIRE = "questionnaire"
    DID = "did"


class Pairing(str, Enum):
    AUTO = "auto"
    INDEPENDENT = "independent"
    PANEL = "panel"


_CHANGE_TABLE = ["community_id", "group", "indicator_id", "estimate_from", "estimate_to", "change", "ci_low",
                 "ci_high", "p_value", "suppressed"]
_SCORE_TABLE = ["community_id", "pillar", "score_from", "score_to", "change", "ci_low", "ci_high", "p_value",
                "rank_from", "rank_to", "rank_change"]
_DID_TABLE = ["community_id", "indicator_id", "change_beneficiaries", "change_comparison", "did", "ci_low",
              "ci_high", "p_value", "suppressed"]
_SECTION_TITLES = {
    "indicators": "Évolution des indicateurs / change in indicators",
    "scores": "Évolution des scores et des rangs / change in scores and ranks",
    "needs": "Besoins devenus ou n'étant plus prioritaires / needs that became or stopped being priorities",
    "questionnaire": "Changements du questionnaire / questionnaire changes",
    "comparability": "Indicateurs non comparables / indicators that cannot be compared",
    "did": "Double différence bénéficiaires - comparaison / difference-in-differences, beneficiaries - "
           "comparison",
}


def _compare_sections(result: Any, community: str | None, indicator: str | None, by: str | None,
                      language: str) -> dict[str, Any]:
    """The comparison's frames as printed: filtered to a community, an indicator and a group dimension."""
    import polars as pl

    changes = result.changes.filter(pl.col("group_dimension").is_in(["all", by or "all"]))
    sections = {"indicators": changes, "scores": result.score_changes, "needs": result.need_changes,
                "questionnaire": result.questionnaire_changes,
                "comparability": result.comparability.filter(~pl.col("comparable")), "did": result.did}
    if language == "fr":
        fr = sections["comparability"].with_columns(pl.col("reason_fr").alias("reason"))
        sections["comparability"] = fr
    if indicator is not None:
        known = result.comparability["indicator_id"].to_list()
        if indicator not in known:
            raise typer.BadParameter(f"no indicator '{indicator}' in indicators.toml.", param_hint="--indicator")
        for name in ("indicators", "did"):
            sections[name] = sections[name].filter(pl.col("indicator_id") == indicator)
    if community is not None:
        _only_community(result.changes, community)  # an unknown community is an error
        for name in ("indicators", "scores", "needs", "did"):
            sections[name] = sections[name].filter(pl.col("community_id") == community)
    return sections


@app.command("compare")
def compare_command(
    study: StudyDir,
    from_round: Annotated[str, typer.Option("--from", help="The earlier round, as in retour.toml.")
                          ] = "baseline",
    to_round: Annotated[str, typer.Option("--to", help="The later round, as in retour.toml.")] = "midterm",
    did: Annotated[bool, typer.Option("--did", help="Also estimate the programme's effect: the change among "
                                                    "beneficiaries minus the change among comparison "
                                                    "respondents.")] = False,
    community: Annotated[str | None, typer.Option("--community", "-c", help="Show one community only.")
                         ] = None,
    indicator: Annotated[str | None, typer.Option("--indicator", "-i", help="Show one indicator only.")
                         ] = None,
    by: Annotated[str | None, typer.Option(
        "--by", help="Also show the change by group: migration_status, sex, age_band or area_type.")] = None,
    show: Annotated[CompareSection, typer.Option("--show", help="Which part to print.")
                    ] = CompareSection.ALL,
    pairing: Annotated[Pairing, typer.Option(
        "--pairing", help="independent samples, a panel linked by case_id, or auto (a panel when at least "
                          "estimation.min_cell respondents are linked).")] = Pairing.AUTO,
    language: Annotated[str, typer.Option("--language", "-l", help="Language of the reasons: fr or en.")
                        ] = "en",
    output: FormatOption = OutputFormat.TABLE,
) -> None:
    """Change between two rounds: every indicator, pillar and composite score per community and overall,
    with its standard error, 95% interval and test, the change in rank, and the needs that became or
    stopped being priorities.

    The test accounts for both rounds' designs: independent samples add their variances; in a panel
    (respondents linked by their hashed case_id) the covariance of linked respondents is subtracted.
    Indicators whose questions were added or dropped between the rounds are listed with the reason and
    left out. With --did, the difference-in-differences between programme beneficiaries (field
    `beneficiary` = yes) and comparison respondents (no), with its standard error. Results are stored
    for the reports. Run `retour index` for the reference round (and `retour needs` for both rounds)
    first.

    Example:
        retour compare my-study --from baseline --to midterm
        retour compare my-study --from baseline --to midterm --did --indicator paid_job_or_iga
        retour compare my-study --from baseline --to final --show scores --format csv
    """
    from retour.config import load_project
    from retour.study import compare_rounds

    if language not in ("fr", "en"):
        raise typer.BadParameter("use fr or en.", param_hint="--language")
    if by is not None and by not in ("migration_status", "sex", "age_band", "area_type"):
        raise typer.BadParameter("use migration_status, sex, age_band or area_type.", param_hint="--by")
    project = load_project(study)
    result = compare_rounds(project, from_round, to_round, did=did, pairing=pairing.value)
    linkage = result.linkage
    info(f"{from_round} -> {to_round}: " + (
        f"panel, {linkage.linked} respondents linked by case_id / panel, {linkage.linked} répondants reliés"
        if linkage.pairing == "panel" else "independent samples / échantillons indépendants"))
    sections = _compare_sections(result, community, indicator, by, language)
    wanted = [name for name in _SECTION_TITLES if show.value in ("all", name)
              or (show is CompareSection.QUESTIONNAIRE and name == "comparability")]
    if not did:
        wanted = [name for name in wanted if name != "did"]
    if show is CompareSection.DID and not did:
        raise typer.BadParameter("add --did to estimate the difference-in-differences.", param_hint="--show")
    if output is OutputFormat.TABLE:
        tables = {"indicators": _CHANGE_TABLE if by else [c for c in _CHANGE_TABLE if c != "group"],
                  "scores": _SCORE_TABLE, "did": _DID_TABLE,
                  "comparability": ["indicator_id", "reason"]}
        for name in wanted:
            frame = sections[name]
            if name == "needs":
                frame = frame.filter(frame["change"].is_in(["became_priority", "no_longer_priority"]))
            if frame.height:
                title = f"{_SECTION_TITLES[name]} ({from_round} -> {to_round})"
                emit(records_of(frame), output, title=title, columns=tables.get(name))
            elif name == "needs" and not result.need_changes.height:
                warn(f"No needs to compare: run `retour needs {study} --round ROUND` for both rounds.")
    else:
        records = [{"section": name, **row} for name in wanted for row in records_of(sections[name])]
        keys = list(dict.fromkeys(key for name in wanted for key in ["section", *sections[name].columns]))
        emit(records, output, columns=keys)
    if project.settings.study.synthetic:
        info("Données synthétiques calibrées sur des agrégats publiés / "
             "Synthetic data calibrated to published aggregates.")


@app.command("synth")
def synth_command(
    study: StudyDir,
    round_name: RoundOption = "baseline",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random generator: the same seed gives the "
                                                     "same files, byte for byte.")] = 20180305,
    shift: Annotated[Path | None, typer.Option(
        "--shift", help="Stated changes for a later round, per community and indicator, and the programme's "
                        "effect on beneficiaries (e.g. shifts_midterm.toml).", show_default=False)] = None,
    panel: Annotated[bool, typer.Option("--panel", help="Re-interview the baseline respondents (same "
                                                        "case_id) instead of a fresh sample.")] = False,
    check: Annotated[bool, typer.Option("--check", help="Print every calibration target with the value "
                                                        "achieved and the gap; exit 1 if one is missed.")
                     ] = False,
    output: FormatOption = OutputFormat.TABLE,
) -> None:
    """Generate synthetic survey data calibrated to the study's published figures (synth_targets.toml)
    and write it into the study's data/ folder as a KoboToolbox export (XLSX and CSV, named
    *-synthetic), ready for `retour ingest`.

    The baseline reproduces every fact-sheet figure per community to within one respondent, the
    sample-wide findings to within two points, and the ranking of Tableau 1. A later round moves every
    community value by the changes stated in --shift and gives programme beneficiaries the stated effect.

    Example:
        retour synth my-study --round baseline --seed 1
        retour synth my-study --check
        retour synth my-study --round midterm --shift my-study/shifts_midterm.toml --panel
    """
    from retour.config import load_project
    from retour.study import synthesise

    project = load_project(study)
    run = synthesise(project, round_name, seed, shift=shift, panel=panel, check=check)
    for path in run.paths:
        info(f"Wrote / écrit : {path}")
    info(f"{run.respondents} respondents / répondants, round {run.round_name}, seed {run.seed}. "
         "Données synthétiques calibrées sur des agrégats publiés / "
         "Synthetic data calibrated to published aggregates.")
    if not check:
        return
    emit([row.as_record() for row in run.checks], output,
         title="Calibration targets / cibles de calibrage",
         columns=["target", "scope", "source", "expected", "achieved", "gap", "tolerance", "ok"])
    if run.missed:
        warn(f"{run.missed} target(s) missed / cible(s) manquée(s).")
        raise typer.Exit(1)
    info(f"All {len(run.checks)} targets met / toutes les cibles sont atteintes.")


_ESTIMATE_TABLE = ["community_id", "group_dimension", "group", "indicator_id", "estimate", "ci_low",
                   "ci_high", "n", "deff", "suppressed"]
_GAP_TABLE = ["community_id", "group_dimension", "group_a", "group_b", "indicator_id", "difference", "ci_low",
              "ci_high", "p_value", "p_adjusted", "n_a", "n_b", "suppressed"]


@app.command("estimate")
def estimate_command(
    study: StudyDir,
    round_name: RoundOption = "baseline",
    community: Annotated[str | None, typer.Option(
        "--community", "-c", help="Print only this community (or `all` for the whole sample).")] = None,
    indicator: Annotated[str | None, typer.Option("--indicator", "-i", help="Print only this indicator.")
                         ] = None,
    group_dimension: Annotated[str | None, typer.Option(
        "--group-dimension", "-g",
        help="Print only this breakdown: all, migration_status, sex, age_band or area_type.")] = None,
    gaps: Annotated[bool, typer.Option(
        "--gaps", help="Print the gaps between groups (a - b, with tests) instead of the estimates.")
    ] = False,
    output: FormatOption = OutputFormat.TABLE,
) -> None:
    """Estimate every indicator of the catalogue for every community and the whole sample, overall and
    by group, under the study design, and store the estimates and the gaps between groups.

    Each estimate has its standard error (Taylor linearisation over strata and clusters), a confidence
    interval (estimation.ci_method: wilson or logit for proportions; t for means), the respondents
    with an answer (n), the weighted n, the design effect and the count of missing answers. Estimates
    resting on fewer than estimation.min_cell respondents are flagged `suppressed`. Gaps compare
    returnees with non-migrants, women with men, 25-34 with 15-24 and urban with rural: difference,
    interval, design-based t test, p-value adjusted over the table (Benjamini-Hochberg). The options
    only filter what is printed; everything is stored. A table shows the main columns; CSV and JSON
    show them all.

    Example:
        retour estimate my-study
        retour estimate my-study --round midterm --community kati --group-dimension sex
        retour estimate my-study --gaps --indicator paid_job_or_iga --format csv
    """
    import polars as pl
    from rich.progress import Progress

    from retour.config import load_project
    from retour.study import estimate_round

    project = load_project(study)
    with Progress(console=stderr, transient=True) as bar:
        task = bar.add_task("Estimate", total=1.0)
        result = estimate_round(project, round_name,
                                progress=lambda step, share: bar.update(task, completed=share,
                                                                        description=f"Estimate: {step}"))
    table = result.gaps if gaps else result.estimates
    chosen = {"community_id": community, "indicator_id": indicator, "group_dimension": group_dimension}
    for column, value in chosen.items():
        if value is None:
            continue
        known = table[column].unique(maintain_order=True).to_list()
        if value not in known:
            more = " ..." if len(known) > 12 else ""
            raise RetourError(f"No {column} '{value}' in the estimates of round '{round_name}'.",
                              f"Known values: {', '.join(map(str, known[:12]))}{more}")
        table = table.filter(pl.col(column) == value)
    stored, n_gaps = result.estimates.height, result.gaps.height
    suppressed, min_cell = int(result.estimates["suppressed"].sum()), project.settings.estimation.min_cell
    info(f"{stored} estimations et {n_gaps} écarts enregistrés ({suppressed} sur moins de {min_cell} "
         f"répondants) / {stored} estimates and {n_gaps} gaps stored ({suppressed} resting on fewer than "
         f"{min_cell} respondents).")
    columns = (_GAP_TABLE if gaps else _ESTIMATE_TABLE) if output is OutputFormat.TABLE else table.columns
    title = "Écarts entre groupes / gaps between groups" if gaps else "Estimations / estimates"
    emit(records_of(table), output, title=f"{title} ({round_name})", columns=columns)
    if project.settings.study.synthetic:
        info("Données synthétiques calibrées sur des agrégats publiés / "
             "Synthetic data calibrated to published aggregates.")


@app.command("demo")
def demo_command(
    study_dir: Annotated[Path, typer.Argument(help="Folder for the example study (created if missing).")] = Path(
        "demo-study"),
    lang: Annotated[str, typer.Option("--lang", help="Report language: fr, en or all.")] = "all",
    output_format: Annotated[str, typer.Option("--report-format", help="Report format: html, pdf or all.")] = "all",
    output: FormatOption = OutputFormat.TABLE,
) -> None:
    """Run the whole pipeline on the example study mali-2018 and print its Tableau 1.

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
    info(f"{_synthetic_line()}")


def _synthetic_line() -> str:
    from retour.study import SYNTHETIC_NOTE

    return f"{SYNTHETIC_NOTE['fr']} / {SYNTHETIC_NOTE['en']}."


# Commands in the order a study goes through them, for `retour --help` and docs/cli.md.
PIPELINE_ORDER = ("init", "demo", "form", "synth", "ingest", "problems", "estimate", "index", "needs",
                  "actors", "score", "report", "compare", "serve", "users")


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
        command.main(args=list(argv) if argv is not None else None, prog_name="retour", standalone_mode=False)
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


if __name__ == "__main__":
    main()
