"""Individual reintegration scores: each returnee's answers recoded to 0..1 and weighed into three
dimensions and an overall score, with the flags case managers act on.

The structure is that of IOM's Reintegration Sustainability Survey (RSS; IOM and Samuel Hall 2017,
*Setting standards for an integrated approach to reintegration*): every sub-indicator is an answer
recoded to a value x_i between 0 (worst) and 1 (best); a dimension (economic, social, psychosocial)
scores the weighted mean of its sub-indicators, and the overall score is the weighted mean of the three
dimensions. With w_i the weight of sub-indicator i of dimension d, A the sub-indicators answered and
m = `scoring.min_answered_share`:

    answered_d = sum_{i in A} w_i / sum_{i in d} w_i
    s_d = sum_{i in A} w_i x_i / sum_{i in A} w_i       when answered_d >= m, else no score (and a reason)
    S   = sum_d v_d s_d / sum_d v_d                     when all three s_d exist, else no score

so a missing answer is neither counted as 0 nor as 1: the weights of the answered sub-indicators are
rescaled to sum to one, provided enough of the dimension was answered. A visit is flagged when a dimension
is below `scoring.threshold`, or when a score (a dimension or the overall) is lower than at the case's
previous visit, both scored with the same weights.

Who is scored and when a visit happened are the study's settings (`ScoreRules`): a survey round scores
the respondents for whom `population.returnee_rule` holds (an XLSForm condition), a monitoring round
every visit; `scoring.consent_field` leaves out the visits without consent; `scoring.interview_date_field`
dates each visit (else its submission time).

The recodes, the sub-indicators and the weights come from a weight set (`retour.score_spec`: the
study's `score_weights.toml`, or another one given on the command line); `weights` and `weights_hash`
name it in every output. This module is pure: frames in, frames out, no files, no store, no printing,
and no Python loop over respondents.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from retour.config import SETTINGS_FILE, DesignSettings, Settings
from retour.errors import ConfigError, EstimationError, SpecError
from retour.expressions import referenced_fields, translate
from retour.indicators import indicator_expression
from retour.schema import Instrument
from retour.score_spec import DIMENSIONS, ScoreSpec, SubIndicator

OVERALL = "overall"
SCORES = (*DIMENSIONS, OVERALL)
DIMENSION_LABELS = {
    "fr": {"economic": "économique", "social": "social", "psychosocial": "psychosocial", OVERALL: "global"},
    "en": {"economic": "economic", "social": "social", "psychosocial": "psychosocial", OVERALL: "overall"},
}
VISIT_FIELD = "visit"
VISITS = ("3m", "6m", "12m")
CONSENT_GIVEN = "yes"  # the answer of the consent field that lets a visit be scored
ABOVE_PREFIX = "above_threshold_"
TOLERANCE = 1e-9  # a score this close to the threshold (or to the previous score) counts as equal
_SECONDS_1970_TO_2000 = 946_684_800
SCORE_COLUMNS = (
    "case_id",
    "_uuid",
    "community_id",
    "visit",
    "interview_date",
    *SCORES,
    *(f"answered_{d}" for d in DIMENSIONS),
    "previous_round",
    "previous_visit",
    *(f"previous_{s}" for s in SCORES),
    "below_threshold",
    "dropped",
    "flagged",
    "reason_fr",
    "reason_en",
    "weights",
    "weights_hash",
    "threshold",
)

# --- who is scored, and the visit frame ---------------------------------------------------------------


@dataclass(frozen=True)
class ScoreRules:
    """Who a study scores and what each visit records, from its settings: the condition true for a
    return migrant (`population.returnee_rule`, scored in survey rounds; empty: none), the field dating a
    visit (`scoring.interview_date_field`; empty: the submission time) and the yes/no field recording
    consent (`scoring.consent_field`; empty: no consent check)."""

    returnee_rule: str = ""
    interview_date_field: str = ""
    consent_field: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> ScoreRules:
        return cls(returnee_rule=settings.population.returnee_rule.strip(),
                   interview_date_field=settings.scoring.interview_date_field.strip(),
                   consent_field=settings.scoring.consent_field.strip())

    @property
    def named_fields(self) -> tuple[tuple[str, str], ...]:
        """(setting, field) of the date and consent fields the settings name."""
        named = (("scoring.interview_date_field", self.interview_date_field),
                 ("scoring.consent_field", self.consent_field))
        return tuple((setting, name) for setting, name in named if name)

    @property
    def fields(self) -> tuple[str, ...]:
        """The date and consent fields the settings name (kept on the monitoring form)."""
        return tuple(name for _, name in self.named_fields)


def check_rules(rules: ScoreRules, instrument: Instrument) -> None:
    """ConfigError when a setting of `rules` names a field the questionnaire lacks, or the returnee rule
    is not a condition: one line naming each setting, its field and the file."""
    questionnaire = instrument.path.name if instrument.path else "the questionnaire"
    problems, hints = [], []
    for setting, name in rules.named_fields:
        if not instrument.has(name):
            problems.append(f"{setting} names '{name}', a field {questionnaire} lacks")
            hints.append(f"Set {setting} to a field of the survey sheet, or leave it empty.")
    problem = _returnee_rule_problem(rules.returnee_rule, instrument, questionnaire)
    if problem:
        problems.append(problem)
        hints.append("Write population.returnee_rule as an XLSForm condition on the questionnaire's "
                     "fields, e.g. returnee_rule = \"${lived_abroad} = 'yes'\".")
    if problems:
        raise ConfigError(f"{SETTINGS_FILE}: {'; '.join(problems)}.", " ".join(hints))


def _returnee_rule_problem(rule: str, instrument: Instrument, questionnaire: str) -> str:
    """What is wrong with the returnee rule ('' when nothing is, or when there is no rule)."""
    if not rule:
        return ""
    try:
        absent = sorted(name for name in referenced_fields(rule) if not instrument.has(name))
        if absent:
            named = ", ".join(f"${{{name}}}" for name in absent)
            return f"population.returnee_rule names {named}, field(s) {questionnaire} lacks"
        kind = translate(rule, instrument).kind
    except SpecError as error:
        return f"population.returnee_rule {rule!r} cannot be read ({error.message.rstrip('.')})"
    if kind != "boolean":
        return f"population.returnee_rule {rule!r} gives a {kind}, not a condition"
    return ""


def scored_rows(submissions: pl.DataFrame, monitoring_rounds: Sequence[str], rules: ScoreRules,
                instrument: Instrument) -> pl.Expr:
    """True for the rows that get a score: every visit of a monitoring round and the return migrants
    (`rules.returnee_rule`) of a survey round, each only with consent when `rules.consent_field` is set."""
    chosen = pl.col("round").is_in(list(monitoring_rounds))
    if rules.returnee_rule:
        chosen = chosen | translate(rules.returnee_rule, instrument).expr
    if rules.consent_field:
        chosen = chosen & (pl.col(rules.consent_field).cast(pl.Utf8) == CONSENT_GIVEN)
    return chosen.fill_null(False)


def _text_or_null(columns: Sequence[str], name: str, alias: str) -> pl.Expr:
    return (pl.col(name).cast(pl.Utf8) if name and name in columns else pl.lit(None, pl.Utf8)).alias(alias)


def visit_columns(submissions: pl.DataFrame, design: DesignSettings, date_field: str = "") -> list[pl.Expr]:
    """Who and when (`round, _uuid, case_id, community_id, visit, interview_date, _submission_time`) and
    the design (`stratum, psu, weight`) of each visit. The interview date is `date_field`'s answer, or the
    day of the submission time without a date field. As `indicators.derive` does, no stratum gives one
    stratum 'all', no PSU makes each visit its own PSU, no weight weighs 1 (also row by row, where a
    monitoring round has none)."""
    columns = submissions.columns
    time = pl.col("_submission_time") if "_submission_time" in columns else pl.lit(None, pl.Datetime)
    if not date_field:
        date = time.cast(pl.Datetime, strict=False).dt.date()
    elif date_field in columns:
        date = pl.col(date_field).cast(pl.Date, strict=False)
    else:
        date = pl.lit(None, pl.Date)
    weight = (
        pl.col(design.weight).cast(pl.Float64, strict=False) if design.weight in columns else pl.lit(None)
    )
    return [
        pl.col("round").cast(pl.Utf8),
        pl.col("_uuid").cast(pl.Utf8),
        _text_or_null(columns, design.case_id, "case_id"),
        _text_or_null(columns, design.community, "community_id"),
        _text_or_null(columns, VISIT_FIELD, "visit"),
        date.alias("interview_date"),
        time.alias("_submission_time"),
        pl.coalesce(_text_or_null(columns, design.stratum, "stratum"), pl.lit("all")).alias("stratum"),
        pl.coalesce(_text_or_null(columns, design.psu, "psu"), pl.col("_uuid").cast(pl.Utf8)).alias("psu"),
        pl.coalesce(weight, pl.lit(1.0)).alias("weight"),
    ]


# --- recoding and scoring -----------------------------------------------------------------------------


def _recode_expression(sub: SubIndicator, instrument: Instrument) -> pl.Expr:
    """The sub-indicator's value per visit: a catalogue indicator (turned round when lower is better),
    or the value of the recode key the answers match (the fields in order, unanswered ones after the
    key's last answer), null when none matches."""
    if sub.indicator is not None:
        value = indicator_expression(sub.indicator, instrument)
        return (value if sub.indicator.higher_is_better else 1.0 - value).alias(sub.id)
    answers = [pl.col(name).cast(pl.Utf8) for name in sub.fields]
    chain: Any = pl
    for key, value in sub.recode.items():
        given = key.split()
        matches = [answers[i] == answer for i, answer in enumerate(given)]
        matches += [answer.is_null() for answer in answers[len(given) :]]
        # comparing strings to a few literals is several times faster than a lookup table on strings
        chain = chain.when(pl.all_horizontal(matches)).then(pl.lit(value, pl.Float64))
    return chain.otherwise(pl.lit(None, pl.Float64)).alias(sub.id)


def recode(submissions: pl.DataFrame, spec: ScoreSpec) -> pl.DataFrame:
    """One Float64 column per sub-indicator, from 0 (worst) to 1 (best), null when not answered."""
    missing = [name for name in spec.questions if name not in submissions.columns]
    if missing:
        raise EstimationError(
            f"The submissions lack field(s) the individual score needs: {', '.join(missing)}.",
            "Collect them with the monitoring form (`retour form DIR --monitoring`) or the "
            "full questionnaire.",
        )
    return (
        submissions.lazy()
        .select(*(_recode_expression(sub, spec.instrument) for sub in spec.sub_indicators))
        .collect()
    )


def weighted_sums(columns: Sequence[str], weights: Sequence[float]) -> tuple[pl.Expr, pl.Expr]:
    """sum(w_i x_i) and sum(w_i) over the columns with a value: their ratio is the arithmetic mean of
    `retour.index.aggregate` (missing components left out, the others' weights rescaled), written as
    polars expressions so that a million visits take one pass."""
    pairs = list(zip(columns, weights, strict=True))
    weighted = pl.sum_horizontal([pl.col(c).fill_null(0.0) * w for c, w in pairs])
    present = pl.sum_horizontal([pl.col(c).is_not_null().cast(pl.Float64) * w for c, w in pairs])
    return weighted, present


def score(values: pl.DataFrame, spec: ScoreSpec) -> pl.DataFrame:
    """Dimension and overall scores of recoded visits (see the module docstring for the rule).

    Returns `economic, social, psychosocial, overall` (null: no score), `answered_<dimension>` (share of
    the dimension's weight answered) and `reason_fr`, `reason_en` (why a score is missing; null if none).
    """
    sums, dimensions = [], []
    for dimension in DIMENSIONS:
        members = spec.members(dimension)
        weights = [sub.weight for sub in members]
        weighted, present = weighted_sums([sub.id for sub in members], weights)
        sums += [weighted.alias(f"_weighted_{dimension}"), present.alias(f"_present_{dimension}")]
        answered = pl.col(f"_present_{dimension}") / float(sum(weights))
        enough = answered >= spec.min_answered_share - TOLERANCE
        dimensions += [
            pl.when(enough)
            .then(pl.col(f"_weighted_{dimension}") / pl.col(f"_present_{dimension}"))
            .alias(dimension),
            answered.alias(f"answered_{dimension}"),
        ]
    weighted, present = weighted_sums(DIMENSIONS, [spec.dimension_weights[d] for d in DIMENSIONS])
    complete = pl.all_horizontal([pl.col(d).is_not_null() for d in DIMENSIONS])
    scored = (
        values.lazy()
        .select(sums)
        .select(dimensions)
        .with_columns(pl.when(complete).then(weighted / present).alias(OVERALL))
        .select(*SCORES, *(f"answered_{d}" for d in DIMENSIONS))
        .collect()
    )
    return _with_reasons(scored, spec.min_answered_share)


def _with_reasons(scored: pl.DataFrame, minimum: float) -> pl.DataFrame:
    """`reason_fr` and `reason_en`, written only for the visits with a missing score (few, usually)."""
    rows = scored.with_row_index("_row").filter(pl.col(OVERALL).is_null())
    reasons = rows.select("_row", _reason("fr", minimum), _reason("en", minimum))
    empty = pl.repeat(None, scored.height, dtype=pl.Utf8, eager=True)
    indices = reasons["_row"]
    return scored.with_columns(
        empty.scatter(indices, reasons["reason_fr"]).alias("reason_fr"),
        empty.clone().scatter(indices, reasons["reason_en"]).alias("reason_en"),
    )


def _reason(language: str, minimum: float) -> pl.Expr:
    """Why each missing score is missing, in one language, e.g. 'social: 40% of the weight answered, 60%
    needed'."""
    needed = round(minimum * 100)
    labels = DIMENSION_LABELS[language]
    parts = []
    for dimension in DIMENSIONS:
        share = (pl.col(f"answered_{dimension}") * 100).round(0).cast(pl.Int64).cast(pl.Utf8)
        text = (
            pl.format(f"{labels[dimension]} : {{}} % du poids renseigné, {needed} % requis", share)
            if language == "fr"
            else pl.format(f"{labels[dimension]}: {{}}% of the weight answered, {needed}% needed", share)
        )
        parts.append(pl.when(pl.col(dimension).is_null()).then(text))
    overall = (
        "global : non calculé sans les trois dimensions"
        if language == "fr"
        else "overall: not computed without all three dimensions"
    )
    parts.append(pl.when(pl.col(OVERALL).is_null()).then(pl.lit(overall)))
    return pl.concat_str(parts, separator="; ", ignore_nulls=True).alias(f"reason_{language}")


# --- previous visits and flags ------------------------------------------------------------------------


def _moment(rounds: Sequence[str]) -> pl.Expr:
    """When a visit happened, as one Int64 that sorts like (round, visit, interview date, submission
    time): round (10 bits), visit (4), days since 1970 (17), seconds since 2000 (31, until 2068); an
    unknown part counts as 0. One number sorts much faster than four columns."""
    round_order = {name: position for position, name in enumerate(rounds)}
    parts = [
        (pl.col("round").replace_strict(round_order, default=len(rounds), return_dtype=pl.Int64), 48, 10),
        (pl.col("visit").cast(pl.Enum(list(VISITS)), strict=False).to_physical().cast(pl.Int64) + 1, 44, 4),
        (pl.col("interview_date").cast(pl.Int64), 31, 17),
        (
            pl.col("_submission_time").cast(pl.Datetime("ms"), strict=False).cast(pl.Int64) // 1000
            - _SECONDS_1970_TO_2000,
            0,
            31,
        ),
    ]
    return pl.sum_horizontal(
        [value.fill_null(0).clip(0, (1 << bits) - 1) * (1 << shift) for value, shift, bits in parts]
    )


def _sort_keys(rounds: Sequence[str]) -> list[pl.Expr]:
    # cases are grouped by a 64-bit hash of their id (numbers sort much faster than strings);
    # `previous_visits` still compares the ids themselves
    return [pl.col("case_id").hash().alias("_case"), _moment(rounds).alias("_moment")]


def chronological(visits: pl.DataFrame, rounds: Sequence[str]) -> pl.DataFrame:
    """Visits grouped by case, each case's in the order they happened: round (as listed in retour.toml),
    visit (a survey interview, then 3m, 6m, 12m), interview date, submission time, then as given."""
    return visits.sort(_sort_keys(rounds), maintain_order=True)


def previous_visits(visits: pl.DataFrame, rounds: Sequence[str]) -> pl.DataFrame:
    """The visits (in their order) with the scores of each case's previous visit (`chronological`
    order): `previous_round`, `previous_visit`, `previous_<score>` (null at a case's first visit, or
    without a case id), and `last_of_round` (no later visit of the case in the same round)."""
    order = visits.select(pl.arg_sort_by(_sort_keys(rounds), maintain_order=True)).to_series()
    case, row = pl.col("case_id"), pl.col("_row")
    same_as_previous = case.is_not_null() & (case == case.shift(1)).fill_null(False)
    same_as_next = case.is_not_null() & (case == case.shift(-1)).fill_null(False)
    in_order = visits.select("case_id", "round").with_row_index("_row")[order]
    links = in_order.select(
        pl.when(same_as_previous).then(row.shift(1)).alias("_previous"),
        (~same_as_next | (pl.col("round") != pl.col("round").shift(-1)).fill_null(True)).alias(
            "last_of_round"
        ),
    )
    back = np.empty(len(order), dtype=np.int64)  # the inverse permutation puts rows back in place
    back[order.to_numpy()] = np.arange(len(order))
    links = links[back]
    previous = links["_previous"]
    carried = visits.select("round", "visit", *SCORES)[previous]  # a null index gives a null row
    return pl.concat(
        [visits, carried.select(pl.all().name.prefix("previous_")), links.select("last_of_round")],
        how="horizontal",
    )


def _names_of(conditions: Sequence[tuple[str, pl.Expr]]) -> pl.Expr:
    """The names whose condition holds, space-separated ('' for none): a bit per name, then one lookup
    of the 2^k possible texts (much faster than joining strings row by row)."""
    code = pl.sum_horizontal(
        [
            condition.fill_null(False).cast(pl.Int64) * (1 << bit)
            for bit, (_, condition) in enumerate(conditions)
        ]
    )
    texts = {
        mask: " ".join(name for bit, (name, _) in enumerate(conditions) if mask >> bit & 1)
        for mask in range(1 << len(conditions))
    }
    return code.replace_strict(texts, return_dtype=pl.Utf8)


def flag(visits: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """`below_threshold` (dimensions under the threshold), `dropped` (scores lower than at the previous
    visit), both as space-separated names ('' for none), and `flagged` (either is not empty)."""
    below = [(d, pl.col(d) < threshold - TOLERANCE) for d in DIMENSIONS]
    dropped = [(s, pl.col(s) < pl.col(f"previous_{s}") - TOLERANCE) for s in SCORES]
    return visits.with_columns(
        _names_of(below).alias("below_threshold"),
        _names_of(dropped).alias("dropped"),
    ).with_columns(((pl.col("below_threshold") != "") | (pl.col("dropped") != "")).alias("flagged"))


def score_visits(
    submissions: pl.DataFrame,
    spec: ScoreSpec,
    design: DesignSettings,
    rounds: Sequence[str],
    monitoring_rounds: Sequence[str] = (),
    rules: ScoreRules = ScoreRules(),
) -> pl.DataFrame:
    """Score every visit of `submissions` (any number of rounds) that gets a score (`scored_rows`),
    compare each with the case's previous visit and flag it: identity and design columns, then
    `SCORE_COLUMNS`. The fields `rules` names are checked against the questionnaire (`check_rules`)."""
    check_rules(rules, spec.instrument)
    needed = {*(referenced_fields(rules.returnee_rule) if rules.returnee_rule else ()), *rules.fields}
    missing = sorted(needed - set(submissions.columns))
    if missing:
        raise EstimationError(
            f"The submissions lack field(s) that {SETTINGS_FILE} names for the score: {', '.join(missing)}.",
            "Ingest the rounds with the questionnaire these settings were written for.",
        )
    chosen = submissions.filter(scored_rows(submissions, monitoring_rounds, rules, spec.instrument))
    values = recode(chosen, spec)
    visits = pl.concat([chosen.select(visit_columns(chosen, design, rules.interview_date_field)),
                        score(values, spec)], how="horizontal")
    flagged = flag(previous_visits(visits, rounds), spec.threshold)
    return flagged.with_columns(
        pl.lit(spec.name).alias("weights"),
        pl.lit(spec.weights_hash).alias("weights_hash"),
        pl.lit(spec.threshold).alias("threshold"),
    )


# --- programme aggregates ------------------------------------------------------------------------------


def above_threshold(visits: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """The visits' design columns and a 0/1 column `above_threshold_<score>` per dimension and overall
    (null without a score), for `estimate.estimate`. Only a case's last visit of a round counts
    (`last_of_round`, from `previous_visits`), so a returnee seen twice in a round is counted once."""
    return visits.filter(pl.col("last_of_round")).select(
        "_uuid",
        "community_id",
        "stratum",
        "psu",
        "weight",
        *((pl.col(s) >= threshold - TOLERANCE).cast(pl.Float64).alias(f"{ABOVE_PREFIX}{s}") for s in SCORES),
    )


def summarise(visits: pl.DataFrame, spec: ScoreSpec, estimation: Any) -> pl.DataFrame:
    """Share of returnees at or above the threshold per community and dimension (and overall), estimated
    as every other indicator (`retour.estimate.estimate`, proportions with design-based intervals), with
    the weight set's name and hash."""
    from retour.estimate import Design, estimate

    frame = above_threshold(visits, spec.threshold).filter(pl.col("community_id").is_not_null())
    if frame.height == 0:
        raise EstimationError(
            "No scored returnee with a community to summarise.",
            "Check that the round's submissions have the community field filled in.",
        )
    indicators = [f"{ABOVE_PREFIX}{s}" for s in SCORES]
    result = estimate(frame, indicators, Design(), estimation, domains=("community_id",), groups=())
    return result.with_columns(
        pl.col("indicator_id").str.strip_prefix(ABOVE_PREFIX).alias("dimension"),
        pl.lit(spec.name).alias("weights"),
        pl.lit(spec.weights_hash).alias("weights_hash"),
        pl.lit(spec.threshold).alias("threshold"),
    )
