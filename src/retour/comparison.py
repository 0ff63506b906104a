"""Compare two rounds as a whole: questionnaire changes, comparable indicators, needs, and every change table.

`compare` is the one call the study makes: it lists the questionnaire fields asked in one round only,
keeps the indicators that can still be compared (the others are listed with the reason, in English and
French), estimates their changes and the score changes with `retour.rounds`, the difference-in-
differences with `retour.did` when asked, and sets each community's needs side by side.

A field is asked in a round when at least one respondent of the round answered it. An indicator whose
formula or universe reads a field asked in one round only, or that has no value at all in a round, is
not comparable. A change is clear when its p-value, adjusted by Benjamini-Hochberg over the indicators
of its community and group, is below 1 - confidence (`clear_change`). This module is pure: no files,
no store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from retour.did import DID_COLUMNS, difference_in_differences
from retour.errors import EstimationError
from retour.estimate import Design, EstimationSpec
from retour.gaps import benjamini_hochberg
from retour.index import IndexSpec
from retour.rounds import (
    SCORE_CHANGE_COLUMNS,
    TREATMENT,
    Linkage,
    indicator_change,
    linearise_rounds,
    report_order,
    score_change,
)

# --------------------------------------------------------------------------------------------------
# Questionnaire changes and comparability


def fields_answered(submissions: pl.DataFrame, ignore: Sequence[str] = ("round", "_uuid", "_submission_time")
                    ) -> dict[str, int]:
    """Respondents with an answer, per field of a round's submissions."""
    columns = [c for c in submissions.columns if c not in ignore]
    if not columns:
        return {}
    counts = submissions.select(pl.col(columns).count()).row(0)
    return dict(zip(columns, (int(c) for c in counts), strict=True))


def questionnaire_changes(answered_from: Mapping[str, int], answered_to: Mapping[str, int]) -> pl.DataFrame:
    """Fields asked in one round only: field, change (`added` | `dropped`), answers_from, answers_to.

    A field is asked in a round when at least one respondent answered it.
    """
    rows = []
    for name in dict.fromkeys([*answered_from, *answered_to]):
        before, after = answered_from.get(name, 0), answered_to.get(name, 0)
        if (before > 0) != (after > 0):
            rows.append({"field": name, "change": "added" if after else "dropped",
                         "answers_from": before, "answers_to": after})
    return pl.DataFrame(rows, schema={"field": pl.Utf8, "change": pl.Utf8, "answers_from": pl.Int64,
                                      "answers_to": pl.Int64})


@dataclass(frozen=True)
class Comparability:
    """Which indicators can be compared between two rounds, and why the others cannot."""

    table: pl.DataFrame  # indicator_id, comparable, reason, reason_fr, fields
    comparable: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()


def comparability(indicator_fields: Mapping[str, Sequence[str]], answered_from: Mapping[str, int],
                  answered_to: Mapping[str, int], from_round: str, to_round: str,
                  answers_from: Mapping[str, int] | None = None,
                  answers_to: Mapping[str, int] | None = None) -> Comparability:
    """Per indicator: comparable, or the reason it is not (in English and French).

    `indicator_fields` maps an indicator to the fields its formula and universe read;
    `answers_from/to` the number of respondents with a value of the indicator in each round.
    """
    rows = []
    for indicator_id, fields in indicator_fields.items():
        added = sorted(f for f in fields if answered_to.get(f, 0) and not answered_from.get(f, 0))
        dropped = sorted(f for f in fields if answered_from.get(f, 0) and not answered_to.get(f, 0))
        neither = sorted(f for f in fields if not answered_from.get(f, 0) and not answered_to.get(f, 0))
        empty = [r for r, counts in ((from_round, answers_from), (to_round, answers_to))
                 if counts is not None and not counts.get(indicator_id, 0)]
        reason = reason_fr = ""
        if added:
            reason = f"question(s) {', '.join(added)} not asked in {from_round} (added in {to_round})"
            reason_fr = (f"question(s) {', '.join(added)} non posée(s) en {from_round} "
                         f"(ajoutée(s) en {to_round})")
        elif dropped:
            reason = f"question(s) {', '.join(dropped)} not asked in {to_round} (dropped since {from_round})"
            reason_fr = (f"question(s) {', '.join(dropped)} non posée(s) en {to_round} "
                         f"(retirée(s) depuis {from_round})")
        elif neither:
            reason = f"question(s) {', '.join(neither)} asked in neither round"
            reason_fr = f"question(s) {', '.join(neither)} posée(s) dans aucun des deux passages"
        elif empty:
            reason = f"no respondent has a value in {' and '.join(empty)}"
            reason_fr = f"aucun répondant n'a de valeur en {' et '.join(empty)}"
        rows.append({"indicator_id": indicator_id, "comparable": not reason, "reason": reason,
                     "reason_fr": reason_fr, "fields": " ".join(sorted(fields))})
    table = pl.DataFrame(rows, schema={"indicator_id": pl.Utf8, "comparable": pl.Boolean, "reason": pl.Utf8,
                                       "reason_fr": pl.Utf8, "fields": pl.Utf8})
    ok = table.filter(pl.col("comparable"))["indicator_id"].to_list()
    excluded = table.filter(~pl.col("comparable"))["indicator_id"].to_list()
    return Comparability(table=table, comparable=tuple(ok), excluded=tuple(excluded))


