"""Solve calibration targets as whole numbers of respondents: pure arithmetic over arrays, no I/O.

The synthetic baseline reproduces published percentages by construction. This module turns each target
into exact counts and nothing else: how many respondents each community needs, how many "yes" answers
each community (and each group cell inside it) must hold so that the community share and the sample-wide
gaps both hold, and which community-level shares the unpublished indicators need so that the index of
design.md section 5 lands on the study's Tableau 1. Drawing respondents and writing files live in
`population.py` and `export.py`.

Integer problems are solved exactly with HiGHS through `scipy.optimize.milp`; counts are rounded with
`round_half_up` so the same share always gives the same count.

Reference for controlled rounding: Cox, L. H. (1987), "A constructive procedure for unbiased controlled
rounding", *Journal of the American Statistical Association* 82(398), 520-524.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, least_squares, milp
from scipy.special import expit

from retour.errors import SpecError

MIDDLE = 0.5  # normalised value of an indicator that does not vary across communities (as retour.index)


def round_half_up(values: np.ndarray) -> np.ndarray:
    """Nearest integer with halves rounded up: floor(x + 0.5) (numpy's `round` rounds halves to even)."""
    return np.floor(np.asarray(values, dtype=float) + 0.5 + 1e-9).astype(np.int64)


def exact_counts(shares: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Respondents answering "yes" so that a share holds exactly: round(p * n) per community."""
    return round_half_up(np.asarray(shares, dtype=float) * np.asarray(sizes, dtype=float))


def largest_remainder(shares: Sequence[float] | np.ndarray, total: int) -> np.ndarray:
    """Split `total` into whole parts proportional to `shares` (Hamilton's largest-remainder method).

    Shares need not sum to one (published percentages often sum to 99): they are rescaled first.
    """
    weights = np.asarray(shares, dtype=float)
    if weights.sum() <= 0:
        raise SpecError("Cannot split a total among shares that are all zero.")
    quotas = weights / weights.sum() * total
    parts = np.floor(quotas).astype(np.int64)
    remainder = int(total - parts.sum())
    order = np.lexsort((np.arange(len(quotas)), -(quotas - parts)))
    parts[order[:remainder]] += 1
    return parts


# ---------------------------------------------------------------------------------------------------
# Community sizes


def fit_sizes(shares: np.ndarray, sample_means: np.ndarray, total: int, low: int, high: int,
              required_row: int | None = None, required_count: int | None = None) -> np.ndarray:
    """Community sizes in [low, high] summing to `total` that best reproduce published sample means.

    With self-weighting, the sample mean of indicator k is sum_c round(p_kc * n_c) / N. Among all size
    vectors (exhaustive meet-in-the-middle search), keep those where indicator `required_row` has exactly
    `required_count` ones (e.g. 171 returnees), then minimise the largest |mean_k - published_k| and, among
    ties, the sum of squared gaps. `shares` has shape (indicators, communities).
    """
    shares = np.asarray(shares, dtype=float)
    means = np.asarray(sample_means, dtype=float)
    n_communities = shares.shape[1]
    options = np.arange(low, high + 1)
    table = exact_counts(shares[:, :, None], options[None, None, :])  # (K, C, S)
    half = n_communities // 2

    def combos(communities: range) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        grid = np.array(np.meshgrid(*[np.arange(len(options))] * len(communities), indexing="ij"))
        index = grid.reshape(len(communities), -1).T  # (combos, members)
        counts = sum(table[:, c, index[:, i]] for i, c in enumerate(communities)).T  # (combos, K)
        return index, options[index].sum(axis=1), counts

    left_index, left_sum, left_counts = combos(range(half))
    right_index, right_sum, right_counts = combos(range(half, n_communities))
    best: tuple[float, float, tuple[int, ...]] | None = None
    for value in np.unique(left_sum):
        left_rows = np.flatnonzero(left_sum == value)
        right_rows = np.flatnonzero(right_sum == total - value)
        if right_rows.size == 0:
            continue
        counts = left_counts[left_rows][:, None, :] + right_counts[right_rows][None, :, :]
        gaps = np.abs(counts / total - means)
        feasible = np.ones(gaps.shape[:2], dtype=bool)
        if required_row is not None:
            feasible = counts[:, :, required_row] == required_count
            gaps = np.delete(gaps, required_row, axis=2)
        worst = np.where(feasible, gaps.max(axis=2), np.inf)
        squares = np.where(feasible, (gaps ** 2).sum(axis=2), np.inf)
        flat = np.lexsort((squares.ravel(), np.round(worst.ravel(), 12)))[0]
        i, j = np.unravel_index(flat, worst.shape)
        if not np.isfinite(worst[i, j]):
            continue
        sizes = tuple(int(s) for s in np.concatenate([options[left_index[left_rows[i]]],
                                                      options[right_index[right_rows[j]]]]))
        candidate = (round(float(worst[i, j]), 12), float(squares[i, j]), sizes)
        if best is None or candidate < best:
            best = candidate
    if best is None:
        raise SpecError(f"No community sizes between {low} and {high} sum to {total} and meet the required "
                        "count.", "Widen the size range in synth_targets.toml.")
    return np.array(best[2], dtype=np.int64)


# ---------------------------------------------------------------------------------------------------
# Counts per group cell


def round_controlled(expected: np.ndarray, row_totals: np.ndarray | None = None,
                     column_totals: np.ndarray | None = None) -> np.ndarray:
    """Round a table to integers, each cell to floor or ceiling, keeping the given margins exactly.

    Minimises sum |x - expected| subject to the row and column totals (Cox 1987: a two-way table always
    has such a rounding when each margin is itself a floor or ceiling of the real margin). Solved as an
    integer programme so the result is exact.
    """
    expected = np.asarray(expected, dtype=float)
    rows, columns = expected.shape
    floor = np.floor(expected + 1e-9)
    ceiling = np.where(expected - floor > 1e-9, floor + 1, floor)
    cost = (1.0 - 2.0 * (expected - floor)).ravel()
    constraints = []
    if row_totals is not None:
        matrix = np.kron(np.eye(rows), np.ones(columns))
        totals = np.asarray(row_totals, dtype=float)
        constraints.append(LinearConstraint(matrix, totals, totals))
    if column_totals is not None:
        matrix = np.kron(np.ones(rows), np.eye(columns))
        totals = np.asarray(column_totals, dtype=float)
        constraints.append(LinearConstraint(matrix, totals, totals))
    result = milp(cost, integrality=np.ones(rows * columns), bounds=Bounds(floor.ravel(), ceiling.ravel()),
                  constraints=constraints)
    if result.x is None:
        raise SpecError("The count table cannot be rounded with these margins.",
                        "Check that each margin is within one of the sum of its cells.")
    return round_half_up(result.x).reshape(rows, columns)


@dataclass(frozen=True)
class GapTarget:
    """A sample-wide difference in a rate between two sets of group cells: rate(a) - rate(b) = difference."""

    group_a: np.ndarray  # bool over cells
    group_b: np.ndarray  # bool over cells
    difference: float


def solve_cell_counts(totals: np.ndarray, cell_sizes: np.ndarray, gaps: Sequence[GapTarget]) -> np.ndarray:
    """Ones per community x cell so every community total holds exactly and the sample-wide gaps hold.

    Model: p_cg = expit(a_c + sum_j b_j [g in group_a_j]). For given b, each a_c solves
    sum_g n_cg p_cg = T_c (bisection); b solves the gap equations (least squares, so an impossible gap is
    approached as closely as the margins allow). Expected counts n_cg p_cg are then rounded keeping the
    community totals and the cell totals (largest remainder) exactly: `round_controlled`.
    `totals` has shape (communities,), `cell_sizes` (communities, cells).
    """
    totals = np.asarray(totals, dtype=float)
    sizes = np.asarray(cell_sizes, dtype=float)
    if np.any(totals > sizes.sum(axis=1)) or np.any(totals < 0):
        raise SpecError("A community needs more 'yes' answers than it has respondents.")
    design = np.array([gap.group_a for gap in gaps], dtype=float).T if gaps else np.zeros((sizes.shape[1], 0))

    def expected_for(effects: np.ndarray) -> np.ndarray:
        shift = design @ effects  # (cells,)
        low = np.full(len(totals), -40.0)
        high = np.full(len(totals), 40.0)
        for _ in range(80):
            middle = (low + high) / 2
            fitted = (sizes * expit(middle[:, None] + shift[None, :])).sum(axis=1)
            too_many = fitted > totals
            high = np.where(too_many, middle, high)
            low = np.where(too_many, low, middle)
        return sizes * expit(((low + high) / 2)[:, None] + shift[None, :])

    def gap_errors(effects: np.ndarray) -> np.ndarray:
        expected = expected_for(effects)
        ones = expected.sum(axis=0)
        people = sizes.sum(axis=0)
        return np.array([ones[g.group_a].sum() / people[g.group_a].sum()
                         - ones[g.group_b].sum() / people[g.group_b].sum() - g.difference for g in gaps])

    effects = np.zeros(len(gaps))
    if gaps:
        effects = least_squares(gap_errors, effects, bounds=(-12, 12), xtol=1e-12, ftol=1e-12).x
    expected = expected_for(effects)
    expected *= np.divide(totals, expected.sum(axis=1), out=np.zeros_like(totals),
                          where=expected.sum(axis=1) > 0)[:, None]
    columns = largest_remainder(expected.sum(axis=0), int(round(totals.sum())))
    return round_controlled(expected, round_half_up(totals), columns)


def assign_top(score: np.ndarray, cell: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Mark exactly counts[cell] respondents per cell: those with the highest score (ties by position).

    `cell` is an integer cell id per respondent; `counts` is indexed by cell id. Vectorised: one sort.
    """
    score = np.asarray(score, dtype=float)
    cell = np.asarray(cell, dtype=np.int64)
    order = np.lexsort((np.arange(len(score)), -score, cell))
    sorted_cells = cell[order]
    starts = np.searchsorted(sorted_cells, sorted_cells, side="left")
    rank = np.arange(len(score)) - starts
    chosen = np.zeros(len(score), dtype=bool)
    chosen[order] = rank < np.asarray(counts)[sorted_cells]
    if np.any(np.bincount(cell, minlength=len(counts)) < np.asarray(counts)):
        raise SpecError("A cell needs more 'yes' answers than it has respondents.")
    return chosen


# ---------------------------------------------------------------------------------------------------
# The index replica (design.md section 5) and the Tableau 1 solve


def normalise_minmax(values: np.ndarray, higher_is_better: np.ndarray) -> np.ndarray:
    """Min-max across communities, oriented so 1 is best: (x - min) / (max - min), or 1 minus that.

    `values` has shape (indicators, communities); an indicator that does not vary gets 0.5.
    """
    values = np.asarray(values, dtype=float)
    low = values.min(axis=1, keepdims=True)
    high = values.max(axis=1, keepdims=True)
    spread = high - low
    scaled = np.divide(values - low, spread, out=np.full_like(values, MIDDLE), where=spread > 0)
    return np.where(np.asarray(higher_is_better)[:, None], scaled, 1.0 - scaled)


def index_scores(values: np.ndarray, higher_is_better: np.ndarray, pillars: Sequence[str],
                 weights: np.ndarray) -> dict[str, np.ndarray]:
    """Pillar scores (weighted mean of normalised indicators) and the composite (mean of the pillars).

    A small replica of `retour.index.build` with its defaults, used to check the synthetic data without
    the store: pillar_c = sum_k w_k z_kc / sum_k w_k; composite_c = mean over pillars.
    """
    normalised = normalise_minmax(values, higher_is_better)
    weights = np.asarray(weights, dtype=float)
    names = list(dict.fromkeys(pillars))
    scores = {}
    for name in names:
        members = np.array([pillar == name for pillar in pillars])
        scores[name] = (weights[members, None] * normalised[members]).sum(axis=0) / weights[members].sum()
    scores["composite"] = np.mean([scores[name] for name in names], axis=0)
    return scores


@dataclass(frozen=True)
class FreeIndicator:
    """An unpublished indicator whose community shares the Tableau 1 solve may choose.

    Shares stay within [low, high]; `anchors` fixes the share of some communities (community index ->
    share, e.g. a published single-community figure); `sample_share` fixes the sample-wide share;
    `prior` (oriented normalised value per community, 0..1) is what the solve stays close to.
    """

    indicator_id: str
    higher_is_better: bool
    weight: float
    low: float
    high: float
    prior: np.ndarray
    anchors: Mapping[int, float] = field(default_factory=dict)
    sample_share: float | None = None
    continuous: bool = False  # a mean (any value) rather than a share (whole respondents)


@dataclass(frozen=True)
class PillarProblem:
    """One pillar of the Tableau 1 solve: targets per community and the fixed indicators' contribution.

    `fixed_sum` is sum_k w_k z_kc over the pillar's published indicators (already normalised from their
    realised shares); `fixed_weight` is their total weight.
    """

    pillar: str
    targets: np.ndarray
    fixed_sum: np.ndarray
    fixed_weight: float
    free: tuple[FreeIndicator, ...]
    sizes: np.ndarray


def _oriented(indicator: FreeIndicator, share: float) -> float:
    position = (share - indicator.low) / (indicator.high - indicator.low)
    return position if indicator.higher_is_better else 1.0 - position


def _solve_normalised(problem: PillarProblem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stage 1: normalised values z (free x communities) with one community at 1 and one at 0 each.

    Mixed-integer programme: sum_k w_k z_kc = W T_c - F_c (with penalised slack), binary pins u_kc (z = 1)
    and l_kc (z = 0), one each per indicator, anchors and sample shares as linear equalities, and the
    least total distance |z - prior|. Returns z and the pinned communities (best, worst) per indicator.
    """
    free = problem.free
    m, c = len(free), len(problem.targets)
    total_weight = problem.fixed_weight + sum(item.weight for item in free)
    need = total_weight * problem.targets - problem.fixed_sum
    # variable blocks: z, u, l, d_plus, d_minus (each m*c), slack_plus, slack_minus (each c)
    size = 5 * m * c + 2 * c
    z, u, low_pin, d_plus, d_minus = (slice(i * m * c, (i + 1) * m * c) for i in range(5))
    s_plus = slice(5 * m * c, 5 * m * c + c)
    s_minus = slice(5 * m * c + c, size)
    rows: list[np.ndarray] = []
    lower: list[float] = []
    upper: list[float] = []

    def add(row: np.ndarray, lo: float, hi: float) -> None:
        rows.append(row)
        lower.append(lo)
        upper.append(hi)

    def var(block: slice, k: int, j: int) -> int:
        return block.start + k * c + j

    for j in range(c):
        row = np.zeros(size)
        for k, item in enumerate(free):
            row[var(z, k, j)] = item.weight
        row[s_plus.start + j] = 1.0
        row[s_minus.start + j] = -1.0
        add(row, need[j], need[j])
    for k, item in enumerate(free):
        for block in (u, low_pin):
            row = np.zeros(size)
            row[[var(block, k, j) for j in range(c)]] = 1.0
            add(row, 1.0, 1.0)
        for j in range(c):
            row = np.zeros(size)
            row[var(z, k, j)], row[var(u, k, j)] = 1.0, -1.0
            add(row, 0.0, np.inf)
            row = np.zeros(size)
            row[var(z, k, j)], row[var(low_pin, k, j)] = 1.0, 1.0
            add(row, -np.inf, 1.0)
            row = np.zeros(size)
            row[var(z, k, j)], row[var(d_plus, k, j)], row[var(d_minus, k, j)] = 1.0, -1.0, 1.0
            add(row, float(item.prior[j]), float(item.prior[j]))
        for j, share in item.anchors.items():
            row = np.zeros(size)
            row[var(z, k, j)] = 1.0
            value = _oriented(item, share)
            add(row, value, value)
        if item.sample_share is not None:
            # sum_c n_c v_c = p N with v = low + (high - low) z (or high - (high - low) z)
            span = item.high - item.low
            sign = 1.0 if item.higher_is_better else -1.0
            base = item.low if item.higher_is_better else item.high
            row = np.zeros(size)
            for j in range(c):
                row[var(z, k, j)] = sign * span * problem.sizes[j]
            rhs = item.sample_share * problem.sizes.sum() - base * problem.sizes.sum()
            add(row, rhs, rhs)
    cost = np.zeros(size)
    cost[d_plus] = 1.0
    cost[d_minus] = 1.0
    cost[s_plus] = 1000.0
    cost[s_minus] = 1000.0
    integrality = np.zeros(size)
    integrality[u] = 1
    integrality[low_pin] = 1
    upper_bound = np.full(size, np.inf)
    upper_bound[: 3 * m * c] = 1.0
    result = milp(cost, integrality=integrality, bounds=Bounds(np.zeros(size), upper_bound),
                  constraints=LinearConstraint(np.array(rows), np.array(lower), np.array(upper)))
    if result.x is None:
        raise SpecError(f"The {problem.pillar} pillar cannot reach the Tableau 1 targets with its free "
                        "indicators.", "Check the anchors and sample shares in synth_targets.toml.")
    x = result.x
    values = x[z].reshape(m, c)
    best = x[u].reshape(m, c).argmax(axis=1)
    worst = x[low_pin].reshape(m, c).argmax(axis=1)
    return values, best, worst


def solve_pillar(problem: PillarProblem) -> np.ndarray:
    """Counts of "yes" per free indicator and community that put the pillar on its targets.

    Stage 1 (`_solve_normalised`) chooses normalised values and which community is best and worst on
    each free indicator. Stage 2 rounds the pinned (and anchored) shares to counts. Stage 3 is an integer
    programme over the other counts, kept between the pinned extremes, minimising the largest
    |pillar_c - T_c| (then the distance to stage 1): the rounding to whole respondents is solved, not
    hoped for. Returns the community values (free indicators, communities): shares that are whole
    numbers of respondents, or means for continuous indicators.
    """
    free = problem.free
    if not free:
        return np.zeros((0, len(problem.targets)))
    normalised, best, worst = _solve_normalised(problem)
    sizes = problem.sizes.astype(float)
    m, c = normalised.shape
    shares = np.empty_like(normalised)
    for k, item in enumerate(free):
        position = normalised[k] if item.higher_is_better else 1.0 - normalised[k]
        shares[k] = item.low + position * (item.high - item.low)
    continuous = np.array([item.continuous for item in free])
    counts = np.where(continuous[:, None], shares * sizes, exact_counts(shares, sizes)).astype(float)
    fixed = np.zeros((m, c), dtype=bool)
    for k, item in enumerate(free):
        fixed[k, best[k]] = fixed[k, worst[k]] = True
        for j, share in item.anchors.items():
            counts[k, j] = share * sizes[j] if item.continuous else float(round_half_up(share * sizes[j]))
            fixed[k, j] = True
    total_weight = problem.fixed_weight + sum(item.weight for item in free)
    # realised extremes of each free indicator, from the pinned counts
    top = np.array([counts[k, best[k]] / sizes[best[k]] for k in range(m)])
    bottom = np.array([counts[k, worst[k]] / sizes[worst[k]] for k in range(m)])
    high_share = np.where([item.higher_is_better for item in free], top, bottom)
    low_share = np.where([item.higher_is_better for item in free], bottom, top)
    span = np.maximum(high_share - low_share, 1e-9)
    # pillar_c = (F_c + sum_k w_k z_kc) / W, z_kc = o_k (x_kc / n_c - low_k) / span_k (+1 if o_k = -1)
    orientation = np.where([item.higher_is_better for item in free], 1.0, -1.0)
    weights = np.array([item.weight for item in free])
    slope = (weights * orientation / span)[:, None] / sizes[None, :] / total_weight  # per count
    offset = (weights[:, None] * np.where(orientation[:, None] > 0, -low_share[:, None] / span[:, None],
                                          1.0 + low_share[:, None] / span[:, None]) / total_weight)
    base = problem.fixed_sum / total_weight + np.where(fixed, slope * counts + offset, 0.0).sum(axis=0)
    base += np.where(fixed, 0.0, offset).sum(axis=0)
    variables = [(k, j) for k in range(m) for j in range(c) if not fixed[k, j]]
    if not variables:
        return counts / sizes
    count_vars = len(variables)
    # variables: x (count_vars, integer), t (1), dev_plus/dev_minus (count_vars)
    size = 3 * count_vars + 1
    rows, lower, upper = [], [], []
    for j in range(c):
        row = np.zeros(size)
        for v, (k, jj) in enumerate(variables):
            if jj == j:
                row[v] = slope[k, j]
        gap = problem.targets[j] - base[j]
        for sign in (1.0, -1.0):
            bound_row = sign * row.copy()
            bound_row[count_vars] = -1.0
            rows.append(bound_row)
            lower.append(-np.inf)
            upper.append(sign * gap)
    for k, item in enumerate(free):
        if item.sample_share is None:
            continue
        row = np.zeros(size)
        for v, (kk, _) in enumerate(variables):
            if kk == k:
                row[v] = 1.0
        wanted = float(exact_counts(np.array([item.sample_share]), np.array([sizes.sum()]))[0])
        rhs = wanted - counts[k][fixed[k]].sum()
        rows.append(row)
        lower.append(rhs)
        upper.append(rhs)
    for v, (k, j) in enumerate(variables):
        row = np.zeros(size)
        row[v], row[count_vars + 1 + v], row[2 * count_vars + 1 + v] = 1.0, -1.0, 1.0
        rows.append(row)
        lower.append(float(shares[k, j] * sizes[j]))
        upper.append(float(shares[k, j] * sizes[j]))
    low_bound = np.zeros(size)
    high_bound = np.full(size, np.inf)
    integrality = np.zeros(size)
    for v, (k, j) in enumerate(variables):
        if continuous[k]:
            low_bound[v], high_bound[v] = low_share[k] * sizes[j], high_share[k] * sizes[j]
        else:
            low_bound[v] = np.ceil(low_share[k] * sizes[j] - 1e-9)
            high_bound[v] = np.floor(high_share[k] * sizes[j] + 1e-9)
            integrality[v] = 1
    cost = np.zeros(size)
    cost[count_vars] = 1000.0
    cost[count_vars + 1:] = 1e-3
    result = milp(cost, integrality=integrality, bounds=Bounds(low_bound, high_bound),
                  constraints=LinearConstraint(np.array(rows), np.array(lower), np.array(upper)))
    if result.x is None:
        raise SpecError(f"The {problem.pillar} pillar: no whole-respondent counts reach the Tableau 1 targets.",
                        "Widen the ranges of the free indicators in synth_targets.toml.")
    for v, (k, j) in enumerate(variables):
        counts[k, j] = result.x[v] if continuous[k] else round(result.x[v])
    return counts / sizes
