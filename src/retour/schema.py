"""Load a questionnaire (XLSForm: survey, choices and settings sheets) into an `Instrument`.

The Instrument is what every later stage checks data against: questions with their types, choices,
labels per language, relevance, constraints and whether a field identifies a person. This module reads
the workbook and validates its structure; converting to XForm and running ODK Validate is `form.py`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl

from retour.errors import SchemaError

# Question types that hold no answer in an export.
STRUCTURAL_TYPES = frozenset({"begin group", "end group", "begin repeat", "end repeat", "note",
                              "begin_group", "end_group", "begin_repeat", "end_repeat"})
METADATA_TYPES = frozenset({"start", "end", "today", "deviceid", "phonenumber", "username", "email",
                            "audit", "simserial", "subscriberid", "start-geopoint"})
IDENTIFYING_ACTIONS = frozenset({"drop", "hash", "coarsen"})
_LANGUAGE_IN_HEADER = re.compile(r"^(?P<column>[a-z_:]+?)::(?P<language>.+)$")
_LANGUAGE_CODE = re.compile(r"\((?P<code>[a-z]{2,3})\)\s*$")


@dataclass(frozen=True)
class Choice:
    """One answer option of a choice list."""

    name: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class Question:
    """One field of the questionnaire.

    `type` is the base type (select_one, select_multiple, integer, decimal, text, date, geopoint, calculate,
    ...); `list_name` the choice list of select questions; `group_path` the enclosing groups' names and
    `group_relevant` their relevance expressions (outermost first; a question inside a skipped group is
    skipped too); `identifying` is None or how ingest must protect the field: drop, hash or coarsen.
    """

    name: str
    type: str
    labels: Mapping[str, str]
    list_name: str | None = None
    choices: tuple[Choice, ...] = ()
    group_path: tuple[str, ...] = ()
    required: bool = False
    relevant: str | None = None
    group_relevant: tuple[str, ...] = ()
    constraint: str | None = None
    constraint_messages: Mapping[str, str] = field(default_factory=dict)
    calculation: str | None = None
    identifying: str | None = None
    row: int = 0

    @property
    def choice_names(self) -> tuple[str, ...]:
        return tuple(choice.name for choice in self.choices)

    @property
    def relevance(self) -> str | None:
        """When the question is asked: its enclosing groups' relevance and its own, joined by `and`."""
        parts = [*self.group_relevant, *([self.relevant] if self.relevant else [])]
        if len(parts) <= 1:
            return parts[0] if parts else None
        return " and ".join(f"({part})" for part in parts)

    @property
    def path(self) -> str:
        """Kobo-style full name: group/sub/question."""
        return "/".join((*self.group_path, self.name))

    def label(self, language: str) -> str:
        return self.labels.get(language) or next(iter(self.labels.values()), self.name)


@dataclass(frozen=True)
class Instrument:
    """A questionnaire: its answer-holding questions in form order, and its settings."""

    form_id: str
    version: str
    title: str
    languages: tuple[str, ...]
    questions: tuple[Question, ...]
    choice_lists: Mapping[str, tuple[Choice, ...]]
    path: Path | None = None

    def question(self, name: str) -> Question:
        """The question called `name`; SchemaError if there is none."""
        for question in self.questions:
            if question.name == name:
                return question
        raise SchemaError(f"The questionnaire has no field '{name}'.")

    def has(self, name: str) -> bool:
        return any(question.name == name for question in self.questions)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(question.name for question in self.questions)


def _sheet_rows(workbook: openpyxl.Workbook, sheet: str, path: Path) -> list[dict[str, object]]:
    """Rows of a sheet as dicts keyed by lower-cased header; each dict carries its 1-based sheet row."""
    if sheet not in workbook.sheetnames:
        if sheet == "settings":
            return []
        raise SchemaError(f"{path}: no '{sheet}' sheet.", "An XLSForm needs 'survey' and 'choices' sheets.")
    rows = workbook[sheet].iter_rows(values_only=True)
    header = next(rows, None)
    if header is None:
        return []
    keys = [str(cell).strip() if cell is not None else "" for cell in header]
    records = []
    for number, values in enumerate(rows, start=2):
        record = {key: value for key, value in zip(keys, values, strict=False) if key and value is not None}
        if record:
            record["__row__"] = number
            records.append(record)
    return records


def _language_code(language: str) -> str:
    """'French (fr)' -> 'fr'; a bare code stays as it is."""
    match = _LANGUAGE_CODE.search(language)
    return match.group("code") if match else language.strip().lower()


