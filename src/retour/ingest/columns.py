"""Match an export's headers to the questionnaire's fields and lay the cells out one column per field.

Headers may be field names or labels (any language of the questionnaire), with group prefixes
(`group/sub/question` from Kobo, `group-sub-question` from ODK Central); select_multiple answers may come
as one space-separated column, one 0/1 column per choice (`question/choice`), or both. Kobo and ODK
metadata columns are recognised; `_uuid` and `_submission_time` are kept, the rest is set aside.
This module decides what each column is; it checks no values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from retour.errors import Problem
from retour.ingest import messages, values
from retour.ingest.readers import ROW, Table
from retour.schema import METADATA_TYPES, Instrument, Question

UUID = "_uuid"
SUBMISSION_TIME = "_submission_time"
# Canonical metadata column -> the headers that hold it, in order of preference.
METADATA_ALIASES: dict[str, tuple[str, ...]] = {
    UUID: ("_uuid", "_submission__uuid", "meta/instanceID", "meta-instanceID", "meta:instanceID",
           "instanceID", "KEY"),
    SUBMISSION_TIME: ("_submission_time", "SubmissionDate", "_submission__submission_time"),
}
# Other metadata that Kobo or ODK export and retour does not keep (ids, status, submitter, attachments).
IGNORED_METADATA = frozenset({
    "_id", "_index", "_validation_status", "_status", "_submitted_by", "__version__", "_version_", "_notes",
    "_tags", "_geolocation", "_attachments", "_xform_id_string", "_duration", "_parent_index",
    "_parent_table_name", "_submission__id", "_submission__validation_status", "KEY", "PARENT_KEY",
    "SubmitterID", "SubmitterName", "AttachmentsPresent", "AttachmentsExpected", "Status", "ReviewState",
    "DeviceID", "Edits", "FormVersion", "instanceID", "instanceName",
})
_IGNORED_PREFIX = re.compile(r"^(?:meta[/:\-]|formhub/|SET-OF-|__)")
# A GPS point split in columns: ODK Central `gps-Latitude`, Kobo `_gps_latitude` (beside `gps`).
_GEO_PART = re.compile(r"^(?P<prefix>.+)[-/](?P<part>latitude|longitude|altitude|accuracy)$", re.IGNORECASE)
_KOBO_GEO_PART = re.compile(
    r"^(?P<groups>.*/)?_(?P<name>.+)_(?P<part>latitude|longitude|altitude|precision)$")
GEO_PARTS = ("latitude", "longitude", "altitude", "accuracy")


@dataclass(frozen=True)
class Column:
    """What one export column is: a field, a choice's 0/1 column, kept metadata, or set aside (and why)."""

    header: str
    source: str
    kind: str  # field | choice | geopart | metadata | ignored | unknown | duplicate | ambiguous
    field: str | None = None
    choice: str | None = None
    candidates: tuple[str, ...] = ()


@dataclass(frozen=True)
class ColumnMap:
    """The columns of an export matched to the questionnaire."""

    columns: tuple[Column, ...]
    absent: tuple[str, ...]  # questionnaire fields with no column at all

    def of_kind(self, kind: str) -> tuple[Column, ...]:
        return tuple(column for column in self.columns if column.kind == kind)

    @property
    def found(self) -> frozenset[str]:
        """Fields with a column, or (select_multiple) with at least one choice column."""
        return frozenset(column.field for column in self.columns
                         if column.kind in ("field", "choice", "geopart") and column.field)

    def has_answer_column(self, field: str) -> bool:
        return any(column.kind == "field" and column.field == field for column in self.columns)

    def choice_columns(self, field: str) -> tuple[Column, ...]:
        return tuple(column for column in self.columns if column.kind == "choice" and column.field == field)

    def geo_parts(self, field: str) -> dict[str, Column]:
        return {str(column.choice): column for column in self.columns
                if column.kind == "geopart" and column.field == field}

    def has(self, name: str) -> bool:
        return any(column.kind in ("field", "choice", "geopart", "metadata") and column.field == name
                   for column in self.columns)

    def problems(self, language: str, source: str = "") -> list[Problem]:
        """Warnings about columns set aside: unknown, duplicated, or matching several questions."""
        found = []
        for column in self.columns:
            if column.kind not in ("unknown", "duplicate", "ambiguous"):
                continue
            code = f"{column.kind}_column"
            first = next((other.header for other in self.columns
                          if other.kind in ("field", "choice", "geopart", "metadata")
                          and other.field == column.field and other.choice == column.choice), "")
            parts = {"column": column.header, "field": column.field, "first": first,
                     "fields": ", ".join(column.candidates)}
            message, hint = messages.render(code, language, **parts)
            found.append(Problem(code, None, column.header, None, message, hint, messages.severity(code),
                                 source, messages.render_all(code, **parts)))
        return found


