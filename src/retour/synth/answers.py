"""Draw answers to one question from its type alone, for every respondent at once.

Each drawer is registered with `@drawer(type)` and returns a polars Series typed as stored submissions
are (select answers and text as Utf8, select_multiple space-separated, integer Int64, decimal Float64,
dates Date). Select answers follow probabilities drawn once per question, so answers differ between
questions as real ones do; numbers are drawn within the bounds a simple constraint gives
(`constraints.numeric_bounds`). Vectorised over respondents; no answer here rests on any real figure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from retour.schema import Question
from retour.synth.constraints import numeric_bounds

DEFAULT_INTEGERS = (0, 50)  # range of a whole number with no bound in its constraint
DEFAULT_DECIMALS = (0.0, 1000.0)
FIELDWORK_DAYS = 14  # interviews and dates fall in the two weeks from the round's date
DTYPES = {"integer": pl.Int64, "decimal": pl.Float64, "range": pl.Float64, "date": pl.Date, "today": pl.Date}


@dataclass(frozen=True)
class Draw:
    """What a drawer needs besides the question: the generator, how many answers, the first day of
    fieldwork and the attempt (0 first; a later attempt redraws answers that broke a constraint)."""

    rng: np.random.Generator
    size: int
    start: dt.date
    attempt: int = 0


Drawer = Callable[[Question, Draw], pl.Series]
DRAWERS: dict[str, Drawer] = {}


def drawer(*types: str) -> Callable[[Drawer], Drawer]:
    """Register the drawer of answers to questions of `types`."""

    def register(function: Drawer) -> Drawer:
        for kind in types:
            if kind in DRAWERS:
                raise RuntimeError(f"drawer for {kind} registered twice")
            DRAWERS[kind] = function
        return function

    return register


def draw_answers(question: Question, draw: Draw) -> pl.Series:
    """`draw.size` answers to `question` (text answers for a type with no drawer of its own)."""
    return DRAWERS.get(question.type, _text)(question, draw).rename(question.name)


def column_type(question: Question) -> pl.DataType:
    """The polars type of the question's answers."""
    return DTYPES.get(question.type, pl.Utf8)


def _pick(rng: np.random.Generator, probabilities: np.ndarray, size: int) -> np.ndarray:
    """Indices drawn with `probabilities` (one row of cumulative sums searched per respondent)."""
    cumulative = np.cumsum(probabilities)
    return np.minimum(np.searchsorted(cumulative, rng.random(size) * cumulative[-1], side="right"),
                      len(probabilities) - 1)


@drawer("select_one")
def _select_one(question: Question, draw: Draw) -> pl.Series:
    names = np.array(question.choice_names or ("1",), dtype=object)
    weights = draw.rng.dirichlet(np.full(len(names), 2.0))
    if draw.attempt:  # a retry: any choice, evenly
        weights = np.full(len(names), 1.0)
    return pl.Series(question.name, names[_pick(draw.rng, weights, draw.size)].tolist(), dtype=pl.Utf8)


@drawer("select_multiple")
def _select_multiple(question: Question, draw: Draw) -> pl.Series:
    """One or more choices each; from the second attempt on, one choice only (which satisfies the usual
    'none cannot go with another answer' constraint)."""
    names = list(question.choice_names or ("1",))
    count = len(names)
    first = _pick(draw.rng, np.ones(count), draw.size)
    ticked = np.zeros((draw.size, count), dtype=bool)
    ticked[np.arange(draw.size), first] = True
    if draw.attempt == 0 and count > 1:
        ticked |= draw.rng.random((draw.size, count)) < draw.rng.uniform(0.05, 0.35, count)
    frame = pl.DataFrame({name: ticked[:, index] for index, name in enumerate(names)})
    joined = pl.concat_str([pl.when(pl.col(name)).then(pl.lit(name)) for name in names], separator=" ",
                           ignore_nulls=True)
    return frame.select(joined.alias(question.name)).to_series()


@drawer("integer")
def _integer(question: Question, draw: Draw) -> pl.Series:
    bounds = numeric_bounds(question.constraint, question.name, whole=True)
    low = int(bounds.low) if bounds.low is not None else None
    high = int(bounds.high) if bounds.high is not None else None
    if low is None and high is None:
        low, high = DEFAULT_INTEGERS
    elif low is None:
        low = high - (DEFAULT_INTEGERS[1] - DEFAULT_INTEGERS[0])
    elif high is None:
        high = low + (DEFAULT_INTEGERS[1] - DEFAULT_INTEGERS[0])
    if low > high:
        low, high = DEFAULT_INTEGERS
    return pl.Series(question.name, draw.rng.integers(low, high + 1, draw.size), dtype=pl.Int64)


@drawer("decimal", "range")
def _decimal(question: Question, draw: Draw) -> pl.Series:
    bounds = numeric_bounds(question.constraint, question.name, whole=False)
    low, high = bounds.low, bounds.high
    span = DEFAULT_DECIMALS[1] - DEFAULT_DECIMALS[0]
    if low is None and high is None:
        low, high = DEFAULT_DECIMALS
    elif low is None:
        low = high - span
    elif high is None:
        high = low + span
    if low > high:
        low, high = DEFAULT_DECIMALS
    values = np.round(draw.rng.uniform(low, high, draw.size), 2)
    return pl.Series(question.name, np.clip(values, low, high), dtype=pl.Float64)


@drawer("date", "today")
def _date(question: Question, draw: Draw) -> pl.Series:
    days = draw.rng.integers(0, FIELDWORK_DAYS, draw.size)
    start = np.datetime64(draw.start, "D")
    return pl.Series(question.name, start + days.astype("timedelta64[D]"), dtype=pl.Date)


@drawer("start", "end", "dateTime", "datetime")
def _date_time(question: Question, draw: Draw) -> pl.Series:
    seconds = draw.rng.integers(0, FIELDWORK_DAYS * 86_400, draw.size).astype("timedelta64[s]")
    times = np.datetime64(draw.start, "s") + seconds
    return pl.Series(question.name, times.astype("datetime64[us]")).dt.strftime("%Y-%m-%dT%H:%M:%S")


@drawer("time")
def _time(question: Question, draw: Draw) -> pl.Series:
    minutes = draw.rng.integers(8 * 60, 18 * 60, draw.size)
    return pl.Series(question.name, [f"{m // 60:02d}:{m % 60:02d}:00" for m in range(24 * 60)]
                     ).gather(minutes)


@drawer("geopoint")
def _geopoint(question: Question, draw: Draw) -> pl.Series:
    """Points anywhere on land or sea between the polar circles, with an altitude and an accuracy."""
    latitude = np.round(draw.rng.uniform(-60.0, 60.0, draw.size), 6)
    longitude = np.round(draw.rng.uniform(-180.0, 180.0, draw.size), 6)
    frame = pl.DataFrame({"lat": latitude, "lon": longitude})
    return frame.select(pl.format("{} {} 0 5", "lat", "lon").alias(question.name)).to_series()


@drawer("text", "deviceid", "username", "phonenumber", "email", "simserial", "subscriberid")
def _text(question: Question, draw: Draw) -> pl.Series:
    """Short made-up text: the field's name and a number (`synthetic-<name>-<n>` for identifying fields)."""
    numbers = pl.Series(question.name, draw.rng.integers(1, 10_000, draw.size))
    prefix = f"synthetic-{question.name}-" if question.identifying else f"{question.name} "
    return pl.select((pl.lit(prefix) + numbers.cast(pl.Utf8).str.zfill(4)).alias(question.name)).to_series()
