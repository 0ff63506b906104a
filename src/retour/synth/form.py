"""Synthetic respondents from a questionnaire alone: every field answered as the form allows (issue 16).

Questions are answered in form order, each for all respondents at once (`answers.draw_answers`): a
question whose relevance is false is left empty, a required one is answered where asked, an answer that
breaks its constraint is drawn again (evaluated with `retour.expressions`, as ingest does) and left
empty if no draw satisfies it, a calculation is computed when `retour.expressions` can read it. Design
fields come from `design.draw_design`, identifying fields get made-up values, and each row gets a
submission id and time in the round's fieldwork. The result ingests with no blocking problem. Pure: it
reads and writes no file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from retour import expressions
from retour.errors import RetourError
from retour.schema import Instrument, Question
from retour.synth.answers import Draw, column_type, draw_answers
from retour.synth.design import DesignFields, draw_design

ATTEMPTS = 25  # draws of an answer that breaks its constraint before it is left empty
OPTIONAL_BLANK = 0.1  # share of optional questions left unanswered where asked
CONSISTENCY_PASSES = 3  # passes that clear answers whose relevance a later answer made false
DEFAULT_START = dt.date(2024, 1, 8)  # fieldwork start of a round without a date in retour.toml
NO_ANSWER = frozenset({"calculate", "note"})
ROW_REDRAWS = 20  # times a respondent the form would refuse is interviewed again


@dataclass(frozen=True)
class FormPlan:
    """What to draw: `rows` respondents interviewed from `date` (the round's first day), the design
    fields of retour.toml and the study's community ids (communities.yaml; empty: the form's choices)."""

    rows: int
    date: dt.date | None = None
    community: str = "community"
    stratum: str = ""
    psu: str = ""
    weight: str = ""
    fpc: str = ""
    case_id: str = ""
    communities: tuple[str, ...] = ()

    @property
    def design(self) -> DesignFields:
        return DesignFields(community=self.community, stratum=self.stratum, psu=self.psu, weight=self.weight,
                            fpc=self.fpc, case_id=self.case_id)


def _rule(expression: str | None, instrument: Instrument, name: str, frame: pl.DataFrame) -> pl.Expr | None:
    """A relevance or constraint as ingest evaluates it; None when absent or unreadable (ingest then
    does not check it either)."""
    if not expression:
        return None
    try:
        rule = expressions.to_polars(expression, instrument, current=name, blank_as_empty=True)
        frame.head(0).select(rule)
    except (RetourError, pl.exceptions.PolarsError):
        return None
    return rule


def _evaluate(frame: pl.DataFrame, rule: pl.Expr | None) -> np.ndarray:
    """Where `rule` is true (null counts as false); everywhere when there is no rule."""
    if rule is None:
        return np.ones(frame.height, dtype=bool)
    values = frame.select(rule.fill_null(False).alias("rule")).to_series().to_numpy().astype(bool)
    return np.broadcast_to(values, (frame.height,)).copy()


def _mixed(frame: pl.DataFrame, name: str, where: np.ndarray, values: pl.Series | None) -> pl.DataFrame:
    """The frame with `name` replaced by `values` (None: emptied) where `where` is true."""
    new = pl.lit(None, frame.schema[name]) if values is None else pl.lit(values.cast(frame.schema[name]))
    return frame.with_columns(pl.when(pl.lit(pl.Series(where))).then(new).otherwise(pl.col(name)).alias(name))


def _answer(frame: pl.DataFrame, question: Question, instrument: Instrument, draw: Draw,
            rows: np.ndarray) -> pl.DataFrame:
    """`frame` with `question` answered on `rows` (where asked) and emptied where not asked."""
    name = question.name
    asked = _evaluate(frame, _rule(question.relevance, instrument, name, frame))
    answer = rows & asked
    if not question.required:
        answer &= draw.rng.random(frame.height) >= OPTIONAL_BLANK
    frame = _mixed(frame, name, answer, draw_answers(question, draw))
    constraint = _rule(question.constraint, instrument, name, frame)
    if constraint is not None:
        broken = pl.col(name).is_not_null() & constraint.not_()
        for attempt in range(1, ATTEMPTS + 1):
            failing = answer & _evaluate(frame, broken)
            if not failing.any():
                break
            retry = Draw(rng=draw.rng, size=draw.size, start=draw.start, attempt=attempt)
            frame = _mixed(frame, name, failing, draw_answers(question, retry))
        frame = _mixed(frame, name, answer & _evaluate(frame, broken), None)
    return _mixed(frame, name, rows & ~asked, None)


def _calculate(frame: pl.DataFrame, question: Question, instrument: Instrument) -> pl.DataFrame:
    """The calculation's value as text (as exports hold it); empty when it cannot be read."""
    rule = _rule(f"string({question.calculation})" if question.calculation else None, instrument,
                 question.name, frame)
    if rule is None:
        return frame
    value = pl.when(rule.cast(pl.Utf8) != "").then(rule.cast(pl.Utf8))
    return frame.with_columns(value.alias(question.name))


