"""The reintegration index: normalise community estimates, aggregate them into pillars and a composite, rank.

`build(estimates, spec)` is pure: it takes the `estimates` frame (contract 4) of one round and an
`IndexSpec`, and returns an `IndexResult` that keeps every stage (raw, normalised, pillar, composite) as a
polars frame, the goalposts it used, each component's contribution and the spec itself, so a stored index
can be rebuilt exactly. The arithmetic runs on arrays of shape (replicates, communities, indicators) in
`build_arrays`, which the uncertainty analysis calls with a thousand replicates at once. No I/O here.

Method (design.md section 5): each indicator is normalised across communities so that 1 is best
(min-max over the reference round by default); a pillar is the weighted arithmetic mean of its
normalised indicators; the composite is the unweighted arithmetic mean of the pillars, the rule of the
reference study of the first shipped example (IOM / Samuel Hall, 2018). Ranks: 1 is the highest score;
ties share the best rank.
References: OECD/JRC (2008), *Handbook on Constructing Composite Indicators*; Becker et al. (2022), COINr.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from retour.errors import EstimationError
from retour.index.aggregate import AGGREGATORS, get_aggregator
from retour.index.normalise import NORMALISERS, Orientation, extremes, get_normaliser
from retour.index.spec import COMPOSITE, Goalpost, IndexIndicator, IndexSpec, MethodAlternatives

__all__ = [
    "AGGREGATORS", "COMPOSITE", "NORMALISERS", "ArrayBuild", "Goalpost", "IndexIndicator", "IndexResult",
    "IndexSpec", "MethodAlternatives", "build", "build_arrays", "estimate_matrix", "frozen_goalposts",
    "rank_scores",
]


@dataclass(frozen=True)
class ArrayBuild:
    """The build on arrays: normalised (R, C, I), pillars (R, C, P), composite (R, C), goalposts (R, 1, I)."""

    normalised: np.ndarray
    pillars: np.ndarray
    composite: np.ndarray
    low: np.ndarray
    high: np.ndarray

    def scores(self) -> np.ndarray:
        """Pillar scores and the composite side by side: shape (R, C, P + 1)."""
        return np.concatenate([self.pillars, self.composite[..., None]], axis=-1)


def resolve_goalposts(values: np.ndarray, spec: IndexSpec) -> tuple[np.ndarray, np.ndarray]:
    """Low and high per indicator: the spec's goalposts where set, else the min and max across communities."""
    largest, smallest = extremes(values)
    fixed_low, fixed_high = spec.goalpost_arrays()
    low = np.where(np.isnan(fixed_low), smallest, fixed_low)
    high = np.where(np.isnan(fixed_high), largest, fixed_high)
    return low, high


def build_arrays(values: np.ndarray, spec: IndexSpec) -> ArrayBuild:
    """Normalise and aggregate `values` of shape (R, C, I) (indicators in `spec.indicators` order)."""
    low, high = resolve_goalposts(values, spec)
    orientation = Orientation(spec.higher_is_better, low, high)
    normalised = get_normaliser(spec.normalisation).function(values, orientation)
    combine = get_aggregator(spec.aggregation).function
    weights = spec.indicator_weights()
    pillars = np.stack(
        [combine(normalised[..., members], weights[members], floor=spec.geometric_floor)
         for members in (spec.pillar_members(p) for p in spec.pillars)], axis=-1)
    composite = get_aggregator(spec.composite).function(pillars, spec.composite_weights(),
                                                         floor=spec.geometric_floor)
    return ArrayBuild(normalised, pillars, composite, low, high)


def rank_scores(scores: np.ndarray) -> np.ndarray:
    """Rank along the communities axis (-2 of (..., C, K)): 1 + the number of strictly higher scores.

    A missing score has a missing rank (NaN) and does not count against the others.
    """
    higher = scores[..., None, :, :] > scores[..., :, None, :]
    ranks = 1.0 + higher.sum(axis=-2)
    return np.where(np.isnan(scores), np.nan, ranks)


