"""Uncertainty of index scores and ranks: the survey bootstrap (sampling) and the method analysis.

Sampling: replicate weights (`replicates.rescaled_bootstrap`) re-estimate every indicator per community
as a weighted mean, and the index is rebuilt on all replicates at once (`build_arrays` on an array of
shape (replicates, communities, indicators)). Method: the same build re-run over every combination of the
spec's alternative normalisations, weightings (catalogue or equal) and within-pillar aggregations.
Either way the scores and ranks of each community and pillar are summarised as percentile intervals at
the chosen level and the probability of each rank. Pure functions; no I/O.

References: Rao and Wu (1988), *JASA* 83, 231-241; Saisana, Saltelli and Tarantola (2005), Uncertainty
and sensitivity analysis techniques as tools for the quality assessment of composite indicators,
*JRSS A* 168, 307-323.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import product

import numpy as np
import polars as pl
from scipy import sparse

from retour.errors import EstimationError
from retour.index import COMPOSITE, IndexResult, build_arrays, rank_scores
from retour.index.normalise import get_normaliser
from retour.index.replicates import ReplicateWeights, rescaled_bootstrap

Progress = Callable[[float], None]  # called with the share of replicates done (0..1)
CHUNK = 250  # replicates re-estimated per sparse product (bounds memory for large samples)


@dataclass(frozen=True)
class Uncertainty:
    """Score and rank intervals and rank probabilities from `draws` rebuilt indices.

    intervals: community_id, pillar, score_low, score_high, rank_low, rank_high (null where no draw gives
    a score). rank_probabilities: community_id, pillar, rank, probability (summing to 1 per community and
    pillar). `source` is 'sampling' or 'method'.
    """

    source: str
    level: float
    draws: int
    intervals: pl.DataFrame
    rank_probabilities: pl.DataFrame


def replicate_estimates(data: pl.DataFrame, result: IndexResult, weights: ReplicateWeights,
                        progress: Progress | None = None) -> np.ndarray:
    """Weighted means of every index indicator per community for every replicate: shape (R, C, I).

    estimate[r, c, j] = sum_i w_ir y_ij / sum_i w_ir over the respondents i of community c with a value
    of indicator j. Respondents are first summed within (PSU, community) cells, which share one
    multiplier per replicate; an indicator matrix of cells by (community, indicator) then gives all the
    sums of a chunk of replicates in one sparse product. Where the point estimate is missing
    (suppressed), the replicates are missing too.
    """
    communities = list(result.communities)
    ids = list(result.spec.indicator_ids)
    absent = [column for column in ("community_id", *ids) if column not in data.columns]
    if absent:
        raise EstimationError(f"The respondent data lack column(s) {', '.join(absent)}.",
                              "Check indicators.toml, then run: retour estimate DIR")
    community = (data["community_id"].cast(pl.Utf8).fill_null("")
                 .replace_strict(communities, list(range(len(communities))), default=-1).to_numpy())
    values = data.select([pl.col(i).cast(pl.Float64) for i in ids]).to_numpy().astype(float)
    keep = community >= 0
    community, values, psu, weight = community[keep], values[keep], weights.psu[keep], weights.weight[keep]
    present = ~np.isnan(values)
    cell_key = psu * len(communities) + community
    cells, cell_of = np.unique(cell_key, return_inverse=True)
    to_cells = sparse.csr_matrix((np.ones(cell_of.size), (cell_of, np.arange(cell_of.size))),
                                 shape=(cells.size, cell_of.size))
    numerator = to_cells @ (weight[:, None] * np.where(present, values, 0.0))
    denominator = to_cells @ (weight[:, None] * present)
    cell_community, cell_psu = cells % len(communities), cells // len(communities)
    numerator_map = _spread(numerator, cell_community, len(communities))
    denominator_map = _spread(denominator, cell_community, len(communities))
    total = weights.replicates
    estimates = np.empty((total, len(communities), len(ids)))
    for start in range(0, total, CHUNK):
        stop = min(start + CHUNK, total)
        multipliers = weights.multipliers[cell_psu, start:stop]
        top = (numerator_map @ multipliers).T
        bottom = (denominator_map @ multipliers).T
        with np.errstate(invalid="ignore", divide="ignore"):
            chunk = np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), np.nan)
        estimates[start:stop] = chunk.reshape(stop - start, len(communities), len(ids))
        if progress is not None:
            progress(stop / total)
    point = result.value_matrix()
    return np.where(np.isnan(point)[None], np.nan, estimates)


def _spread(sums: np.ndarray, community: np.ndarray, count: int) -> sparse.csr_matrix:
    """(C * I, cells) sparse matrix holding each cell's sums in its community's block of rows."""
    cells, indicators = sums.shape
    rows = (community[:, None] * indicators + np.arange(indicators)[None, :]).reshape(-1)
    columns = np.repeat(np.arange(cells), indicators)
    return sparse.csr_matrix((sums.reshape(-1), (rows, columns)), shape=(count * indicators, cells))


def sampling_uncertainty(data: pl.DataFrame, result: IndexResult, replicates: int, seed: int,
                         level: float = 0.90, progress: Progress | None = None) -> Uncertainty:
    """Survey-bootstrap intervals: Rao-Wu replicate weights, re-estimation, index rebuilt per replicate.

    `data` is the respondent-level frame of contract 3 (community_id, stratum, psu, weight and one
    column per indicator).
    """
    weights = rescaled_bootstrap(data, replicates, seed)
    values = replicate_estimates(data, result, weights, progress)
    scores = build_arrays(values, result.spec).scores()
    return summarise(scores, scores, result, level, "sampling")


def method_variants(result: IndexResult) -> list[dict[str, str]]:
    """Every combination of the spec's alternative normalisation, weighting and aggregation."""
    alternatives = result.spec.alternatives
    choices = product(alternatives.normalisations, alternatives.weights, alternatives.aggregations)
    return [{"normalisation": n, "weights": w, "aggregation": a} for n, w, a in choices]


