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

The recodes, the sub-indicators and the weights come from a TOML file (the study's `score_weights.toml`,
or another weight set given on the command line); `weights` and `weights_hash` name it in every output.
Apart from reading that file this module is pure: frames in, frames out, no store, no printing, and no
Python loop over respondents.
"""

from __future__ import annotations

import hashlib
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from retour.config import DesignSettings
from retour.errors import EstimationError, Problem, SpecError
from retour.expressions import referenced_fields
from retour.index.aggregate import get_aggregator
from retour.indicators import Catalogue, Indicator, indicator_expression
from retour.schema import Instrument

DIMENSIONS = ("economic", "social", "psychosocial")
OVERALL = "overall"
SCORES = (*DIMENSIONS, OVERALL)
DIMENSION_LABELS = {
    "fr": {"economic": "économique", "social": "social", "psychosocial": "psychosocial", OVERALL: "global"},
    "en": {"economic": "economic", "social": "social", "psychosocial": "psychosocial", OVERALL: "overall"},
}
VISIT_FIELD = "visit"
VISITS = ("3m", "6m", "12m")
DATE_FIELD = "interview_date"
RETURNEE_FIELD = "lived_abroad_3m"
ABOVE_PREFIX = "above_threshold_"
TOLERANCE = 1e-9  # a score this close to the threshold (or to the previous score) counts as equal
SELECT_ONE = "select_one"
SCORE_COLUMNS = (
    "case_id", "_uuid", "community_id", "visit", "interview_date",
    *SCORES,
    *(f"answered_{d}" for d in DIMENSIONS),
    "previous_round", "previous_visit", *(f"previous_{s}" for s in SCORES),
    "below_threshold", "dropped", "flagged", "reason_fr", "reason_en",
    "weights", "weights_hash", "threshold",
)
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_TOP_KEYS = frozenset({"name", "label_fr", "label_en", "dimensions", "weights", "recodes", "sub_indicators"})
_SUB_KEYS = frozenset({"id", "dimension", "label_fr", "label_en", "indicator", "field", "fields", "recode",
                       "weight"})


@dataclass(frozen=True)
class SubIndicator:
    """One answer (or a catalogue indicator) recoded to 0..1, with its dimension and weight.

    Either `indicator` (a 0/1 catalogue indicator, turned round when lower is better) or `fields` with a
    `recode`: the answers of the fields joined by a space (a follow-up question that was not asked is
    left out) -> a value between 0 and 1. An answer the recode does not list counts as not answered.
    """

    id: str
    dimension: str
    weight: float
    label_fr: str
    label_en: str
    indicator: Indicator | None = None
    fields: tuple[str, ...] = ()
    recode: Mapping[str, float] = field(default_factory=dict)

    def label(self, language: str) -> str:
        return self.label_fr if language == "fr" else self.label_en

    @property
    def questions(self) -> tuple[str, ...]:
        """The questionnaire fields this sub-indicator reads."""
        if self.indicator is None:
            return self.fields
        found = referenced_fields(self.indicator.formula) | referenced_fields(self.indicator.universe)
        return tuple(sorted(found - {"."}))


@dataclass(frozen=True)
class ScoreSpec:
    """A weight set: sub-indicators per dimension, dimension weights, and the rules of the score.

    `weights_hash` is the SHA-256 (first 12 hex digits) of the file(s) it was read from; `name` and the
    hash are printed beside every score. `instrument` is the questionnaire the sub-indicators were
    checked against (catalogue formulas are translated with it).
    """

    name: str
    label_fr: str
    label_en: str
    sub_indicators: tuple[SubIndicator, ...]
    dimension_weights: Mapping[str, float]
    weights_hash: str
    instrument: Instrument = field(compare=False, repr=False)
    threshold: float = 0.5
    min_answered_share: float = 0.6

    def members(self, dimension: str) -> tuple[SubIndicator, ...]:
        return tuple(sub for sub in self.sub_indicators if sub.dimension == dimension)

    @property
    def questions(self) -> tuple[str, ...]:
        """Every questionnaire field the score reads, in the order sub-indicators name them."""
        return tuple(dict.fromkeys(name for sub in self.sub_indicators for name in sub.questions))

    @property
    def label(self) -> str:
        """'name (hash)', as printed beside scores."""
        return f"{self.name} ({self.weights_hash})"


# --- reading and checking a weight set ------------------------------------------------------------------


def _problem(where: str, message: str, value: object = None, hint: str = "", source: str = "") -> Problem:
    return Problem(code="score_spec", row=None, column=where, value=None if value is None else str(value),
                   message=message, hint=hint, source=source)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _read_toml(path: Path) -> tuple[dict[str, Any], bytes]:
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise SpecError(f"Weights file {path} not found.",
                        "Give an existing TOML file, or copy score_weights.toml of the study.") from None
    try:
        return tomllib.loads(data.decode("utf-8")), data
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise SpecError(f"{path}: not valid TOML ({error}).") from None


def merge_weights(base: Mapping[str, Any], other: Mapping[str, Any], default_name: str) -> dict[str, Any]:
    """A weight set read over the study's: a file with `sub_indicators` replaces the study's scheme;
    one without keeps its sub-indicators and recodes and changes only the name and the weights."""
    if "sub_indicators" in other:
        return {"name": default_name, **other}
    merged = {key: value for key, value in base.items() if key not in ("name", "label_fr", "label_en")}
    merged["name"] = other.get("name", default_name)
    for key in ("label_fr", "label_en"):
        if key in other:
            merged[key] = other[key]
    merged["dimensions"] = {**base.get("dimensions", {}), **other.get("dimensions", {})}
    merged["weights"] = {**base.get("weights", {}), **other.get("weights", {})}
    for key in sorted(set(other) - {"name", "label_fr", "label_en", "dimensions", "weights"}):
        merged.setdefault("_foreign", []).append(key)
    return merged


def _recode_of(entry: Mapping[str, Any], recodes: Mapping[str, Any], where: str,
               problems: list[Problem]) -> dict[str, float]:
    raw = entry.get("recode")
    if isinstance(raw, str):
        if raw not in recodes:
            problems.append(_problem(f"{where}.recode", f"no recode called '{raw}'.", raw,
                                     f"Recodes: {', '.join(sorted(recodes)) or 'none'}."))
            return {}
        raw = recodes[raw]
    if not isinstance(raw, Mapping) or not raw:
        problems.append(_problem(f"{where}.recode", "a recode is needed: the name of a [recodes] table or a "
                                 "table answer = value.", raw))
        return {}
    values: dict[str, float] = {}
    for answer, value in raw.items():
        number = _number(value)
        if number is None or not 0 <= number <= 1:
            problems.append(_problem(f"{where}.recode.{answer}", "a recoded value must be a number from 0 to 1.",
                                     value, "0 is the worst situation, 1 the best."))
            continue
        values[str(answer)] = number
    return values


def _check_fields(fields: tuple[str, ...], recode: Mapping[str, float], instrument: Instrument, where: str,
                  problems: list[Problem]) -> None:
    """Each field is a select_one of the questionnaire; each recode key a sequence of its choices;
    a single field's recode lists every choice."""
    choices: list[tuple[str, ...]] = []
    for name in fields:
        if not instrument.has(name) or instrument.question(name).type != SELECT_ONE:
            problems.append(_problem(f"{where}.fields", f"'{name}' is not a select_one question of the "
                                     "questionnaire.", name, "Recode select_one questions only."))
            return
        choices.append(instrument.question(name).choice_names)
    for key in recode:
        answers = key.split()
        if not answers or len(answers) > len(fields) or any(
                answer not in choices[position] for position, answer in enumerate(answers)):
            problems.append(_problem(f"{where}.recode", f"'{key}' is not an answer of {', '.join(fields)}.", key,
                                     "Write the choice names of the fields in order, separated by a space."))
    if len(fields) == 1:
        missing = [choice for choice in choices[0] if choice not in recode]
        if missing:
            problems.append(_problem(f"{where}.recode", f"no value for choice(s) {', '.join(missing)} of "
                                     f"'{fields[0]}'.", None, "Give every choice of the question a value."))


