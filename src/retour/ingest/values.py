"""Turn the text cells of an export into the questionnaire's types, as polars expressions.

Whole numbers, decimals, dates (ISO, day/month/year, Excel serial numbers), submission times, GPS points,
0/1 choice flags and choice labels. A cell that cannot be read becomes null; `checks.py` reports it by
comparing the text with the typed value. Nothing here reads files or reports problems.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

import polars as pl

from retour.schema import Question

STORE_TYPES: dict[str, pl.DataType] = {
    "integer": pl.Int64(),
    "decimal": pl.Float64(),
    "range": pl.Float64(),
    "date": pl.Date(),
    "today": pl.Date(),
}
SELECT_TYPES = frozenset({"select_one", "select_multiple"})
TRUE_WORDS = ("1", "1.0", "true", "vrai", "yes", "oui")
FALSE_WORDS = ("0", "0.0", "false", "faux", "no", "non")
_SPACES = r"[\s\u00a0\u202f]"
_EXCEL_EPOCH = (1899, 12, 30)  # day 0 of Excel's 1900 date system (its 1900 leap-year bug included)
_TAG = re.compile(r"<[^>]+>|\*\*|__")


def store_type(question: Question) -> pl.DataType:
    """The polars type a field is stored with: Int64, Float64, Date, or Utf8 for everything else."""
    return STORE_TYPES.get(question.type, pl.Utf8())


def choice_enum(question: Question) -> pl.Enum | None:
    """A select_one's answers as an Enum of its choice names (None for other types, or no choice list).

    Checked answers are held this way: one small code per cell instead of a string, which the checks,
    fingerprints and the store read without hashing text again. The store keeps them as text.
    """
    if question.type != "select_one" or not question.choices:
        return None
    return pl.Enum(list(dict.fromkeys(question.choice_names)))


def integer(text: pl.Expr) -> pl.Expr:
    """Whole numbers; '25.0' (a number saved by Excel) and '1 234' are accepted."""
    cleaned = text.str.replace_all(_SPACES, "").str.replace(r"^([+-]?\d+)[.,]0+$", "$1")
    return pl.when(cleaned.str.contains(r"^[+-]?\d{1,18}$")).then(cleaned).otherwise(None).cast(
        pl.Int64, strict=False)


def decimal(text: pl.Expr) -> pl.Expr:
    """Decimal numbers; a lone comma is a decimal mark ('1,5' = 1.5), spaces group thousands."""
    cleaned = text.str.replace_all(_SPACES, "")
    cleaned = pl.when(cleaned.str.contains(",", literal=True) & ~cleaned.str.contains(".", literal=True)
                      ).then(cleaned.str.replace(",", ".", literal=True)).otherwise(cleaned)
    valid = cleaned.str.contains(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
    return pl.when(valid).then(cleaned).otherwise(None).cast(pl.Float64, strict=False)


def _excel_serial(text: pl.Expr) -> pl.Expr:
    """Days since Excel's epoch for text like '43164' or '43164.43', else null.

    Serials below 3653 (before 1910) are refused, so that a bare year such as '2018' is not read as a day.
    """
    number = pl.when(text.str.contains(r"^\d{1,7}(?:\.\d+)?$")).then(text).otherwise(None).cast(
        pl.Float64, strict=False)
    return pl.when((number >= 3653) & (number < 2958466)).then(number).otherwise(None)


def date(text: pl.Expr) -> pl.Expr:
    """Dates written as 2018-03-05 (time part ignored), 05/03/2018 (day first) or an Excel serial number."""
    iso = text.str.extract(r"^(\d{4}-\d{2}-\d{2})(?:[T ][\d:.]*(?:Z|[+-]\d{2}:?\d{2})?)?$", 1)
    day_first = text.str.extract(r"^(\d{1,2}/\d{1,2}/\d{4})$", 1)
    serial = _excel_serial(text).floor().cast(pl.Int64)
    return pl.coalesce(
        iso.str.to_date("%Y-%m-%d", strict=False),
        day_first.str.to_date("%d/%m/%Y", strict=False),
        pl.date(*_EXCEL_EPOCH) + pl.duration(days=serial),
    )


def parse_submission_time(text: pl.Series) -> pl.Series:
    """`submission_time` of a column: Kobo's '2018-03-06T18:00:12' read quickly, other forms carefully."""
    frame = text.rename("text").to_frame()
    value = frame.select(pl.col("text").str.to_datetime("%Y-%m-%dT%H:%M:%S", time_unit="us", strict=False)
                         ).to_series()
    missed = (value.is_null() & text.is_not_null()).arg_true()
    if missed.len():
        value = value.scatter(missed, frame[missed].select(submission_time(pl.col("text"))).to_series())
    return value.rename(text.name)