def estimate_matrix(estimates: pl.DataFrame, spec: IndexSpec) -> tuple[list[str], np.ndarray]:
    """Communities (sorted) and their community-level estimates as a (C, I) array.

    Uses the rows with group_dimension == 'all' and a community_id other than 'all'. A suppressed or
    null estimate is missing (NaN): its pillar is then the mean of the other indicators.
    """
    required = {"community_id", "group_dimension", "indicator_id", "estimate"}
    absent = required - set(estimates.columns)
    if absent:
        raise EstimationError(f"The estimates lack column(s) {', '.join(sorted(absent))}.",
                              "Re-run: retour estimate DIR")
    if "round" in estimates.columns and estimates["round"].n_unique() > 1:
        raise EstimationError("The estimates hold several rounds; the index is built one round at a time.",
                              "Pass the estimates of one round only.")
    rows = estimates.filter((pl.col("group_dimension") == "all") & (pl.col("community_id") != "all")
                            & pl.col("indicator_id").is_in(list(spec.indicator_ids)))
    value = pl.col("estimate").cast(pl.Float64)
    if "suppressed" in rows.columns:
        value = pl.when(pl.col("suppressed").fill_null(False)).then(None).otherwise(value)
    rows = rows.select("community_id", "indicator_id", value.alias("estimate"))
    missing = sorted(set(spec.indicator_ids) - set(rows["indicator_id"].unique().to_list()))
    if missing:
        raise EstimationError(f"No community estimates for indicator(s) of the index: {', '.join(missing)}.",
                              "Check the indicator ids in indicators.toml, then run: retour estimate DIR")
    if rows.select(pl.struct("community_id", "indicator_id").is_duplicated().any()).item():
        raise EstimationError("The estimates hold several rows for one community and indicator.",
                              "Pass the estimates of one round, with group_dimension 'all' once each.")
    communities = sorted(rows["community_id"].unique().to_list())
    wide = (rows.pivot(on="indicator_id", index="community_id", values="estimate")
            .join(pl.DataFrame({"community_id": communities}), on="community_id", how="right"))
    matrix = wide.select([pl.col(i).cast(pl.Float64) for i in spec.indicator_ids]).to_numpy()
    return communities, np.asarray(matrix, dtype=float).reshape(len(communities), len(spec.indicator_ids))


@dataclass(frozen=True)
class IndexResult:
    """A built index: every stage as a frame, with the spec that made it.

    raw: community_id, indicator_id, pillar, value. normalised: community_id, indicator_id, pillar,
    normalised. pillars: community_id, pillar, score, rank. composite: community_id, score, rank.
    goalposts: indicator_id, low, high, direction. contributions: community_id, pillar, component, value,
    normalised, weight, contribution.
    """

    spec: IndexSpec
    communities: tuple[str, ...]
    raw: pl.DataFrame
    normalised: pl.DataFrame
    pillars: pl.DataFrame
    composite: pl.DataFrame
    goalposts: pl.DataFrame
    contributions: pl.DataFrame

    def scores(self) -> pl.DataFrame:
        """Pillar and composite scores in one long frame: community_id, pillar, score, rank."""
        composite = self.composite.with_columns(pl.lit(COMPOSITE).alias("pillar"))
        order = pl.col("pillar").replace_strict([*self.spec.pillars, COMPOSITE],
                                                list(range(len(self.spec.pillars) + 1)))
        return (pl.concat([self.pillars, composite.select(self.pillars.columns)])
                .sort(order, "rank", "community_id"))

    def value_matrix(self) -> np.ndarray:
        """Raw indicator values as a (C, I) array (communities and indicators in result order)."""
        wide = self.raw.pivot(on="indicator_id", index="community_id", values="value")
        wide = _in_order(wide, self.communities)
        return wide.select(list(self.spec.indicator_ids)).to_numpy().astype(float)

    def score_matrix(self) -> np.ndarray:
        """Scores as a (C, P + 1) array: pillars in spec order, then the composite."""
        wide = self.scores().pivot(on="pillar", index="community_id", values="score")
        wide = _in_order(wide, self.communities)
        return wide.select([*self.spec.pillars, COMPOSITE]).to_numpy().astype(float)


def _in_order(wide: pl.DataFrame, communities: tuple[str, ...]) -> pl.DataFrame:
    """Rows of a frame keyed by community_id, in the given order (absent ones as nulls)."""
    return wide.join(pl.DataFrame({"community_id": list(communities)}), on="community_id", how="right")


def build(estimates: pl.DataFrame, spec: IndexSpec) -> IndexResult:
    """Build the index of one round from its `estimates` frame (contract 4) and the spec."""
    communities, matrix = estimate_matrix(estimates, spec)
    arrays = build_arrays(matrix[None], spec)
    return _result(spec, communities, matrix, arrays)