def _sub_indicator(entry: Mapping[str, Any], catalogue: Catalogue, recodes: Mapping[str, Any],
                   weights: Mapping[str, Any], where: str, problems: list[Problem]) -> SubIndicator | None:
    for key in sorted(set(entry) - _SUB_KEYS):
        problems.append(_problem(f"{where}.{key}", f"unknown key '{key}'.", None,
                                 f"Keys of a sub-indicator: {', '.join(sorted(_SUB_KEYS))}."))
    identifier = str(entry.get("id", ""))
    if not _ID.match(identifier):
        problems.append(_problem(f"{where}.id", f"'{identifier}' is not a valid sub-indicator id.", identifier,
                                 "Use lower-case letters, digits and _, starting with a letter."))
    dimension = str(entry.get("dimension", ""))
    if dimension not in DIMENSIONS:
        problems.append(_problem(f"{where}.dimension", f"dimension '{dimension}' is unknown.", dimension,
                                 f"Use one of: {', '.join(DIMENSIONS)}."))
    weight = _number(weights.get(identifier, entry.get("weight", 1.0)))
    if weight is None or weight < 0:
        problems.append(_problem(f"{where}.weight", f"the weight of '{identifier}' must be a number of 0 or more.",
                                 weights.get(identifier, entry.get("weight"))))
        weight = 1.0
    instrument = catalogue.instrument
    fields = entry.get("fields", [entry["field"]] if "field" in entry else [])
    fields = tuple(str(name) for name in (fields if isinstance(fields, list) else [fields]))
    indicator_id = str(entry.get("indicator", ""))
    indicator: Indicator | None = None
    label_fr, label_en = str(entry.get("label_fr", "")), str(entry.get("label_en", ""))
    if bool(indicator_id) == bool(fields):
        problems.append(_problem(where, f"sub-indicator '{identifier}' needs either `indicator` or `field` "
                                 "(with a recode), not both or neither."))
        return None
    recode: dict[str, float] = {}
    if indicator_id:
        if indicator_id not in catalogue.ids:
            problems.append(_problem(f"{where}.indicator", f"the catalogue has no indicator '{indicator_id}'.",
                                     indicator_id, "Use an id of indicators.toml."))
            return None
        indicator = catalogue.indicator(indicator_id)
        if indicator.kind != "proportion" or indicator.higher_is_better is None:
            problems.append(_problem(f"{where}.indicator", f"indicator '{indicator_id}' must be a proportion "
                                     "with a direction (higher_is_better) to be recoded to 0/1.", indicator_id))
            return None
        absent = [name for name in sorted(referenced_fields(indicator.formula)
                                          | referenced_fields(indicator.universe)) if not instrument.has(name)]
        if absent:
            problems.append(_problem(f"{where}.indicator", f"indicator '{indicator_id}' reads "
                                     f"{', '.join(absent)}, which the questionnaire lacks.", indicator_id,
                                     "Score with a questionnaire that asks these questions."))
            return None
        label_fr, label_en = label_fr or indicator.label_fr, label_en or indicator.label_en
    else:
        recode = _recode_of(entry, recodes, where, problems)
        _check_fields(fields, recode, instrument, where, problems)
        if instrument.has(fields[0]):
            question = instrument.question(fields[0])
            label_fr, label_en = label_fr or question.label("fr"), label_en or question.label("en")
    return SubIndicator(id=identifier, dimension=dimension, weight=weight, label_fr=label_fr or identifier,
                        label_en=label_en or identifier, indicator=indicator, fields=fields, recode=recode)


