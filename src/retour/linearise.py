"""Linearised scores of domain means: respondents summed per PSU and domain, under the study design.

Every domain of every indicator at once: each value of the `domains` columns (a community) and the
whole sample, overall and by group. Domains are subpopulations of one design: a respondent outside the
domain, or without an answer, keeps their PSU with a linearised score of zero, so the design is never
cut (Cochran 1977, sec. 2.13; Lumley 2010, sec. 2.3).

Point estimate of a domain mean (a proportion is the mean of a 0/1 indicator), over the respondents
of domain d with an answer: ybar_d = sum(w_i y_i) / sum(w_i).

Variance by Taylor linearisation (Binder 1983; Wolter 2007, ch. 6): scores
z_i = w_i (y_i - ybar_d) / sum_d(w) inside the domain and 0 outside; z_hp is the total of the scores of
PSU p of stratum h, zbar_h their mean over the n_h PSUs of the stratum, f_h = n_h / N_h the sampling
fraction when a finite population correction (the population number of PSUs, N_h) is given:

    v(ybar_d) = sum_h (1 - f_h) n_h / (n_h - 1) sum_p (z_hp - zbar_h)^2

Strata with one PSU follow `lonely_psu`: `adjust` centres that PSU's total on the grand mean of all PSU
totals, (1 - f_h) (z_hp - zbar)^2 (R survey's "adjust", svy's "center"); `certainty` takes the PSU as
sampled with certainty, contributing no variance (R "certainty"); `remove` drops the stratum from the
variance (R "remove", svy "skip"). In a one-stage design `certainty` and `remove` give the same numbers;
they say different things about the design, and both understate the variance when the PSU was not in
fact a certainty selection.

Degrees of freedom are those of svy 0.35: for each domain and indicator, the number of PSUs holding an
answer in the domain minus one, summed over strata (zero for a stratum with none).

This module is pure (no files, no store) and never loops over respondents or domains in Python.
Respondents are summed into cells (PSU x domain value x group levels) with one `bincount` per
indicator column, read in place from its Arrow buffers; cells are summed into (PSU, domain) pairs
and domains with sparse matrix products, and every domain is then computed from the pairs in array
operations. Indicators, then pairs, are taken a few blocks at a time, side by side on the machine's
cores: each block's arrays stay small enough to be reused rather than freshly mapped, and every sum
runs in the same order as in one piece, so the numbers are the same to the last bit (issue 5: a
million respondents in about a second). It does not compute intervals: see `retour.estimate`.

References: Binder, D. A. (1983) Int. Stat. Rev. 51, 279-292. Cochran, W. G. (1977) Sampling
Techniques, 3rd ed. Lumley, T. (2010) Complex Surveys. Wolter, K. M. (2007) Introduction to Variance
Estimation, 2nd ed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sparse

from retour.errors import EstimationError

ALL = "all"
_Item = TypeVar("_Item")
_Result = TypeVar("_Result")


@dataclass(frozen=True)
class Design:
    """Columns of the respondent frame that carry the sampling design.

    `stratum` None: one stratum. `psu` None: each respondent is its own PSU. `fpc`: the population
    number of PSUs of the respondent's stratum (constant within a stratum); None when PSUs are taken
    with replacement or the sampling fraction is negligible.
    """

    stratum: str | None = "stratum"
    psu: str | None = "psu"
    weight: str = "weight"
    fpc: str | None = None

    def columns(self) -> tuple[str, ...]:
        """The design columns that are set."""
        return tuple(c for c in (self.stratum, self.psu, self.weight, self.fpc) if c)


@dataclass(frozen=True)
class Layout:
    """The design, encoded: each PSU's stratum and each stratum's variance factors."""

    stratum_of_psu: np.ndarray  # (P,) PSUs are nested in strata
    psus_in_stratum: np.ndarray  # (H,) n_h
    factor: np.ndarray  # (H,) (1 - f_h) n_h / (n_h - 1); 0 for a stratum with one PSU
    lonely_factor: np.ndarray  # (H,) (1 - f_h) for a stratum with one PSU under `adjust`, else 0

    @property
    def n_psus(self) -> int:
        return int(self.stratum_of_psu.shape[0])


@dataclass(frozen=True)
class Linearised:
    """Every domain mean of every indicator, and the PSU totals of its linearised scores.

    Arrays have one row per domain (D, K) or per (PSU, domain) pair (Q, K), one column per indicator.
    """

    indicators: tuple[str, ...]
    kinds: tuple[str, ...]  # proportion or mean, per indicator
    domain_columns: tuple[str, ...]
    domains: pl.DataFrame  # one row per domain: domain columns, group_dimension, group, internal keys
    layout: Layout
    pair_psu: np.ndarray  # (Q,)
    pair_domain: np.ndarray  # (Q,)
    scores: np.ndarray  # (Q, K) sum of z over the PSU's respondents in the domain
    answered: np.ndarray  # (Q, K) the PSU holds an answer in the domain
    estimate: np.ndarray  # (D, K)
    weighted_n: np.ndarray  # (D, K) sum(w) over answers
    weighted_sq: np.ndarray  # (D, K) sum(w y^2) over answers
    n: np.ndarray  # (D, K) answers
    n_missing: np.ndarray  # (D, K) respondents of the domain without an answer


def linearise(
    frame: pl.DataFrame,
    indicators: Sequence[str],
    design: Design,
    domains: Sequence[str],
    groups: Sequence[str],
    kinds: Mapping[str, str],
    lonely_psu: str = "adjust",
    levels: Mapping[str, Sequence[str]] | None = None,
) -> Linearised:
    """Domain means of every indicator and the PSU totals of their linearised scores.

    `groups` are the group columns (a study's catalogue groups); `levels` gives a group's levels in
    report order, other values found follow, sorted (a group absent from `levels`: all sorted).
    z_i = w_i (y_i - ybar_d) / sum_d(w) for an answer in domain d, 0 otherwise; a (PSU, domain) pair
    holds the sum of z over the PSU, computed from the PSU's sums as (sum(w y) - ybar_d sum(w)) / sum_d(w).
    """
    indicators, domains, groups = tuple(indicators), tuple(domains), tuple(groups)
    _check_frame(frame, indicators, design, domains, groups, kinds)
    enc = _encode(frame, design, domains, groups, levels or {})
    cells, layout = _cells(frame, design, enc, lonely_psu)
    table, systems, whole_of = _domain_table(enc, domains, groups)
    pairs = _pairs(cells, systems, whole_of, table.height)
    columns = frame.select([pl.col(c).cast(pl.Float64) for c in indicators]).get_columns()
    is_mean = np.array([kinds[c] == "mean" for c in indicators], dtype=bool)
    k, n_domains = len(indicators), table.height
    by_cell = np.empty((2, k, len(cells.unit)))  # sum(w y), sum(w) per cell, one row per indicator
    n, n_missing = (np.empty((n_domains, k), dtype=np.int64) for _ in range(2))
    squares = np.empty((n_domains, k))  # sum(w y^2) of the means

    def count(block: slice) -> None:
        """Sum a block of indicators into cells, and count answers per domain."""
        b, means = block.stop - block.start, np.flatnonzero(is_mean[block])
        counted = pairs.domain_totals(_cell_sums(columns[block], cells, means, by_cell[:, block]))
        n[:, block] = np.rint(counted[:, :b])
        n_missing[:, block] = np.rint(counted[:, b:2 * b])
        squares[:, block.start + means] = counted[:, 2 * b:]

    _map_parallel(count, _blocks(k, len(cells.unit)))
    weighted_y, weight = _map_parallel(_transposed, list(by_cell))
    totals_y, weighted_n = _map_parallel(pairs.domain_totals, [weighted_y, weight])
    with np.errstate(invalid="ignore", divide="ignore"):
        est = np.where(weighted_n > 0, totals_y / weighted_n, np.nan)
        scale = np.where(weighted_n > 0, 1.0 / weighted_n, 0.0)
    centre = np.where(weighted_n > 0, est, 0.0)  # no answer in the domain: its sums are all 0
    weighted_sq = totals_y  # y^2 = y for 0/1 proportions
    weighted_sq[:, is_mean] = squares[:, is_mean]
    scores, answered = np.empty((len(pairs.psu), k)), np.empty((len(pairs.psu), k), dtype=bool)

    def score(rows: slice, pair_y: np.ndarray, pair_n: np.ndarray) -> None:
        """z of some pairs: (sum(w y) - ybar_d sum(w)) / sum_d(w), from their sum(w y) and sum(w)."""
        domain = pairs.domain[rows]
        z = np.take(centre, domain, axis=0)
        np.multiply(z, pair_n, out=z)
        np.subtract(pair_y, z, out=z)
        np.multiply(z, np.take(scale, domain, axis=0), out=scores[rows])
        np.greater(pair_n, 0.0, out=answered[rows])

    pairs.score(weighted_y, weight, score)
    return Linearised(
        indicators=indicators, kinds=tuple(kinds[i] for i in indicators), domain_columns=domains,
        domains=table, layout=layout, pair_psu=pairs.psu, pair_domain=pairs.domain, scores=scores,
        answered=answered, estimate=est, weighted_n=weighted_n, weighted_sq=weighted_sq, n=n,
        n_missing=n_missing,
    )


def design_variance(layout: Layout, pair_psu: np.ndarray, pair_group: np.ndarray, scores: np.ndarray,
                    n_groups: int) -> np.ndarray:
    """Linearised variance (G, K) of each group from the PSU totals of its scores (Q, K).

    sum_h (1 - f_h) n_h / (n_h - 1) sum_p (z_hp - zbar_h)^2, where the PSUs of the stratum absent from
    the pairs have z = 0; strata with one PSU per the layout (see the module docstring).
    """
    if scores.shape[0] == 0:
        return np.zeros((n_groups, scores.shape[1]))
    return _StratumCells.of(layout, pair_psu, pair_group, n_groups).variance(scores)


def design_df(layout: Layout, pair_psu: np.ndarray, pair_group: np.ndarray, answered: np.ndarray,
              n_groups: int) -> np.ndarray:
    """Degrees of freedom (G, K): PSUs with an answer in the group, minus one, summed over strata (svy)."""
    if answered.shape[0] == 0:
        return np.zeros((n_groups, answered.shape[1]))
    return _StratumCells.of(layout, pair_psu, pair_group, n_groups).df(answered)


def design_variance_and_df(layout: Layout, pair_psu: np.ndarray, pair_group: np.ndarray, scores: np.ndarray,
                           answered: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """`design_variance` and `design_df` of the same pairs, side by side (the strata are coded once)."""
    if scores.shape[0] == 0:
        return np.zeros((n_groups, scores.shape[1])), np.zeros((n_groups, answered.shape[1]))
    strata = _StratumCells.of(layout, pair_psu, pair_group, n_groups)
    variance, df = _map_parallel(lambda job: job(), [lambda: strata.variance(scores),
                                                     lambda: strata.df(answered)])
    return variance, df


def dense_codes(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes 0..G-1 of integer keys, in order of first appearance (hashing, no sort), and their keys."""
    encoded = pa.array(np.asarray(keys, dtype=np.int64)).dictionary_encode()
    return encoded.indices.to_numpy().astype(np.int64), encoded.dictionary.to_numpy()


def group_sum(values: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Sum the rows of `values` (Q, R) by group code: (G, R), as one sparse product."""
    return _one_hot(codes, n_groups) @ np.ascontiguousarray(values)


def pair_sums(psu: np.ndarray, target: np.ndarray, values: np.ndarray,
              n_domains: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum units into (PSU, domain) pairs: the pairs' PSU, domain and sums (Q, R).

    `target` gives a domain per unit for each of several systems, concatenated (-1: none).
    """
    unit = np.tile(np.arange(len(psu)), len(target) // max(len(psu), 1))
    keep = target >= 0
    pair, keys = dense_codes(psu[unit[keep]] * n_domains + target[keep])
    into = sparse.csr_matrix((np.ones(int(keep.sum())), (pair, unit[keep])), shape=(len(keys), len(psu)))
    return keys // n_domains, keys % n_domains, into @ np.ascontiguousarray(values)


@dataclass(frozen=True)
class _StratumCells:
    """Pairs summed per (stratum, group) cell, and cells per group: the sums a design variance needs."""

    layout: Layout
    cell: np.ndarray  # (Q,) each pair's cell
    stratum: np.ndarray  # (C,) each cell's stratum
    into_cells: sparse.csc_matrix  # (C, Q) pairs -> cells
    into_groups: sparse.csc_matrix  # (G, C) cells -> groups
    pairs_into_groups: sparse.csc_matrix  # (G, Q) pairs -> groups
    present: np.ndarray  # (C, 1) pairs per cell
    group: np.ndarray  # (C,) each cell's group

    @classmethod
    def of(cls, layout: Layout, pair_psu: np.ndarray, pair_group: np.ndarray, n_groups: int) -> _StratumCells:
        cell, keys = dense_codes(layout.stratum_of_psu[pair_psu] * n_groups + pair_group)
        return cls(layout=layout, cell=cell, stratum=keys // n_groups, into_cells=_one_hot(cell, len(keys)),
                   into_groups=_one_hot(keys % n_groups, n_groups),
                   pairs_into_groups=_one_hot(pair_group, n_groups),
                   present=np.bincount(cell, minlength=len(keys))[:, None], group=keys % n_groups)

    def df(self, answered: np.ndarray) -> np.ndarray:
        """`design_df` of answered (Q, K): (G, K)."""
        active = self.into_cells @ answered.astype(np.float64)
        return self.into_groups @ np.maximum(active - 1.0, 0.0)

    def variance(self, scores: np.ndarray) -> np.ndarray:
        """`design_variance` of scores (Q, K): (G, K)."""
        layout, scores = self.layout, np.ascontiguousarray(scores)
        n_h = layout.psus_in_stratum[self.stratum].astype(np.float64)[:, None]
        total = self.into_cells @ scores  # (C, K)
        mean = total / n_h
        deviation = np.take(mean, self.cell, axis=0)
        np.subtract(scores, deviation, out=deviation)
        np.square(deviation, out=deviation)
        within = self.into_cells @ deviation + (n_h - self.present) * mean**2
        del deviation
        contribution = layout.factor[self.stratum][:, None] * within
        if not layout.lonely_factor.any():
            return self.into_groups @ contribution
        # adjust: a lonely PSU's total is centred on the grand mean of all PSU totals, g_d; a lonely
        # stratum without a pair for the group contributes g_d^2, one with a pair (T - g_d)^2.
        grand = (self.pairs_into_groups @ scores) / layout.n_psus
        g = grand[self.group]
        contribution += layout.lonely_factor[self.stratum][:, None] * ((total - g) ** 2 - g**2)
        return self.into_groups @ contribution + layout.lonely_factor.sum() * grand**2


def _one_hot(codes: np.ndarray, n_groups: int) -> sparse.csc_matrix:
    """(G, Q) matrix with a 1 at (codes[q], q): the product with (Q, R) values sums them by group."""
    return sparse.csc_matrix((np.ones(len(codes)), codes, np.arange(len(codes) + 1)),
                             shape=(n_groups, len(codes)))


# --------------------------------------------------------------------------------------------------
# Input checks


def _check_frame(frame: pl.DataFrame, indicators: Sequence[str], design: Design, domains: Sequence[str],
                 groups: Sequence[str], kinds: Mapping[str, str]) -> None:
    wanted = [*design.columns(), *domains, *groups, *indicators]
    missing = [c for c in dict.fromkeys(wanted) if c not in frame.columns]
    if missing:
        raise EstimationError(f"Columns missing from the respondent frame: {', '.join(missing)}.",
                              "Derive the indicators first, or fix the design settings.")
    if frame.height == 0:
        raise EstimationError("No respondents to estimate from.", "Ingest submissions for this round first.")
    if len(set(indicators)) != len(indicators):
        raise EstimationError("An indicator is listed twice.", "Pass each indicator id once.")
    not_numeric = [c for c in indicators if not frame.schema[c].is_numeric()]
    if not_numeric:
        raise EstimationError(f"Indicator columns are not numeric: {', '.join(not_numeric)}.",
                              "Indicators hold 0/1 (proportions) or numbers (means).")
    weight = pl.col(design.weight).cast(pl.Float64)
    invalid = weight.is_null() | ~weight.is_finite() | (weight <= 0)
    if frame.select(invalid.any()).item():  # rows only when there is something to report
        bad = frame.select(row=pl.int_range(pl.len()) + 1, value=weight).filter(
            pl.col("value").is_null() | ~pl.col("value").is_finite() | (pl.col("value") <= 0))
        first = bad.row(0, named=True)
        raise EstimationError(
            f"{bad.height} respondents have a missing, zero or negative weight in '{design.weight}' "
            f"(first at row {first['row']}: {first['value']}).",
            "Every respondent needs a positive weight: fix the weights or drop those rows.")
    for column in (design.stratum, design.psu):
        if column and frame[column].null_count():
            raise EstimationError(f"{frame[column].null_count()} respondents have no value in the design "
                                  f"column '{column}'.", "Every respondent needs a stratum and a PSU.")
    props = [c for c in indicators if kinds[c] == "proportion"]
    means = [c for c in indicators if kinds[c] != "proportion"]
    # one parallel pass: a value other than 0 and 1 (infinite ones included) in a proportion, or an
    # infinite value in a mean; which proportions hold infinite values is only asked when one is wrong
    counts = frame.select(
        *[(~pl.col(c).cast(pl.Float64).is_finite()).sum().alias(f"infinite:{c}") for c in means],
        *[(~pl.col(c).cast(pl.Float64).is_in([0.0, 1.0])).sum().alias(f"not01:{c}") for c in props],
    ).row(0, named=True)
    wrong = [c for c in props if counts[f"not01:{c}"]]
    if wrong:
        counts |= frame.select(
            (~pl.col(c).cast(pl.Float64).is_finite()).sum().alias(f"infinite:{c}") for c in wrong
        ).row(0, named=True)
    infinite = [c for c in indicators if counts.get(f"infinite:{c}")]
    if infinite:
        raise EstimationError(f"Indicators hold infinite values: {', '.join(infinite)}.",
                              "Check their formula (a division by zero?).")
    if wrong:
        raise EstimationError(f"Proportion indicators hold values other than 0 and 1: "
                              f"{', '.join(wrong)}.", "Declare them as means, or fix their formula.")


# --------------------------------------------------------------------------------------------------
# Encoding: design, domain and group columns as integer codes

_MAX_KEY = 2**62
_MAX_DENSE = 2**24  # key spaces up to this size are made dense with a lookup table instead of a hash


@dataclass(frozen=True)
class _Encoded:
    stratum: np.ndarray  # (N,) stratum codes
    psu: np.ndarray  # (N,) codes of the PSU column, before nesting in strata
    domain: np.ndarray  # (N,) domain codes; len(domain_labels) when a domain column is null
    domain_labels: list[tuple[str, ...]]
    levels: list[np.ndarray]  # per group dimension: (N,) level codes, -1 when null
    level_labels: list[list[str]]


def _encode(frame: pl.DataFrame, design: Design, domains: Sequence[str], groups: Sequence[str],
            levels: Mapping[str, Sequence[str]]) -> _Encoded:
    n = frame.height
    columns = [(design.stratum, None), (design.psu, None), *((c, ()) for c in domains),
               *((c, tuple(levels.get(c, ()))) for c in groups)]
    coded = _map_parallel(lambda item: _codes(frame[item[0]], item[1]) if item[0] else None, columns)
    stratum = coded[0][0] if design.stratum else np.zeros(n, dtype=np.int64)
    psu = coded[1][0] if design.psu else np.arange(n, dtype=np.int64)
    domain, labels = np.zeros(n, dtype=np.int64), [()] if domains else []  # no domains: all in "none"
    for codes, names in coded[2:2 + len(domains)]:  # one vectorised pass per domain column
        domain = np.where((domain < 0) | (codes < 0), -1, domain * len(names) + codes)
        labels = [(*prefix, name) for prefix in labels for name in names]
    if domains:
        used = np.flatnonzero(np.bincount(domain[domain >= 0], minlength=len(labels)))
        remap = np.append(np.full(len(labels), -1, dtype=np.int64), len(used))
        remap[used] = np.arange(len(used))
        domain = remap[domain]  # -1 (null) indexes the last entry: the "no domain" code
        labels = [labels[i] for i in used]
    coded = coded[2 + len(domains):]
    level_labels = [names for _, names in coded]
    reserved = [c for c, names in zip([*domains, *groups], [*zip(*labels, strict=True), *level_labels],
                                      strict=False) if ALL in names]
    if reserved:
        raise EstimationError(f"The value '{ALL}' is reserved for the whole sample but appears in: "
                              f"{', '.join(reserved)}.", "Rename that community or group.")
    return _Encoded(stratum=stratum, psu=psu, domain=domain, domain_labels=labels,
                    levels=[c for c, _ in coded], level_labels=level_labels)


def _codes(series: pl.Series, order: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Integer codes of a column (-1 for null) and their labels.

    `order` None: codes in order of first appearance. Otherwise labels are strings: those in `order`
    first (present or not), then the others sorted.
    """
    if order is not None or series.dtype in (pl.Categorical, pl.Enum):
        series = series.cast(pl.Utf8)
    if order and len(set(order)) == len(order):  # known levels: compared in place, unless others occur
        value = pl.col(series.name)
        code = pl.when(value.is_null()).then(-1)
        for i, label in enumerate(order):
            code = code.when(value == label).then(i)
        codes = series.to_frame().select(code.otherwise(-2).cast(pl.Int64)).to_series().to_numpy()
        if not (codes == -2).any():
            return codes, list(order)
    # string views (not Arrow's large strings) hash about twice as fast
    encoded = series.rechunk().to_arrow(compat_level=pl.CompatLevel.newest()).dictionary_encode()
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    seen = encoded.dictionary.to_pylist()
    if order is None:
        return codes, seen
    ranked = [*order, *sorted(set(seen) - set(order))]
    rank = {label: i for i, label in enumerate(ranked)}
    lookup = np.array([rank[label] for label in seen] + [-1], dtype=np.int64)
    return lookup[codes], ranked


def _dense_small(keys: np.ndarray, space: int) -> tuple[np.ndarray, np.ndarray]:
    """`dense_codes` for keys in [0, space): a lookup table when the space is small, else a hash.

    Codes follow the order of the keys here (not of first appearance).
    """
    if space > _MAX_DENSE:
        return dense_codes(keys)
    present = np.zeros(space, dtype=bool)
    present[keys] = True
    used = np.flatnonzero(present)
    lookup = np.cumsum(present, dtype=np.int64) - 1
    return lookup[keys], used


# --------------------------------------------------------------------------------------------------
# Cells: respondents summed per unit (a PSU within a domain value) and combination of group levels


@dataclass(frozen=True)
class _Cells:
    code: np.ndarray  # (N,) cell of each respondent
    count: np.ndarray  # (M,) respondents
    weight: np.ndarray  # (N,) each respondent's weight
    total_weight: np.ndarray  # (M,) sum(w) of the respondents
    unit: np.ndarray  # (M,) unit of each cell
    levels: list[np.ndarray]  # per group dimension (M,), -1 when null
    unit_psu: np.ndarray  # (U,) PSU (nested in strata) of each unit
    unit_domain: np.ndarray  # (U,) domain code of each unit
    nested: bool  # each PSU lies in one domain value: units are PSUs (unit_psu is 0..U-1)


def _units(enc: _Encoded) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:
    """Unit of each respondent; each unit's PSU and domain; each PSU's stratum; whether PSUs nest.

    The usual design nests PSUs in strata and communities; then a unit is a PSU and no hashing is
    needed. Otherwise PSUs are nested in strata (codes within stratum, as svy and R's `nest=TRUE`) and
    cut by domain value.
    """
    n_psu = int(enc.psu.max()) + 1
    stratum_of = np.empty(n_psu, dtype=np.int64)
    domain_of = np.empty(n_psu, dtype=np.int64)
    stratum_of[enc.psu] = enc.stratum
    domain_of[enc.psu] = enc.domain
    if (stratum_of[enc.psu] == enc.stratum).all() and (domain_of[enc.psu] == enc.domain).all():
        return enc.psu, np.arange(n_psu), domain_of, stratum_of, True
    psu, psu_keys = dense_codes(enc.stratum * n_psu + enc.psu)
    n_domains = len(enc.domain_labels) + 1
    unit, unit_keys = dense_codes(psu * n_domains + enc.domain)
    return unit, unit_keys // n_domains, unit_keys % n_domains, psu_keys // n_psu, False


def _cells(frame: pl.DataFrame, design: Design, enc: _Encoded, lonely_psu: str) -> tuple[_Cells, Layout]:
    """Place respondents in cells (unit x group levels), and lay out the design's PSUs."""
    n = frame.height
    unit, unit_psu, unit_domain, psu_stratum, nested = _units(enc)
    radix = [len(names) + 1 for names in enc.level_labels]
    combination = np.zeros(n, dtype=np.int64)
    for levels, size in zip(enc.levels, radix, strict=True):  # the few group dimensions
        combination = combination * size + levels + 1
    n_combinations = int(np.prod(radix))
    cell, keys = _dense_small(unit * n_combinations + combination, len(unit_psu) * n_combinations)
    m = len(keys)
    cell_levels, rest = [], keys % n_combinations
    for size in reversed(radix):
        cell_levels.insert(0, rest % size - 1)
        rest //= size
    weight = frame[design.weight].cast(pl.Float64).to_numpy()
    cells = _Cells(code=cell, count=np.bincount(cell, minlength=m), weight=weight,
                   total_weight=np.bincount(cell, weights=weight, minlength=m), unit=keys // n_combinations,
                   levels=cell_levels, unit_psu=unit_psu, unit_domain=unit_domain, nested=nested)
    return cells, _layout(frame, design, enc.stratum, psu_stratum, lonely_psu)


_BLOCK_BYTES = 24 * 2**20


def _blocks(n: int, per_item: int) -> list[slice]:
    """range(n) in nearly equal slices whose working arrays, about 16 bytes x `per_item` per item, fit
    in 24 MB: indicators (`per_item` rows each) or rows (`per_item` indicators each).

    Items are computed independently of each other, so slices change no number. They keep the
    temporaries small: freed memory of that size is reused by the allocator (glibc's mmap threshold
    tops out at 32 MB) instead of being mapped and zeroed by the kernel again, which costs more than
    the arithmetic at a million respondents; and it stays in cache.
    """
    count = -(-n // max(1, _BLOCK_BYTES // (16 * max(per_item, 1))))
    return [slice(n * i // count, n * (i + 1) // count) for i in range(count)]


def _map_parallel(work: Callable[[_Item], _Result], items: Sequence[_Item]) -> list[_Result]:
    """`[work(item) for item in items]`, on as many threads as there are cores.

    numpy, scipy, Arrow and polars release the GIL in the loops that take the time, so threads run
    them side by side; every item is computed exactly as it would be alone.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if min(cores, len(items)) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(cores, len(items))) as pool:
        return list(pool.map(work, items))


def _cell_sums(columns: Sequence[pl.Series], cells: _Cells, means: np.ndarray,
               out: np.ndarray) -> np.ndarray:
    """Sums per cell of B indicators: sum(w y) and sum(w) over answers into `out` (2, B, M), one row
    per indicator; returned (M, 2B + Bm): answers, missing, then sum(w y^2) of the means.

    One indicator column at a time, straight from its Arrow buffers (no (N, K) copy, no NaN fill): its
    values, and the rows without an answer from its validity bitmap; each sum is one `bincount` over
    the respondents in row order. sum(w) over answers is the cell's sum(w) less that of the missing
    answers, exactly 0 without an answer. `means`: positions of the mean indicators in the block.
    """
    k, m, cell, weight = len(columns), len(cells.unit), cells.code, cells.weight
    weighted_y, weighted_n = out
    counted = np.empty((2 * k + len(means), m))  # one row per quantity (contiguous writes)
    square_row = dict(zip(means.tolist(), range(2 * k, 2 * k + len(means)), strict=True))
    product = np.empty_like(weight)
    for j, series in enumerate(columns):  # the block's indicator columns, one vector pass each
        values, missing = _values_and_missing(series)
        np.multiply(weight, values, out=product)
        product[missing] = 0.0  # whatever the buffer holds there
        weighted_y[j] = np.bincount(cell, weights=product, minlength=m)
        if j in square_row:
            np.multiply(weight, np.square(values), out=product)
            product[missing] = 0.0
            counted[square_row[j]] = np.bincount(cell, weights=product, minlength=m)
        missing_cell = np.take(cell, missing)  # sums over the missing answers, in row order
        counted[k + j] = np.bincount(missing_cell, minlength=m)
        np.subtract(cells.count, counted[k + j], out=counted[j])
        missing_weight = np.bincount(missing_cell, weights=np.take(weight, missing), minlength=m)
        np.subtract(cells.total_weight, missing_weight, out=weighted_n[j])
    np.copyto(weighted_n, 0.0, where=counted[:k] == 0)  # no answer: exactly 0, not rounding residue
    return _transposed(counted)


def _transposed(rows: np.ndarray) -> np.ndarray:
    """C-contiguous transpose of (R, M) rows, a few thousand columns at a time (cache-friendly)."""
    out = np.empty((rows.shape[1], rows.shape[0]))
    for start in range(0, rows.shape[1], 2048):
        out[start:start + 2048] = rows[:, start:start + 2048].T
    return out


def _values_and_missing(series: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """A Float64 column's values, read in place (anything where null), and the rows that are null."""
    array = series.rechunk().to_arrow()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    validity, data = array.buffers()[:2]
    start, stop = array.offset, array.offset + len(array)
    values = np.frombuffer(data, dtype=np.float64, count=stop)[start:]
    if validity is None or array.null_count == 0:
        return values, np.empty(0, dtype=np.int64)
    bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), count=stop, bitorder="little")[start:]
    return values, np.flatnonzero(bits == 0)


def _layout(frame: pl.DataFrame, design: Design, stratum: np.ndarray, stratum_of_psu: np.ndarray,
            lonely_psu: str) -> Layout:
    """PSUs per stratum, sampling fractions and variance factors."""
    n_h = np.bincount(stratum_of_psu, minlength=int(stratum.max()) + 1).astype(np.float64)
    sampled = np.zeros_like(n_h)
    if design.fpc:
        sizes = (pl.DataFrame({"stratum": stratum, "size": frame[design.fpc].cast(pl.Float64)})
                 .group_by("stratum").agg(low=pl.col("size").min(), high=pl.col("size").max(),
                                          nulls=pl.col("size").null_count()).sort("stratum"))
        low, high = sizes["low"].to_numpy(), sizes["high"].to_numpy()
        if sizes["nulls"].sum() or (low != high).any():
            raise EstimationError(f"The finite population correction '{design.fpc}' is missing or varies "
                                  "within a stratum.", "Give every respondent the number of PSUs in the "
                                  "population of their stratum.")
        if (high < n_h).any():
            raise EstimationError(f"The finite population correction '{design.fpc}' is smaller than the "
                                  "number of sampled PSUs of a stratum.",
                                  "It is the population number of PSUs (N_h >= n_h), not a fraction.")
        sampled = n_h / high
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(n_h > 1, (1 - sampled) * n_h / (n_h - 1), 0.0)
    lonely = (n_h == 1) & (lonely_psu == "adjust")
    return Layout(stratum_of_psu=stratum_of_psu, psus_in_stratum=n_h.astype(np.int64), factor=factor,
                  lonely_factor=np.where(lonely, 1 - sampled, 0.0))


# --------------------------------------------------------------------------------------------------
# Domains and (PSU, domain) pairs


def _domain_table(enc: _Encoded, domains: Sequence[str],
                  groups: Sequence[str]) -> tuple[pl.DataFrame, list[tuple[int, int]], np.ndarray]:
    """Every domain: domain value (or all) x group dimension (or all) x level.

    Domain-scope systems come first (one per dimension, domain-major), then the whole-sample ones. The
    last domain code collects respondents without a domain value; its rows are not reported. Returns
    the table, each domain-scope system's (offset, width), and each domain-scope domain's whole-sample
    counterpart.
    """
    n_dom = len(enc.domain_labels) + 1
    dims = [(ALL, [ALL]), *zip(groups, enc.level_labels, strict=True)]
    widths = np.array([len(levels) for _, levels in dims])
    offsets = np.concatenate([[0], np.cumsum(n_dom * widths)])
    whole = offsets[-1] + np.concatenate([[0], np.cumsum(widths)])
    rank = np.arange(len(dims))
    dim = np.concatenate([np.repeat(rank, n_dom * widths), np.repeat(rank, widths)])
    domain = np.concatenate([*(np.repeat(np.arange(n_dom), w) for w in widths),
                             *(np.full(w, n_dom) for w in widths)])
    level = np.concatenate([*(np.tile(np.arange(w), n_dom) for w in widths), *(np.arange(w) for w in widths)])
    scoped = int(offsets[-1])
    level_labels = np.array([label for _, levels in dims for label in levels], dtype=object)
    first_label = np.concatenate([[0], np.cumsum(widths)])
    columns = {
        column: np.array([*(labels[i] for labels in enc.domain_labels), "", ALL], dtype=object)[domain]
        for i, column in enumerate(domains)
    }
    table = pl.DataFrame({
        **{c: pl.Series(c, v, dtype=pl.Utf8) for c, v in columns.items()},
        "group_dimension": pl.Series(np.array([d for d, _ in dims], dtype=object)[dim], dtype=pl.Utf8),
        "group": pl.Series(level_labels[first_label[dim] + level], dtype=pl.Utf8),
        "_report": domain != n_dom - 1,
        "_domain": domain,
        "_dim": dim,
        "_order": (domain * len(dims) + dim) * (widths.max() + 1) + level,
    })
    system_offsets = [(int(offsets[r]), int(widths[r])) for r in range(len(dims))]
    return table, system_offsets, whole[dim[:scoped]] + level[:scoped]


@dataclass(frozen=True)
class _Pairs:
    """(PSU, domain) pairs, and the sparse sums that take cells to them and to the domains."""

    psu: np.ndarray  # (Q,) domain-scope pairs, then whole-sample pairs
    domain: np.ndarray  # (Q,)
    n_scoped: int  # domain-scope pairs
    into_scoped: sparse.csr_matrix  # (n_scoped, M) cells -> domain-scope pairs (by rows: see `score`)
    into_domains: sparse.csc_matrix  # (D, M) cells -> domain-scope domains
    whole_of: np.ndarray  # each domain-scope domain's whole-sample counterpart
    into_whole: sparse.csc_matrix | None  # domain-scope pairs -> whole-sample pairs; None: same sums

    def domain_totals(self, values: np.ndarray) -> np.ndarray:
        """Sums (D, R) of cell values (M, R) over every domain: domain-scope ones, then the whole sample."""
        totals = self.into_domains @ values
        totals += group_sum(totals[:len(self.whole_of)], self.whole_of, totals.shape[0])
        return totals

    def score(self, weighted_y: np.ndarray, weight: np.ndarray,
              score: Callable[[slice, np.ndarray, np.ndarray], None]) -> None:
        """Call `score(rows, sum(w y), sum(w))` on every pair, a few thousand rows at a time.

        The pairs' sums are made chunk by chunk (rows of a CSR matrix, each summed over its cells in
        the same order as a whole product), so no (Q, K) intermediate is ever made. Whole-sample pairs
        have the sums of their domain-scope pair when units are PSUs.
        """
        if self.into_whole is None:
            def chunk(rows: slice) -> None:
                pair_y, pair_n = self.into_scoped[rows] @ weighted_y, self.into_scoped[rows] @ weight
                score(rows, pair_y, pair_n)
                score(slice(self.n_scoped + rows.start, self.n_scoped + rows.stop), pair_y, pair_n)

            _map_parallel(chunk, _blocks(self.n_scoped, weighted_y.shape[1]))
            return
        scoped_y, scoped_n = self.into_scoped @ weighted_y, self.into_scoped @ weight
        score(slice(0, self.n_scoped), scoped_y, scoped_n)
        score(slice(self.n_scoped, len(self.psu)), self.into_whole @ scoped_y, self.into_whole @ scoped_n)


def _pairs(cells: _Cells, systems: list[tuple[int, int]], whole_of: np.ndarray, n_domains: int) -> _Pairs:
    """(PSU, domain) pairs, and how cells are summed into them and into every domain's totals.

    A domain-scope pair is (unit, level) in the table unit x level of each system, which holds every
    one, empty ones included: their scores are 0, which is what an absent PSU counts as. A whole-sample
    pair is (PSU, level); when units are PSUs it has the sums of its unit's pair.
    """
    offsets = np.array([offset for offset, _ in systems])
    widths = np.array([width for _, width in systems])
    n_units, n_psus = len(cells.unit_psu), int(cells.unit_psu.max()) + 1
    levels = np.column_stack([np.zeros(len(cells.unit), dtype=np.int64), *cells.levels])  # (M, systems)
    valid = levels >= 0
    pair_of_cell = _table_start(n_units, widths) + cells.unit[:, None] * widths + levels
    domain_of_cell = offsets + cells.unit_domain[cells.unit][:, None] * widths + levels

    system_a, unit_a, level_a = _table_pairs(n_units, widths)
    domain_a = offsets[system_a] + cells.unit_domain[unit_a] * widths[system_a] + level_a
    psu_a = cells.unit_psu[unit_a]
    system_b, psu_b, level_b = _table_pairs(n_psus, widths)
    domain_b = whole_of[offsets[system_b] + level_b]
    into_whole = None
    if not cells.nested:
        pair_b = _table_start(n_psus, widths)[system_a] + psu_a * widths[system_a] + level_a
        into_whole = sparse.csc_matrix((np.ones(len(pair_b)), pair_b, np.arange(len(pair_b) + 1)),
                                       shape=(n_psus * int(widths.sum()), len(pair_b)))
    return _Pairs(psu=np.concatenate([psu_a, psu_b]), domain=np.concatenate([domain_a, domain_b]),
                  n_scoped=len(psu_a),
                  into_scoped=_spread(pair_of_cell, valid, n_units * int(widths.sum())).tocsr(),
                  into_domains=_spread(domain_of_cell, valid, n_domains), whole_of=whole_of,
                  into_whole=into_whole)


def _table_start(n_units: int, widths: np.ndarray) -> np.ndarray:
    """First pair of each system in a table of n_units x width pairs per system."""
    return n_units * np.concatenate([[0], np.cumsum(widths)[:-1]])


def _table_pairs(n_units: int, widths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """System, unit and level of every pair of the table, in pair order."""
    system = np.repeat(np.arange(len(widths)), n_units * widths)
    within = np.arange(len(system)) - _table_start(n_units, widths)[system]
    return system, within // widths[system], within % widths[system]


def _spread(target: np.ndarray, valid: np.ndarray, n_rows: int) -> sparse.csc_matrix:
    """Sparse (rows x M) matrix with a 1 at (target[m, s], m) for each cell m and system s where valid."""
    m, n_systems = target.shape
    return sparse.csc_matrix((valid.ravel().astype(np.float64), np.where(valid, target, 0).ravel(),
                              np.arange(0, m * n_systems + 1, n_systems)), shape=(n_rows, m))
