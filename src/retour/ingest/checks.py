"""Check an export's rows against the questionnaire and return every problem, never stopping at the first.

Each check is registered with `@check(name)` and turns the questionnaire into `Finding`s: a boolean polars
expression over whole columns that is true where a problem is, and what to report there. All findings are
evaluated together over the frame (no Python loop over rows). File-level problems (missing columns, rules
that cannot be translated) are returned as `Problem`s. This module reads nothing and stores nothing.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import polars as pl

from retour import expressions
from retour.errors import Problem, RetourError, Severity
from retour.ingest import messages, values
from retour.ingest.columns import SUBMISSION_TIME, UUID, ColumnMap, answer_fields, choice_column
from retour.ingest.readers import ROW
from retour.schema import METADATA_TYPES, Instrument, Question

TEXT = "text:"  # evaluation-frame prefix of a field's text as exported
SHOWN = "shown:"  # evaluation-frame prefix of an identifying field's protected text (what problems show)
PROBLEM_SCHEMA = {"code": pl.Utf8, "severity": pl.Utf8, "row": pl.Int64, "column": pl.Utf8, "value": pl.Utf8,
                  "message": pl.Utf8, "hint": pl.Utf8, "source": pl.Utf8,
                  **dict.fromkeys(messages.translated_columns(), pl.Utf8)}
NO_ANSWER_TYPES = METADATA_TYPES | {"calculate"}


@dataclass(frozen=True)
class Finding:
    """A row-level check over whole columns: where `failed` is true, a problem `code` on `column`.

    `parts` fill the message's named slots (`language_parts`: those whose text depends on the language);
    `row_parts` are per-row slots (`value` is always one).
    """

    code: str
    column: str
    failed: pl.Expr
    value: pl.Expr
    parts: Mapping[str, object] = field(default_factory=dict)
    row_parts: Mapping[str, pl.Expr] = field(default_factory=dict)
    language_parts: Mapping[str, Mapping[str, object]] = field(default_factory=dict)


@dataclass(frozen=True)
class Rules:
    """A question's constraint and relevance as polars expressions (None when absent or untranslatable)."""

    constraint: pl.Expr | None = None
    relevant: pl.Expr | None = None


@dataclass(frozen=True)
class Context:
    """What the checks look at: the questionnaire, the export's columns, design fields and rules."""

    instrument: Instrument
    column_map: ColumnMap
    design: tuple[str, ...]
    language: str
    rules: Mapping[str, Rules]
    identifying: Mapping[str, str]
    source: str = ""

    def shown(self, name: str) -> pl.Expr:
        """The text a problem shows for a field: protected for identifying fields, as exported otherwise."""
        if name in self.identifying:  # an unreadable one has no protected form: say it is hidden
            return pl.col(SHOWN + name).fill_null(pl.lit(messages.hidden_value(self.language)))
        return pl.col(TEXT + name)

    def present(self, name: str) -> bool:
        return name not in self.column_map.absent


Check = Callable[[Context], Iterable["Finding | Problem"]]
CHECKS: dict[str, Check] = {}


def check(name: str) -> Callable[[Check], Check]:
    """Register a check: a function of the Context yielding Findings (rows) and Problems (whole file)."""

    def register(function: Check) -> Check:
        if name in CHECKS:
            raise RuntimeError(f"check {name} registered twice")
        CHECKS[name] = function
        return function

    return register


def _file_problem(context: Context, code: str, column: str | None, value: str | None = None,
                  template: str | None = None, **parts: object) -> Problem:
    """A whole-file problem `code` on `column`, worded by `template` (the code's own words by default)."""
    words = template or code
    translations = messages.render_all(words, column=column, **parts)
    message, hint = translations[context.language] if context.language in translations else messages.render(
        words, context.language, column=column, **parts)
    return Problem(code, None, column, value, message, hint, messages.severity(code), context.source,
                   translations)


