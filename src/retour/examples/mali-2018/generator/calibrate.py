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


def fit_sizes(
    shares: np.ndarray,
    sample_means: np.ndarray,
    total: int,
    low: int,
    high: int,
    required_row: int | None = None,
    required_count: int | None = None,
) -> np.ndarray:
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
        squares = np.where(feasible, (gaps**2).sum(axis=2), np.inf)
        flat = np.lexsort((squares.ravel(), np.round(worst.ravel(), 12)))[0]
        i, j = np.unravel_index(flat, worst.shape)
        if not np.isfinite(worst[i, j]):
            continue
        sizes = tuple(
            int(s)
            for s in np.concatenate([options[left_index[left_rows[i]]], options[right_index[right_rows[j]]]])
        )
        candidate = (round(float(worst[i, j]), 12), float(squares[i, j]), sizes)
        if best is None or candidate < best:
            best = candidate
    if best is None:
        raise SpecError(
            f"No community sizes between {low} and {high} sum to {total} and meet the required count.",
            "Widen the size range in synth_targets.toml.",
        )
    return np.array(best[2], dtype=np.int64)


# ---------------------------------------------------------------------------------------------------
# Counts per group cell


def round_controlled(
    expected: np.ndarray, row_totals: np.ndarray | None = None, column_totals: np.ndarray | None = None
) -> np.ndarray:
    """Round a table to integers, each cell to floor or ceiling, keeping the given margins exactly.

    Cells go up in order of their fractional part while their row and column still need units (fast,
    and what an optimum looks like); if that greedy pass leaves a margin short, an integer programme
    minimising sum |x - expected| under the margins decides. Cox (1987): a two-way table always has such
    a rounding when each margin is itself a floor or ceiling of its real margin.
    """
    expected = np.asarray(expected, dtype=float)
    rows, columns = expected.shape
    floor = np.floor(expected + 1e-9)
    fraction = np.where(expected - floor > 1e-9, expected - floor, 0.0)
    row_need = (
        np.asarray(row_totals, dtype=float) - floor.sum(axis=1)
        if row_totals is not None
        else np.full(rows, np.inf)
    )
    column_need = (
        np.asarray(column_totals, dtype=float) - floor.sum(axis=0)
        if column_totals is not None
        else np.full(columns, np.inf)
    )
    if row_totals is None and column_totals is None:
        return round_half_up(expected)
    result = floor.copy()
    for flat in np.lexsort((np.arange(rows * columns), -fraction.ravel())):
        i, j = divmod(int(flat), columns)
        if fraction[i, j] > 0 and row_need[i] > 0.5 and column_need[j] > 0.5:
            result[i, j] += 1
            row_need[i] -= 1
            column_need[j] -= 1
    done = all(np.all(np.isinf(need) | (np.abs(need) < 0.5)) for need in (row_need, column_need))
    if done:
        return result.astype(np.int64)
    return _round_controlled_exactly(expected, floor, fraction, row_totals, column_totals)


def _round_controlled_exactly(
    expected: np.ndarray,
    floor: np.ndarray,
    fraction: np.ndarray,
    row_totals: np.ndarray | None,
    column_totals: np.ndarray | None,
) -> np.ndarray:
    rows, columns = expected.shape
    ceiling = floor + (fraction > 0)
    cost = (1.0 - 2.0 * fraction).ravel()
    constraints = []
    if row_totals is not None:
        totals = np.asarray(row_totals, dtype=float)
        constraints.append(LinearConstraint(np.kron(np.eye(rows), np.ones(columns)), totals, totals))
    if column_totals is not None:
        totals = np.asarray(column_totals, dtype=float)
        constraints.append(LinearConstraint(np.kron(np.ones(rows), np.eye(columns)), totals, totals))
    result = milp(
        cost,
        integrality=np.ones(rows * columns),
        bounds=Bounds(floor.ravel(), ceiling.ravel()),
        constraints=constraints,
    )
    if result.x is None:
        raise SpecError(
            "The count table cannot be rounded with these margins.",
            "Check that each margin is within one of the sum of its cells.",
        )
    return round_half_up(result.x).reshape(rows, columns)


