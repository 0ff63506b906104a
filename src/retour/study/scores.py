"""Score stage: individual scores, a case's history and the monitoring form (issue 7)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retour.config import Project
from retour.errors import ConfigError
from retour.study import INSTRUMENT_FILE, stamp

if TYPE_CHECKING:
    import polars as pl

    from retour.form import FormCheck
    from retour.score_spec import ScoreSpec


MONITORING_XFORM = "monitoring.xml"


@dataclass(frozen=True)
class ScoredRound:
    """What `retour score` computed for a round: every scored visit (`score.SCORE_COLUMNS`), the share
    of returnees at or above the threshold per community and dimension, and the weight set used."""

    round: str
    scores: pl.DataFrame
    summary: pl.DataFrame
    weights: str
    weights_hash: str
    threshold: float


def _scoring_catalogue(project: Project, instrument: Any) -> Any:
    """The indicator catalogue read against the study's questionnaire without requiring all of it to fit:
    a study whose questionnaire is the short monitoring form lacks most of the catalogue's questions,
    and the score checks the indicators it uses itself."""
    from retour.indicators import check_catalogue
    from retour.registers import read_toml

    path = project.path("indicators.toml")
    return check_catalogue(read_toml(path), instrument, str(path))[0]


def load_score_weights(project: Project, weights_file: Path | str | None = None) -> ScoreSpec:
    """The weight set of the individual score: `scoring.weights_file`, or `weights_file` read over it."""
    from retour.schema import load_instrument
    from retour.score_spec import load_score_spec

    instrument = load_instrument(project.path(INSTRUMENT_FILE))
    scoring = project.settings.scoring
    return load_score_spec(project.path(scoring.weights_file), _scoring_catalogue(project, instrument),
                           Path(weights_file) if weights_file is not None else None,
                           scoring.threshold, scoring.min_answered_share)


def _all_visits(project: Project, submissions: pl.DataFrame, spec: ScoreSpec) -> pl.DataFrame:
    """Every scored visit of every round (`population.returnee_rule`, `scoring.consent_field` and
    `scoring.interview_date_field` of retour.toml), each compared with the case's previous visit."""
    from retour.score import ScoreRules, score_visits

    rounds = project.settings.rounds
    return score_visits(submissions, spec, project.settings.design, [r.name for r in rounds],
                        [r.name for r in rounds if r.kind == "monitoring"],
                        ScoreRules.from_settings(project.settings))


def _survey_round_needs_a_rule(project: Project, round_name: str) -> None:
    """ConfigError when a survey round is to be scored and retour.toml gives no returnee rule."""
    from retour.config import SETTINGS_FILE

    if project.settings.population.returnee_rule.strip():
        return
    raise ConfigError(f"Round '{round_name}' is a survey round, whose return migrants are scored, and "
                      f"population.returnee_rule is empty in {project.path(SETTINGS_FILE)}.",
                      "Set it to the condition true for a return migrant, e.g. [population] returnee_rule = "
                      "\"${lived_abroad} = 'yes'\"; if the round holds follow-up visits, set kind = "
                      "\"monitoring\" for it instead.")