def choice_column(field: str, choice: str) -> str:
    """Name of a select_multiple choice's 0/1 column in the laid-out frame."""
    return f"{field}/{choice}"


class _Matcher:
    """Look-ups from names and labels to the questionnaire's fields."""

    def __init__(self, instrument: Instrument, group_separator: str) -> None:
        self.questions = {question.name: question for question in instrument.questions}
        self.folded = {name.casefold(): name for name in reversed(list(self.questions))}
        self.separators = (group_separator,) + tuple(sep for sep in ("/", "-") if sep != group_separator)
        self.labels: dict[str, list[str]] = {}
        for question in instrument.questions:
            for label in set(question.labels.values()):
                names = self.labels.setdefault(values.normalise_label(label), [])
                if question.name not in names:
                    names.append(question.name)
        self.labels.pop("", None)

    def _name(self, text: str) -> str | None:
        return text if text in self.questions else self.folded.get(text.casefold())

    def by_name(self, header: str) -> str | None:
        """A field whose name is the header, or the header's end after group prefixes."""
        for separator in self.separators:
            parts = header.split(separator)
            for start in range(len(parts)):
                name = self._name(separator.join(parts[start:]))
                if name:
                    return name
        return None

    def _choice(self, question: Question, text: str, by_label: bool) -> str | None:
        if by_label:
            wanted = values.normalise_label(text)
            return next((choice.name for choice in question.choices
                         if wanted in {values.normalise_label(label) for label in choice.labels.values()}),
                        None)
        folded = text.casefold()
        return next((name for name in question.choice_names if name == text or name.casefold() == folded),
                    None)

    def choice(self, header: str, by_label: bool) -> tuple[str, str] | None:
        """(field, choice) when the header is `question/choice` of a select_multiple (names or labels)."""
        for separator in ("/", "-"):
            prefix, found, last = header.rpartition(separator)
            if not found or not prefix:
                continue
            if by_label:
                names = self.by_label(prefix)
                field = names[0] if len(names) == 1 else None
            else:
                field = self.by_name(prefix)
            question = self.questions.get(field) if field else None
            if question is not None and question.type == "select_multiple":
                choice = self._choice(question, last, by_label)
                if choice is not None:
                    return question.name, choice
        return None

    def geo_part(self, header: str) -> tuple[str, str] | None:
        """(field, part) for a column holding one coordinate of a geopoint question."""
        kobo = _KOBO_GEO_PART.match(header)
        if kobo:
            name, part = self._name(kobo.group("name")), kobo.group("part").lower()
        else:
            odk = _GEO_PART.match(header)
            if not odk:
                return None
            name, part = self.by_name(odk.group("prefix")), odk.group("part").lower()
        if name is None or self.questions[name].type != "geopoint":
            return None
        return name, "accuracy" if part == "precision" else part

    def by_label(self, header: str) -> list[str]:
        """Fields whose label (in any language) is the header, or the header's end after group labels."""
        parts = header.split("/")
        for start in range(len(parts)):
            names = self.labels.get(values.normalise_label("/".join(parts[start:])))
            if names:
                return names
        return []


def _metadata(header: str) -> str | None:
    for canonical, aliases in METADATA_ALIASES.items():
        if header in aliases:
            return canonical
    return None


def _is_ignored(header: str) -> bool:
    last = re.split(r"[/]", header)[-1]
    return header in IGNORED_METADATA or bool(_IGNORED_PREFIX.match(header)) or last.startswith("_")