def _localised(record: Mapping[str, object], column: str) -> dict[str, str]:
    """Values of `column::Language (xx)` headers, keyed by language code ('default' for a bare column)."""
    values: dict[str, str] = {}
    for key, value in record.items():
        if key == column:
            values["default"] = str(value)
            continue
        match = _LANGUAGE_IN_HEADER.match(key)
        if match and match.group("column") == column:
            values[_language_code(match.group("language"))] = str(value)
    return values


def _choice_lists(rows: list[dict[str, object]]) -> dict[str, tuple[Choice, ...]]:
    lists: dict[str, list[Choice]] = {}
    for record in rows:
        list_name = str(record.get("list_name") or record.get("list name") or "").strip()
        name = record.get("name")
        if not list_name or name is None:
            continue
        lists.setdefault(list_name, []).append(Choice(name=str(name).strip(), labels=_localised(record, "label")))
    return {name: tuple(choices) for name, choices in lists.items()}


def _parse_type(raw: str, row: int, path: Path) -> tuple[str, str | None]:
    parts = raw.split()
    if parts[0] in ("select_one", "select_multiple") or parts[0].startswith("select_"):
        if len(parts) < 2:
            raise SchemaError(f"{path}: survey sheet, row {row}, column type: '{raw}' names no choice list.",
                              "Write it as 'select_one LIST_NAME'.")
        return parts[0], parts[1]
    return " ".join(parts), None


def load_instrument(path: Path) -> Instrument:
    """Read an XLSForm workbook into an Instrument (questions in form order, groups flattened)."""
    path = Path(path)
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError:
        raise SchemaError(f"Questionnaire {path} not found.") from None
    except Exception as error:  # openpyxl raises several unrelated types for a bad file
        raise SchemaError(f"{path} is not a readable XLSX workbook ({error}).",
                          "Save the questionnaire as .xlsx (Excel 2007 or later).") from None
    survey = _sheet_rows(workbook, "survey", path)
    choice_lists = _choice_lists(_sheet_rows(workbook, "choices", path))
    settings_rows = _sheet_rows(workbook, "settings", path)
    settings = settings_rows[0] if settings_rows else {}
    workbook.close()

    questions: list[Question] = []
    languages: set[str] = set()
    group_stack: list[tuple[str, str | None]] = []  # (name, relevance) of each open group
    for record in survey:
        raw_type = str(record.get("type", "")).strip()
        row = int(record["__row__"])  # type: ignore[arg-type]
        if not raw_type:
            continue
        name = str(record.get("name", "")).strip()
        base_type, list_name = _parse_type(raw_type, row, path)
        if base_type in ("begin group", "begin_group", "begin repeat", "begin_repeat"):
            group_stack.append((name, str(record["relevant"]).strip() if record.get("relevant") else None))
            continue
        if base_type in ("end group", "end_group", "end repeat", "end_repeat"):
            if group_stack:
                group_stack.pop()
            continue
        if base_type in STRUCTURAL_TYPES:
            continue
        if not name:
            raise SchemaError(f"{path}: survey sheet, row {row}, column name: a '{raw_type}' question has no name.")
        if list_name is not None and list_name not in choice_lists:
            raise SchemaError(f"{path}: survey sheet, row {row}, column type: choice list '{list_name}' "
                              "is not in the choices sheet.")
        labels = _localised(record, "label")
        languages.update(language for language in labels if language != "default")
        identifying = str(record.get("retour_identifying", "")).strip().lower() or None
        if identifying is not None and identifying not in IDENTIFYING_ACTIONS:
            raise SchemaError(f"{path}: survey sheet, row {row}, column retour_identifying: '{identifying}'.",
                              "Use drop, hash or coarsen.")
        required = str(record.get("required", "")).strip().lower() in ("yes", "true", "true()", "1")
        questions.append(Question(
            name=name, type=base_type, labels=labels, list_name=list_name,
            choices=choice_lists.get(list_name, ()) if list_name else (),
            group_path=tuple(group for group, _ in group_stack), required=required,
            relevant=str(record["relevant"]) if record.get("relevant") else None,
            group_relevant=tuple(rule for _, rule in group_stack if rule),
            constraint=str(record["constraint"]) if record.get("constraint") else None,
            constraint_messages=_localised(record, "constraint_message"),
            calculation=str(record["calculation"]) if record.get("calculation") else None,
            identifying=identifying, row=row,
        ))
    names = [question.name for question in questions]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise SchemaError(f"{path}: survey sheet: field names used twice: {', '.join(duplicated)}.")
    return Instrument(
        form_id=str(settings.get("form_id", path.stem)),
        version=str(settings.get("version", "")),
        title=str(settings.get("form_title", path.stem)),
        languages=tuple(sorted(languages)) or ("default",),
        questions=tuple(questions),
        choice_lists=choice_lists,
        path=path,
    )