def score_round(project: Project, round_name: str | None = None,
                weights_file: Path | str | None = None) -> ScoredRound:
    """Score every returnee of a round (every visit of a monitoring round), flag them, store the scores
    (`scores`) and the share above the threshold per community and dimension (`score_estimates`).

    Previous visits come from all rounds, scored again with the same weights so the comparison holds.
    `round_name` defaults to the first round of retour.toml. Records a `score` run.
    """
    import json

    import polars as pl

    from retour import store
    from retour.errors import EstimationError
    from retour.estimate import EstimationSpec
    from retour.score import SCORE_COLUMNS, summarise

    settings = project.settings
    round_settings = settings.round(round_name) if round_name else settings.rounds[0]
    name = round_settings.name
    if round_settings.kind == "survey":
        _survey_round_needs_a_rule(project, name)
    spec = load_score_weights(project, weights_file)
    con = store.connect(project.store_path)
    try:
        submissions = store.read_submissions(con)  # every round: previous visits may be in any of them
        in_round = submissions.filter(pl.col("round") == name)
        if in_round.height == 0:
            raise EstimationError(f"No accepted submissions in round '{name}'.",
                                  f"Ingest an export first: retour ingest {project.root} FILE --round {name}")
        visits = _all_visits(project, submissions, spec).filter(pl.col("round") == name)
        if visits.height == 0:
            who = "return migrant" if round_settings.kind == "survey" else "visit"
            raise EstimationError(f"No {who} to score in round '{name}'.",
                                  _who_is_scored(project, round_settings.kind))
        summary = summarise(visits, spec, EstimationSpec.from_settings(settings.estimation))
        scores = visits.select("round", *SCORE_COLUMNS)
        store.write_results(con, "scores", scores, name)
        store.write_results(con, "score_estimates", summary, name)
        details = {"weights": spec.name, "weights_hash": spec.weights_hash, "threshold": spec.threshold,
                   "min_answered_share": spec.min_answered_share, "visits": scores.height,
                   "flagged": int(scores["flagged"].sum())}
        store.record_run(con, "score", name, stamp(project, store.data_hash(con), name), json.dumps(details))
    finally:
        con.close()
    return ScoredRound(round=name, scores=scores, summary=summary, weights=spec.name,
                       weights_hash=spec.weights_hash, threshold=spec.threshold)


def _who_is_scored(project: Project, kind: str) -> str:
    """Which rows of a round the score takes, as the study's settings say."""
    rule = project.settings.population.returnee_rule.strip()
    consent = project.settings.scoring.consent_field.strip()
    who = (f"the respondents for whom population.returnee_rule ({rule}) holds" if kind == "survey"
           else "every visit")
    return f"A {kind} round scores {who}" + (f", with {consent} = 'yes'." if consent else ".")


def case_history(project: Project, case_id: str, weights_file: Path | str | None = None) -> pl.DataFrame:
    """One returnee's scores at every visit, oldest first, found by the case id as typed on the form
    (hashed with the study secret, as ingest does)."""
    import polars as pl

    from retour import store
    from retour.ingest import privacy
    from retour.score import SCORE_COLUMNS, chronological

    secret = privacy.load_secret(project.root, project.settings.privacy.secret_env)
    hashed = privacy.hash_values(pl.Series([case_id], dtype=pl.Utf8), secret)[0]
    if hashed is None:
        raise ConfigError("The case id is empty.", "Type the case id as it was written on the form.")
    spec = load_score_weights(project, weights_file)
    con = store.connect(project.store_path)
    try:
        submissions = store.read_submissions(con)
    finally:
        con.close()
    visits = _all_visits(project, submissions, spec).filter(pl.col("case_id") == hashed)
    if visits.height == 0:
        raise ConfigError(f"No scored visit of case '{case_id}'.",
                          "Check the case id as written on the form; only return migrants "
                          "(population.returnee_rule) and monitoring visits are scored, and the study "
                          "secret must be the one used at ingest.")
    history = chronological(visits, [r.name for r in project.settings.rounds])
    return history.select("round", *SCORE_COLUMNS)


def write_monitoring_form(project: Project, validate: bool = True,
                          weights_file: Path | str | None = None) -> FormCheck:
    """Write the short monitoring form (`out/monitoring.xlsx`) for the study's score, check it with
    retour, pyxform and ODK Validate, and write its XForm (`out/monitoring.xml`) when it is valid."""
    from retour.form import FormCheck, check_form
    from retour.monitoring import FORM_FILE, derive_form, write_form
    from retour.score import ScoreRules

    spec = load_score_weights(project, weights_file)
    form = derive_form(project.path(INSTRUMENT_FILE), spec, project.settings.design,
                       ScoreRules.from_settings(project.settings))
    target = write_form(form, project.output_dir / FORM_FILE)
    check, xform = check_form(target, validate=validate)
    if xform is None:
        return check
    xml = project.output_dir / MONITORING_XFORM
    xml.write_text(xform, encoding="utf-8")
    return FormCheck(xlsform=check.xlsform, problems=check.problems, xform_path=xml)