def _long(communities: list[str], spec: IndexSpec, matrix: np.ndarray, name: str) -> pl.DataFrame:
    ids, pillars = spec.indicator_ids, [i.pillar for i in spec.indicators]
    return pl.DataFrame({
        "community_id": np.repeat(communities, len(ids)).tolist(),
        "indicator_id": list(ids) * len(communities),
        "pillar": pillars * len(communities),
        name: matrix.reshape(-1),
    }, schema_overrides={name: pl.Float64})


def _scored(communities: list[str], labels: list[str], scores: np.ndarray) -> pl.DataFrame:
    ranks = rank_scores(scores)
    return pl.DataFrame({
        "community_id": np.repeat(communities, len(labels)).tolist(),
        "pillar": labels * len(communities),
        "score": scores.reshape(-1),
        "rank": ranks.reshape(-1),
    }, schema_overrides={"score": pl.Float64}).with_columns(pl.col("score").fill_nan(None),
                                                           pl.col("rank").fill_nan(None).cast(pl.Int64))


def _contributions(spec: IndexSpec, communities: list[str], matrix: np.ndarray,
                   arrays: ArrayBuild) -> pl.DataFrame:
    """weight x normalised / (sum of the weights of the components with a value), per component."""
    weights = spec.indicator_weights()
    normalised = arrays.normalised[0]
    parts = []
    for pillar in spec.pillars:
        members = spec.pillar_members(pillar)
        share = _shares(normalised[:, members], weights[members])
        parts.append(pl.DataFrame({
            "community_id": np.repeat(communities, len(members)).tolist(),
            "pillar": [pillar] * (len(communities) * len(members)),
            "component": [spec.indicator_ids[m] for m in members] * len(communities),
            "value": matrix[:, members].reshape(-1),
            "normalised": normalised[:, members].reshape(-1),
            "weight": np.tile(weights[members], len(communities)),
            "contribution": share.reshape(-1),
        }))
    pillar_scores = arrays.pillars[0]
    pillar_weights = spec.composite_weights()
    parts.append(pl.DataFrame({
        "community_id": np.repeat(communities, len(spec.pillars)).tolist(),
        "pillar": [COMPOSITE] * (len(communities) * len(spec.pillars)),
        "component": list(spec.pillars) * len(communities),
        "value": pillar_scores.reshape(-1),
        "normalised": pillar_scores.reshape(-1),
        "weight": np.tile(pillar_weights, len(communities)),
        "contribution": _shares(pillar_scores, pillar_weights).reshape(-1),
    }))
    return pl.concat(parts).with_columns(pl.col("value", "normalised", "contribution").fill_nan(None))


def _shares(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    present = np.where(np.isnan(values), 0.0, weights)
    total = present.sum(axis=-1, keepdims=True)
    return np.where(total > 0, present * np.nan_to_num(values) / np.where(total > 0, total, 1.0), np.nan)


def _result(spec: IndexSpec, communities: list[str], matrix: np.ndarray, arrays: ArrayBuild) -> IndexResult:
    directions = ["higher_is_better" if up else "lower_is_better" for up in spec.higher_is_better]
    goalposts = pl.DataFrame({
        "indicator_id": list(spec.indicator_ids),
        "low": np.broadcast_to(arrays.low, (1, 1, len(spec.indicators)))[0, 0],
        "high": np.broadcast_to(arrays.high, (1, 1, len(spec.indicators)))[0, 0],
        "direction": directions,
    })
    composite = _scored(communities, [COMPOSITE], arrays.composite[0][:, None]).drop("pillar")
    return IndexResult(
        spec=spec,
        communities=tuple(communities),
        raw=_long(communities, spec, matrix, "value").with_columns(pl.col("value").fill_nan(None)),
        normalised=_long(communities, spec, arrays.normalised[0], "normalised").with_columns(
            pl.col("normalised").fill_nan(None)),
        pillars=_scored(communities, list(spec.pillars), arrays.pillars[0]),
        composite=composite,
        goalposts=goalposts.with_columns(pl.col("low", "high").fill_nan(None)),
        contributions=_contributions(spec, communities, matrix, arrays),
    )


def frozen_goalposts(goalposts: pl.DataFrame) -> tuple[Goalpost, ...]:
    """Goalposts of a stored index (`index_goalposts` rows) as spec entries, for the rounds that follow."""
    usable = goalposts.drop_nulls(["low", "high"])
    return tuple(Goalpost(row["indicator_id"], float(row["low"]), float(row["high"]))
                 for row in usable.iter_rows(named=True))
