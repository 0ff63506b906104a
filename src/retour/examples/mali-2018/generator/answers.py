"""Answers of synthetic respondents: the container, the drawing helpers and the design fields.

`Answers` holds one value per respondent and field (None when the field is not asked) and turns them
into a frame typed as stored submissions. The helpers draw answer scales and select_multiple
probabilities; the sections that use them are `livelihood.py` and `society.py`. Vectorised over
respondents; answers marked ASSUMED rest on no published figure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from retour.schema import Instrument

from .population import CODES, Assigner

URBAN = frozenset({"bamako_commune_iv", "kayes", "kita"})
SATISFIED = ("satisfied", "very_satisfied")
NOT_SATISFIED = ("very_dissatisfied", "dissatisfied", "neutral")
SERVICES = ("education", "id_papers", "housing", "healthcare", "drinking_water", "justice_police")
EMOTIONS = ("anger", "fear", "loneliness", "low_self_esteem", "sadness")
_DTYPES = {"integer": pl.Int64, "decimal": pl.Float64, "date": pl.Date, "today": pl.Date}


@dataclass
class Answers:
    """Answers per field: `single` holds one value per respondent (None when not asked); `multiple`
    holds the ticked choices of select_multiple fields as a boolean matrix."""

    size: int
    single: dict[str, np.ndarray] = field(default_factory=dict)
    multiple: dict[str, tuple[tuple[str, ...], np.ndarray]] = field(default_factory=dict)

    def put(self, name: str, values: np.ndarray, asked: np.ndarray | None = None) -> None:
        column = np.asarray(values, dtype=object).copy()
        if asked is not None:
            column[~asked] = None
        self.single[name] = column

    def yes_no(self, name: str, yes: np.ndarray, asked: np.ndarray | None = None) -> None:
        self.put(name, np.where(yes, "yes", "no"), asked)

    def choose(self, name: str, choices: Sequence[str], index: np.ndarray) -> None:
        """A select_one from category indices (-1 = not asked)."""
        names = np.array([*choices, ""], dtype=object)
        column = names[np.where(index < 0, len(choices), index)]
        column[index < 0] = None
        self.single[name] = column

    def tick(self, name: str, choices: Sequence[str], ticked: np.ndarray) -> None:
        self.multiple[name] = (tuple(choices), np.asarray(ticked, dtype=bool))

    def frame(self, instrument: Instrument) -> pl.DataFrame:
        """One column per questionnaire field in form order, typed as stored submissions are (select
        answers as text, select_multiple space-separated, integer Int64, decimal Float64, dates Date)."""
        columns: dict[str, pl.Series] = {}
        for question in instrument.questions:
            name = question.name
            if name in self.multiple:
                choices, ticked = self.multiple[name]
                joined = np.full(self.size, "", dtype=object)
                for i, choice in enumerate(choices):
                    joined = np.where(ticked[:, i], joined + " " + choice, joined)
                text = np.where(joined == "", None, joined)
                columns[name] = pl.Series(name, [v[1:] if v else None for v in text.tolist()], dtype=pl.Utf8)
                continue
            values = self.single.get(name, np.full(self.size, None, dtype=object))
            columns[name] = pl.Series(
                name, values.tolist(), dtype=_DTYPES.get(question.type, pl.Utf8), strict=False
            )
        return pl.DataFrame(columns)


def _levels(
    assigner: Assigner,
    yes: np.ndarray,
    high: Sequence[str],
    low: Sequence[str],
    high_weights: Sequence[float],
    low_weights: Sequence[float],
) -> np.ndarray:
    """Category index on a scale: a level among `high` for yes, among `low` otherwise."""
    n = assigner.people.size
    top = assigner.pick(np.tile(high_weights, (n, 1)), np.ones(n, dtype=bool))
    bottom = assigner.pick(np.tile(low_weights, (n, 1)), np.ones(n, dtype=bool))
    return np.where(yes, len(low) + top, bottom)


def put_scale(
    answers: Answers,
    name: str,
    yes: np.ndarray,
    assigner: Assigner,
    high: Sequence[str],
    low: Sequence[str],
    high_weights: Sequence[float],
    low_weights: Sequence[float],
    order: Sequence[str],
) -> None:
    index = _levels(assigner, yes, high, low, high_weights, low_weights)
    names = [*low, *high]
    answers.choose(name, order, np.array([list(order).index(value) for value in names])[index])


def choice_probabilities(
    assigner: Assigner, probabilities: Mapping[str, np.ndarray | float], choices: Sequence[str]
) -> np.ndarray:
    """(respondents, choices) probabilities from per-choice scalars or per-respondent arrays."""
    n = assigner.people.size
    return np.column_stack(
        [np.broadcast_to(np.asarray(probabilities.get(c, 0.0), dtype=float), (n,)) for c in choices]
    )


def choices_of(instrument: Instrument, name: str) -> tuple[str, ...]:
    return instrument.question(name).choice_names


def design_fields(a: Assigner, answers: Answers) -> None:
    """Interview identification: date, community (= stratum), cluster, weight, case id, consent, programme."""
    people = a.people
    targets = a.plan.targets
    communities = np.array(targets.communities, dtype=object)[people.community]
    codes = np.array([CODES.get(c, c[:3].upper()) for c in targets.communities], dtype=object)[
        people.community
    ]
    start = a.plan.fieldwork[0]
    answers.put(
        "interview_date",
        np.array([start + dt.timedelta(days=int(d)) for d in range(int(people.day.max()) + 1)], dtype=object)[
            people.day
        ],
    )
    answers.put("community", communities)
    answers.put("stratum", communities)
    cluster_numbers = np.char.zfill(people.cluster.astype(str), 2).astype(object)
    answers.put("cluster", communities + "-" + cluster_numbers)
    answers.put("weight", np.full(people.size, targets.weight))
    # the year a person was first interviewed: a panel keeps its case ids, a fresh sample gets new ones
    year = np.char.zfill((people.cohort % 100).astype(str), 2).astype(object)
    serial = np.char.zfill(people.serial.astype(str), 4).astype(object)
    answers.put("case_id", "ML" + year + "-" + codes + "-" + serial)
    answers.yes_no("consent", np.ones(people.size, dtype=bool))
    answers.yes_no("beneficiary", people.beneficiary)
