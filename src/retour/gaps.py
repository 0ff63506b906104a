"""Gaps between groups ("+13 points for returnees"): design-based differences of domain means and tests.

For each indicator, community (and the whole sample) and group dimension that compares two of its
levels, the gap is the difference of the two group means a - b. Which levels a group compares is a
setting of the study (`compare = ["a", "b"]` of the group in indicators.toml); a group without one has
no gaps. Both means come from the same design, so their covariance is kept: the linearised score of the
difference is z_a - z_b, summed per PSU, and its variance is the stratified between-PSU variance of
`retour.linearise` (Binder 1983; Lumley 2010, sec. 2.3):

    v(ybar_a - ybar_b) = sum_h (1 - f_h) n_h / (n_h - 1) sum_p (d_hp - dbar_h)^2,  d_hp = z_a,hp - z_b,hp

The test is the design-based t test of a zero difference, t = (ybar_a - ybar_b) / se, against Student's
t with the design degrees of freedom of the two groups together (PSUs holding an answer in a or b,
minus one, summed over strata), as svy's `contrast` computes it. The interval is difference +- t se.
p-values are adjusted for the false discovery rate across the whole table with Benjamini and Hochberg
(1995): p_(i) m / i, made monotone from the largest p down, capped at 1; every gap with a p-value
belongs to the family, suppressed ones included, which can only make the adjustment more conservative.

This module is pure and vectorised like `retour.linearise`: no files, no loops over domains or
indicators.

References: Benjamini, Y. and Hochberg, Y. (1995) JRSS B 57, 289-300. Binder, D. A. (1983) Int. Stat.
Rev. 51, 279-292. Lumley, T. (2010) Complex Surveys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl
from scipy.special import stdtr

from retour.errors import EstimationError
from retour.estimate import EstimationSpec, resolve_kinds, standard_error, t_quantile
from retour.linearise import Design, Linearised, design_variance_and_df, linearise, pair_sums

GAP_COLUMNS = ("group_dimension", "group_a", "group_b", "indicator_id", "difference", "se", "ci_low",
               "ci_high", "statistic", "p_value", "p_adjusted", "n_a", "n_b", "suppressed")


def gaps(
    frame: pl.DataFrame,
    indicators: Sequence[str],
    design: Design,
    spec: EstimationSpec,
    pairs: Mapping[str, tuple[str, str]],
    domains: Sequence[str] = ("community_id",),
    groups: Sequence[str] | None = None,
    kinds: Mapping[str, str] | None = None,
    levels: Mapping[str, Sequence[str]] | None = None,
) -> pl.DataFrame:
    """The gap a - b of every indicator for every domain value (and all) and every dimension in `pairs`.

    One row per domain x dimension x indicator with the columns of the `gaps` table: difference, se,
    ci_low, ci_high, statistic (t), p_value, p_adjusted (Benjamini-Hochberg over the table), n_a, n_b
    and suppressed (n_a or n_b below min_cell). `pairs` maps a group dimension to the levels (a, b) it
    compares (a study passes its catalogue's: `{group.id: group.compare}` of the groups that compare);
    `groups` defaults to the dimensions of `pairs`. `levels` as in `retour.estimate.estimate`.
    """
    groups = tuple(pairs) if groups is None else tuple(groups)
    _check_pairs(pairs, groups)
    if levels is None:  # the compared levels are reported even where nobody holds them
        levels = {dim: tuple(pair) for dim, pair in pairs.items()}
    kinds = resolve_kinds(indicators, kinds)
    lin = linearise(frame, indicators, design, domains, groups, kinds, spec.lonely_psu, levels)
    return gaps_of(lin, spec, pairs)


def gaps_of(lin: Linearised, spec: EstimationSpec, pairs: Mapping[str, tuple[str, str]]) -> pl.DataFrame:
    """The gaps table of a linearisation (see `gaps`): rows in the order of its groups and domains."""
    _check_pairs(pairs, lin.domains["group_dimension"].unique().to_list())
    table = _gap_table(lin.domains, pairs, lin.domain_columns)
    row_a, row_b = table["_row_a"].to_numpy(), table["_row_b"].to_numpy()
    n_gaps = table.height

    gap_of = np.full(lin.domains.height, -1, dtype=np.int64)
    sign_of = np.zeros(lin.domains.height)
    gap_of[row_a], sign_of[row_a] = np.arange(n_gaps), 1.0
    gap_of[row_b], sign_of[row_b] = np.arange(n_gaps), -1.0
    signed = np.hstack([lin.scores * sign_of[lin.pair_domain][:, None], lin.answered])
    psu, gap, sums = pair_sums(lin.pair_psu, gap_of[lin.pair_domain], signed, n_gaps)
    k = len(lin.indicators)
    variance, df = design_variance_and_df(lin.layout, psu, gap, sums[:, :k], sums[:, k:] > 0, n_gaps)

    mean_a, mean_b = lin.estimate[row_a], lin.estimate[row_b]
    difference = mean_a - mean_b
    se = standard_error(variance, np.where(np.isnan(difference), np.nan, np.fmax(abs(mean_a), abs(mean_b))))
    with np.errstate(invalid="ignore", divide="ignore"):
        statistic = np.where(se > 0, difference / se, np.nan)
        p_value = np.where(df > 0, 2 * stdtr(np.where(df > 0, df, 1.0), -np.abs(statistic)), np.nan)
    half = t_quantile(df, spec.confidence) * se
    n_a, n_b = lin.n[row_a], lin.n[row_b]
    values = {"difference": difference, "se": se, "ci_low": difference - half, "ci_high": difference + half,
              "statistic": statistic, "p_value": p_value, "p_adjusted": benjamini_hochberg(p_value),
              "n_a": n_a, "n_b": n_b, "suppressed": (n_a < spec.min_cell) | (n_b < spec.min_cell)}
    labels = table.select([*lin.domain_columns, "group_dimension", "group_a", "group_b"])
    indicator_ids = pl.Series("indicator_id", lin.indicators, dtype=pl.Utf8)
    columns = [indicator_ids.gather(np.tile(np.arange(k), n_gaps))]
    for name, array in values.items():  # the output columns
        column = pl.Series(name, array.ravel())
        columns.append(column.fill_nan(None) if array.dtype.kind == "f" else column)
    return labels[np.repeat(np.arange(n_gaps), k)].with_columns(columns)


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values over all finite entries (any shape); NaN stays NaN.

    p_adj_(i) = min over j >= i of p_(j) m / j, capped at 1, for the m finite p-values in ascending order.
    """
    p = np.asarray(p_values, dtype=np.float64)
    flat = p.ravel()
    finite = np.flatnonzero(np.isfinite(flat))
    adjusted = np.full(flat.shape, np.nan)
    if finite.size:
        order = finite[np.argsort(flat[finite], kind="stable")]
        m = order.size
        scaled = flat[order] * (m / np.arange(1, m + 1))  # factors >= 1: never below p
        adjusted[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    return adjusted.reshape(p.shape)


def _check_pairs(pairs: Mapping[str, tuple[str, str]], groups: Sequence[str]) -> None:
    """An EstimationError when a pair's dimension is not a group, or does not compare two levels."""
    unknown = sorted(set(pairs) - set(groups))
    if unknown:
        raise EstimationError(f"Gaps asked for dimensions that are not groups: {', '.join(unknown)}.",
                              "Add them to the groups, or drop them from the gap pairs.")
    bad = sorted(dim for dim, pair in pairs.items() if len(pair) != 2 or pair[0] == pair[1])
    if bad:
        raise EstimationError(f"Gaps must compare two different levels: {', '.join(bad)}.",
                              'Give each group compare = ["a", "b"] with two of its levels.')


def _gap_table(domains: pl.DataFrame, pairs: Mapping[str, tuple[str, str]],
               domain_columns: Sequence[str]) -> pl.DataFrame:
    """One row per reported domain value (and all) x dimension with a pair: the rows of a and of b."""
    wanted = pl.DataFrame({"group_dimension": list(pairs), "group_a": [a for a, _ in pairs.values()],
                           "group_b": [b for _, b in pairs.values()]}, schema={
                               "group_dimension": pl.Utf8, "group_a": pl.Utf8, "group_b": pl.Utf8})
    rows = domains.with_row_index("_row").filter(pl.col("_report"))
    keys = ["_domain", "_dim", "group_dimension"]
    side_a = rows.join(wanted, left_on=["group_dimension", "group"], right_on=["group_dimension", "group_a"])
    side_b = rows.join(wanted, left_on=["group_dimension", "group"], right_on=["group_dimension", "group_b"])
    table = side_a.select([*domain_columns, *keys, "_order", pl.col("group").alias("group_a"),
                           pl.col("group_b"), pl.col("_row").alias("_row_a")]).join(
        side_b.select([*keys, pl.col("_row").alias("_row_b")]), on=keys)
    return table.sort("_order")