def draw_uuids(rng: np.random.Generator, n: int) -> pl.Series:
    """Random (version 4) UUIDs drawn from the seeded generator, so a seed gives the same file."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexes = pl.Series("hex", np.frombuffer(raw.tobytes().hex().encode("ascii"), dtype="S32").astype(str))
    text = hexes.str
    return pl.select(
        pl.concat_str(
            [text.slice(0, 8), text.slice(8, 4), text.slice(12, 4), text.slice(16, 4), text.slice(20, 12)],
            separator="-",
        ).alias("_uuid")
    ).to_series()


def _consistent(frame: pl.DataFrame, instrument: Instrument, draw: Draw) -> pl.DataFrame:
    """Clear answers whose relevance a later answer made false, answer required questions it made
    relevant, recompute calculations; until nothing changes."""
    for _ in range(CONSISTENCY_PASSES):
        before = frame
        for question in instrument.questions:
            if question.type == "calculate":
                frame = _calculate(frame, question, instrument)
                continue
            if question.type in NO_ANSWER or not question.relevance:
                continue
            asked = _evaluate(frame, _rule(question.relevance, instrument, question.name, frame))
            answered = frame.get_column(question.name).is_not_null().to_numpy()
            wrong = (answered & ~asked) | (question.required & asked & ~answered)
            if wrong.any():
                frame = _answer(frame, question, instrument, draw, wrong)
        if frame.equals(before):
            break
    return frame


def _answer_all(frame: pl.DataFrame, instrument: Instrument, design: dict[str, pl.Series],
                draw: Draw) -> pl.DataFrame:
    """`frame` (with its design fields) with every other question answered in form order."""
    everyone = np.ones(frame.height, dtype=bool)
    for question in instrument.questions:
        if question.name in design:
            continue
        if question.type == "calculate":
            frame = _calculate(frame, question, instrument)
        elif question.type not in NO_ANSWER:
            frame = _answer(frame, question, instrument, draw, everyone)
    return _consistent(frame, instrument, draw)


def _incomplete(frame: pl.DataFrame, instrument: Instrument) -> np.ndarray:
    """Rows the form would refuse: a required question asked but unanswered, or a broken constraint
    (a required answer whose constraint depends on an optional question left empty, for instance)."""
    bad = np.zeros(frame.height, dtype=bool)
    for question in instrument.questions:
        if question.type in NO_ANSWER or question.name not in frame.columns:
            continue
        answered = frame.get_column(question.name).is_not_null().to_numpy()
        if question.required:
            asked = _evaluate(frame, _rule(question.relevance, instrument, question.name, frame))
            bad |= asked & ~answered
        constraint = _rule(question.constraint, instrument, question.name, frame)
        if constraint is not None:
            bad |= answered & ~_evaluate(frame, constraint)
    return bad


def draw_submissions(instrument: Instrument, plan: FormPlan, seed: int) -> pl.DataFrame:
    """`plan.rows` synthetic submissions of `instrument`, deterministic for `seed`: `_uuid`,
    `_submission_time` and one typed column per field (as `retour.synth.export` writes them).

    A respondent the form would refuse (see `_incomplete`) is interviewed again, keeping their design
    fields, up to ROW_REDRAWS times; one still refused after that is an error naming the question."""
    rng = np.random.default_rng(seed)
    size = plan.rows
    start = plan.date or DEFAULT_START
    frame = pl.DataFrame([pl.Series(question.name, [None] * size, dtype=column_type(question))
                          for question in instrument.questions])
    design = draw_design(instrument, plan.design, plan.communities, rng, size)
    frame = frame.with_columns(*design.values())
    frame = _answer_all(frame, instrument, design, Draw(rng=rng, size=size, start=start))
    for attempt in range(1, ROW_REDRAWS + 1):
        bad = _incomplete(frame, instrument)
        if not bad.any():
            break
        order = pl.Series("_row", np.arange(size))
        blank = frame.filter(pl.Series(bad)).select(
            pl.col(name) if name in design else pl.lit(None, dtype).alias(name)
            for name, dtype in frame.schema.items())
        redone = _answer_all(blank, instrument, design,
                             Draw(rng=rng, size=blank.height, start=start, attempt=attempt))
        frame = (pl.concat([frame.with_columns(order).filter(~pl.Series(bad)),
                            redone.with_columns(order.filter(pl.Series(bad)))])
                 .sort("_row").drop("_row"))
    else:
        if _incomplete(frame, instrument).any():
            raise RetourError("The questionnaire cannot be filled in: some required answers never satisfy "
                              "their constraints.",
                              "Check the constraints and relevance of the required questions.")
    seconds = rng.integers(0, 14, size) * 86_400 + rng.integers(8 * 3600, 18 * 3600, size)
    times = np.datetime64(dt.datetime.combine(start, dt.time()), "s") + seconds.astype("timedelta64[s]")
    submitted = pl.Series("_submission_time", times.astype("datetime64[us]"))
    meta = pl.DataFrame([draw_uuids(rng, size), submitted])
    return pl.concat([meta, frame], how="horizontal")