def closest_field(name: str, context: Context) -> str | None:
    """The export's column most like the design field `name` (difflib, by name or label), if any.

    Candidates are the questionnaire's fields the export has a column for and that no other design
    setting uses: the name `[design]` in retour.toml could give instead (issue 16).
    """
    by_text: dict[str, str] = {}
    for question in context.instrument.questions:
        if question.name in context.design or not context.column_map.has_answer_column(question.name):
            continue
        for text in (question.name, *question.labels.values()):
            by_text.setdefault(text.casefold(), question.name)
    found = difflib.get_close_matches(name.casefold(), list(by_text), n=1, cutoff=0.6)
    return by_text[found[0]] if found else None


def _missing_design_column(context: Context, name: str) -> Problem:
    """Every row lacks the design field `name`; the value shown is the export's closest column, if any."""
    closest = closest_field(name, context)
    if closest is None:
        return _file_problem(context, "missing_design_column", name)
    return _file_problem(context, "missing_design_column", name, value=closest,
                         template="missing_design_column_guess", closest=closest)


def compile_rules(instrument: Instrument, language: str, source: str = "",
                  schema: Mapping[str, pl.DataType] | None = None) -> tuple[dict[str, Rules], list[Problem]]:
    """Translate every constraint and relevance (the question's own and its groups') with
    `retour.expressions.to_polars`.

    An expression that cannot be translated (or evaluated on the typed columns in `schema`) gives a
    `rule_not_checked` warning instead of stopping the checks.
    """
    rules: dict[str, Rules] = {}
    problems: list[Problem] = []
    empty = pl.DataFrame(schema=dict(schema)) if schema is not None else None
    for question in instrument.questions:
        compiled: dict[str, pl.Expr | None] = {"constraint": None, "relevant": None}
        for rule in ("constraint", "relevant"):
            expression = question.constraint if rule == "constraint" else question.relevance
            if not expression:
                continue
            try:
                translated = expressions.to_polars(expression, instrument, current=question.name,
                                                   blank_as_empty=True)
                if empty is not None:
                    empty.select(translated)
                compiled[rule] = translated
            except RetourError as error:
                reason = error.message
            except pl.exceptions.PolarsError as error:
                reason = str(error).splitlines()[0]
            else:
                continue
            name = {"constraint": "constraint", "relevant": "relevance"}[rule]
            parts = {"rule": name, "column": question.name, "expression": expression,
                     "reason": reason.rstrip(".")}
            message, hint = messages.render("rule_not_checked", language, **parts)
            translations = messages.render_all("rule_not_checked", **parts)
            problems.append(Problem("rule_not_checked", None, question.name, None, message, hint,
                                    Severity.WARNING, source, translations))
        rules[question.name] = Rules(**compiled)
    return rules, problems


def _relevant(context: Context, question: Question) -> pl.Expr | None:
    return context.rules.get(question.name, Rules()).relevant


# --------------------------------------------------------------------------------------------- checks


@check("columns")
def check_columns(context: Context) -> Iterable[Finding | Problem]:
    """Columns set aside, required questions and design fields with no column, no submission id."""
    yield from context.column_map.problems(context.language, context.source)
    wanted = set(answer_fields(context.instrument))
    for question in context.instrument.questions:
        name = question.name
        if name not in wanted or context.present(name) or question.identifying == "drop":
            continue
        if name in context.design:
            yield _missing_design_column(context, name)
        elif question.required:
            yield _file_problem(context, "missing_column", name)
        else:
            yield _file_problem(context, "missing_optional_column", name)
    for name in context.design:
        if not context.instrument.has(name):
            yield _missing_design_column(context, name)
    if not any(column.field == UUID for column in context.column_map.of_kind("metadata")):
        yield _file_problem(context, "missing_uuid_column", UUID)


