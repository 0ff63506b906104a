"""Commands that analyse a round: `retour estimate`, `index`, `needs`, `actors` and `score`."""

from __future__ import annotations

from pathlib import Path
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
)
from retour.errors import RetourError

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
        help="Print only this breakdown: all, or the id of a group of indicators.toml.")] = None,
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
    resting on fewer than estimation.min_cell respondents are flagged `suppressed`. The groups and
    their levels are those of indicators.toml; a group with `compare = ["a", "b"]` gets the gaps a - b:
    difference, interval, design-based t test, p-value adjusted over the table (Benjamini-Hochberg). The
    options only filter what is printed; everything is stored. A table shows the main columns; CSV and
    JSON show them all.

    Example:
        retour estimate my-study
        retour estimate my-study --round midterm --community COMMUNITY --group-dimension GROUP
        retour estimate my-study --gaps --indicator INDICATOR --format csv
    """
    import polars as pl
    from rich.progress import Progress

    from retour.config import load_project
    from retour.study import estimate_round

    project = load_project(study)
    with Progress(console=stderr, transient=True, disable=not stderr.is_terminal) as bar:
        task = bar.add_task("Estimate", total=1.0)
        result = estimate_round(project, round_name,
                                progress=lambda step, share: bar.update(task, completed=share,
                                                                        description=f"Estimate: {step}"))
    table = result.gaps if gaps else result.estimates
    if group_dimension is not None:
        _check_group(group_dimension, result, gaps)
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
    if result.groups_without_comparison:
        info(_without_comparison(result.groups_without_comparison))
    columns = (_GAP_TABLE if gaps else _ESTIMATE_TABLE) if output is OutputFormat.TABLE else table.columns
    title = "Écarts entre groupes / gaps between groups" if gaps else "Estimations / estimates"
    emit(records_of(table), output, title=f"{title} ({round_name})", columns=columns)
    info_synthetic(project)


def _check_group(group_dimension: str, result: Any, gaps: bool) -> None:
    """A RetourError when `--group-dimension` names no group of the catalogue, or asks for the gaps of
    a group that compares no levels."""
    known = result.estimates["group_dimension"].unique(maintain_order=True).to_list()
    if group_dimension not in known:
        groups = ", ".join(g for g in known if g != "all") or "none"
        raise RetourError(f"No group '{group_dimension}' in indicators.toml.",
                          f"Use all, or a group of the study: {groups}.")
    if gaps and group_dimension in result.groups_without_comparison:
        raise RetourError(f"Group '{group_dimension}' compares no levels, so it has no gaps.",
                          f'Add compare = ["a", "b"] (two of its levels) to the group {group_dimension} in '
                          "indicators.toml, then run `retour estimate` again.")


def _without_comparison(groups: tuple[str, ...]) -> str:
    """The one line saying which groups get no gaps, and the setting that gives them some."""
    from rich.markup import escape

    names = ", ".join(groups)
    return escape(f"Pas d'écarts pour les groupes sans comparaison : {names} / No gaps for groups without "
                  f'a comparison: {names}; add compare = ["a", "b"] (two of its levels) to the group in '
                  "indicators.toml.")


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
    probabilities: Annotated[bool, typer.Option(
        "--probabilities",
        help="Print how sure the ranking is (from the stored index) instead of building: per pillar and "
             "community, the probability of each rank.")] = False,
    output: FormatOption = OutputFormat.TABLE,
) -> None:
    """Pillar indices (economic, social, psychosocial) and the composite reintegration score per
    community, ranked, with intervals: the study's Tableau 1.

    Indicators are normalised across communities (1 = best; later rounds use the reference round's
    goalposts), averaged within each pillar, and the composite is the mean of the three pillars, as
    index.toml and indicators.toml say. Score and rank intervals come from a survey bootstrap
    (index.bootstrap_replicates, index.interval_level in retour.toml). Run `retour estimate` first.
    --explain shows each indicator's contribution (weight x normalised / sum of weights) to its pillar
    and each pillar's to the composite. --probabilities shows, per pillar and community, the share of
    bootstrap draws in which it took each rank (p_rank_1 = probability of ranking first).

    Example:
        retour index my-study
        retour index my-study --round midterm --format csv
        retour index my-study --explain kati
        retour index my-study --probabilities
    """
    from rich.progress import Progress

    from retour.config import load_project
    from retour.index.tables import tableau_1
    from retour.study import build_index, explain_index, rank_probabilities

    project = load_project(study)
    if probabilities:
        table = rank_probabilities(project, round_name)
        if output is OutputFormat.TABLE:  # percentages read best on screen; CSV and JSON keep 0..1
            table = table.with_columns(_as_percent(c) for c in table.columns if c.startswith("p_rank_"))
        emit(records_of(table), output,
             title=f"Probabilités de rang / rank probabilities ({round_name}, bootstrap)")
        return
    if explain is not None:
        contributions = explain_index(project, explain, round_name)
        emit(records_of(contributions), output, columns=_EXPLAIN_COLUMNS,
             title=f"{explain}: contributions aux scores / contributions to the scores ({round_name})")
        return
    with Progress(console=stderr, transient=True, disable=not stderr.is_terminal) as bar:
        task = bar.add_task("Index", total=1.0)
        tables = build_index(project, round_name,
                             progress=lambda step, share: bar.update(task, completed=share,
                                                                     description=f"Index: {step}"))
    from retour.cli.common import warn
    from retour.index.spec import small_pillar_warnings
    from retour.study import load_index_spec

    for line in small_pillar_warnings(load_index_spec(project)):
        warn(line)
    level = round(project.settings.index.interval_level * 100)
    pillars = tuple(tables.index_scores["pillar"].unique(maintain_order=True).to_list())
    emit(records_of(tableau_1(tables.index_scores, pillars)), output, columns=_TABLEAU_1_COLUMNS,
         title=f"Tableau 1 : score de réintégration / reintegration score ({round_name}, "
               f"intervalles {level} % / {level}% intervals)")
    info_synthetic(project)


def _as_percent(column: str) -> Any:
    """A 0..1 column as whole percentages ("62%"), "<1%" for a rank that occurred but rarely, blank for 0."""
    import polars as pl

    share = pl.col(column)
    text = (share * 100).round(0).cast(pl.Int64).cast(pl.Utf8) + "%"
    return (pl.when(share.is_null() | (share == 0)).then(pl.lit(""))
            .when(share < 0.005).then(pl.lit("<1%")).otherwise(text).alias(column))


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
        retour needs my-study --set north_town water priority --why "Boreholes failed since the survey"
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
        retour actors my-study --community north_town
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
    edited = result.filter(result["edited_by"].is_not_null())
    if edited.height:
        latest = edited.sort("edited_at").row(-1, named=True)
        info(f"{edited['actor_id'].n_unique()} actor(s) carry edits made in the dashboard "
             f"(latest {str(latest['edited_at'])[:16]} by {latest['edited_by']}).")
    columns = ["community_id", "actor_id", "name", "kind", "economic", "social", "psychosocial", "c4d",
               "uncertain_dimensions", f"strengths_{language}", f"weaknesses_{language}", "edited_by"]
    if output is not OutputFormat.TABLE:
        columns = list(result.columns)
    emit(records_of(result), output, title="Actors", columns=columns)


_SCORE_TABLE_COLUMNS = ["case", "round", "visit", "community_id", "economic", "social", "psychosocial",
                        "overall",
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
    gets no score, and the reason says why. In a survey round the respondents for whom
    population.returnee_rule holds are scored, in a monitoring round every visit; with
    scoring.consent_field set, only visits with consent. Visits are dated by
    scoring.interview_date_field (else the submission time). Scores are stored per round.

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
    info_synthetic(project)


def _emit_scores(scores: Any, output: OutputFormat, language: str, title: str) -> None:
    """Scored visits: a short table (case id cut, the reason in one language), or every column."""
    if output is OutputFormat.TABLE:
        shown = scores.with_columns(scores["case_id"].str.slice(0, _CASE_SHOWN).alias("case"),
                                    scores[f"reason_{language}"].alias("reason"))
        emit(records_of(shown), output, title=title, columns=_SCORE_TABLE_COLUMNS)
    else:
        emit(records_of(scores), output, title=title)