# --------------------------------------------------------------------------------------------------
# Which changes are clear

FAMILY = ("community_id", "group_dimension", "group")  # a family of tests: one domain's indicators


def adjust_within_domains(changes: pl.DataFrame) -> pl.DataFrame:
    """`p_adjusted` by Benjamini-Hochberg within each community x group, over the indicators compared
    there (the list read together on a fact sheet or the dashboard's rounds page); suppressed changes
    are not tested (null). A table-wide adjustment over every community, group and indicator (thousands
    of tests) would leave no change of one community clear however large it is.
    """
    if changes.height == 0:
        return changes
    family = changes.select(pl.struct(FAMILY).rank("dense")).to_series().to_numpy()
    tested = changes["p_value"].fill_nan(None).fill_null(np.nan).to_numpy().copy()
    tested[changes["suppressed"].fill_null(False).to_numpy()] = np.nan
    adjusted = np.full(tested.shape, np.nan)
    for member in np.unique(family):  # one pass per domain (a few dozen), not per respondent
        rows = family == member
        adjusted[rows] = benjamini_hochberg(tested[rows])
    return changes.with_columns(pl.Series("p_adjusted", adjusted).fill_nan(None))


def clear_change(p_adjusted: float | None, suppressed: bool | None, confidence: float) -> bool:
    """Whether a change is clear: its Benjamini-Hochberg adjusted p-value (`adjust_within_domains`) is
    below 1 - confidence, and it is not suppressed. The rule of the reports and the dashboard alike."""
    return p_adjusted is not None and not suppressed and p_adjusted < 1 - confidence


# --------------------------------------------------------------------------------------------------
# Needs


NEED_CHANGES = ("became_priority", "no_longer_priority", "level_changed", "unchanged", "not_comparable",
                "only_from", "only_to")
NEED_CHANGE_SCHEMA = {"community_id": pl.Utf8, "issue_id": pl.Utf8, "level_from": pl.Utf8,
                      "level_to": pl.Utf8, "change": pl.Utf8, "reason": pl.Utf8, "reason_fr": pl.Utf8}


def _assessed(frame: pl.DataFrame) -> pl.Expr:
    """Whether a needs cell holds a judgement: not `basis == "not_measured"` (neither a survey rule nor an
    analyst's assessment for that round), unless an analyst overrode it. Without a `basis`: assessed."""
    if "basis" not in frame.columns:
        return pl.lit(True)
    overridden = pl.col("overridden").fill_null(False) if "overridden" in frame.columns else pl.lit(False)
    return (pl.col("basis") != "not_measured").fill_null(True) | overridden


