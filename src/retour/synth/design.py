"""Sample-design fields of synthetic respondents: community, stratum, PSU, weight, fpc and case id.

Respondents are spread evenly over the communities (the study's communities.yaml ids that the
questionnaire allows, else the community question's choices); each community has several PSUs of
similar size, each PSU one positive weight, each stratum a population (fpc) larger than its sample, each
respondent a case id of their own.
Values take the type of their field (text, whole number, choice). Vectorised over respondents.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from retour.schema import Instrument, Question
from retour.synth.answers import column_type
from retour.synth.constraints import numeric_bounds

PSU_SIZE = 8  # respondents per PSU aimed at (each community gets between 2 and MAX_PSUS of them)
MAX_PSUS = 6
WEIGHTS = (0.5, 2.0)  # range of the PSU weights drawn when the weight field bounds nothing
FPC_FACTOR = 20  # a stratum's population is this many times its sample
_FALLBACK_COMMUNITIES = 4


@dataclass(frozen=True)
class DesignFields:
    """Field names of the design (empty: the study does not use it), as in `[design]` of retour.toml."""

    community: str = "community"
    stratum: str = ""
    psu: str = ""
    weight: str = ""
    fpc: str = ""
    case_id: str = ""


def _question(instrument: Instrument, name: str) -> Question | None:
    return instrument.question(name) if name and instrument.has(name) else None


def community_ids(instrument: Instrument, field: str, listed: Sequence[str]) -> tuple[str, ...]:
    """The communities respondents are drawn in: `listed` ids the community question allows, else its
    choices, else `community_1`, `community_2`, ..."""
    question = _question(instrument, field)
    choices = question.choice_names if question is not None and question.type == "select_one" else ()
    if choices:
        allowed = tuple(c for c in listed if c in choices)
        return allowed or choices
    return tuple(listed) or tuple(f"community_{n}" for n in range(1, _FALLBACK_COMMUNITIES + 1))


def _values(question: Question, codes: np.ndarray, texts: Sequence[str]) -> pl.Series:
    """Codes 0..k-1 as the field's type: `texts[code]` for text, code + 1 for whole numbers, a choice
    (cycling through the choices) for select_one."""
    if question.type == "integer":
        return pl.Series(question.name, codes + 1, dtype=pl.Int64)
    if question.type in ("decimal", "range"):
        return pl.Series(question.name, (codes + 1).astype(float), dtype=pl.Float64)
    if question.type == "select_one" and question.choice_names:
        choices = list(question.choice_names)
        names = [text if text in choices else choices[index % len(choices)]
                 for index, text in enumerate(texts)]
        return pl.Series(question.name, np.array(names, dtype=object)[codes].tolist(), dtype=pl.Utf8)
    return pl.Series(question.name, np.array(list(texts), dtype=object)[codes].tolist(), dtype=pl.Utf8)


def _amounts(question: Question, low: float, high: float, rng: np.random.Generator, size: int) -> np.ndarray:
    """Positive numbers in `[low, high]`, kept within the bounds of the field's constraint."""
    bounds = numeric_bounds(question.constraint, question.name, whole=question.type == "integer")
    if bounds.low is not None and bounds.low > low:
        low, high = bounds.low, max(high, bounds.low)
    if bounds.high is not None and bounds.high < high:
        high = max(bounds.high, low)
    if question.type == "integer":
        return rng.integers(int(np.ceil(low)), int(np.floor(high)) + 1, size)
    return np.round(rng.uniform(low, high, size), 3)


def draw_design(instrument: Instrument, fields: DesignFields, communities: Sequence[str],
                rng: np.random.Generator, size: int) -> dict[str, pl.Series]:
    """The design fields the questionnaire has, for `size` respondents (calculated fields are left to
    their calculation)."""
    found: dict[str, pl.Series] = {}
    ids = community_ids(instrument, fields.community, communities)
    community = rng.permutation(np.arange(size) % len(ids))
    per_community = np.bincount(community, minlength=len(ids))
    psus = np.clip(per_community // PSU_SIZE, 2, MAX_PSUS)
    rank = np.empty(size, dtype=np.int64)  # position of each respondent within their community
    order = np.argsort(community, kind="stable")
    starts = np.concatenate([[0], np.cumsum(per_community)[:-1]])
    rank[order] = np.arange(size) - np.repeat(starts, per_community)
    psu_in_community = rank % psus[community]
    psu = np.concatenate([[0], np.cumsum(psus)[:-1]])[community] + psu_in_community  # numbered across
    psu_names = [f"{c}-{n + 1:02d}" for c, count in zip(ids, psus, strict=True) for n in range(count)]

    def usable(name: str) -> Question | None:
        question = _question(instrument, name)
        return question if question is not None and question.type != "calculate" else None

    if (question := usable(fields.community)) is not None:
        found[question.name] = _values(question, community, ids)
    if (question := usable(fields.stratum)) is not None:
        found[question.name] = _values(question, community, ids)
    if (question := usable(fields.psu)) is not None:
        found[question.name] = _values(question, psu, psu_names)
    if (question := usable(fields.weight)) is not None:
        weights = _amounts(question, *WEIGHTS, rng, len(psu_names))
        found[question.name] = _numbers(question, weights[psu])
    if (question := usable(fields.fpc)) is not None:
        population = per_community * FPC_FACTOR
        found[question.name] = _numbers(question, population[community])
    if (question := usable(fields.case_id)) is not None:
        serial = rng.permutation(size) + 1
        cases = pl.Series(question.name, serial)
        found[question.name] = (cases if question.type in ("integer", "decimal") else
                                pl.select(pl.lit("case-") + cases.cast(pl.Utf8).str.zfill(5)).to_series()
                                ).cast(column_type(question)).rename(question.name)
    return found


def _numbers(question: Question, values: np.ndarray) -> pl.Series:
    """Numbers as the field holds them: Int64 for whole numbers, Float64 for decimals, else text."""
    series = pl.Series(question.name, values)
    if question.type == "integer":
        return series.cast(pl.Int64)
    if question.type in ("decimal", "range"):
        return series.cast(pl.Float64)
    return series.cast(pl.Utf8)
