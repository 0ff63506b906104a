"""Design-based estimates of indicators per domain: point, SE, interval, n, design effect and flags.

The estimates of `retour.linearise` (domain means and the PSU totals of their linearised scores) become
the `estimates` table: one row per community (and the whole sample) x group x indicator.

Intervals use the t quantile with the design degrees of freedom; none is given when they are zero.
Means: ybar -+ t se. Proportions: `logit`, the Wald interval on the log-odds scale, or `wilson`, the
score interval with the effective sample size n_eff = p (1 - p) / se^2, scaled by (t_{n-1} / t_df)^2
(Korn and Graubard 1998; Franco et al. 2019), both as svy 0.35 computes them. svy gives no interval at
p = 0 or 1; there we give the Wilson interval with the effective size taken as the respondent count
(design effect 1, as Korn and Graubard do at the boundary), so it stays within [0, 1] and is never empty.

Design effect (Kish 1965), against simple random sampling with replacement of the same n:
deff = v(ybar_d) / v_srs, v_srs = (sum(w y^2) / sum(w) - ybar^2) / (n - 1), as svy's `deff="wr"`; none
where v_srs is 0 (p = 0 or 1) or n < 2.

This module is pure: no files, no store, no printing.

References: Franco, C. et al. (2019) J. Surv. Stat. Methodol. 7, 334-364. Kish, L. (1965) Survey
Sampling. Korn, E. L. and Graubard, B. I. (1998) Survey Methodology 24, 193-201. Wilson, E. B. (1927)
JASA 22, 209-212.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from scipy.special import stdtrit

from retour.errors import EstimationError
from retour.linearise import ALL, Design, Linearised, design_variance_and_df, linearise

__all__ = ["ALL", "CI_METHODS", "KINDS", "LONELY_PSU_RULES", "Design", "EstimationSpec", "estimate",
           "estimates_of", "mean_interval", "proportion_interval", "resolve_kinds", "standard_error",
           "t_quantile", "design_effect"]

KINDS = ("proportion", "mean")
CI_METHODS = ("wilson", "logit")
LONELY_PSU_RULES = ("adjust", "certainty", "remove")
_BOUNDARY = 1e-12  # svy's tolerance for p at 0 or 1, and for a zero standard error


@dataclass(frozen=True)
class EstimationSpec:
    """How estimates are computed and flagged (the study's `[estimation]` settings)."""

    confidence: float = 0.95
    ci_method: str = "logit"
    lonely_psu: str = "adjust"
    min_cell: int = 10

    def __post_init__(self) -> None:
        if not 0 < self.confidence < 1:
            raise EstimationError(f"Confidence level {self.confidence} is not between 0 and 1.",
                                  "Set estimation.confidence to e.g. 0.95.")
        if self.ci_method not in CI_METHODS:
            raise EstimationError(f"Unknown interval method '{self.ci_method}'.",
                                  f"Set estimation.ci_method to one of: {', '.join(CI_METHODS)}.")
        if self.lonely_psu not in LONELY_PSU_RULES:
            raise EstimationError(f"Unknown lonely PSU rule '{self.lonely_psu}'.",
                                  f"Set estimation.lonely_psu to one of: {', '.join(LONELY_PSU_RULES)}.")
        if self.min_cell < 1:
            raise EstimationError(f"min_cell {self.min_cell} is below 1.",
                                  "Set estimation.min_cell to 1 or more.")

    @classmethod
    def from_settings(cls, settings: Any) -> EstimationSpec:
        """The spec from a study's `EstimationSettings` (or anything with the same attributes)."""
        return cls(confidence=settings.confidence, ci_method=settings.ci_method,
                   lonely_psu=settings.lonely_psu, min_cell=settings.min_cell)


# --------------------------------------------------------------------------------------------------
# Public API


def estimate(
    frame: pl.DataFrame,
    indicators: Sequence[str],
    design: Design,
    spec: EstimationSpec,
    domains: Sequence[str] = ("community_id",),
    groups: Sequence[str] = (),
    kinds: Mapping[str, str] | None = None,
    levels: Mapping[str, Sequence[str]] | None = None,
) -> pl.DataFrame:
    """Estimate every indicator for every domain x group, and for the whole sample x group.

    One row per domain value (then `all`) x group (`all` first) x indicator, with the columns of the
    `estimates` table: estimate, se, ci_low, ci_high, n (respondents with an answer), weighted_n, deff,
    n_missing (respondents of the domain without an answer) and suppressed (n < min_cell). `kinds` maps
    an indicator to `proportion` (0/1 values; the default) or `mean`. `groups` are the group columns
    to break down by (none: the whole sample and the domains only); `levels` gives a group's levels in
    report order (a study passes its catalogue's: `{group.id: group.levels}`); values it does not list
    follow, sorted.
    """
    kinds = resolve_kinds(indicators, kinds)
    return estimates_of(linearise(frame, indicators, design, domains, groups, kinds, spec.lonely_psu, levels),
                        spec)


def estimates_of(lin: Linearised, spec: EstimationSpec) -> pl.DataFrame:
    """The estimates table of a linearisation (see `estimate`)."""
    n_domains = lin.domains.height
    variance, df = design_variance_and_df(lin.layout, lin.pair_psu, lin.pair_domain, lin.scores, lin.answered,
                                          n_domains)
    est = lin.estimate
    se = standard_error(variance, est)
    low, high = mean_interval(est, se, df, spec.confidence)
    is_proportion = np.array([kind == "proportion" for kind in lin.kinds], dtype=bool)
    if is_proportion.any():
        p_low, p_high = proportion_interval(est[:, is_proportion], se[:, is_proportion],
                                            df[:, is_proportion], lin.n[:, is_proportion],
                                            spec.confidence, spec.ci_method)
        low[:, is_proportion], high[:, is_proportion] = p_low, p_high
    values = {"estimate": est, "se": se, "ci_low": low, "ci_high": high, "n": lin.n,
              "weighted_n": lin.weighted_n, "deff": design_effect(variance, est, lin.weighted_n,
                                                                  lin.weighted_sq, lin.n),
              "n_missing": lin.n_missing}
    return _long_table(lin, values).with_columns(suppressed=pl.col("n") < spec.min_cell)


def resolve_kinds(indicators: Sequence[str], kinds: Mapping[str, str] | None) -> dict[str, str]:
    """The kind of each indicator (`proportion` unless `kinds` says `mean`), checked."""
    kinds = dict(kinds or {})
    unknown = sorted(set(kinds) - set(indicators))
    if unknown:
        raise EstimationError(f"Kinds given for indicators that are not estimated: {', '.join(unknown)}.",
                              "Pass the same ids in indicators and kinds.")
    resolved = {k: kinds.get(k, "proportion") for k in indicators}
    bad = sorted(f"{k}={v}" for k, v in resolved.items() if v not in KINDS)
    if bad:
        raise EstimationError(f"Unknown indicator kind: {', '.join(bad)}.", "Use 'proportion' or 'mean'.")
    return resolved


def standard_error(variance: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """sqrt(v): 0 below 1e-12 max(1, |scale|) (rounding noise, svy's tolerance); NaN where scale is NaN."""
    se = np.sqrt(np.maximum(variance, 0.0))
    with np.errstate(invalid="ignore"):
        se[se <= _BOUNDARY * np.maximum(1.0, np.abs(scale))] = 0.0
    se[np.isnan(scale)] = np.nan
    return se


def t_quantile(df: np.ndarray, confidence: float) -> np.ndarray:
    """Two-sided Student quantile t_{df, (1 + confidence) / 2}; NaN where df <= 0.

    Degrees of freedom are whole numbers here, so each distinct value is computed once.
    """
    df = np.asarray(df, dtype=np.float64)
    level = 0.5 + confidence / 2
    out = np.full(df.shape, np.nan)
    whole = (df > 0) & (df == np.floor(df)) & (df < 2**31)
    if whole.any():
        values = df[whole].astype(np.int64)
        distinct = np.flatnonzero(np.bincount(values))
        table = np.zeros(int(values.max()) + 1)
        table[distinct] = stdtrit(distinct.astype(np.float64), level)
        out[whole] = table[values]
    other = (df > 0) & ~whole
    out[other] = stdtrit(df[other], level)
    return out


def mean_interval(est: np.ndarray, se: np.ndarray, df: np.ndarray,
                  confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """t interval est -+ t_{df} se."""
    t = t_quantile(df, confidence)
    return est - t * se, est + t * se


def proportion_interval(p: np.ndarray, se: np.ndarray, df: np.ndarray, n: np.ndarray, confidence: float,
                        method: str) -> tuple[np.ndarray, np.ndarray]:
    """Logit or Wilson interval for proportions, as svy computes them; always within [0, 1].

    logit: expit(logit(p) -+ t se / (p (1 - p))). wilson: (p + t^2/2m -+ t sqrt(p(1-p)/m + t^2/4m^2))
    / (1 + t^2/m), m = n_eff (t_{n-1} / t_df)^2, n_eff = p (1 - p) / se^2. At p = 0 or 1, where svy gives
    none, the Wilson interval with n_eff = n. A zero SE inside (0, 1) gives (p, p). t has the design df;
    no interval without degrees of freedom.
    """
    p, se, n = (np.asarray(a, dtype=np.float64) for a in (p, se, n))
    t = t_quantile(df, confidence)
    boundary = (p <= _BOUNDARY) | (p >= 1 - _BOUNDARY)
    shape = np.broadcast_shapes(p.shape, se.shape, np.shape(df), n.shape)
    t_n = np.full(shape, np.nan)  # t_{n-1}: Wilson's; with logit only needed at the boundary
    wanted = np.broadcast_to(boundary if method == "logit" else True, shape)
    t_n[wanted] = t_quantile(np.broadcast_to(n, shape)[wanted] - 1, confidence)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if method == "logit":
            half = t * se / (p * (1 - p))
            logit = np.log(p / (1 - p))
            low, high = 1 / (1 + np.exp(half - logit)), 1 / (1 + np.exp(-logit - half))
        else:
            low, high = _wilson(p, p * (1 - p) / se**2, n, t, t_n)
        at_zero = p <= _BOUNDARY
        edge_low, edge_high = _wilson(np.where(at_zero, 0.0, 1.0), n, n, t, t_n)
        edge_low[at_zero], edge_high[~at_zero] = 0.0, 1.0  # the closed end, exactly
    point = ~boundary & (se <= _BOUNDARY)
    low = np.where(boundary, edge_low, np.where(point, p, low))
    high = np.where(boundary, edge_high, np.where(point, p, high))
    undefined = np.isnan(p) | np.isnan(t) | (boundary & (n < 1))
    low[undefined], high[undefined] = np.nan, np.nan
    return low, high


def _wilson(p: np.ndarray, n_eff: np.ndarray, n: np.ndarray, t: np.ndarray,
            t_n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval at effective size n_eff, scaled by (t_{n-1} / t_df)^2 when n > 1 (svy)."""
    m = np.where(n > 1, n_eff * (t_n / t) ** 2, n_eff)
    z2 = t * t
    denominator = 1 + z2 / m
    centre = (p + z2 / (2 * m)) / denominator
    half = t / denominator * np.sqrt(p * (1 - p) / m + z2 / (4 * m * m))
    vanishing = m <= 0  # no information at all: the interval tends to [0, 1]
    return (np.where(vanishing, 0.0, np.maximum(0.0, centre - half)),
            np.where(vanishing, 1.0, np.minimum(1.0, centre + half)))


def design_effect(variance: np.ndarray, est: np.ndarray, weighted_n: np.ndarray, weighted_sq: np.ndarray,
                  n: np.ndarray) -> np.ndarray:
    """deff = v / v_srs, v_srs = (sum(w y^2)/sum(w) - ybar^2) / (n - 1); NaN when v_srs is 0 or n < 2."""
    with np.errstate(invalid="ignore", divide="ignore"):
        srs = (weighted_sq / weighted_n - est**2) / (n - 1)
        return np.where((n >= 2) & (srs > 0), variance / srs, np.nan)


def _long_table(lin: Linearised, values: Mapping[str, np.ndarray]) -> pl.DataFrame:
    """One row per reported domain x indicator (domain-major, in report order) from (D, K) arrays."""
    reported = lin.domains.with_row_index("_row").filter(pl.col("_report")).sort("_order")
    rows = reported["_row"].to_numpy()
    k = len(lin.indicators)
    labels = reported.select([*lin.domain_columns, "group_dimension", "group"])
    labels = labels[np.repeat(np.arange(len(rows)), k)]
    indicator_ids = pl.Series("indicator_id", lin.indicators, dtype=pl.Utf8)
    columns = [indicator_ids.gather(np.tile(np.arange(k), len(rows)))]
    for name, array in values.items():  # the few output columns, not indicators or domains
        column = pl.Series(name, array[rows].ravel())
        columns.append(column.fill_nan(None) if array.dtype.kind == "f" else column)
    return labels.with_columns(columns)