def check_score_spec(raw: Mapping[str, Any], catalogue: Catalogue, weights_hash: str = "",
                     source: str = "") -> tuple[ScoreSpec, list[Problem]]:
    """Build a weight set from parsed TOML and list every problem found (none: it is valid)."""
    problems: list[Problem] = []
    for key in sorted(set(raw) - _TOP_KEYS):
        problems.append(_problem(key, f"unknown key '{key}'.", None, f"Keys: {', '.join(sorted(_TOP_KEYS))}."))
    for key in raw.get("_foreign", []):
        problems.append(_problem(key, f"'{key}' may only be given with the sub-indicators.", None,
                                 "A weight set without [[sub_indicators]] may set name, labels, "
                                 "[dimensions] and [weights] only."))
    recodes = raw.get("recodes", {})
    weights = raw.get("weights", {})
    entries = raw.get("sub_indicators", [])
    subs = [_sub_indicator(entry, catalogue, recodes, weights, f"sub_indicators[{number}]", problems)
            for number, entry in enumerate(entries, start=1)]
    ids = [sub.id for sub in subs if sub]
    for duplicated in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(_problem("sub_indicators", f"sub-indicator id '{duplicated}' is used twice.", duplicated))
    for unknown in sorted(set(weights) - set(ids)):
        problems.append(_problem(f"weights.{unknown}", f"'{unknown}' is not a sub-indicator.", unknown,
                                 f"Sub-indicators: {', '.join(ids)}."))
    dimension_weights: dict[str, float] = {}
    given = raw.get("dimensions", {})
    for unknown in sorted(set(given) - set(DIMENSIONS)):
        problems.append(_problem(f"dimensions.{unknown}", f"'{unknown}' is not a dimension.", unknown,
                                 f"Dimensions: {', '.join(DIMENSIONS)}."))
    for dimension in DIMENSIONS:
        value = _number(given.get(dimension, 1.0))
        if value is None or value < 0:
            problems.append(_problem(f"dimensions.{dimension}", "a dimension weight must be a number of 0 or "
                                     "more.", given.get(dimension)))
            value = 1.0
        dimension_weights[dimension] = value
        members = [sub for sub in subs if sub and sub.dimension == dimension]
        if sum(sub.weight for sub in members) <= 0:
            problems.append(_problem("sub_indicators", f"the {dimension} dimension has no sub-indicator with a "
                                     "weight above 0.", dimension, f'Add one with dimension = "{dimension}".'))
    if sum(dimension_weights.values()) <= 0:
        problems.append(_problem("dimensions", "at least one dimension weight must be above 0."))
    name = str(raw.get("name", "")).strip() or "unnamed"
    spec = ScoreSpec(name=name, label_fr=str(raw.get("label_fr", name)), label_en=str(raw.get("label_en", name)),
                     sub_indicators=tuple(sub for sub in subs if sub), dimension_weights=dimension_weights,
                     weights_hash=weights_hash, instrument=catalogue.instrument)
    return spec, [Problem(**{**p.__dict__, "source": source}) for p in problems]