@dataclass(frozen=True)
class GapTarget:
    """A sample-wide difference in a rate between two sets of group cells: rate(a) - rate(b) = difference."""

    group_a: np.ndarray  # bool over cells
    group_b: np.ndarray  # bool over cells
    difference: float


def solve_cell_counts(
    totals: np.ndarray,
    cell_sizes: np.ndarray,
    gaps: Sequence[GapTarget],
    denominators: np.ndarray | None = None,
) -> np.ndarray:
    """Ones per community x cell so every community total holds exactly and the sample-wide gaps hold.

    Model: p_cg = expit(a_c + sum_j b_j [g in group_a_j]). For given b, each a_c solves
    sum_g n_cg p_cg = T_c (Newton); b solves the gap equations (Newton, or least squares so that an
    impossible gap is approached as closely as the margins allow). Expected counts n_cg p_cg are then
    rounded keeping the community totals and the cell totals exactly: `round_controlled`.
    `totals` has shape (communities,), `cell_sizes` (communities, cells): who may answer yes.
    `denominators` (same shape, default `cell_sizes`) are the people a gap's rates are shares of, when
    only some of them may say yes (e.g. owning a business among those who work, as a share of all).
    """
    totals = np.asarray(totals, dtype=float)
    sizes = np.asarray(cell_sizes, dtype=float)
    if np.any(totals > sizes.sum(axis=1)) or np.any(totals < 0):
        raise SpecError("A community needs more 'yes' answers than it has respondents.")
    design = np.array([gap.group_a for gap in gaps], dtype=float).T if gaps else np.zeros((sizes.shape[1], 0))

    share = np.clip(totals / np.maximum(sizes.sum(axis=1), 1), 1e-6, 1 - 1e-6)

    def expected_for(effects: np.ndarray) -> np.ndarray:
        """n_cg p_cg with each community constant solved by Newton's method (monotone, so it converges)."""
        shift = design @ effects  # (cells,)
        constant = np.log(share / (1 - share))
        for _ in range(30):
            p = expit(constant[:, None] + shift[None, :])
            error = (sizes * p).sum(axis=1) - totals
            slope = (sizes * p * (1 - p)).sum(axis=1)
            step = np.clip(error / np.maximum(slope, 1e-12), -4.0, 4.0)
            constant -= step
            if np.all(np.abs(error) < 1e-10):
                break
        return sizes * expit(constant[:, None] + shift[None, :])

    def gap_errors(effects: np.ndarray) -> np.ndarray:
        expected = expected_for(effects)
        ones = expected.sum(axis=0)
        people = (sizes if denominators is None else np.asarray(denominators, dtype=float)).sum(axis=0)
        return np.array(
            [
                ones[g.group_a].sum() / people[g.group_a].sum()
                - ones[g.group_b].sum() / people[g.group_b].sum()
                - g.difference
                for g in gaps
            ]
        )

    effects = np.zeros(len(gaps))
    if gaps:
        effects = _solve_effects(gap_errors, len(gaps))
    expected = expected_for(effects)
    expected *= np.divide(
        totals, expected.sum(axis=1), out=np.zeros_like(totals), where=expected.sum(axis=1) > 0
    )[:, None]
    columns = _cell_totals(expected.sum(axis=0), int(round(totals.sum())), gaps)
    return round_controlled(expected, round_half_up(totals), columns)