@check("types")
def check_types(context: Context) -> Iterable[Finding | Problem]:
    """Whole numbers, decimals, dates and GPS points that cannot be read."""
    codes = {"integer": "not_integer", "decimal": "not_decimal", "range": "not_decimal", "date": "not_date",
             "today": "not_date", "geopoint": "not_geopoint"}
    for question in context.instrument.questions:
        if question.type not in codes or not context.present(question.name):
            continue
        failed = values.unreadable(question, pl.col(TEXT + question.name), pl.col(question.name))
        if failed is not None:
            yield Finding(codes[question.type], question.name, failed, context.shown(question.name))


@check("choices")
def check_choices(context: Context) -> Iterable[Finding | Problem]:
    """Answers outside a question's choices; 0/1 choice columns that hold something else or disagree."""
    for question in context.instrument.questions:
        if (question.type not in values.SELECT_TYPES or not question.choices
                or not context.present(question.name)):
            continue
        names = list(question.choice_names)
        allowed = {"choices": ", ".join(names[:30]) + (", ..." if len(names) > 30 else "")}
        answer = pl.col(question.name)
        if question.type == "select_one":  # typed as an Enum of the choices: null where outside them
            yield Finding("unknown_choice", question.name, pl.col(TEXT + question.name).is_not_null()
                          & answer.is_null(), context.shown(question.name), allowed)
            continue
        chosen_ok = values.only_choices(answer, question.choice_names)
        yield Finding("unknown_choice", question.name, answer.is_not_null() & ~chosen_ok,
                      context.shown(question.name) if question.name in context.identifying
                      else _unknown_tokens(answer, names), allowed)
        yield from _choice_columns(context, question)


def _unknown_tokens(answer: pl.Expr, names: list[str]) -> pl.Expr:
    """The names in a select_multiple answer that are not choices (evaluated on the failing rows only)."""
    return answer.str.split(" ").list.eval(pl.element().filter(~pl.element().is_in(names))).list.join(" ")


def _choice_columns(context: Context, question: Question) -> Iterable[Finding]:
    """0/1 columns (typed as Boolean under their own name, as exported under TEXT + name)."""
    flags = context.column_map.choice_columns(question.name)
    answer = pl.col(question.name).fill_null("")
    disagreements = []
    for column in flags:
        name = choice_column(question.name, str(column.choice))
        shown = pl.lit(None, pl.Utf8) if question.name in context.identifying else pl.col(TEXT + name)
        unreadable = pl.col(TEXT + name).is_not_null() & pl.col(name).is_null()
        yield Finding("bad_choice_flag", column.header, unreadable, shown)
        disagreements.append(pl.col(name) != values.has_choice(answer, str(column.choice)))
    if flags and context.column_map.has_answer_column(question.name):
        yield Finding("select_multiple_mismatch", question.name,
                      pl.any_horizontal(disagreements).fill_null(False), context.shown(question.name))


@check("constraints")
def check_constraints(context: Context) -> Iterable[Finding | Problem]:
    """Answers that break the questionnaire's constraint (e.g. age between 15 and 34)."""
    for question in context.instrument.questions:
        rule = context.rules.get(question.name, Rules()).constraint
        if rule is None or not context.present(question.name):
            continue
        details = {}
        for language in {context.language, *messages.LANGUAGES}:
            note = (question.constraint_messages.get(language)
                    or question.constraint_messages.get("default") or "")
            details[language] = {"detail": f": {note}" if note else ""}
        yield Finding("constraint_failed", question.name, pl.col(question.name).is_not_null() & (rule.not_()),
                      context.shown(question.name), {"expression": question.constraint},
                      language_parts=details)


@check("relevance")
def check_relevance(context: Context) -> Iterable[Finding | Problem]:
    """Answers to questions that the questionnaire's relevance says should have been skipped."""
    for question in context.instrument.questions:
        rule = _relevant(context, question)
        if rule is None or question.type in NO_ANSWER_TYPES or not context.present(question.name):
            continue
        answered = pl.col(question.name).is_not_null() | pl.col(TEXT + question.name).is_not_null()
        yield Finding("answer_not_relevant", question.name, answered & rule.not_(),
                      context.shown(question.name), {"expression": question.relevance})


