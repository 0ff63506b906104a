"""Weight sets of the individual reintegration score: read a `score_weights.toml` (or another weight
set laid over it) and check it against the questionnaire and the indicator catalogue.

A weight set says which answers make up each dimension (economic, social, psychosocial), how each is
recoded to a value from 0 (worst) to 1 (best), and the weights: of each sub-indicator within its
dimension, and of each dimension in the overall score. `load_score_spec` returns a frozen `ScoreSpec`
whose name and file hash are printed beside every score; every problem of the file is reported at
once. This module reads files and checks them; scoring is `retour.score`.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retour.errors import Problem, SpecError
from retour.expressions import referenced_fields
from retour.indicators import Catalogue, Indicator
from retour.keydocs import KeyDoc, key_names
from retour.schema import Instrument
from retour.textfiles import read_toml_file

DIMENSIONS = ("economic", "social", "psychosocial")
SELECT_ONE = "select_one"
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
# The keys of score_weights.toml and of each [[sub_indicators]] entry (docs/study-files.md reads them).
SCORE_KEY_DOCS = (
    KeyDoc("name", "text", "", "Name of the weight set, printed with its hash beside every score."),
    KeyDoc("label_fr", "text", "the name", "The weight set's name for French readers."),
    KeyDoc("label_en", "text", "the name", "The weight set's name for English readers."),
    KeyDoc("dimensions", "table: dimension = number", "1 each", "Weight of each dimension in the overall "
           "score.", DIMENSIONS),
    KeyDoc("weights", "table: sub-indicator id = number", "1 each", "Weight of each sub-indicator within "
           "its dimension."),
    KeyDoc("recodes", "table of tables: scale.answer = number", "none", "Named scales recoding answers to "
           "0 (worst) .. 1 (best), used by a sub-indicator's `recode`."),
    KeyDoc("sub_indicators", "list of tables", "the default file's", "The sub-indicators (keys below); "
           "a file with only `name`, `dimensions` and `weights` changes the weights of the default ones."),
)
SUB_INDICATOR_KEY_DOCS = (
    KeyDoc("id", "text", "", "Stable identifier: lower-case letters, digits and `_`."),
    KeyDoc("dimension", "text", "", "The dimension the sub-indicator counts in.", DIMENSIONS),
    KeyDoc("label_fr", "text", "", "What French readers see."),
    KeyDoc("label_en", "text", "", "What English readers see."),
    KeyDoc("indicator", "text", "", "A 0/1 indicator of indicators.toml (turned round when lower is "
           "better); or give `field`/`fields` with a `recode`."),
    KeyDoc("field", "text", "", "A select_one question whose answer is recoded."),
    KeyDoc("fields", "list of texts", "", "A question and its follow-up, answers joined by a space "
           "(a follow-up not asked is left out)."),
    KeyDoc("recode", "text or table: answer = number", "", "A scale of [recodes], or an inline table; an "
           "answer it does not list counts as not answered."),
    KeyDoc("weight", "number", "1", "Weight within its dimension."),
)
_TOP_KEYS = key_names(SCORE_KEY_DOCS)
_SUB_KEYS = key_names(SUB_INDICATOR_KEY_DOCS)


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
    return Problem(
        code="score_spec",
        row=None,
        column=where,
        value=None if value is None else str(value),
        message=message,
        hint=hint,
        source=source,
    )


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _read_toml(path: Path) -> tuple[dict[str, Any], bytes]:
    """The weights file's content and its bytes (hashed into `weights_hash`)."""
    parsed = read_toml_file(path, "Weights file", missing_hint="Give an existing TOML file, or copy "
                            "score_weights.toml of the study.")
    return parsed, Path(path).read_bytes()


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


def _recode_of(
    entry: Mapping[str, Any], recodes: Mapping[str, Any], where: str, problems: list[Problem]
) -> dict[str, float]:
    raw = entry.get("recode")
    if isinstance(raw, str):
        if raw not in recodes:
            problems.append(
                _problem(
                    f"{where}.recode",
                    f"no recode called '{raw}'.",
                    raw,
                    f"Recodes: {', '.join(sorted(recodes)) or 'none'}.",
                )
            )
            return {}
        raw = recodes[raw]
    if not isinstance(raw, Mapping) or not raw:
        problems.append(
            _problem(
                f"{where}.recode",
                "a recode is needed: the name of a [recodes] table or a table answer = value.",
                raw,
            )
        )
        return {}
    values: dict[str, float] = {}
    for answer, value in raw.items():
        number = _number(value)
        if number is None or not 0 <= number <= 1:
            problems.append(
                _problem(
                    f"{where}.recode.{answer}",
                    "a recoded value must be a number from 0 to 1.",
                    value,
                    "0 is the worst situation, 1 the best.",
                )
            )
            continue
        values[str(answer)] = number
    return values