def submission_time(text: pl.Expr) -> pl.Expr:
    """Kobo `_submission_time` or ODK `SubmissionDate` (UTC; the offset is dropped), or an Excel serial."""
    stamp = text.str.extract(r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)", 1
                             ).str.replace("T", " ", literal=True)
    serial = _excel_serial(text)
    return pl.coalesce(
        stamp.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us", strict=False),
        stamp.str.to_datetime("%Y-%m-%d %H:%M", time_unit="us", strict=False),
        pl.datetime(*_EXCEL_EPOCH, time_unit="us")
        + pl.duration(microseconds=(serial * 86_400_000_000).round(0).cast(pl.Int64)),
    )


def geopoints(text: pl.Series) -> pl.DataFrame:
    """`latitude`, `longitude` of 'lat lon [alt acc]' texts (single spaces); null when not a point on Earth.

    Computed step by step on the column, so the text is split once.
    """
    parts = text.str.strip_chars().str.split_exact(" ", 3).struct.unnest()
    both = pl.concat([parts, parts.select(pl.all().cast(pl.Float64, strict=False).name.suffix("_n"))],
                     how="horizontal")
    inside = (pl.col("field_0_n").is_between(-90, 90) & pl.col("field_1_n").is_between(-180, 180)
              & (pl.col("field_2").is_null() | pl.col("field_2_n").is_not_null())
              & (pl.col("field_3").is_null() | pl.col("field_3_n").is_not_null()))
    return both.select(pl.when(inside).then(pl.col("field_0_n")).otherwise(None).alias("latitude"),
                       pl.when(inside).then(pl.col("field_1_n")).otherwise(None).alias("longitude"))


def coarse_geopoints(text: pl.Series, decimals: int, points: pl.DataFrame | None = None) -> pl.Series:
    """GPS points kept to `decimals` decimals of latitude and longitude (altitude and accuracy dropped).

    `points` is `geopoints(text)` when the caller has it already."""
    points = geopoints(text) if points is None else points
    return points.select(pl.concat_str([pl.col("latitude").round(decimals).cast(pl.Utf8),
                                        pl.col("longitude").round(decimals).cast(pl.Utf8)], separator=" ")
                         ).to_series().rename(text.name)


def flag(text: pl.Expr) -> pl.Expr:
    """A one-column-per-choice cell: 1/0, True/False, Vrai/Faux, yes/no -> Boolean; anything else null."""
    lowered = text.str.to_lowercase()
    return (pl.when(lowered.is_in(TRUE_WORDS)).then(True)
            .when(lowered.is_in(FALSE_WORDS)).then(False).otherwise(None))


def has_choice(answer: pl.Expr, choice: str) -> pl.Expr:
    """True where a select_multiple answer (names separated by single spaces) includes `choice`."""
    return answer.str.contains(f"(?:^| ){re.escape(choice)}(?: |$)")


def only_choices(answer: pl.Expr, names: tuple[str, ...]) -> pl.Expr:
    """True where every name in a select_multiple answer is one of `names`."""
    alternatives = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
    return answer.str.contains(f"^(?:{alternatives})(?: (?:{alternatives}))*$")


def normalise_label(text: str) -> str:
    """A label or header compared loosely: no markup, accents composed, case folded, spaces collapsed."""
    text = unicodedata.normalize("NFC", _TAG.sub("", text))
    return " ".join(text.casefold().split()).rstrip(" :?").strip()


def choice_names(question: Question, text: pl.Expr) -> pl.Expr:
    """select_one answers as choice names: a name in another case, or a choice label (any language, any
    case), becomes the choice name; anything else is kept as written (and reported by the checks)."""
    names = list(question.choice_names)
    loose_names: dict[str, str] = {}
    for choice in question.choices:
        for key in (choice.name, *choice.labels.values()):
            loose = normalise_label(key)
            if loose:
                loose_names.setdefault(loose, choice.name)
    loose = text.str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars(" :?")
    return pl.when(text.is_in(names)).then(text).otherwise(
        loose.replace_strict(loose_names, default=None, return_dtype=pl.Utf8).fill_null(text))