def _cell_totals(real: np.ndarray, total: int, gaps: Sequence[GapTarget]) -> np.ndarray:
    """Whole totals per group cell that also round each gap's group total (largest remainder alone
    could be off by up to two respondents in a group spread over several cells)."""
    parts = largest_remainder(np.maximum(real, 0.0), total)
    if len(gaps) < 2:
        return parts
    groups = np.array([gap.group_a for gap in gaps], dtype=float)
    wanted = round_half_up(groups @ real)
    if np.all(groups @ parts == wanted):
        return parts
    floor = np.floor(real + 1e-9)
    constraints = [
        LinearConstraint(np.ones((1, len(real))), total, total),
        LinearConstraint(groups, wanted, wanted),
    ]
    cost = 1.0 - 2.0 * (real - floor)
    result = milp(
        cost,
        integrality=np.ones(len(real)),
        bounds=Bounds(floor, floor + (real - floor > 1e-9)),
        constraints=constraints,
    )
    return parts if result.x is None else round_half_up(result.x)


def _solve_effects(errors, count: int) -> np.ndarray:
    """Group effects b with errors(b) = 0: Newton's method with a finite-difference Jacobian; least
    squares within bounds when Newton does not converge (an unreachable gap is then approached)."""
    effects = np.zeros(count)
    current = errors(effects)
    for _ in range(25):
        if np.max(np.abs(current)) < 1e-9:
            return effects
        jacobian = np.column_stack(
            [(errors(effects + 1e-6 * unit) - current) / 1e-6 for unit in np.eye(count)]
        )
        try:
            step = np.linalg.solve(jacobian, current)
        except np.linalg.LinAlgError:
            break
        effects = np.clip(effects - np.clip(step, -2.0, 2.0), -12.0, 12.0)
        current = errors(effects)
    if np.max(np.abs(current)) < 1e-9:
        return effects
    return least_squares(errors, effects, bounds=(-12, 12), xtol=1e-12, ftol=1e-12).x


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


def index_scores(
    values: np.ndarray, higher_is_better: np.ndarray, pillars: Sequence[str], weights: np.ndarray
) -> dict[str, np.ndarray]:
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