def load_score_spec(path: Path, catalogue: Catalogue, weights_file: Path | None = None,
                    threshold: float = 0.5, min_answered_share: float = 0.6) -> ScoreSpec:
    """The study's weight set (`path`), or another one read over it (`weights_file`); one SpecError lists
    every problem. The hash covers the bytes of every file read."""
    raw, data = _read_toml(Path(path))
    digest = hashlib.sha256(data)
    source = str(path)
    if weights_file is not None:
        other, other_data = _read_toml(Path(weights_file))
        raw = merge_weights(raw, other, Path(weights_file).stem)
        digest.update(other_data)
        source = str(weights_file)
    spec, problems = check_score_spec(raw, catalogue, digest.hexdigest()[:12], source)
    if problems:
        lines = "\n".join(f"  - {p.column}: {p.message}" + (f" ({p.hint})" if p.hint else "") for p in problems)
        raise SpecError(f"{source}: {len(problems)} problem(s) in the weights of the individual score:\n{lines}")
    if not 0 <= threshold <= 1 or not 0 < min_answered_share <= 1:
        raise SpecError(f"Threshold {threshold} or minimum answered share {min_answered_share} out of range.",
                        "Set scoring.threshold in 0..1 and scoring.min_answered_share in (0, 1].")
    return ScoreSpec(**{**spec.__dict__, "threshold": float(threshold),
                        "min_answered_share": float(min_answered_share)})


# --- who is scored, and the visit frame ---------------------------------------------------------------