def method_uncertainty(result: IndexResult, level: float = 0.90) -> Uncertainty:
    """Intervals over the method variants, each variant counting once.

    Rank intervals and probabilities use every variant. Score intervals use only the variants whose
    normalisation gives 0..1 scores (not z-scores), so that they stay on the scale of the index.
    """
    point = result.value_matrix()[None]
    variants = method_variants(result)
    scores = np.concatenate([build_arrays(point, result.spec.variant(**v)).scores() for v in variants])
    unit = np.array([get_normaliser(v["normalisation"]).unit_scale for v in variants])
    return summarise(scores, scores[unit], result, level, "method")


def summarise(rank_draws: np.ndarray, score_draws: np.ndarray, result: IndexResult, level: float,
              source: str) -> Uncertainty:
    """Percentile intervals of scores and ranks, and rank probabilities, from draws of shape (K, C, L).

    The score interval is [q(a/2), q(1 - a/2)] of the draws with a = 1 - level (linear interpolation);
    the rank interval uses the inverted empirical distribution so its ends are ranks that occurred.
    """
    if not 0 < level < 1:
        raise EstimationError(f"Interval level {level} is not between 0 and 1.",
                              "Set index.interval_level in retour.toml (default 0.90).")
    tail = (1.0 - level) / 2.0
    communities = list(result.communities)
    labels = [*result.spec.pillars, COMPOSITE]
    ranks = rank_scores(rank_draws)
    score_low, score_high = _quantiles(score_draws, tail, "linear")
    rank_low, rank_high = _quantiles(ranks, tail, "inverted_cdf")
    count = len(communities) * len(labels)
    intervals = pl.DataFrame({
        "community_id": np.repeat(communities, len(labels)).tolist(),
        "pillar": labels * len(communities),
        "score_low": score_low.reshape(-1), "score_high": score_high.reshape(-1),
        "rank_low": rank_low.reshape(-1), "rank_high": rank_high.reshape(-1),
    }).with_columns(pl.col("score_low", "score_high").fill_nan(None),
                    pl.col("rank_low", "rank_high").fill_nan(None).cast(pl.Int64))
    possible = np.arange(1, len(communities) + 1)
    hits = (ranks[..., None] == possible).sum(axis=0)
    valid = (~np.isnan(ranks)).sum(axis=0)[..., None]
    probability = np.where(valid > 0, hits / np.maximum(valid, 1), np.nan)
    rank_probabilities = pl.DataFrame({
        "community_id": np.repeat(communities, len(labels) * possible.size).tolist(),
        "pillar": np.tile(np.repeat(labels, possible.size), len(communities)).tolist(),
        "rank": np.tile(possible, count),
        "probability": probability.reshape(-1),
    }).filter(pl.col("probability").is_not_nan())
    return Uncertainty(source, level, int(rank_draws.shape[0]), intervals, rank_probabilities)


def _quantiles(draws: np.ndarray, tail: float, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper quantiles over the first axis, NaN where every draw is missing."""
    shape = draws.shape[1:]
    if draws.shape[0] == 0:
        return np.full(shape, np.nan), np.full(shape, np.nan)
    empty = np.isnan(draws).all(axis=0)
    filled = np.where(empty[None], 0.0, draws)
    low, high = np.nanquantile(filled, [tail, 1.0 - tail], axis=0, method=method)
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)
