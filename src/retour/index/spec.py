"""The index specification: which indicators feed which pillar, and how they are normalised and combined.

An `IndexSpec` is read from the study's `index.toml` and indicator catalogue, checked as a whole, and saved
as JSON next to every stored index so that the index can be rebuilt exactly. It holds no data and does
no arithmetic.

`index.toml` (every key optional; the defaults are the study's rules):

    normalisation = "minmax"           # a registered normaliser
    aggregation = "arithmetic"         # within each pillar
    composite = "arithmetic"           # pillars -> composite
    weights = "catalogue"              # within-pillar weights: the catalogue's, or "equal"
    goalposts = "reference_round"      # freeze the reference round's min and max for later rounds,
                                       # or "each_round" (every round normalised on its own)
    reference_round = "baseline"       # default: [index] reference_round of retour.toml
    geometric_floor = 0.01
    pillars = ["economic", "social", "psychosocial"]
    min_indicators_per_pillar = 3      # a pillar with fewer indicators is built, with a warning
                                       # (docs/methodology.md, section 4: why a pillar needs several)

    [pillar_weights]                   # weights of the pillars in the composite (default equal)
    economic = 1.0
    social = 1.0
    psychosocial = 1.0

    [fixed_goalposts.paid_job_or_iga]  # fixed goalposts (the 'goalposts' normaliser needs them all)
    low = 0.0
    high = 1.0

    [alternatives]                     # what the method-uncertainty analysis varies
    normalisations = ["minmax", "zscore", "rank", "distance_to_best"]
    aggregations = ["arithmetic", "geometric"]
    weights = ["catalogue", "equal"]

The catalogue supplies each indicator's pillar, `higher_is_better` and weight; indicators without a
pillar (or with pillar "none") stay out of the index. A pillar without indicators is an error; one
with fewer than `min_indicators_per_pillar` is only named by `small_pillar_warnings`.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from retour.errors import SpecError
from retour.index.aggregate import AGGREGATORS, DEFAULT_FLOOR, check_weights, get_aggregator
from retour.index.normalise import NORMALISERS, get_normaliser
from retour.keydocs import KeyDoc, key_names
from retour.textfiles import read_toml_file

PILLARS = ("economic", "social", "psychosocial")
COMPOSITE = "composite"
WEIGHTINGS = ("catalogue", "equal")
GOALPOSTS_FROM = ("reference_round", "each_round")
MIN_INDICATORS_PER_PILLAR = 3

# The keys of index.toml and of its [alternatives] table (docs/study-files.md is generated from them).
INDEX_KEY_DOCS = (
    KeyDoc("normalisation", "text", "minmax", "How each indicator is put on a 0..1 scale where 1 is best.",
           tuple(NORMALISERS)),
    KeyDoc("aggregation", "text", "arithmetic", "How a pillar's normalised indicators are combined.",
           tuple(AGGREGATORS)),
    KeyDoc("weights", "text", "catalogue", "Indicator weights in a pillar: indicators.toml's `weight`, or "
           "all equal.", WEIGHTINGS),
    KeyDoc("composite", "text", "arithmetic", "How the pillar indices are combined into the composite.",
           tuple(AGGREGATORS)),
    KeyDoc("goalposts", "text", "reference_round", "Goalposts (min and max) frozen at the reference round, "
           "or taken anew in each round.", GOALPOSTS_FROM),
    KeyDoc("reference_round", "text", "[index] reference_round of retour.toml", "Round whose min and max "
           "become the goalposts."),
    KeyDoc("geometric_floor", "number", str(DEFAULT_FLOOR), "Smallest value a geometric or harmonic mean "
           "takes in, so one 0 does not zero the pillar."),
    KeyDoc("min_indicators_per_pillar", "integer", str(MIN_INDICATORS_PER_PILLAR), "Fewer indicators in a "
           "pillar give a warning."),
    KeyDoc("pillars", "list of texts", ", ".join(PILLARS), "The pillars indicators.toml's `pillar` names."),
    KeyDoc("pillar_weights", "table: pillar = number", "1 each", "Weights of the pillars in the composite."),
    KeyDoc("fixed_goalposts", "table of tables: indicator.low, indicator.high", "none", "Fixed goalposts "
           "per indicator (the `goalposts` normalisation needs one for each)."),
    KeyDoc("alternatives", "table", "none", "Method choices the uncertainty analysis re-runs the index "
           "over (keys below)."),
)
ALTERNATIVES_KEY_DOCS = (
    KeyDoc("normalisations", "list of texts", "none", "Normalisations to try.", tuple(NORMALISERS)),
    KeyDoc("aggregations", "list of texts", "none", "Aggregations to try.", tuple(AGGREGATORS)),
    KeyDoc("weights", "list of texts", "none", "Indicator weightings to try.", WEIGHTINGS),
)


@dataclass(frozen=True)
class IndexIndicator:
    """One indicator of the index: its pillar, direction and weight within the pillar."""

    indicator_id: str
    pillar: str
    higher_is_better: bool = True
    weight: float = 1.0


@dataclass(frozen=True)
class Goalpost:
    """Fixed low and high values of an indicator, in its own units (proportions on 0..1)."""

    indicator_id: str
    low: float
    high: float


@dataclass(frozen=True)
class MethodAlternatives:
    """The choices the method-uncertainty analysis varies (every combination is built)."""

    normalisations: tuple[str, ...] = ("minmax", "zscore", "rank", "distance_to_best")
    weights: tuple[str, ...] = WEIGHTINGS
    aggregations: tuple[str, ...] = ("arithmetic", "geometric")


@dataclass(frozen=True)
class IndexSpec:
    """How to build the index; `IndexSpec(indicators=(...))` gives the study's default rules."""

    indicators: tuple[IndexIndicator, ...]
    pillars: tuple[str, ...] = PILLARS
    normalisation: str = "minmax"
    aggregation: str = "arithmetic"
    weights: str = "catalogue"
    composite: str = "arithmetic"
    pillar_weights: tuple[float, ...] = ()
    goalposts: tuple[Goalpost, ...] = ()
    goalposts_from: str = "reference_round"
    reference_round: str = "baseline"
    geometric_floor: float = DEFAULT_FLOOR
    alternatives: MethodAlternatives = field(default_factory=MethodAlternatives)
    min_indicators_per_pillar: int = MIN_INDICATORS_PER_PILLAR

    def __post_init__(self) -> None:
        _check(self)

    # --- views used by the build -------------------------------------------------------------------------
    @property
    def indicator_ids(self) -> tuple[str, ...]:
        return tuple(indicator.indicator_id for indicator in self.indicators)

    @property
    def higher_is_better(self) -> np.ndarray:
        return np.array([indicator.higher_is_better for indicator in self.indicators], dtype=bool)

    def indicator_weights(self) -> np.ndarray:
        """Within-pillar weights in indicator order: the catalogue's, or all 1 when weights = 'equal'."""
        if self.weights == "equal":
            return np.ones(len(self.indicators))
        return np.array([indicator.weight for indicator in self.indicators], dtype=float)

    def pillar_members(self, pillar: str) -> np.ndarray:
        """Positions (in indicator order) of the indicators of `pillar`."""
        return np.array([i for i, ind in enumerate(self.indicators) if ind.pillar == pillar], dtype=int)

    def small_pillars(self) -> dict[str, tuple[str, ...]]:
        """Pillar -> its indicator ids, for the pillars with fewer than `min_indicators_per_pillar`."""
        members = {p: tuple(i.indicator_id for i in self.indicators if i.pillar == p) for p in self.pillars}
        return {p: ids for p, ids in members.items() if len(ids) < self.min_indicators_per_pillar}

    def composite_weights(self) -> np.ndarray:
        return np.array(self.pillar_weights or (1.0,) * len(self.pillars), dtype=float)

    def goalpost_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Fixed low and high per indicator (NaN where the spec sets none)."""
        fixed = {goalpost.indicator_id: goalpost for goalpost in self.goalposts}
        low = np.array([fixed[i].low if i in fixed else np.nan for i in self.indicator_ids])
        high = np.array([fixed[i].high if i in fixed else np.nan for i in self.indicator_ids])
        return low, high

    # --- variants ----------------------------------------------------------------------------------------
    def with_goalposts(self, goalposts: Iterable[Goalpost]) -> IndexSpec:
        """This spec with goalposts added for indicators that have none yet (fixed ones are kept)."""
        fixed = {goalpost.indicator_id for goalpost in self.goalposts}
        known = set(self.indicator_ids)
        added = tuple(g for g in goalposts if g.indicator_id not in fixed and g.indicator_id in known)
        return replace(self, goalposts=self.goalposts + added)

    def variant(self, **changes: Any) -> IndexSpec:
        """This spec with some settings changed (checked again)."""
        return replace(self, **changes)

    # --- JSON and TOML -----------------------------------------------------------------------------------
    def to_json(self) -> str:
        """The spec as JSON text (stable key order), as saved in the `index_specs` table."""
        return json.dumps(asdict(self), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> IndexSpec:
        """The spec saved by `to_json`."""
        try:
            raw = json.loads(text)
            return cls(
                indicators=tuple(IndexIndicator(**item) for item in raw.pop("indicators")),
                goalposts=tuple(Goalpost(**item) for item in raw.pop("goalposts", [])),
                alternatives=MethodAlternatives(**{k: tuple(v) for k, v in raw.pop("alternatives").items()}),
                pillars=tuple(raw.pop("pillars")),
                pillar_weights=tuple(raw.pop("pillar_weights", ())),
                **raw,
            )
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise SpecError(f"Stored index spec cannot be read ({error}).",
                            "Rebuild the index with: retour index DIR") from None

    @classmethod
    def from_toml(cls, index_toml: Path | str | Mapping[str, Any], catalogue: Iterable[Any],
                  reference_round: str = "baseline") -> IndexSpec:
        """Read `index.toml` (a Path, TOML text as a str, or a parsed mapping) with the indicator catalogue.

        `catalogue` is an iterable of indicator definitions, objects or mappings with `id` (or
        `indicator_id`), `pillar`, `higher_is_better` and `weight`. `reference_round` is used when
        index.toml does not name one.
        """
        source, raw = _read_toml(index_toml)
        _check_types(source, raw)
        options = {"reference_round": reference_round, **raw}
        pillars = tuple(options.pop("pillars", PILLARS))
        pillar_weights = options.pop("pillar_weights", None)
        fixed = options.pop("fixed_goalposts", {})
        alternatives = options.pop("alternatives", {})
        if "goalposts" in options:
            options["goalposts_from"] = options.pop("goalposts")
        extra = set(raw) - key_names(INDEX_KEY_DOCS)
        if extra:
            raise SpecError(f"{source}: unknown key(s) {', '.join(sorted(extra))}.",
                            f"Keys allowed: {', '.join(sorted(key_names(INDEX_KEY_DOCS)))}.")
        try:
            return cls(
                indicators=_indicators_from(getattr(catalogue, "indicators", catalogue), pillars),
                pillars=pillars,
                pillar_weights=_pillar_weights(pillar_weights, pillars),
                goalposts=tuple(_goalpost(name, value) for name, value in fixed.items()),
                alternatives=_alternatives(alternatives),
                **options,
            )
        except SpecError as error:
            raise SpecError(f"{source}: {error.message}", error.hint) from None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_texts(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(item, str) for item in value)


# What each key of index.toml must hold, as a test and the words of the error (issue 22: a wrong type is
# one line naming the key, not a traceback).
_KEY_TYPES = {
    "text": (lambda value: isinstance(value, str), 'a text in quotes, e.g. "minmax"'),
    "number": (_is_number, "a number, e.g. 0.01"),
    "integer": (lambda value: isinstance(value, int) and not isinstance(value, bool),
                "a whole number, e.g. 3"),
    "list of texts": (_is_texts, 'a list of texts, e.g. ["economic", "social"]'),
    "table: pillar = number": (
        lambda value: isinstance(value, Mapping) and all(_is_number(item) for item in value.values()),
        "a table of numbers, e.g. pillar_weights = { economic = 1.0, social = 1.0 }"),
    "table of tables: indicator.low, indicator.high": (
        lambda value: isinstance(value, Mapping) and all(
            isinstance(item, Mapping) and all(_is_number(bound) for bound in item.values())
            for item in value.values()),
        "tables of numbers, e.g. fixed_goalposts.INDICATOR = { low = 0.0, high = 1.0 }"),
    "table": (lambda value: isinstance(value, Mapping) and all(_is_texts(item) for item in value.values()),
              'a table of lists of texts, e.g. alternatives = { normalisations = ["minmax", "rank"] }'),
}


def _check_types(source: str, raw: Mapping[str, Any]) -> None:
    """SpecError naming the first key of index.toml whose value has the wrong type."""
    for doc in INDEX_KEY_DOCS:
        if doc.name not in raw or doc.type not in _KEY_TYPES:
            continue
        test, expected = _KEY_TYPES[doc.type]
        if not test(raw[doc.name]):
            raise SpecError(f"{source}: {doc.name} = {raw[doc.name]!r} is not {expected.split(', e.g.')[0]}.",
                            f"Write {doc.name} as {expected}.")


def _read_toml(index_toml: Path | str | Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    if isinstance(index_toml, Mapping):
        return "index.toml", index_toml
    if isinstance(index_toml, Path):
        return str(index_toml), read_toml_file(index_toml, "Index spec", SpecError,
                                               "Every study needs an index.toml; see `retour init`.")
    try:
        return "index.toml", tomllib.loads(str(index_toml))
    except tomllib.TOMLDecodeError as error:
        raise SpecError(f"index.toml: not valid TOML ({error}).") from None


def _field(item: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        if isinstance(item, Mapping) and name in item:
            return item[name]
        if not isinstance(item, Mapping) and hasattr(item, name):
            return getattr(item, name)
    return default


def _indicators_from(catalogue: Iterable[Any], pillars: tuple[str, ...]) -> tuple[IndexIndicator, ...]:
    """Catalogue entries with a pillar, as IndexIndicators (entries without a pillar are left out)."""
    chosen = []
    for item in catalogue:
        pillar = _field(item, "pillar")
        pillar = getattr(pillar, "value", pillar)
        if not pillar or pillar == "none":
            continue
        indicator_id = _field(item, "indicator_id", "id")
        weight = _field(item, "weight", default=1.0)
        chosen.append(IndexIndicator(
            indicator_id=str(indicator_id),
            pillar=str(pillar),
            higher_is_better=bool(_field(item, "higher_is_better", default=True)),
            weight=float(1.0 if weight is None else weight),
        ))
    if not chosen:
        raise SpecError("the indicator catalogue gives no indicator a pillar.",
                        f"Set `pillar` ({', '.join(pillars)}) on the indicators of the index "
                        "in indicators.toml.")
    return tuple(chosen)


def _pillar_weights(raw: Any, pillars: tuple[str, ...]) -> tuple[float, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping) or set(raw) != set(pillars):
        raise SpecError("pillar_weights must give a weight to each pillar and nothing else.",
                        f"Example: pillar_weights = {{ {', '.join(f'{p} = 1' for p in pillars)} }}")
    return tuple(float(raw[pillar]) for pillar in pillars)


def _goalpost(indicator_id: str, raw: Any) -> Goalpost:
    if not isinstance(raw, Mapping) or set(raw) != {"low", "high"}:
        raise SpecError(f"[fixed_goalposts.{indicator_id}] needs exactly `low` and `high`.",
                        f"Example: [fixed_goalposts.{indicator_id}] low = 0.0  high = 1.0")
    return Goalpost(indicator_id, float(raw["low"]), float(raw["high"]))


def _alternatives(raw: Mapping[str, Any]) -> MethodAlternatives:
    allowed = key_names(ALTERNATIVES_KEY_DOCS)
    if set(raw) - allowed:
        raise SpecError(f"unknown key(s) in [alternatives]: {', '.join(sorted(set(raw) - allowed))}.",
                        f"Keys allowed: {', '.join(sorted(allowed))}.")
    return MethodAlternatives(**{key: tuple(value) for key, value in raw.items()})


def _check(spec: IndexSpec) -> None:
    """Every problem of a spec that would make the build fail or mislead, as one SpecError."""
    problems: list[str] = []
    ids = spec.indicator_ids
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        problems.append(f"indicators listed twice: {', '.join(repeated)}")
    for indicator in spec.indicators:
        if indicator.pillar not in spec.pillars:
            problems.append(f"indicator {indicator.indicator_id} has pillar '{indicator.pillar}', "
                            f"not one of {', '.join(spec.pillars)}")
    empty = [p for p in spec.pillars if not any(i.pillar == p for i in spec.indicators)]
    if empty:
        problems.append(f"no indicator feeds pillar(s) {', '.join(empty)}")
    if COMPOSITE in spec.pillars:
        problems.append(f"'{COMPOSITE}' is reserved for the composite score and cannot be a pillar")
    for name in (spec.normalisation, *spec.alternatives.normalisations):
        get_normaliser(name)
    for name in (spec.aggregation, spec.composite, *spec.alternatives.aggregations):
        get_aggregator(name)
    for weighting in (spec.weights, *spec.alternatives.weights):
        if weighting not in WEIGHTINGS:
            problems.append(f"weights = '{weighting}' (use 'catalogue' or 'equal')")
    if spec.goalposts_from not in GOALPOSTS_FROM:
        problems.append(f"goalposts = '{spec.goalposts_from}' (use {' or '.join(map(repr, GOALPOSTS_FROM))})")
    check_weights(np.array([i.weight for i in spec.indicators]), "indicator weights")
    if spec.pillar_weights:
        if len(spec.pillar_weights) != len(spec.pillars):
            problems.append("pillar_weights needs one weight per pillar")
        check_weights(np.array(spec.pillar_weights), "pillar_weights")
    minimum = spec.min_indicators_per_pillar
    if isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 1:
        problems.append(f"min_indicators_per_pillar must be a whole number of 1 or more (got {minimum!r})")
    if not spec.geometric_floor > 0:
        problems.append(f"geometric_floor must be above 0 (got {spec.geometric_floor})")
    fixed = {g.indicator_id for g in spec.goalposts}
    unknown_goalposts = sorted(fixed - set(ids))
    if unknown_goalposts:
        problems.append(f"goalposts for indicators not in the index: {', '.join(unknown_goalposts)}")
    for name in (spec.normalisation, *spec.alternatives.normalisations):
        missing = [i for i in ids if i not in fixed]
        if get_normaliser(name).needs_goalposts and missing:
            problems.append(f"normalisation '{name}' needs goalposts for every indicator; missing for "
                            f"{', '.join(missing)}")
    for goalpost in spec.goalposts:
        if not (np.isfinite(goalpost.low) and np.isfinite(goalpost.high)) or goalpost.low > goalpost.high:
            problems.append(f"goalposts of {goalpost.indicator_id}: low {goalpost.low} must be a number "
                            f"no higher than high {goalpost.high}")
    if problems:
        raise SpecError("Index spec invalid: " + "; ".join(problems) + ".",
                        "Fix index.toml or the pillars, directions and weights in indicators.toml.")


def small_pillar_warnings(spec: IndexSpec) -> list[str]:
    """One line per pillar with fewer indicators than `min_indicators_per_pillar`: the index is still
    built, but such a pillar's score rests on one or two estimates (docs/methodology.md, section 4)."""
    setting = f"min_indicators_per_pillar = {spec.min_indicators_per_pillar} in index.toml"
    return [
        f"pillar '{pillar}' has {len(ids)} indicator(s) ({', '.join(ids)}), fewer than {setting}: its "
        f"score rests on few estimates. Set pillar = \"{pillar}\" on more indicators in indicators.toml, "
        "or lower min_indicators_per_pillar."
        for pillar, ids in spec.small_pillars().items()
        if ids  # a pillar without indicators is an error of the spec itself
    ]