def scored_rows(submissions: pl.DataFrame, monitoring_rounds: Sequence[str]) -> pl.Expr:
    """True for the rows that get a score: every visit of a monitoring round, and the return migrants
    (`lived_abroad_3m = 'yes'`) of a survey round."""
    monitoring = pl.col("round").is_in(list(monitoring_rounds))
    if RETURNEE_FIELD in submissions.columns:
        monitoring = monitoring | (pl.col(RETURNEE_FIELD).cast(pl.Utf8) == "yes")
    return monitoring.fill_null(False)


def _text_or_null(columns: Sequence[str], name: str, alias: str) -> pl.Expr:
    return (pl.col(name).cast(pl.Utf8) if name and name in columns else pl.lit(None, pl.Utf8)).alias(alias)


def visit_columns(submissions: pl.DataFrame, design: DesignSettings) -> list[pl.Expr]:
    """Who and when (`round, _uuid, case_id, community_id, visit, interview_date, _submission_time`) and
    the design (`stratum, psu, weight`) of each visit. As `indicators.derive` does, no stratum gives one
    stratum 'all', no PSU makes each visit its own PSU, no weight weighs 1 (also row by row, where a
    monitoring round has none)."""
    columns = submissions.columns
    date = pl.col(DATE_FIELD).cast(pl.Date, strict=False) if DATE_FIELD in columns else pl.lit(None, pl.Date)
    time = pl.col("_submission_time") if "_submission_time" in columns else pl.lit(None, pl.Datetime)
    weight = pl.col(design.weight).cast(pl.Float64, strict=False) if design.weight in columns else pl.lit(None)
    return [
        pl.col("round").cast(pl.Utf8), pl.col("_uuid").cast(pl.Utf8),
        _text_or_null(columns, design.case_id, "case_id"),
        _text_or_null(columns, design.community, "community_id"),
        _text_or_null(columns, VISIT_FIELD, "visit"),
        date.alias("interview_date"), time.alias("_submission_time"),
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
        matches += [answer.is_null() for answer in answers[len(given):]]
        # comparing strings to a few literals is several times faster than a lookup table on strings
        chain = chain.when(pl.all_horizontal(matches)).then(pl.lit(value, pl.Float64))
    return chain.otherwise(pl.lit(None, pl.Float64)).alias(sub.id)


def recode(submissions: pl.DataFrame, spec: ScoreSpec) -> pl.DataFrame:
    """One Float64 column per sub-indicator, from 0 (worst) to 1 (best), null when not answered."""
    missing = [name for name in spec.questions if name not in submissions.columns]
    if missing:
        raise EstimationError(f"The submissions lack field(s) the individual score needs: {', '.join(missing)}.",
                              "Collect them with the monitoring form (`retour form DIR --monitoring`) or the "
                              "full questionnaire.")
    return submissions.lazy().select(
        *(_recode_expression(sub, spec.instrument) for sub in spec.sub_indicators)).collect()


def weighted_mean(columns: Sequence[str], weights: Sequence[float]) -> tuple[pl.Expr, pl.Expr]:
    """sum(w_i x_i) / sum(w_i) over the columns with a value, and sum(w_i) over them / sum(w_i): the
    arithmetic mean of `retour.index.aggregate` (missing components left out, the others' weights
    rescaled), written as polars expressions so a million visits take one pass."""
    present = [pl.col(c).is_not_null().cast(pl.Float64) * w for c, w in zip(columns, weights, strict=True)]
    total = pl.sum_horizontal(present)
    weighted = pl.sum_horizontal([pl.col(c).fill_null(0.0) * w for c, w in zip(columns, weights, strict=True)])
    return pl.when(total > 0).then(weighted / total), total / float(sum(weights))


def score(values: pl.DataFrame, spec: ScoreSpec) -> pl.DataFrame:
    """Dimension and overall scores of recoded visits (see the module docstring for the rule).

    Returns `economic, social, psychosocial, overall` (null: no score), `answered_<dimension>` (share of
    the dimension's weight answered) and `reason_fr`, `reason_en` (why a score is missing; empty if none).
    """
    dimensions = []
    for dimension in DIMENSIONS:
        members = spec.members(dimension)
        mean, answered = weighted_mean([sub.id for sub in members], [sub.weight for sub in members])
        enough = answered >= spec.min_answered_share - TOLERANCE
        dimensions += [pl.when(enough).then(mean).alias(dimension), answered.alias(f"answered_{dimension}")]
    weights = [spec.dimension_weights[d] for d in DIMENSIONS]
    overall, _ = weighted_mean(DIMENSIONS, weights)
    complete = pl.all_horizontal([pl.col(d).is_not_null() for d in DIMENSIONS])
    scored = (values.lazy().select(dimensions)
              .with_columns(pl.when(complete).then(overall).alias(OVERALL))
              .select(*SCORES, *(f"answered_{d}" for d in DIMENSIONS)).collect())
    return _with_reasons(scored, spec.min_answered_share)


def _with_reasons(scored: pl.DataFrame, minimum: float) -> pl.DataFrame:
    """`reason_fr` and `reason_en`, written only for the visits with a missing score (few, usually)."""
    rows = scored.with_row_index("_row").filter(pl.col(OVERALL).is_null())
    reasons = rows.select("_row", _reason("fr", minimum), _reason("en", minimum))
    blank = pl.repeat("", scored.height, dtype=pl.Utf8, eager=True)
    indices = reasons["_row"]
    return scored.with_columns(blank.scatter(indices, reasons["reason_fr"]).alias("reason_fr"),
                               blank.clone().scatter(indices, reasons["reason_en"]).alias("reason_en"))


def _reason(language: str, minimum: float) -> pl.Expr:
    """Why each missing score is missing, in one language, e.g. 'social: 40% of the weight answered, 60%
    needed'."""
    needed = round(minimum * 100)
    labels = DIMENSION_LABELS[language]
    parts = []
    for dimension in DIMENSIONS:
        share = (pl.col(f"answered_{dimension}") * 100).round(0).cast(pl.Int64).cast(pl.Utf8)
        text = (pl.format(f"{labels[dimension]} : {{}} % du poids renseigné, {needed} % requis", share)
                if language == "fr" else
                pl.format(f"{labels[dimension]}: {{}}% of the weight answered, {needed}% needed", share))
        parts.append(pl.when(pl.col(dimension).is_null()).then(text))
    overall = ("global : non calculé sans les trois dimensions" if language == "fr"
               else "overall: not computed without all three dimensions")
    parts.append(pl.when(pl.col(OVERALL).is_null()).then(pl.lit(overall)))
    return pl.concat_str(parts, separator="; ", ignore_nulls=True).fill_null("").alias(f"reason_{language}")


# --- previous visits and flags ------------------------------------------------------------------------


def _moment(rounds: Sequence[str]) -> pl.Expr:
    """When a visit happened, as one Int64 that sorts like (round, visit, interview date, submission
    time): round (10 bits), visit (4), days since 1970 (17), seconds since 1970 (31); an unknown part
    counts as 0. One number sorts much faster than four columns."""
    round_order = {name: position for position, name in enumerate(rounds)}
    parts = [
        (pl.col("round").replace_strict(round_order, default=len(rounds), return_dtype=pl.Int64), 48, 10),
        (pl.col("visit").cast(pl.Enum(list(VISITS)), strict=False).to_physical().cast(pl.Int64) + 1, 44, 4),
        (pl.col("interview_date").cast(pl.Int64), 31, 17),
        (pl.col("_submission_time").cast(pl.Datetime("ms")).cast(pl.Int64) // 1000, 0, 31),
    ]
    return pl.sum_horizontal([value.fill_null(0).clip(0, (1 << bits) - 1) * (1 << shift)
                              for value, shift, bits in parts])


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
        (~same_as_next | (pl.col("round") != pl.col("round").shift(-1)).fill_null(True)).alias("last_of_round"))
    back = np.empty(len(order), dtype=np.int64)  # the inverse permutation puts rows back in place
    back[order.to_numpy()] = np.arange(len(order))
    links = links[back]
    previous = links["_previous"]
    carried = visits.select("round", "visit", *SCORES)[previous]  # a null index gives a null row
    return pl.concat([visits, carried.select(pl.all().name.prefix("previous_")), links.select("last_of_round")],
                     how="horizontal")


def _names_of(conditions: Sequence[tuple[str, pl.Expr]]) -> pl.Expr:
    """The names whose condition holds, space-separated ('' for none): a bit per name, then one lookup
    of the 2^k possible texts (much faster than joining strings row by row)."""
    code = pl.sum_horizontal([condition.fill_null(False).cast(pl.Int64) * (1 << bit)
                              for bit, (_, condition) in enumerate(conditions)])
    texts = {mask: " ".join(name for bit, (name, _) in enumerate(conditions) if mask >> bit & 1)
             for mask in range(1 << len(conditions))}
    return code.replace_strict(texts, return_dtype=pl.Utf8)


def flag(visits: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """`below_threshold` (dimensions under the threshold), `dropped` (scores lower than at the previous
    visit), both as space-separated names ('' for none), and `flagged` (either is not empty)."""
    below = [(d, pl.col(d) < threshold - TOLERANCE) for d in DIMENSIONS]
    dropped = [(s, pl.col(s) < pl.col(f"previous_{s}") - TOLERANCE) for s in SCORES]
    return visits.with_columns(_names_of(below).alias("below_threshold"), _names_of(dropped).alias("dropped"),
                               ).with_columns(((pl.col("below_threshold") != "") | (pl.col("dropped") != ""))
                                              .alias("flagged"))


def score_visits(submissions: pl.DataFrame, spec: ScoreSpec, design: DesignSettings, rounds: Sequence[str],
                 monitoring_rounds: Sequence[str] = ()) -> pl.DataFrame:
    """Score every visit of `submissions` (any number of rounds) that gets a score, compare each with the
    case's previous visit and flag it: identity and design columns, then `SCORE_COLUMNS`."""
    chosen = submissions.filter(scored_rows(submissions, monitoring_rounds))
    values = recode(chosen, spec)
    visits = pl.concat([chosen.select(visit_columns(chosen, design)), score(values, spec)], how="horizontal")
    flagged = flag(previous_visits(visits, rounds), spec.threshold)
    return flagged.with_columns(pl.lit(spec.name).alias("weights"), pl.lit(spec.weights_hash).alias("weights_hash"),
                                pl.lit(spec.threshold).alias("threshold"))


# --- programme aggregates ------------------------------------------------------------------------------


def above_threshold(visits: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """The visits' design columns and a 0/1 column `above_threshold_<score>` per dimension and overall
    (null without a score), for `estimate.estimate`. Only a case's last visit of a round counts
    (`last_of_round`, from `previous_visits`), so a returnee seen twice in a round is counted once."""
    return visits.filter(pl.col("last_of_round")).select(
        "_uuid", "community_id", "stratum", "psu", "weight",
        *((pl.col(s) >= threshold - TOLERANCE).cast(pl.Float64).alias(f"{ABOVE_PREFIX}{s}") for s in SCORES))


def summarise(visits: pl.DataFrame, spec: ScoreSpec, estimation: Any) -> pl.DataFrame:
    """Share of returnees at or above the threshold per community and dimension (and overall), estimated
    as every other indicator (`retour.estimate.estimate`, proportions with design-based intervals), with
    the weight set's name and hash."""
    from retour.estimate import Design, estimate

    frame = above_threshold(visits, spec.threshold).filter(pl.col("community_id").is_not_null())
    if frame.height == 0:
        raise EstimationError("No scored returnee with a community to summarise.",
                              "Check that the round's submissions have the community field filled in.")
    indicators = [f"{ABOVE_PREFIX}{s}" for s in SCORES]
    result = estimate(frame, indicators, Design(), estimation, domains=("community_id",), groups=())
    return result.with_columns(pl.col("indicator_id").str.strip_prefix(ABOVE_PREFIX).alias("dimension"),
                               pl.lit(spec.name).alias("weights"), pl.lit(spec.weights_hash).alias("weights_hash"),
                               pl.lit(spec.threshold).alias("threshold"))