def _check_fields(
    fields: tuple[str, ...],
    recode: Mapping[str, float],
    instrument: Instrument,
    where: str,
    problems: list[Problem],
) -> None:
    """Each field is a select_one of the questionnaire; each recode key a sequence of its choices;
    a single field's recode lists every choice."""
    choices: list[tuple[str, ...]] = []
    for name in fields:
        if not instrument.has(name) or instrument.question(name).type != SELECT_ONE:
            problems.append(
                _problem(
                    f"{where}.fields",
                    f"'{name}' is not a select_one question of the questionnaire.",
                    name,
                    "Recode select_one questions only.",
                )
            )
            return
        choices.append(instrument.question(name).choice_names)
    for key in recode:
        answers = key.split()
        if (
            not answers
            or len(answers) > len(fields)
            or any(answer not in choices[position] for position, answer in enumerate(answers))
        ):
            problems.append(
                _problem(
                    f"{where}.recode",
                    f"'{key}' is not an answer of {', '.join(fields)}.",
                    key,
                    "Write the choice names of the fields in order, separated by a space.",
                )
            )
    if len(fields) == 1:
        missing = [choice for choice in choices[0] if choice not in recode]
        if missing:
            problems.append(
                _problem(
                    f"{where}.recode",
                    f"no value for choice(s) {', '.join(missing)} of '{fields[0]}'.",
                    None,
                    "Give every choice of the question a value.",
                )
            )


def _sub_indicator(
    entry: Mapping[str, Any],
    catalogue: Catalogue,
    recodes: Mapping[str, Any],
    weights: Mapping[str, Any],
    where: str,
    problems: list[Problem],
) -> SubIndicator | None:
    if not isinstance(entry, Mapping):  # issue 22: a wrong-typed entry is a problem, not a traceback
        problems.append(_problem(where, "each [[sub_indicators]] entry must be a table of keys.", entry))
        return None
    for key in sorted(set(entry) - _SUB_KEYS):
        problems.append(
            _problem(
                f"{where}.{key}",
                f"unknown key '{key}'.",
                None,
                f"Keys of a sub-indicator: {', '.join(sorted(_SUB_KEYS))}.",
            )
        )
    identifier = str(entry.get("id", ""))
    if not _ID.match(identifier):
        problems.append(
            _problem(
                f"{where}.id",
                f"'{identifier}' is not a valid sub-indicator id.",
                identifier,
                "Use lower-case letters, digits and _, starting with a letter.",
            )
        )
    dimension = str(entry.get("dimension", ""))
    if dimension not in DIMENSIONS:
        problems.append(
            _problem(
                f"{where}.dimension",
                f"dimension '{dimension}' is unknown.",
                dimension,
                f"Use one of: {', '.join(DIMENSIONS)}.",
            )
        )
    weight = _number(weights.get(identifier, entry.get("weight", 1.0)))
    if weight is None or weight < 0:
        problems.append(
            _problem(
                f"{where}.weight",
                f"the weight of '{identifier}' must be a number of 0 or more.",
                weights.get(identifier, entry.get("weight")),
            )
        )
        weight = 1.0
    instrument = catalogue.instrument
    fields = entry.get("fields", [entry["field"]] if "field" in entry else [])
    fields = tuple(str(name) for name in (fields if isinstance(fields, list) else [fields]))
    indicator_id = str(entry.get("indicator", ""))
    indicator: Indicator | None = None
    label_fr, label_en = str(entry.get("label_fr", "")), str(entry.get("label_en", ""))
    if bool(indicator_id) == bool(fields):
        problems.append(
            _problem(
                where,
                f"sub-indicator '{identifier}' needs either `indicator` or `field` "
                "(with a recode), not both or neither.",
            )
        )
        return None
    recode: dict[str, float] = {}
    if indicator_id:
        if indicator_id not in catalogue.ids:
            problems.append(
                _problem(
                    f"{where}.indicator",
                    f"the catalogue has no indicator '{indicator_id}'.",
                    indicator_id,
                    "Use an id of indicators.toml.",
                )
            )
            return None
        indicator = catalogue.indicator(indicator_id)
        if indicator.kind != "proportion" or indicator.higher_is_better is None:
            problems.append(
                _problem(
                    f"{where}.indicator",
                    f"indicator '{indicator_id}' must be a proportion "
                    "with a direction (higher_is_better) to be recoded to 0/1.",
                    indicator_id,
                )
            )
            return None
        absent = [
            name
            for name in sorted(referenced_fields(indicator.formula) | referenced_fields(indicator.universe))
            if not instrument.has(name)
        ]
        if absent:
            problems.append(
                _problem(
                    f"{where}.indicator",
                    f"indicator '{indicator_id}' reads {', '.join(absent)}, which the questionnaire lacks.",
                    indicator_id,
                    "Score with a questionnaire that asks these questions.",
                )
            )
            return None
        label_fr, label_en = label_fr or indicator.label_fr, label_en or indicator.label_en
    else:
        recode = _recode_of(entry, recodes, where, problems)
        _check_fields(fields, recode, instrument, where, problems)
        if instrument.has(fields[0]):
            question = instrument.question(fields[0])
            label_fr, label_en = label_fr or question.label("fr"), label_en or question.label("en")
    return SubIndicator(
        id=identifier,
        dimension=dimension,
        weight=weight,
        label_fr=label_fr or identifier,
        label_en=label_en or identifier,
        indicator=indicator,
        fields=fields,
        recode=recode,
    )