def needs_change(needs_from: pl.DataFrame, needs_to: pl.DataFrame, from_round: str,
                 to_round: str) -> pl.DataFrame:
    """Each community x issue's level in both rounds and what changed (NEED_CHANGES), with the reason
    (English and French) when the two levels cannot be compared.

    `became_priority`: priority now and not before; `no_longer_priority`: priority before and not now.
    `not_comparable`: the issue was not assessed in one of the rounds (`basis` "not_measured": no survey
    rule and no analyst assessment for that round), so its `none` level there is no finding and no change
    is reported. Empty when either round has no needs (they were not computed for it).
    """
    keys = ["community_id", "issue_id"]
    schema = {"community_id": pl.Utf8, "issue_id": pl.Utf8, "level": pl.Utf8, "assessed": pl.Boolean}
    if needs_from.height == 0 or needs_to.height == 0:
        return pl.DataFrame(schema=NEED_CHANGE_SCHEMA)

    def levels(frame: pl.DataFrame, side: str) -> pl.DataFrame:
        return (frame.select(*keys, "level", _assessed(frame).alias("assessed")).cast(schema)
                .rename({"level": f"level_{side}", "assessed": f"assessed_{side}"}))

    both = levels(needs_from, "from").join(levels(needs_to, "to"), on=keys, how="full", coalesce=True,
                                           maintain_order="left_right")
    before, after = pl.col("level_from"), pl.col("level_to")
    missing_from, missing_to = pl.col("assessed_from").not_(), pl.col("assessed_to").not_()
    change = (pl.when(before.is_null()).then(pl.lit("only_to"))
              .when(after.is_null()).then(pl.lit("only_from"))
              .when(missing_from | missing_to).then(pl.lit("not_comparable"))
              .when((after == "priority") & (before != "priority")).then(pl.lit("became_priority"))
              .when((before == "priority") & (after != "priority")).then(pl.lit("no_longer_priority"))
              .when(before != after).then(pl.lit("level_changed"))
              .otherwise(pl.lit("unchanged")))
    said = {"from": from_round, "to": to_round, "both": f"{from_round} and {to_round}"}
    said_fr = {"from": from_round, "to": to_round, "both": f"{from_round} ni en {to_round}"}

    def reason(english: bool) -> pl.Expr:
        text = ("not assessed in {}: neither a survey measure nor an analyst's assessment" if english else
                "non apprécié en {} : ni mesure de l'enquête ni appréciation d'analyste")
        names = said if english else said_fr
        which = (pl.when(missing_from & missing_to).then(pl.lit(text.format(names["both"])))
                 .when(missing_from).then(pl.lit(text.format(names["from"])))
                 .otherwise(pl.lit(text.format(names["to"]))))
        return pl.when(pl.col("change") == "not_comparable").then(which).otherwise(pl.lit(""))

    found = both.with_columns(change.alias("change"))
    return found.with_columns(reason(True).alias("reason"), reason(False).alias("reason_fr")).select(
        list(NEED_CHANGE_SCHEMA))


# --------------------------------------------------------------------------------------------------
# The whole comparison


@dataclass(frozen=True)
class RoundData:
    """One round as a comparison reads it.

    respondents: `indicators.derive` output, with the case id column and, for a difference-in-differences,
    TREATMENT. answered: respondents with an answer per questionnaire field (`fields_answered`).
    needs: the round's stored needs (contract 6; may be empty).
    """

    name: str
    respondents: pl.DataFrame
    answered: Mapping[str, int]
    needs: pl.DataFrame


@dataclass(frozen=True)
class CompareSpec:
    """What to compare and how: indicators (with the fields they read and their kinds), design, index.

    `groups`: the groups changes are also broken down by, each with its levels in report order (a
    study passes its catalogue's: `{group.id: group.levels}`); empty: no breakdown.
    """

    indicators: tuple[str, ...]
    indicator_fields: Mapping[str, tuple[str, ...]]
    design: Design
    estimation: EstimationSpec
    kinds: Mapping[str, str] | None = None
    index: IndexSpec | None = None
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    pairing: str = "auto"
    case_id: str | None = "case_id"
    did: bool = False
    communities: tuple[str, ...] = ()


