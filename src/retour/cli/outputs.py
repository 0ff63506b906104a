"""Commands that present results: `retour report` (documents) and `retour compare` (two rounds)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from retour.cli.common import (
    FormatOption,
    OutputFormat,
    RoundOption,
    StudyDir,
    _only_community,
    app,
    emit,
    info,
    info_synthetic,
    records_of,
    stderr,
    warn,
)


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
    on fewer than estimation.min_cell respondents are shown as "—". A later round's documents add the
    change since the baseline (the first survey round of retour.toml): when that comparison is not stored, or
    the data or settings changed since, it is run first (as `retour compare --from BASELINE --to
    ROUND` would) and a line on stderr says so.

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
                               progress=lambda message: status.update(f"Report: {message}"), notify=info)
    records = [{"kind": f.kind, "community": f.community_id, "language": f.language, "format": f.format,
                "pages": f.pages, "path": str(f.path.relative_to(project.root))} for f in written]
    emit(records, OutputFormat.TABLE, title=f"Rapport / report ({round_name})",
         columns=["kind", "community", "language", "format", "pages", "path"])
    info(f"{len(written)} file(s) written to {project.output_dir / round_name} "
         f"in {time.perf_counter() - started:.1f} s.")
    info_synthetic(project)


class CompareSection(StrEnum):
    ALL = "all"
    INDICATORS = "indicators"
    SCORES = "scores"
    NEEDS = "needs"
    QUESTIONNAIRE = "questionnaire"
    DID = "did"


class Pairing(StrEnum):
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
            raise typer.BadParameter(f"no indicator '{indicator}' in indicators.toml.",
                                     param_hint="--indicator")
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
        "--by", help="Also show the change by group: the id of a group of indicators.toml.")] = None,
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
    for the reports and the dashboard, one set per pair of rounds: comparing baseline -> final, then
    midterm -> final keeps both, and comparing a pair again replaces only that pair. Run `retour
    index` for the reference round (and `retour needs` for both rounds) first.

    Example:
        retour compare my-study --from baseline --to midterm
        retour compare my-study --from baseline --to midterm --did --indicator paid_job_or_iga
        retour compare my-study --from baseline --to final --show scores --format csv
    """
    from retour.config import load_project
    from retour.study import compare_rounds

    if language not in ("fr", "en"):
        raise typer.BadParameter("use fr or en.", param_hint="--language")
    project = load_project(study)
    if by is not None:
        from retour.errors import ConfigError
        from retour.study.index import group_ids

        groups = group_ids(project)
        if by not in groups:
            raise ConfigError(f"No group '{by}' in indicators.toml (--by).",
                              f"Use one of the study's groups: {', '.join(groups) or 'none'}.")
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
    info_synthetic(project)