@check("required")
def check_required(context: Context) -> Iterable[Finding | Problem]:
    """Required questions left empty where they were relevant (design fields are checked on their own)."""
    for question in context.instrument.questions:
        if (not question.required or question.type in NO_ANSWER_TYPES or question.name in context.design
                or not context.present(question.name)):
            continue
        rule = _relevant(context, question)
        asked = rule.fill_null(False) if rule is not None else pl.lit(True)
        empty = pl.col(question.name).is_null() & pl.col(TEXT + question.name).is_null()
        yield Finding("required_missing", question.name, asked & empty, pl.lit(None, pl.Utf8))


@check("design")
def check_design(context: Context) -> Iterable[Finding | Problem]:
    """Empty community, cluster, weight (the design fields of retour.toml) on a row."""
    for name in context.design:
        if context.instrument.has(name) and context.present(name):
            empty = pl.col(name).is_null() & pl.col(TEXT + name).is_null()
            yield Finding("missing_design_value", name, empty, pl.lit(None, pl.Utf8))


@check("submission_time")
def check_submission_time(context: Context) -> Iterable[Finding | Problem]:
    """Submission times that are not a date and time."""
    yield Finding("bad_submission_time", SUBMISSION_TIME,
                  pl.col(TEXT + SUBMISSION_TIME).is_not_null() & pl.col(SUBMISSION_TIME).is_null(),
                  pl.col(TEXT + SUBMISSION_TIME))


# ------------------------------------------------------------------------------------------ evaluation


def typed_frame(text: pl.DataFrame, instrument: Instrument,
                points: Mapping[str, pl.DataFrame] | None = None) -> pl.DataFrame:
    """`_row`, `_uuid`, `_submission_time` (typed), every field in its checked type, and the 0/1 choice
    columns as Boolean (named `question/choice`), from the text frame (`points`: `values.geopoints` of
    the GPS columns, when already read)."""
    flags = [name for name in text.columns if "/" in name]
    parsed = values.parse_frame(text, instrument.questions, flags, points)
    return pl.concat([
        text.select(ROW, UUID),
        values.parse_submission_time(text.get_column(SUBMISSION_TIME)).to_frame(),
        parsed,
    ], how="horizontal")


def evaluation_frame(text: pl.DataFrame, typed: pl.DataFrame, shown: pl.DataFrame) -> pl.DataFrame:
    """Typed columns by name, the same columns as exported as `text:NAME`, protected text as `shown:NAME`."""
    names = [name for name in typed.columns if name not in (ROW, UUID) and name in text.columns]
    renamed = text.select(pl.col(name).alias(TEXT + name) for name in names)
    parts = [typed, renamed] + ([shown.select(pl.all().name.prefix(SHOWN))] if shown.width else [])
    return pl.concat(parts, how="horizontal")


def findings(context: Context) -> tuple[list[Finding], list[Problem]]:
    """Every registered check's findings and file-level problems, in registration order."""
    row_level: list[Finding] = []
    file_level: list[Problem] = []
    for function in CHECKS.values():
        for found in function(context):
            (row_level if isinstance(found, Finding) else file_level).append(found)
    return row_level, file_level


def evaluate(frame: pl.DataFrame, found: list[Finding], context: Context,
             progress: Callable[[float], None] | None = None, chunk: int = 40) -> pl.DataFrame:
    """Problems of every finding over the whole frame, as rows of PROBLEM_SCHEMA (sorted by row)."""
    pieces: list[pl.DataFrame] = []
    for start in range(0, len(found), chunk):
        group = found[start:start + chunk]
        masks = frame.select(finding.failed.fill_null(False).alias(str(index))
                             for index, finding in enumerate(group))
        counts = masks.sum().row(0)
        for index, finding in enumerate(group):
            if counts[index]:
                pieces.append(_problems_of(frame.filter(masks.get_column(str(index))), finding, context))
        if progress is not None:
            progress(min(1.0, (start + chunk) / max(1, len(found))))
    if not pieces:
        return pl.DataFrame(schema=PROBLEM_SCHEMA)
    return pl.concat(pieces).sort("row", maintain_order=True)