@dataclass(frozen=True)
class Comparison:
    """Everything that changed between two rounds; each frame has a `from_round` column once stored."""

    from_round: str
    to_round: str
    linkage: Linkage
    changes: pl.DataFrame  # CHANGE_COLUMNS
    score_changes: pl.DataFrame  # SCORE_CHANGE_COLUMNS
    did: pl.DataFrame  # did.DID_COLUMNS; empty unless asked for
    need_changes: pl.DataFrame
    comparability: pl.DataFrame
    questionnaire_changes: pl.DataFrame

    def frames(self) -> dict[str, pl.DataFrame]:
        """Stored table name -> frame, each with from_round (and the pairing where it matters)."""
        tables = {"changes": self.changes, "score_changes": self.score_changes, "did_estimates": self.did,
                  "need_changes": self.need_changes, "indicator_comparability": self.comparability,
                  "questionnaire_changes": self.questionnaire_changes}
        paired = {"changes", "score_changes", "did_estimates"}
        pairing = pl.lit(self.linkage.pairing).alias("pairing")
        return {name: frame.select(pl.lit(self.from_round).alias("from_round"),
                                   *([pairing] if name in paired else []), pl.all())
                for name, frame in tables.items()}


def compare(before: RoundData, after: RoundData, spec: CompareSpec) -> Comparison:
    """Compare two rounds: indicator, score and needs changes, and the difference-in-differences if asked."""
    answers = [_answer_counts(r.respondents, spec.indicators) for r in (before, after)]
    fields = {i: spec.indicator_fields.get(i, ()) for i in spec.indicators}
    comparable = comparability(fields, before.answered, after.answered, before.name, after.name, *answers)
    if not comparable.comparable:
        raise EstimationError(f"No indicator can be compared between {before.name} and {after.name}.",
                              "See the questionnaire changes: retour compare DIR --show questionnaire")
    treatment = TREATMENT if spec.did else None
    if treatment and not all(treatment in r.respondents.columns for r in (before, after)):
        raise EstimationError("The respondents carry no programme group, so no difference-in-differences.",
                              "Add the `beneficiary` field (yes / no) to the questionnaire.")
    ids = comparable.comparable
    kinds = {i: k for i, k in (spec.kinds or {}).items() if i in ids}
    stacked = linearise_rounds(before.respondents, after.respondents, ids, spec.design, spec.estimation,
                               tuple(spec.groups), kinds, spec.pairing, spec.case_id, treatment, spec.groups)
    changes = adjust_within_domains(indicator_change(stacked))
    if spec.communities:
        changes = report_order(changes, spec.communities, stacked.levels)
    scores = (score_change(stacked, spec.index, comparable.excluded) if spec.index is not None
              else pl.DataFrame(schema=_empty_schema(SCORE_CHANGE_COLUMNS, ("community_id", "pillar"))))
    did = (difference_in_differences(stacked) if spec.did
           else pl.DataFrame(schema=_empty_schema(DID_COLUMNS, ("community_id", "indicator_id"))))
    return Comparison(from_round=before.name, to_round=after.name, linkage=stacked.linkage, changes=changes,
                      score_changes=scores, did=did,
                      need_changes=needs_change(before.needs, after.needs, before.name, after.name),
                      comparability=comparable.table,
                      questionnaire_changes=questionnaire_changes(before.answered, after.answered))


def _answer_counts(respondents: pl.DataFrame, indicators: Sequence[str]) -> dict[str, int]:
    present = [i for i in indicators if i in respondents.columns]
    counts = respondents.select(pl.col(present).count()).row(0) if present else ()
    return dict(zip(present, (int(c) for c in counts), strict=True))


def _empty_schema(columns: Sequence[str], text: Sequence[str]) -> dict[str, pl.DataType]:
    """The types of a table not computed this time, so that it is stored (empty) with its real types."""
    def kind(column: str) -> pl.DataType:
        if column in text:
            return pl.Utf8
        if column == "suppressed":
            return pl.Boolean
        return pl.Int64 if column.startswith(("n_", "rank_")) else pl.Float64

    return {c: kind(c) for c in columns}
