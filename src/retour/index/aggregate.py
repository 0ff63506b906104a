"""Aggregation operators: combine normalised indicators into a pillar score, or pillars into the composite.

Every operator is a small pure function registered with `@aggregator(name)`. It takes values of shape
(..., components) and positive weights of shape (components,) and returns shape (...): the leading axes are
replicates and communities, so one call aggregates a whole bootstrap. A missing component (NaN) is left
out and the weights of the others are used as they are (which renormalises them); a score with every
component missing is missing. This module knows nothing of pillars or frames.

References: OECD/JRC (2008), *Handbook on Constructing Composite Indicators*, section 6.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from retour.errors import SpecError

AggregateFunction = Callable[..., np.ndarray]
DEFAULT_FLOOR = 0.01  # geometric and harmonic means: values below this count as this (see `floor` below)


@dataclass(frozen=True)
class Aggregator:
    """A registered aggregation."""

    name: str
    function: AggregateFunction

    @property
    def formula(self) -> str:
        """The first paragraph of the operator's docstring (its formula), for docs and `--help`."""
        return (self.function.__doc__ or "").strip().split("\n\n")[0]


AGGREGATORS: dict[str, Aggregator] = {}


def aggregator(name: str) -> Callable[[AggregateFunction], AggregateFunction]:
    """Register an aggregation operator under `name` (used in index.toml and the method analysis)."""

    def register(function: AggregateFunction) -> AggregateFunction:
        if name in AGGREGATORS:
            raise RuntimeError(f"aggregator {name} registered twice")
        AGGREGATORS[name] = Aggregator(name, function)
        return function

    return register


def get_aggregator(name: str) -> Aggregator:
    """The registered aggregator `name`, or a SpecError listing the known ones."""
    try:
        return AGGREGATORS[name]
    except KeyError:
        known = ", ".join(sorted(AGGREGATORS))
        raise SpecError(f"Unknown aggregation '{name}'.", f"Use one of: {known}.") from None


def _present_weights(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weights broadcast to the values, 0 where a value is missing; and their sum (NaN when 0)."""
    present = ~np.isnan(values)
    spread = np.where(present, np.broadcast_to(weights, values.shape), 0.0)
    total = spread.sum(axis=-1)
    return spread, np.where(total > 0, total, np.nan)


@aggregator("arithmetic")
def arithmetic(values: np.ndarray, weights: np.ndarray, floor: float = DEFAULT_FLOOR) -> np.ndarray:
    """s = sum(w_i * y_i) / sum(w_i), over the components with a value.

    `floor` is not used; it is accepted so every aggregator has the same signature.
    """
    spread, total = _present_weights(values, weights)
    return np.where(spread > 0, spread * np.nan_to_num(values), 0.0).sum(axis=-1) / total


@aggregator("geometric")
def geometric(values: np.ndarray, weights: np.ndarray, floor: float = DEFAULT_FLOOR) -> np.ndarray:
    """s = exp(sum(w_i * ln(max(y_i, floor))) / sum(w_i)), over the components with a value.

    Zeros (and negative values, which z-scores and frozen goalposts can give) are raised to `floor`
    (0.01 by default, `geometric_floor` in index.toml) so that one zero does not make the whole score 0.
    """
    spread, total = _present_weights(values, weights)
    logs = np.log(np.maximum(np.nan_to_num(values, nan=1.0), floor))
    return np.exp((spread * logs).sum(axis=-1) / total)


@aggregator("harmonic")
def harmonic(values: np.ndarray, weights: np.ndarray, floor: float = DEFAULT_FLOOR) -> np.ndarray:
    """s = sum(w_i) / sum(w_i / max(y_i, floor)), over the components with a value.

    Values below `floor` are raised to it, as for the geometric mean.
    """
    spread, total = _present_weights(values, weights)
    inverse = 1.0 / np.maximum(np.nan_to_num(values, nan=1.0), floor)
    return total / (spread * inverse).sum(axis=-1)


@aggregator("median")
def median(values: np.ndarray, weights: np.ndarray, floor: float = DEFAULT_FLOOR) -> np.ndarray:
    """s = the weighted median: the smallest y whose cumulative weight (values sorted) reaches sum(w) / 2.

    When the cumulative weight equals half the total exactly, s is the mean of that value and the next,
    so with equal weights this is the ordinary median. `floor` is not used.
    """
    spread, total = _present_weights(values, weights)
    order = np.argsort(np.where(np.isnan(values), np.inf, values), axis=-1, kind="stable")
    ordered = np.take_along_axis(values, order, axis=-1)
    cumulative = np.cumsum(np.take_along_axis(spread, order, axis=-1), axis=-1)
    half = (total / 2.0)[..., None]
    tolerance = 1e-12 * np.where(np.isnan(half), 1.0, half)
    reached = cumulative >= half - tolerance
    first = np.argmax(reached, axis=-1)[..., None]
    exactly_half = np.abs(np.take_along_axis(cumulative, first, axis=-1) - half) <= tolerance
    following = np.minimum(first + 1, values.shape[-1] - 1)
    lower = np.take_along_axis(ordered, first, axis=-1)
    upper = np.take_along_axis(ordered, following, axis=-1)
    result = np.where(exactly_half, (lower + upper) / 2.0, lower)[..., 0]
    return np.where(np.isnan(total), np.nan, result)


def check_weights(weights: np.ndarray, where: str) -> np.ndarray:
    """Weights as a float array, or a SpecError if any is negative, zero or not finite."""
    array = np.asarray(weights, dtype=float)
    bad = ~np.isfinite(array) | (array <= 0)
    if bad.any():
        raise SpecError(f"{where}: weights must be positive numbers (got {array[bad].tolist()}).",
                        "Give every weight a value above 0, or leave it out for weight 1.")
    return array