def _problems_of(rows: pl.DataFrame, finding: Finding, context: Context) -> pl.DataFrame:
    code = finding.code
    value = finding.value.cast(pl.Utf8)
    row_parts = {"value": value, **finding.row_parts}

    def texts(language: str, suffix: str = "") -> list[pl.Expr]:
        parts = {"column": finding.column, **finding.parts, **finding.language_parts.get(language, {})}
        message, hint = messages.render(code, language, **parts)
        return [messages.per_row(message, row_parts).alias(f"message{suffix}"),
                messages.per_row(hint, row_parts).alias(f"hint{suffix}")]

    return rows.select(
        pl.lit(code).alias("code"),
        pl.lit(messages.severity(code).value).alias("severity"),
        pl.col(ROW).alias("row"),
        pl.lit(finding.column, pl.Utf8).alias("column"),
        value.alias("value"),
        *texts(context.language),
        pl.lit(context.source).alias("source"),
        *[text for language in messages.LANGUAGES for text in texts(language, f"_{language}")],
    )


def file_problems_frame(problems: Iterable[Problem]) -> pl.DataFrame:
    """File-level Problem records as rows of PROBLEM_SCHEMA (a language it lacks shows its message)."""
    records = []
    for p in problems:
        record = {"code": p.code, "severity": p.severity.value, "row": p.row, "column": p.column,
                  "value": p.value, "message": p.message, "hint": p.hint, "source": p.source}
        for language in messages.LANGUAGES:
            record["message_" + language], record["hint_" + language] = p.in_language(language)
        records.append(record)
    return pl.DataFrame(records, schema=PROBLEM_SCHEMA)


def check_identity(frame: pl.DataFrame, stored: pl.DataFrame | None, round_name: str | None,
                   language: str, source: str = "") -> pl.DataFrame:
    """Submission ids used twice in the file, or already stored with other answers (or in another round).

    `frame` holds `_row`, `_uuid`, `_content_hash`; `stored` holds `_uuid, round, _content_hash` of the
    store. The same id with the same answers in the same round is not a problem: it is already ingested.
    """
    count = pl.col(UUID).count().over(UUID)
    pieces = [_identity_problems(frame.filter(count > 1).with_columns(count.alias("count")), "duplicate_uuid",
                                 language, source, {"count": pl.col("count").cast(pl.Utf8)})]
    if stored is not None and stored.height:
        known = stored.select(pl.col(UUID), pl.col("round").alias("stored_round"),
                              pl.col("_content_hash").alias("stored_hash"))
        joined = frame.join(known, on=UUID, how="inner")
        elsewhere = pl.col("stored_round") != pl.lit(round_name)
        changed = ~elsewhere & (pl.col("stored_hash") != pl.col("_content_hash"))
        for code, rows in (("uuid_in_other_round", elsewhere), ("uuid_conflict", changed)):
            pieces.append(_identity_problems(joined.filter(rows), code, language, source,
                                             {"stored_round": pl.col("stored_round")}))
    return pl.concat(pieces).sort("row", maintain_order=True)


def _identity_problems(rows: pl.DataFrame, code: str, language: str, source: str,
                       row_parts: Mapping[str, pl.Expr]) -> pl.DataFrame:
    message, hint = messages.render(code, language, column=UUID)
    parts = {"value": pl.col(UUID), **row_parts}
    return rows.select(
        pl.lit(code).alias("code"), pl.lit(messages.severity(code).value).alias("severity"),
        pl.col(ROW).alias("row"), pl.lit(UUID).alias("column"), pl.col(UUID).alias("value"),
        messages.per_row(message, parts).alias("message"), messages.per_row(hint, parts).alias("hint"),
        pl.lit(source).alias("source"), *messages.per_row_all(code, parts, column=UUID),
    ).cast(PROBLEM_SCHEMA)