def check_score_spec(
    raw: Mapping[str, Any], catalogue: Catalogue, weights_hash: str = "", source: str = ""
) -> tuple[ScoreSpec, list[Problem]]:
    """Build a weight set from parsed TOML and list every problem found (none: it is valid)."""
    problems: list[Problem] = []
    for key in sorted(set(raw) - _TOP_KEYS):
        problems.append(
            _problem(key, f"unknown key '{key}'.", None, f"Keys: {', '.join(sorted(_TOP_KEYS))}.")
        )
    for key in raw.get("_foreign", []):
        problems.append(
            _problem(
                key,
                f"'{key}' may only be given with the sub-indicators.",
                None,
                "A weight set without [[sub_indicators]] may set name, labels, "
                "[dimensions] and [weights] only.",
            )
        )
    recodes = raw.get("recodes", {})
    weights = raw.get("weights", {})
    entries = raw.get("sub_indicators", [])
    if not isinstance(entries, list):
        problems.append(_problem("sub_indicators", "must be a list of [[sub_indicators]] tables.", entries))
        entries = []
    subs = [
        _sub_indicator(entry, catalogue, recodes, weights, f"sub_indicators[{number}]", problems)
        for number, entry in enumerate(entries, start=1)
    ]
    ids = [sub.id for sub in subs if sub]
    for duplicated in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(
            _problem("sub_indicators", f"sub-indicator id '{duplicated}' is used twice.", duplicated)
        )
    for unknown in sorted(set(weights) - set(ids)):
        problems.append(
            _problem(
                f"weights.{unknown}",
                f"'{unknown}' is not a sub-indicator.",
                unknown,
                f"Sub-indicators: {', '.join(ids)}.",
            )
        )
    dimension_weights: dict[str, float] = {}
    given = raw.get("dimensions", {})
    for unknown in sorted(set(given) - set(DIMENSIONS)):
        problems.append(
            _problem(
                f"dimensions.{unknown}",
                f"'{unknown}' is not a dimension.",
                unknown,
                f"Dimensions: {', '.join(DIMENSIONS)}.",
            )
        )
    for dimension in DIMENSIONS:
        value = _number(given.get(dimension, 1.0))
        if value is None or value < 0:
            problems.append(
                _problem(
                    f"dimensions.{dimension}",
                    "a dimension weight must be a number of 0 or more.",
                    given.get(dimension),
                )
            )
            value = 1.0
        dimension_weights[dimension] = value
        members = [sub for sub in subs if sub and sub.dimension == dimension]
        if sum(sub.weight for sub in members) <= 0:
            problems.append(
                _problem(
                    "sub_indicators",
                    f"the {dimension} dimension has no sub-indicator with a weight above 0.",
                    dimension,
                    f'Add one with dimension = "{dimension}".',
                )
            )
    if sum(dimension_weights.values()) <= 0:
        problems.append(_problem("dimensions", "at least one dimension weight must be above 0."))
    name = str(raw.get("name", "")).strip() or "unnamed"
    spec = ScoreSpec(
        name=name,
        label_fr=str(raw.get("label_fr", name)),
        label_en=str(raw.get("label_en", name)),
        sub_indicators=tuple(sub for sub in subs if sub),
        dimension_weights=dimension_weights,
        weights_hash=weights_hash,
        instrument=catalogue.instrument,
    )
    return spec, [Problem(**{**p.__dict__, "source": source}) for p in problems]


def load_score_spec(
    path: Path,
    catalogue: Catalogue,
    weights_file: Path | None = None,
    threshold: float = 0.5,
    min_answered_share: float = 0.6,
) -> ScoreSpec:
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
        lines = "\n".join(
            f"  - {p.column}: {p.message}" + (f" ({p.hint})" if p.hint else "") for p in problems
        )
        raise SpecError(
            f"{source}: {len(problems)} problem(s) in the weights of the individual score:\n{lines}"
        )
    if not 0 <= threshold <= 1 or not 0 < min_answered_share <= 1:
        raise SpecError(
            f"Threshold {threshold} or minimum answered share {min_answered_share} out of range.",
            "Set scoring.threshold in 0..1 and scoring.min_answered_share in (0, 1].",
        )
    return ScoreSpec(
        **{**spec.__dict__, "threshold": float(threshold), "min_answered_share": float(min_answered_share)}
    )