def tokens(text: pl.Expr) -> pl.Expr:
    """select_multiple answers: the choice names in the cell as a list (split on spaces)."""
    return text.str.strip_chars().str.split(" ").list.eval(pl.element().filter(pl.element() != ""))


def typed(question: Question, text: pl.Expr) -> pl.Expr:
    """The field's value in its stored type (null where the text cannot be read as that type)."""
    kind = question.type
    if kind == "integer":
        return integer(text)
    if kind in ("decimal", "range"):
        return decimal(text)
    if kind in ("date", "today"):
        return date(text)
    if kind == "select_one":
        return choice_names(question, text)
    if kind == "select_multiple":
        return tokens(text).list.join(" ").replace("", None)
    return text


def _quick(question: Question, text: pl.Expr) -> pl.Expr | None:
    """A cheap reading that is right for well-formed cells and null for the others (None: no shortcut)."""
    kind = question.type
    if kind == "integer":
        return text.cast(pl.Int64, strict=False)
    if kind in ("decimal", "range"):
        number = text.cast(pl.Float64, strict=False)
        return pl.when(number.is_finite()).then(number).otherwise(None)
    if kind in ("date", "today"):
        return text.str.to_date("%Y-%m-%d", strict=False)
    if kind == "select_one":
        enum = choice_enum(question)
        return text.cast(enum, strict=False) if enum is not None else None
    if kind == "select_multiple":
        return pl.when(~text.str.contains("  ", literal=True)).then(text).otherwise(None)
    return None


def parse(question: Question, text: pl.Series) -> pl.Series:
    """A text column in the field's checked type: a quick reading of every cell, and the careful reading
    of `typed` only for the cells the quick one could not read (usually none)."""
    return parse_frame(text.to_frame(), [question], []).get_column(text.name)


def parse_frame(text: pl.DataFrame, questions: Sequence[Question], flags: Sequence[str],
                points: Mapping[str, pl.DataFrame] | None = None) -> pl.DataFrame:
    """Each question's column in its checked type (select_one as `choice_enum`, answers outside the
    choices null), and each 0/1 column in `flags` as Boolean.

    The quick readings of all columns run in one pass; the careful ones (`typed`, `flag`) only for the
    cells the quick ones missed, which in a clean export is none. `points` holds `geopoints` of the GPS
    columns when the caller has them already.
    """
    quick: dict[str, pl.Expr] = {}
    careful: dict[str, pl.Expr] = {}
    for question in questions:
        column = pl.col(question.name)
        if question.type == "geopoint":
            quick[question.name] = column  # checked below, a whole column at a time
            continue
        shortcut = _quick(question, column)
        quick[question.name] = shortcut if shortcut is not None else typed(question, column)
        if shortcut is not None:
            careful[question.name] = typed(question, column)
    for name in flags:
        quick[name] = pl.when(pl.col(name) == "1").then(True).when(pl.col(name) == "0").then(False)
        careful[name] = flag(pl.col(name))
    values = text.select(expression.alias(name) for name, expression in quick.items())
    probe = pl.concat([values.select(pl.all().name.prefix("\x00")), text.select(list(careful))],
                      how="horizontal")
    missed = probe.select((pl.col("\x00" + name).is_null() & pl.col(name).is_not_null()).any().alias(name)
                          for name in careful).row(0, named=True) if careful else {}
    replaced: list[pl.Series] = []
    for name, expression in careful.items():
        if not missed[name]:
            continue
        rows = (values.get_column(name).is_null() & text.get_column(name).is_not_null()).arg_true()
        fixed = text[rows].select(expression.alias(name)).to_series().cast(values.schema[name], strict=False)
        replaced.append(values.get_column(name).scatter(rows, fixed))
    for question in questions:
        if question.type == "geopoint":
            point = (points or {}).get(question.name)
            if point is None:
                point = geopoints(text.get_column(question.name))
            replaced.append(text.get_column(question.name).set(point.get_column("latitude").is_null(), None))
    return values.with_columns(replaced) if replaced else values


def unreadable(question: Question, text: pl.Expr, value: pl.Expr) -> pl.Expr | None:
    """True where a cell has text that its type cannot read; None for types that take any text."""
    if question.type in ("integer", "decimal", "range", "date", "today", "geopoint"):
        return text.is_not_null() & value.is_null()
    return None