def _choose_pins(problem: PillarProblem, need: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which community is best (z = 1) and worst (z = 0) on each free indicator.

    Given the pins, communities decouple: community c is reachable when
    sum_{k best at c} w_k <= need_c <= sum_k w_k * (largest z_kc allowed). Pins are placed greedily, the
    heaviest indicator first, each where it leaves the most room (ties go to the prior's best and worst);
    an anchor at 0 or 1 fixes that pin.
    """
    free = problem.free
    c = len(need)
    floor_sum = np.zeros(c)  # weight already forced to 1 (best pins, anchors)
    ceiling_sum = np.array([sum(item.weight for item in free)] * c, dtype=float)  # weight that may reach 1
    for item in free:
        for j, share in item.anchors.items():
            value = _oriented(item, share)
            floor_sum[j] += item.weight * value
            ceiling_sum[j] -= item.weight * (1.0 - value)
    best = np.zeros(len(free), dtype=np.int64)
    worst = np.zeros(len(free), dtype=np.int64)
    for k in sorted(range(len(free)), key=lambda i: (-free[i].weight, i)):
        item = free[k]
        anchored = {j: _oriented(item, share) for j, share in item.anchors.items()}
        forced_best = [j for j, value in anchored.items() if value >= 1.0 - 1e-12]
        forced_worst = [j for j, value in anchored.items() if value <= 1e-12]
        open_ = np.array([j not in anchored for j in range(c)])
        if forced_best:
            best[k] = forced_best[0]
        else:
            room = np.where(open_, need - floor_sum - item.weight, -np.inf)
            best[k] = np.lexsort((-item.prior, -np.round(room, 9)))[0]
            floor_sum[best[k]] += item.weight
        if forced_worst:
            worst[k] = forced_worst[0]
        else:
            room = np.where(open_ & (np.arange(c) != best[k]), ceiling_sum - item.weight - need, -np.inf)
            worst[k] = np.lexsort((item.prior, -np.round(room, 9)))[0]
            ceiling_sum[worst[k]] -= item.weight
    return best, worst


def _solve_normalised(problem: PillarProblem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stage 1: normalised values z (free x communities) with one community at 1 and one at 0 each.

    With the pins of `_choose_pins`, a linear programme: sum_k w_k z_kc = W T_c - F_c (with heavily
    penalised slack, so an unreachable target is approached as closely as possible), anchors and sample
    shares as equalities, 0 <= z <= 1, and the least total distance |z - prior|. Returns z and the pinned
    communities (best, worst) per indicator.
    """
    free = problem.free
    m, c = len(free), len(problem.targets)
    total_weight = problem.fixed_weight + sum(item.weight for item in free)
    need = total_weight * problem.targets - problem.fixed_sum
    best, worst = _choose_pins(problem, need)
    # variable blocks: z, d_plus, d_minus (each m*c), slack_plus, slack_minus (each c)
    size = 3 * m * c + 2 * c
    z, d_plus, d_minus = (slice(i * m * c, (i + 1) * m * c) for i in range(3))
    s_plus = slice(3 * m * c, 3 * m * c + c)
    s_minus = slice(3 * m * c + c, size)
    rows: list[np.ndarray] = []
    values: list[float] = []

    def equal(row: np.ndarray, value: float) -> None:
        rows.append(row)
        values.append(value)

    def var(block: slice, k: int, j: int) -> int:
        return block.start + k * c + j

    for j in range(c):
        row = np.zeros(size)
        for k, item in enumerate(free):
            row[var(z, k, j)] = item.weight
        row[s_plus.start + j], row[s_minus.start + j] = 1.0, -1.0
        equal(row, need[j])
    low_bound = np.zeros(size)
    high_bound = np.full(size, np.inf)
    high_bound[z] = 1.0
    for k, item in enumerate(free):
        low_bound[var(z, k, best[k])] = 1.0
        high_bound[var(z, k, worst[k])] = 0.0
        for j, share in item.anchors.items():
            low_bound[var(z, k, j)] = high_bound[var(z, k, j)] = _oriented(item, share)
        for j in range(c):
            row = np.zeros(size)
            row[var(z, k, j)], row[var(d_plus, k, j)], row[var(d_minus, k, j)] = 1.0, -1.0, 1.0
            equal(row, float(item.prior[j]))
        if item.sample_share is not None:
            # sum_c n_c v_c = p N with v = low + (high - low) z, or high - (high - low) z
            sign = 1.0 if item.higher_is_better else -1.0
            base = item.low if item.higher_is_better else item.high
            row = np.zeros(size)
            for j in range(c):
                row[var(z, k, j)] = sign * (item.high - item.low) * problem.sizes[j]
            equal(row, (item.sample_share - base) * float(problem.sizes.sum()))
    cost = np.zeros(size)
    cost[d_plus] = cost[d_minus] = 1.0
    cost[s_plus] = cost[s_minus] = 1000.0
    result = milp(
        cost,
        bounds=Bounds(low_bound, np.maximum(low_bound, high_bound)),
        constraints=LinearConstraint(np.array(rows), np.array(values), np.array(values)),
    )
    if result.x is None:
        raise SpecError(
            f"The {problem.pillar} pillar cannot reach the Tableau 1 targets with its free indicators.",
            "Check the anchors and sample shares in synth_targets.toml.",
        )
    return result.x[z].reshape(m, c), best, worst


def solve_pillar(problem: PillarProblem) -> np.ndarray:
    """Community values of the free indicators that put the pillar on its Tableau 1 targets.

    Stage 1 (`_solve_normalised`) chooses normalised values and which community is best and worst on
    each free indicator. Stage 2 rounds the pinned and anchored shares to whole respondents, and the
    indicators with a sample-wide share by largest remainder. Stage 3 (`_settle_community`) then picks,
    community by community, the whole counts (floor or ceiling of stage 1, or one step further) that
    bring |pillar_c - T_c| lowest: the rounding is solved, not hoped for. Returns shares that are whole
    numbers of respondents (means for continuous indicators), shape (free indicators, communities).
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
    wanted = shares * sizes
    counts = np.where(continuous[:, None], wanted, exact_counts(shares, sizes)).astype(float)
    fixed = np.zeros((m, c), dtype=bool)
    for k, item in enumerate(free):
        fixed[k, best[k]] = fixed[k, worst[k]] = True
        for j, share in item.anchors.items():
            counts[k, j] = share * sizes[j] if item.continuous else float(round_half_up(share * sizes[j]))
            fixed[k, j] = True
        if item.sample_share is not None and not item.continuous:
            rest = int(round_half_up(item.sample_share * sizes.sum())) - int(counts[k, fixed[k]].sum())
            open_ = ~fixed[k]
            counts[k, open_] = largest_remainder(np.maximum(wanted[k, open_], 1e-12), rest)
            fixed[k] = True
    top = np.array([counts[k, best[k]] / sizes[best[k]] for k in range(m)])
    bottom = np.array([counts[k, worst[k]] / sizes[worst[k]] for k in range(m)])
    higher = np.array([item.higher_is_better for item in free])
    high_share = np.where(higher, top, bottom)
    low_share = np.where(higher, bottom, top)
    span = np.maximum(high_share - low_share, 1e-12)
    total_weight = problem.fixed_weight + sum(item.weight for item in free)
    # pillar_c = (F_c + sum_k w_k z_kc) / W with z_kc = slope_kc * x_kc + offset_k (x = count or total)
    weights = np.array([item.weight for item in free])
    orientation = np.where(higher, 1.0, -1.0)
    slope = (weights * orientation / span)[:, None] / sizes[None, :] / total_weight
    offset = weights * np.where(higher, -low_share / span, 1.0 + low_share / span) / total_weight
    for j in range(c):
        counts[:, j] = _settle_community(
            problem.targets[j] - problem.fixed_sum[j] / total_weight - offset.sum(),
            counts[:, j],
            wanted[:, j],
            fixed[:, j],
            slope[:, j],
            continuous,
            low_share * sizes[j],
            high_share * sizes[j],
        )
    return counts / sizes


def _settle_community(
    gap: float,
    counts: np.ndarray,
    wanted: np.ndarray,
    fixed: np.ndarray,
    slope: np.ndarray,
    continuous: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
) -> np.ndarray:
    """Stage 3 for one community: whole counts with sum_k slope_k x_k closest to `gap`.

    Open shares try floor-1 .. floor+2 of stage 1 (floor and floor+1 when there are more than five), all
    combinations at once; a continuous indicator then absorbs what is left, within its range. Among equal
    errors the combination closest to stage 1 wins.
    """
    result = counts.copy()
    open_integer = np.flatnonzero(~fixed & ~continuous)
    open_continuous = np.flatnonzero(~fixed & continuous)
    steps = np.arange(-1, 3) if len(open_integer) <= 5 else np.arange(0, 2)
    base = np.floor(wanted[open_integer] + 1e-9)
    options = base[:, None] + steps[None, :]
    options = np.clip(
        options, np.ceil(low[open_integer] - 1e-9)[:, None], np.floor(high[open_integer] + 1e-9)[:, None]
    )
    if len(open_integer):
        grid = np.array(np.meshgrid(*options, indexing="ij")).reshape(len(open_integer), -1).T
    else:
        grid = np.zeros((1, 0))
    reached = (fixed * slope * counts).sum() + grid @ slope[open_integer]
    residual = gap - reached
    adjusted = np.zeros((len(grid), 0))
    if len(open_continuous):
        first = open_continuous[0]
        rest = open_continuous[1:]
        residual = residual - (slope[rest] * wanted[rest]).sum()
        value = np.clip(residual / slope[first], low[first], high[first])
        residual = residual - slope[first] * value
        adjusted = np.column_stack([value, np.tile(wanted[rest], (len(grid), 1))])
    distance = np.abs(grid - wanted[open_integer]).sum(axis=1)
    choice = np.lexsort((distance, np.round(np.abs(residual), 9)))[0]
    result[open_integer] = grid[choice]
    if len(open_continuous):
        result[open_continuous] = adjusted[choice]
    return result
