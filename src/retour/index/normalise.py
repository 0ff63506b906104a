"""Normalisation operators: put each indicator of an index on a common scale, oriented so higher is better.

Every operator is a small pure function registered with `@normaliser(name)` and works on arrays of shape
(..., communities, indicators): the leading axes are replicates or method variants, so the same code
normalises one build or a thousand bootstrap replicates at once. Missing values (NaN) stay missing and
are ignored when the operator looks across communities. This module reads no files and knows nothing of
pillars, weights or frames.

References: OECD/JRC (2008), *Handbook on Constructing Composite Indicators*, section 5; Becker et al.
(2022), COINr, *Journal of Open Source Software* 7(78), 4567.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from retour.errors import SpecError


@dataclass(frozen=True)
class Orientation:
    """What a normaliser needs besides the values.

    `higher_is_better` has shape (indicators,); `low` and `high` are the goalposts, broadcastable to the
    values, already resolved by the build (fixed in the spec, frozen from the reference round, or the
    minimum and maximum across communities).
    """

    higher_is_better: np.ndarray
    low: np.ndarray
    high: np.ndarray


NormaliseFunction = Callable[[np.ndarray, Orientation], np.ndarray]


@dataclass(frozen=True)
class Normaliser:
    """A registered normalisation; `unit_scale` is True when its results lie on the 0..1 scale."""

    name: str
    function: NormaliseFunction
    unit_scale: bool
    needs_goalposts: bool

    @property
    def formula(self) -> str:
        """The first paragraph of the operator's docstring (its formula), for docs and `--help`."""
        return (self.function.__doc__ or "").strip().split("\n\n")[0]


NORMALISERS: dict[str, Normaliser] = {}
MIDDLE = 0.5  # the value of an indicator that does not vary (nothing to tell communities apart)


def normaliser(name: str, unit_scale: bool = True,
               needs_goalposts: bool = False) -> Callable[[NormaliseFunction], NormaliseFunction]:
    """Register a normalisation operator under `name` (used in index.toml and the method analysis)."""

    def register(function: NormaliseFunction) -> NormaliseFunction:
        if name in NORMALISERS:
            raise RuntimeError(f"normaliser {name} registered twice")
        NORMALISERS[name] = Normaliser(name, function, unit_scale, needs_goalposts)
        return function

    return register


def get_normaliser(name: str) -> Normaliser:
    """The registered normaliser `name`, or a SpecError listing the known ones."""
    try:
        return NORMALISERS[name]
    except KeyError:
        known = ", ".join(sorted(NORMALISERS))
        raise SpecError(f"Unknown normalisation '{name}'.", f"Use one of: {known}.") from None


def extremes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Largest and smallest value across communities (axis -2), NaN where every community is missing."""
    missing = np.isnan(values)
    largest = np.where(missing, -np.inf, values).max(axis=-2, keepdims=True, initial=-np.inf)
    smallest = np.where(missing, np.inf, values).min(axis=-2, keepdims=True, initial=np.inf)
    empty = missing.all(axis=-2, keepdims=True)
    return np.where(empty, np.nan, largest), np.where(empty, np.nan, smallest)


def _sign(orientation: Orientation) -> np.ndarray:
    return np.where(orientation.higher_is_better, 1.0, -1.0)


def _scale_between(values: np.ndarray, orientation: Orientation) -> np.ndarray:
    low = np.broadcast_to(orientation.low, values.shape)
    high = np.broadcast_to(orientation.high, values.shape)
    span = high - low
    flat = span == 0
    safe = np.where(flat, 1.0, span)
    upward = (values - low) / safe
    oriented = np.where(orientation.higher_is_better, upward, (high - values) / safe)
    return np.where(flat & ~np.isnan(values), MIDDLE, oriented)


@normaliser("minmax")
def minmax(values: np.ndarray, orientation: Orientation) -> np.ndarray:
    """y = (x - low) / (high - low) when higher is better, y = (high - x) / (high - low) otherwise.

    low and high are the smallest and largest value across communities, unless goalposts are set (fixed
    in index.toml or frozen from the reference round): then those are used, and later rounds may leave
    0..1. An indicator with high = low is set to 0.5 for every community.
    """
    return _scale_between(values, orientation)


@normaliser("goalposts", needs_goalposts=True)
def goalposts(values: np.ndarray, orientation: Orientation) -> np.ndarray:
    """y = (x - low) / (high - low), reversed when lower is better, with low and high fixed in index.toml.

    Unlike `minmax`, the goalposts never come from the data: every indicator needs them in the spec.
    Values outside the goalposts give scores below 0 or above 1.
    """
    return _scale_between(values, orientation)


@normaliser("zscore", unit_scale=False)
def zscore(values: np.ndarray, orientation: Orientation) -> np.ndarray:
    """y = s * (x - mean) / sd across communities, s = +1 when higher is better and -1 otherwise.

    sd uses n - 1 in the denominator; an indicator with sd = 0 (or a single community) gives 0. The result
    is in standard deviations, not on the 0..1 scale.
    """
    count = np.sum(~np.isnan(values), axis=-2, keepdims=True)
    mean = np.nansum(values, axis=-2, keepdims=True) / np.maximum(count, 1)
    centred = values - mean
    variance = np.nansum(centred**2, axis=-2, keepdims=True) / np.maximum(count - 1, 1)
    sd = np.sqrt(variance)
    varies = sd > 1e-12 * np.maximum(np.abs(mean), 1.0)  # rounding noise of a constant is not spread
    scaled = np.where(varies, centred / np.where(varies, sd, 1.0), 0.0)
    return np.where(np.isnan(values), np.nan, _sign(orientation) * scaled)


@normaliser("rank")
def rank(values: np.ndarray, orientation: Orientation) -> np.ndarray:
    """y = (r - 1) / (k - 1), r the rank of x among the k communities with a value (1 = worst).

    Ties share their average rank; with a single community, or all values equal, y = 0.5.
    """
    oriented = values * _sign(orientation)
    below = oriented[..., :, None, :] > oriented[..., None, :, :]
    equal = oriented[..., :, None, :] == oriented[..., None, :, :]
    position = below.sum(axis=-2) + (equal.sum(axis=-2) - 1) / 2.0
    count = np.sum(~np.isnan(values), axis=-2, keepdims=True)
    scaled = np.where(count > 1, position / np.maximum(count - 1, 1), MIDDLE)
    return np.where(np.isnan(values), np.nan, scaled)


@normaliser("distance_to_best")
def distance_to_best(values: np.ndarray, orientation: Orientation) -> np.ndarray:
    """y = x / best when higher is better (best = largest x), y = best / x otherwise (best = smallest x).

    The best community scores 1 and the others the share of the best they reach. Values must be >= 0;
    a community equal to the best scores 1 even when the best is 0, and any other scores 0 against a
    best of 0 when lower is better.
    """
    if np.any(values < 0):
        raise SpecError("The normalisation 'distance_to_best' needs indicator values of 0 or more.",
                        "Use 'minmax' or 'zscore' for indicators that can be negative.")
    largest, smallest = extremes(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        upward = np.where(largest > 0, values / np.where(largest > 0, largest, 1.0), 1.0)
        downward = np.where(values > 0, smallest / np.where(values > 0, values, 1.0), 1.0)
        downward = np.where(values == smallest, 1.0, downward)
    scaled = np.where(orientation.higher_is_better, upward, downward)
    return np.where(np.isnan(values), np.nan, scaled)
