"""Change between two survey rounds: design-based changes of indicators and of pillar and composite scores.

The two rounds are stacked into one frame and linearised together with `retour.estimate`, so every
change is a contrast of domain means of one combined design (Binder 1983; Lumley 2010, sec. 2.3):
the linearised score of a change is z_to - z_from, summed per PSU, and its variance is the stratified
between-PSU variance of `retour.estimate`:

    v(ybar_to - ybar_from) = v(ybar_to) + v(ybar_from) - 2 cov(ybar_to, ybar_from)

How the rounds are combined (`pairing`):
- `independent`: two separate samples. Each round's strata are kept apart (stratum = round x stratum),
  so the covariance is zero and the variances add: v = v_to + v_from.
- `panel`: respondents interviewed in both rounds are linked by their hashed `case_id` (a case id seen
  once in each round). A linked respondent keeps the stratum and PSU of the earlier round in both
  rounds, so the products of their linearised values give the covariance from linked respondents;
  everyone else keeps their own round's design. When every respondent is linked, answers every time
  and keeps their weight, this is exactly the design-based mean of the within-person differences.
- `auto`: `panel` when at least `min_cell` respondents are linked, else `independent`.
Point estimates are always each round's own estimate (as in its `estimates` table); only their
covariance depends on the pairing. Degrees of freedom: PSUs holding an answer in either round, minus
one, summed over strata (svy's `contrast`); intervals are change +- t se, the test is t = change / se,
and p-values are adjusted over the table with Benjamini-Hochberg (as `retour.gaps`).

Pillar and composite scores use the index spec with the reference round's goalposts, the same for
both rounds. A score is a smooth function S(ybar) of the community estimates; its change is linearised
by the delta method with the Jacobian of the index build (central differences of `index.build_arrays`,
exact for min-max normalisation and arithmetic means): the score's linearised value per PSU is
sum_k dS/dybar_k z_k. Rank normalisation has no derivative: its score changes get no SE.

This module is pure: it reads no file and no store, and never loops over respondents.

References: Binder, D. A. (1983) Int. Stat. Rev. 51, 279-292. Kish, L. (1987) Statistical Design for
Research, ch. 6 (overlapping samples). Lumley, T. (2010) Complex Surveys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import scipy.sparse as sparse
from scipy.special import stdtr

from retour.errors import EstimationError
from retour.estimate import EstimationSpec, resolve_kinds, standard_error, t_quantile
from retour.gaps import benjamini_hochberg
from retour.index import COMPOSITE, IndexSpec, build_arrays, rank_scores, resolve_goalposts
from retour.linearise import (
    ALL,
    Design,
    Linearised,
    design_df,
    design_variance,
    linearise,
    pair_sums,
)

PAIRINGS = ("auto", "independent", "panel")
SEPARABLE_NORMALISATIONS = ("minmax", "goalposts")  # with fixed goalposts: own values only
TREATMENT = "programme_group"  # respondent column: beneficiary | comparison (null: neither)
TREATMENT_LEVELS = ("beneficiary", "comparison")
CHANGE_COLUMNS = ("community_id", "group_dimension", "group", "indicator_id", "estimate_from", "estimate_to",
                  "change", "se", "ci_low", "ci_high", "statistic", "p_value", "p_adjusted", "df", "n_from",
                  "n_to", "suppressed")
SCORE_CHANGE_COLUMNS = ("community_id", "pillar", "score_from", "score_to", "change", "se", "ci_low",
                        "ci_high", "statistic", "p_value", "df", "rank_from", "rank_to", "rank_change")
_ROUND_CODES = ("0", "1")  # from, to: stacked rows are tagged with these, never with round names
_SEP = "|"
_BY = "_by_"
_KEY_SEP = "\x1f"  # between a dimension and a level in a sort key (never in an id)


@dataclass(frozen=True)
class Linkage:
    """How the respondents of the two rounds were paired, and how many were linked by case id."""

    pairing: str
    linked: int
    respondents_from: int
    respondents_to: int
    duplicated: int  # case ids seen more than once in a round: such respondents are not linked


@dataclass(frozen=True)
class StackedRounds:
    """Both rounds linearised together: every domain of every round, and how rows were paired.

    `domains` has one row per reported domain of `lin`: `_row` (its row in `lin`), community_id,
    group_dimension (a real dimension, or `all`), group, and `_round` (0 = from, 1 = to). `levels`: each
    group's levels in report order (see `report_order`).
    """

    lin: Linearised
    domains: pl.DataFrame
    linkage: Linkage
    min_cell: int
    confidence: float
    levels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# Linking and stacking


def link(frame_from: pl.DataFrame, frame_to: pl.DataFrame,
         case_id: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Rows (from, to) of the respondents linked by case id, and how many case ids are duplicated.

    A case id links when it appears exactly once in each round; a null case id never links.
    """
    def once(frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
        rows = frame.select(pl.col(case_id).cast(pl.Utf8).alias("_case"),
                            pl.int_range(pl.len(), dtype=pl.Int64).alias("_row")).drop_nulls("_case")
        counted = rows.with_columns(pl.len().over("_case").alias("_count"))
        duplicated = counted.filter(pl.col("_count") > 1)["_case"].n_unique()
        return counted.filter(pl.col("_count") == 1).drop("_count"), duplicated

    before, dup_before = once(frame_from)
    after, dup_after = once(frame_to)
    pairs = before.join(after, on="_case", suffix="_to").sort("_row")
    return pairs["_row"].to_numpy(), pairs["_row_to"].to_numpy(), dup_before + dup_after


def stack(frame_from: pl.DataFrame, frame_to: pl.DataFrame, indicators: Sequence[str], design: Design,
          groups: Sequence[str], pairing: str, linked: tuple[np.ndarray, np.ndarray],
          treatment: str | None = None) -> tuple[pl.DataFrame, Design]:
    """Both rounds in one frame with a combined design and round-tagged group columns.

    Group columns `_by_all` (the round code) and `_by_<dimension>` (round code | level) make each
    round's domains. `independent`: strata are round x stratum. `panel`: the to-round rows of linked
    respondents take the stratum, PSU (and fpc) of their from-round row, and their from-round row takes
    their programme group when it has none.
    """
    parts = []
    for code, frame in zip(_ROUND_CODES, (frame_from, frame_to), strict=True):
        stratum = pl.col(design.stratum).cast(pl.Utf8) if design.stratum else pl.lit("")
        if pairing == "independent":
            stratum = pl.lit(code + _SEP) + stratum
        psu = (pl.col(design.psu).cast(pl.Utf8) if design.psu
               else pl.lit(code + ":") + pl.int_range(pl.len()).cast(pl.Utf8))
        columns = [stratum.alias("_stratum"), psu.alias("_psu"),
                   pl.col(design.weight).cast(pl.Float64).alias("_weight"),
                   pl.col("community_id").cast(pl.Utf8),
                   *(pl.col(g).cast(pl.Utf8) for g in groups),
                   *(pl.col(i).cast(pl.Float64) for i in indicators)]
        if design.fpc:
            columns.append(pl.col(design.fpc).cast(pl.Float64).alias("_fpc"))
        if treatment:
            columns.append(pl.col(treatment).cast(pl.Utf8).alias("_treatment"))
        parts.append(frame.select(columns))
    before, after = parts
    rows_from, rows_to = linked
    if pairing == "panel" and len(rows_from):
        shared = ["_stratum", "_psu", *(["_fpc"] if design.fpc else [])]
        after = _overwrite(after, rows_to, before[rows_from].select(shared))
        if treatment:
            carried = before[rows_from]["_treatment"].fill_null(after[rows_to]["_treatment"])
            before = _overwrite(before, rows_from, carried.to_frame())
    dimensions = [*groups, *(["_treatment"] if treatment else [])]
    tagged = [frame.with_columns(pl.lit(code).alias(f"{_BY}all"),
                                 *((pl.lit(code + _SEP) + pl.col(g)).alias(f"{_BY}{g.lstrip('_')}")
                                   for g in dimensions))
              for code, frame in zip(_ROUND_CODES, (before, after), strict=True)]
    stacked = pl.concat(tagged, how="vertical_relaxed")
    fpc = "_fpc" if design.fpc else None
    return stacked, Design(stratum="_stratum", psu="_psu", weight="_weight", fpc=fpc)


def _overwrite(frame: pl.DataFrame, rows: np.ndarray, values: pl.DataFrame) -> pl.DataFrame:
    """`frame` with the columns of `values` written at positions `rows` (one value row per position)."""
    return frame.with_columns([frame[c].clone().scatter(rows, values[c]) for c in values.columns])


def resolve_pairing(pairing: str, linked: int, min_cell: int) -> str:
    """`independent` or `panel`: `auto` is a panel when at least `min_cell` respondents are linked."""
    if pairing not in PAIRINGS:
        raise EstimationError(f"Unknown pairing '{pairing}'.", f"Use one of: {', '.join(PAIRINGS)}.")
    if pairing == "auto":
        return "panel" if linked >= min_cell else "independent"
    if pairing == "panel" and linked == 0:
        raise EstimationError("No respondent of the first round is linked to one of the second by case id, "
                              "so the rounds cannot be compared as a panel.",
                              "Compare them as independent samples, or check that both rounds hashed "
                              "case_id with the same study secret.")
    return pairing


def linearise_rounds(
    frame_from: pl.DataFrame,
    frame_to: pl.DataFrame,
    indicators: Sequence[str],
    design: Design,
    spec: EstimationSpec,
    groups: Sequence[str] = (),
    kinds: Mapping[str, str] | None = None,
    pairing: str = "auto",
    case_id: str | None = "case_id",
    treatment: str | None = None,
    levels: Mapping[str, Sequence[str]] | None = None,
) -> StackedRounds:
    """Link, stack and linearise two rounds' respondent frames (from `indicators.derive`) in one pass.

    `groups`: the group columns changes are also broken down by (a study's catalogue groups); `levels`
    their levels in report order, as in `retour.estimate.estimate`. `treatment` names a column with
    `beneficiary` / `comparison` (null: neither), for `retour.did`.
    """
    for name, frame in (("first", frame_from), ("second", frame_to)):
        if frame.height == 0:
            raise EstimationError(f"The {name} round has no respondents.", "Ingest its submissions first.")
    can_link = case_id is not None and case_id in frame_from.columns and case_id in frame_to.columns
    rows_from, rows_to, duplicated = (link(frame_from, frame_to, case_id) if can_link
                                      else (np.zeros(0, np.int64), np.zeros(0, np.int64), 0))
    chosen = resolve_pairing(pairing, len(rows_from), spec.min_cell)
    stacked, stacked_design = stack(frame_from, frame_to, indicators, design, groups, chosen,
                                    (rows_from, rows_to), treatment)
    by = [f"{_BY}all", *(f"{_BY}{g.lstrip('_')}" for g in [*groups, *(["_treatment"] if treatment else [])])]
    lin = linearise(stacked, indicators, stacked_design, ("community_id",), by,
                    resolve_kinds(indicators, kinds), spec.lonely_psu)
    linkage = Linkage(pairing=chosen, linked=len(rows_from) if chosen == "panel" else 0,
                      respondents_from=frame_from.height, respondents_to=frame_to.height,
                      duplicated=duplicated)
    ordered = {g: tuple((levels or {}).get(g, ())) for g in groups}
    return StackedRounds(lin=lin, domains=_round_domains(lin), linkage=linkage, min_cell=spec.min_cell,
                         confidence=spec.confidence, levels=ordered)


def _round_domains(lin: Linearised) -> pl.DataFrame:
    """The reported domains of the stacked linearisation, with their round and real group."""
    rows = lin.domains.with_row_index("_row").filter(pl.col("_report") & (pl.col("group_dimension") != ALL))
    dimension = pl.col("group_dimension").str.strip_prefix(_BY)
    return rows.select(
        pl.col("_row").cast(pl.Int64), "community_id",
        pl.when(dimension == "treatment").then(pl.lit(TREATMENT)).otherwise(dimension)
        .alias("group_dimension"),
        pl.when(dimension == ALL).then(pl.lit(ALL)).otherwise(pl.col("group").str.slice(2)).alias("group"),
        pl.col("group").str.slice(0, 1).alias("_round"),
    )


# --------------------------------------------------------------------------------------------------
# Contrasts of domain means


@dataclass(frozen=True)
class Contrast:
    """Signed sums of domain means: estimate, variance and degrees of freedom (T, K)."""

    estimate: np.ndarray
    variance: np.ndarray
    df: np.ndarray
    scale: np.ndarray  # the largest |mean| involved, for the SE's rounding tolerance


def contrast(lin: Linearised, terms: Sequence[tuple[np.ndarray, float]]) -> Contrast:
    """sum_j sign_j ybar(rows_j) for T contrasts at once; each domain row is used by one term at most.

    The linearised score of a contrast is sum_j sign_j z(rows_j), summed per PSU; its variance is
    `design_variance` and its degrees of freedom those of the PSUs answering in any of its domains.
    """
    n_targets = len(terms[0][0])
    target = np.full(lin.domains.height, -1, dtype=np.int64)
    sign = np.zeros(lin.domains.height)
    estimate = np.zeros((n_targets, len(lin.indicators)))
    scale = np.zeros_like(estimate)
    for rows, term_sign in terms:  # a handful of terms (2 for a change, 4 for a difference-in-differences)
        target[rows], sign[rows] = np.arange(n_targets), term_sign
        estimate += term_sign * lin.estimate[rows]
        scale = np.fmax(scale, np.abs(lin.estimate[rows]))
    k = len(lin.indicators)
    signed = np.hstack([lin.scores * sign[lin.pair_domain][:, None], lin.answered])
    psu, group, sums = pair_sums(lin.pair_psu, target[lin.pair_domain], signed, n_targets)
    variance = design_variance(lin.layout, psu, group, sums[:, :k], n_targets)
    df = design_df(lin.layout, psu, group, sums[:, k:] > 0, n_targets)
    scale = np.where(np.isnan(estimate), np.nan, scale)
    return Contrast(estimate=estimate, variance=variance, df=df, scale=scale)


def t_test(value: np.ndarray, se: np.ndarray, df: np.ndarray,
                confidence: float) -> dict[str, np.ndarray]:
    """Interval value -+ t_df se, t statistic value / se and its two-sided p-value (Student, df)."""
    half = t_quantile(df, confidence) * se
    with np.errstate(invalid="ignore", divide="ignore"):
        statistic = np.where(se > 0, value / se, np.nan)
        p_value = np.where(df > 0, 2 * stdtr(np.where(df > 0, df, 1.0), -np.abs(statistic)), np.nan)
    return {"ci_low": value - half, "ci_high": value + half, "statistic": statistic, "p_value": p_value}


def long_table(labels: pl.DataFrame, indicators: Sequence[str],
               values: Mapping[str, np.ndarray]) -> pl.DataFrame:
    """One row per label row x indicator from (T, K) arrays."""
    k = len(indicators)
    ids = np.tile(np.array(indicators, dtype=object), labels.height)
    columns = [pl.Series("indicator_id", ids, dtype=pl.Utf8)]
    for name, array in values.items():
        column = pl.Series(name, np.asarray(array).ravel())
        columns.append(column.fill_nan(None) if column.dtype == pl.Float64 else column)
    return labels[np.repeat(np.arange(labels.height), k)].with_columns(columns)


def report_order(table: pl.DataFrame, communities: Sequence[str] | None = None,
                 levels: Mapping[str, Sequence[str]] | None = None) -> pl.DataFrame:
    """Rows in report order: communities (then all), dimensions (all first, then the groups of `levels`
    in their order, then the programme group), and each group's levels in the order `levels` gives
    (others after them, sorted)."""
    levels = levels or {}
    seen = table["community_id"].unique(maintain_order=True).to_list()
    order = [c for c in (communities or sorted(seen)) if c in seen and c != ALL] + [ALL]
    dimensions = list(dict.fromkeys([ALL, *levels, TREATMENT]))
    ranked = list(dict.fromkeys([_level_key(ALL, ALL),
                                 *(_level_key(d, lv) for d, names in levels.items() for lv in names),
                                 *(_level_key(TREATMENT, lv) for lv in TREATMENT_LEVELS)]))
    level = pl.concat_str("group_dimension", "group", separator=_KEY_SEP)
    return table.with_columns(
        pl.col("community_id").replace_strict(order, range(len(order)), default=len(order)).alias("_c"),
        pl.col("group_dimension").replace_strict(dimensions, range(len(dimensions)), default=len(dimensions))
        .alias("_d"),
        level.replace_strict(ranked, range(len(ranked)), default=len(ranked)).alias("_l"),
    ).sort("_c", "_d", "_l", "group", maintain_order=True).drop("_c", "_d", "_l")


def _level_key(dimension: str, level: str) -> str:
    """A (dimension, level) as one string: two groups may share a level's name."""
    return f"{dimension}{_KEY_SEP}{level}"


# --------------------------------------------------------------------------------------------------
# Indicator change


def indicator_change(stacked: StackedRounds) -> pl.DataFrame:
    """Change of every indicator for every community (and all) x group: the CHANGE_COLUMNS table.

    change = ybar_to - ybar_from; `suppressed` when either round has fewer than min_cell answers.
    `p_adjusted` here is Benjamini-Hochberg over the whole table; the stored comparison re-adjusts it
    within each community and group (`comparison.adjust_within_domains`), the family reports use.
    """
    keys = ["community_id", "group_dimension", "group"]
    domains = stacked.domains.filter(pl.col("group_dimension") != TREATMENT)
    table = domains.filter(pl.col("_round") == "0").join(
        domains.filter(pl.col("_round") == "1"), on=keys, suffix="_to", maintain_order="left")
    rows_from, rows_to = table["_row"].to_numpy(), table["_row_to"].to_numpy()
    lin = stacked.lin
    found = contrast(lin, [(rows_to, 1.0), (rows_from, -1.0)])
    se = standard_error(found.variance, found.scale)
    n_from, n_to = lin.n[rows_from], lin.n[rows_to]
    values = {"estimate_from": lin.estimate[rows_from], "estimate_to": lin.estimate[rows_to],
              "change": found.estimate, "se": se}
    tested = t_test(found.estimate, se, found.df, stacked.confidence)
    values |= {"ci_low": tested["ci_low"], "ci_high": tested["ci_high"], "statistic": tested["statistic"],
               "p_value": tested["p_value"], "p_adjusted": benjamini_hochberg(tested["p_value"]),
               "df": found.df, "n_from": n_from, "n_to": n_to,
               "suppressed": (n_from < stacked.min_cell) | (n_to < stacked.min_cell)}
    return report_order(long_table(table.select(keys), lin.indicators, values), levels=stacked.levels)


# --------------------------------------------------------------------------------------------------
# Score change (delta method over the index build)


def score_jacobian(values: np.ndarray, spec: IndexSpec, step: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Scores (C, S) of a (C, I) value matrix and their derivatives dS[c, s] / dx[c', i].

    Goalposts must be fixed in the spec, so that a score depends on the values only. Under `minmax`
    and `goalposts` a community's score then depends on its own values alone: the derivatives have
    shape (C, S, I) (c' = c) and one indicator is perturbed in every community at once. Otherwise
    they have shape (C, S, C, I). Central differences with step h = step max(1, |x|), every
    perturbation built in one call of `build_arrays`. Missing values (NaN) have a zero derivative.
    """
    n_c, n_i = values.shape
    h = step * np.maximum(1.0, np.abs(np.nan_to_num(values)))
    separable = spec.normalisation in SEPARABLE_NORMALISATIONS
    if separable:
        shifts = np.eye(n_i)[:, None, :] * h[None]  # (I, C, I): indicator i in every community
    else:
        shifts = np.eye(n_c * n_i).reshape(n_c * n_i, n_c, n_i) * h  # one (community, indicator) each
    m = len(shifts)
    scores = build_arrays(np.concatenate([values[None], values + shifts, values - shifts]), spec).scores()
    with np.errstate(invalid="ignore"):
        slope = np.nan_to_num(scores[1:1 + m] - scores[1 + m:])  # (M, C, S)
    n_s = scores.shape[-1]
    if separable:
        return scores[0], (slope / (2 * h.T[:, :, None])).transpose(1, 2, 0)  # (C, S, I)
    every = slope / (2 * h.reshape(-1)[:, None, None])  # (C I, C, S)
    return scores[0], every.reshape(n_c, n_i, n_c, n_s).transpose(2, 3, 0, 1)


def score_change(stacked: StackedRounds, spec: IndexSpec, excluded: Sequence[str] = ()) -> pl.DataFrame:
    """Change of every pillar score and the composite per community, with SE, test and rank change.

    Both rounds are scored with `spec` (the reference round's goalposts; indicators without one take
    the from-round's min and max). Suppressed estimates and the indicators in `excluded` (not comparable)
    are missing in both rounds, so each pillar averages the same indicators at both times.
    """
    lin = stacked.lin
    missing = sorted(set(spec.indicator_ids) - set(lin.indicators) - set(excluded))
    if missing:
        raise EstimationError(f"The index needs indicator(s) that were not compared: {', '.join(missing)}.",
                              "Compare every indicator of index.toml.")
    whole = stacked.domains.filter((pl.col("group_dimension") == ALL) & (pl.col("community_id") != ALL))
    communities = sorted(set(whole["community_id"].to_list()))
    position = [lin.indicators.index(i) if i in lin.indicators else -1 for i in spec.indicator_ids]
    matrices, rows = [], []
    for code in _ROUND_CODES:
        found = whole.filter(pl.col("_round") == code)
        by_community = dict(zip(found["community_id"].to_list(), found["_row"].to_list(), strict=True))
        round_rows = np.array([by_community.get(c, -1) for c in communities])
        matrices.append(_value_matrix(lin, round_rows, position, stacked.min_cell))
        rows.append(round_rows)
    unusable = np.isnan(matrices[0]) | np.isnan(matrices[1])  # the same indicators at both times
    matrices = [np.where(unusable, np.nan, m) for m in matrices]
    low, high = resolve_goalposts(matrices[0][None], spec)
    fixed = spec.variant(goalposts=tuple(_goalposts(spec.indicator_ids, low, high)))
    smooth = spec.normalisation != "rank"
    (score_from, slope_from), (score_to, slope_to) = (score_jacobian(m, fixed) for m in matrices)
    variance, df = _score_variance(lin, rows, position, (slope_from, slope_to))
    change = score_to - score_from
    se = np.where(smooth, standard_error(variance, np.fmax(np.abs(score_from), np.abs(score_to))), np.nan)
    tested = t_test(change, se, df, stacked.confidence)
    rank_from, rank_to = rank_scores(score_from), rank_scores(score_to)
    pillars = [*spec.pillars, COMPOSITE]
    labels = pl.DataFrame({"community_id": np.repeat(communities, len(pillars)).tolist(),
                           "pillar": pillars * len(communities)})
    values = {"score_from": score_from, "score_to": score_to, "change": change, "se": se,
              "ci_low": tested["ci_low"], "ci_high": tested["ci_high"], "statistic": tested["statistic"],
              "p_value": tested["p_value"], "df": df, "rank_from": rank_from, "rank_to": rank_to,
              "rank_change": rank_to - rank_from}
    return labels.with_columns([pl.Series(name, np.asarray(a, dtype=np.float64).ravel()).fill_nan(None)
                                for name, a in values.items()]).with_columns(
        pl.col("rank_from", "rank_to", "rank_change").cast(pl.Int64))


def _goalposts(ids: Sequence[str], low: np.ndarray, high: np.ndarray) -> list:
    from retour.index import Goalpost

    lows, highs = np.ravel(low), np.ravel(high)
    return [Goalpost(i, float(lo), float(hi)) for i, lo, hi in zip(ids, lows, highs, strict=True)
            if np.isfinite(lo) and np.isfinite(hi)]


def _value_matrix(lin: Linearised, rows: np.ndarray, position: Sequence[int], min_cell: int) -> np.ndarray:
    """(C, I) community estimates of the index indicators; NaN if absent or on fewer than min_cell answers."""
    columns = np.array(position)
    values = np.full((len(rows), len(columns)), np.nan)
    have_row, have_column = rows >= 0, columns >= 0
    picked = lin.estimate[np.ix_(rows[have_row], columns[have_column])]
    counts = lin.n[np.ix_(rows[have_row], columns[have_column])]
    values[np.ix_(have_row, have_column)] = np.where(counts >= min_cell, picked, np.nan)
    return values


def _score_variance(lin: Linearised, rows: Sequence[np.ndarray], position: Sequence[int],
                    slopes: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Variance and df (C, S) of score_to - score_from from the linearised values of both rounds.

    A pair (PSU, community domain c' of a round) contributes sign sum_i dS[c, s]/dx[c', i] z_i to score
    (c, s), sign + for the to-round and - for the from-round. With own-community derivatives (C, S, I)
    each pair feeds its community's scores only; with full ones (C, S, C, I) the pair's scores,
    spread into the columns of its community, are multiplied by the derivatives as a (C I, C S) matrix.
    """
    n_c, n_s, n_i = slopes[0].shape[0], slopes[0].shape[1], slopes[0].shape[-1]
    columns = np.array(position)
    usable = np.flatnonzero(columns >= 0)
    community_of = np.full(lin.domains.height, -1, dtype=np.int64)
    round_of = np.zeros(lin.domains.height, dtype=np.int64)
    for code, round_rows in enumerate(rows):
        present = round_rows >= 0
        community_of[round_rows[present]] = np.flatnonzero(present)
        round_of[round_rows[present]] = code
    keep = np.flatnonzero(community_of[lin.pair_domain] >= 0)
    pair_community, pair_round = community_of[lin.pair_domain[keep]], round_of[lin.pair_domain[keep]]
    z = np.zeros((len(keep), n_i))
    z[:, usable] = lin.scores[np.ix_(keep, columns[usable])]  # (Q, I) scores of the index indicators
    own = slopes[0].ndim == 3
    contribution = np.zeros((len(keep), n_s if own else n_c * n_s))
    for code in (0, 1):
        chosen = np.flatnonzero(pair_round == code)
        if own:  # (Q, S): sum_i slope[c_q, s, i] z[q, i]
            contribution[chosen] = np.einsum("qsi,qi->qs", slopes[code][pair_community[chosen]], z[chosen])
            continue
        spread = sparse.csr_matrix(
            (z[chosen].ravel(), (np.repeat(np.arange(len(chosen)), n_i),
                                 (pair_community[chosen][:, None] * n_i + np.arange(n_i)[None, :]).ravel())),
            shape=(len(chosen), n_c * n_i))
        contribution[chosen] = spread @ slopes[code].reshape(n_c * n_s, n_c * n_i).T
    contribution *= np.where(pair_round == 1, 1.0, -1.0)[:, None]
    n_groups = n_c if own else 1
    target = pair_community if own else np.zeros(len(keep), dtype=np.int64)
    psu, group, sums = pair_sums(lin.pair_psu[keep], target, contribution, n_groups)
    variance = design_variance(lin.layout, psu, group, sums, n_groups).reshape(n_c, n_s)
    df = design_df(lin.layout, psu, group, sums != 0, n_groups).reshape(n_c, n_s)
    return variance, df