def _classify(header: str, source: str, matcher: _Matcher) -> Column:
    if not header:
        return Column(header=f"({source})", source=source, kind="unknown")
    canonical = _metadata(header)
    if canonical:
        return Column(header, source, "metadata", canonical)
    exact = matcher._name(header)
    if exact:
        return Column(header, source, "field", exact)
    choice = matcher.choice(header, by_label=False)
    if choice:
        return Column(header, source, "choice", *choice)
    geo_part = matcher.geo_part(header)
    if geo_part:
        return Column(header, source, "geopart", *geo_part)
    if _is_ignored(header):
        return Column(header, source, "ignored")
    name = matcher.by_name(header)
    if name:
        return Column(header, source, "field", name)
    labelled = matcher.labels.get(values.normalise_label(header), [])
    if len(labelled) == 1:
        return Column(header, source, "field", labelled[0])
    choice = matcher.choice(header, by_label=True)
    if choice:
        return Column(header, source, "choice", *choice)
    labelled = labelled or matcher.by_label(header)
    if len(labelled) == 1:
        return Column(header, source, "field", labelled[0])
    if labelled:
        return Column(header, source, "ambiguous", candidates=tuple(labelled))
    return Column(header, source, "unknown")


def map_columns(headers: Sequence[str], instrument: Instrument, group_separator: str = "/") -> ColumnMap:
    """Say what every column is; a second column for the same field (or choice) is set aside."""
    matcher = _Matcher(instrument, group_separator)
    classified = [_classify(header, f"c{index}", matcher) for index, header in enumerate(headers)]
    # A metadata alias of lower preference (e.g. KEY beside instanceID) is set aside, not duplicated.
    for canonical, aliases in METADATA_ALIASES.items():
        present = [column for column in classified if column.kind == "metadata" and column.field == canonical]
        if len(present) > 1:
            best = min(present, key=lambda column: aliases.index(column.header))
            classified = [Column(c.header, c.source, "ignored") if c in present and c is not best else c
                          for c in classified]
    seen: set[tuple[str, str | None, str]] = set()
    columns = []
    for column in classified:
        if column.kind in ("field", "choice", "geopart", "metadata"):
            key = (str(column.field), column.choice, column.kind)
            if key in seen:
                column = Column(column.header, column.source, "duplicate", column.field, column.choice)
            seen.add(key)
        columns.append(column)
    column_map = ColumnMap(columns=tuple(columns), absent=())
    absent = tuple(name for name in instrument.names if name not in column_map.found)
    return ColumnMap(columns=tuple(columns), absent=absent)


def answer_fields(instrument: Instrument) -> tuple[str, ...]:
    """Fields an export of the questionnaire should have a column for (device metadata aside)."""
    return tuple(question.name for question in instrument.questions if question.type not in METADATA_TYPES)


def lay_out(table: Table, column_map: ColumnMap, instrument: Instrument) -> pl.DataFrame:
    """One text column per questionnaire field (null where the export has none), choice 0/1 columns,
    `_uuid` (without ODK's 'uuid:' prefix), `_submission_time` as written, and `_row`."""
    expressions: list[pl.Expr] = [pl.col(ROW)]
    by_field = {column.field: column for column in column_map.of_kind("field")}
    for question in instrument.questions:
        if question.name in by_field:
            expressions.append(pl.col(by_field[question.name].source).alias(question.name))
            continue
        flags = column_map.choice_columns(question.name)
        parts = column_map.geo_parts(question.name)
        if "latitude" in parts and "longitude" in parts:
            point = [pl.col(parts[part].source) for part in GEO_PARTS if part in parts]
            expressions.append(pl.when(point[0].is_not_null() & point[1].is_not_null())
                               .then(pl.concat_str(point, separator=" ", ignore_nulls=True)).otherwise(None)
                               .alias(question.name))
        elif flags:
            chosen = [pl.when(values.flag(pl.col(column.source))).then(pl.lit(column.choice)).otherwise(None)
                      for column in flags]  # on its own column, only when the export has no answer column
            expressions.append(pl.concat_str(chosen, separator=" ", ignore_nulls=True).replace("", None)
                               .alias(question.name))
        else:
            expressions.append(pl.lit(None, pl.Utf8).alias(question.name))
    for column in column_map.of_kind("choice"):
        expressions.append(pl.col(column.source).alias(choice_column(str(column.field), str(column.choice))))
    metadata = {column.field: column for column in column_map.of_kind("metadata")}
    uuid = metadata.get(UUID)
    expressions.append(pl.col(uuid.source).str.replace(r"^uuid:", "").alias(UUID) if uuid
                       else pl.lit(None, pl.Utf8).alias(UUID))
    time = metadata.get(SUBMISSION_TIME)
    expressions.append(pl.col(time.source).alias(SUBMISSION_TIME) if time
                       else pl.lit(None, pl.Utf8).alias(SUBMISSION_TIME))
    return table.frame.select(expressions)
