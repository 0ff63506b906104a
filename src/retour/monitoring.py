"""The short monitoring form for case managers, derived from the study's questionnaire and score weights.

Case managers see returnees again 3, 6 and 12 months after their return. The form they use asks only
what the individual score reads (the fields of the sub-indicators in the weight set, and through them
of the catalogue indicators they name), the questions those depend on (a follow-up's relevance, a
constraint or a label naming another field), and the fields that tell who, where and when: case id
(hashed at ingest), visit (3m, 6m, 12m), community, and the interview date and consent when the study's
settings name their fields (`scoring.interview_date_field`, `scoring.consent_field`; without a date
field a visit is dated by its submission time, without a consent field there is no consent question).
Every kept row is copied from the questionnaire as it is (labels and hints in every language,
constraints, relevance), inside its groups, so answers collected with either form mean the same thing.

This module builds the form's three sheets from a workbook and writes them with openpyxl; checking the
result with pyxform and ODK Validate is `retour.form`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl

from retour.config import SETTINGS_FILE, DesignSettings
from retour.errors import ConfigError, SchemaError
from retour.score import VISIT_FIELD, VISITS, ScoreRules
from retour.score_spec import ScoreSpec

FORM_FILE = "monitoring.xlsx"
FORM_ID_SUFFIX = "_monitoring"
_REFERENCE = re.compile(r"\$\{([^}]*)\}")
_LANGUAGE = re.compile(r"\((?P<code>[a-z]{2,3})\)\s*$")
TEXTS: dict[str, dict[str, str]] = {
    "visit_label": {"fr": "Visite de suivi", "en": "Follow-up visit"},
    "visit_hint": {
        "fr": "Temps écoulé depuis le retour de la personne.",
        "en": "Time since the person came back.",
    },
    "3m": {"fr": "3 mois après le retour", "en": "3 months after return"},
    "6m": {"fr": "6 mois après le retour", "en": "6 months after return"},
    "12m": {"fr": "12 mois après le retour", "en": "12 months after return"},
    "case_id_label": {"fr": "Numéro de dossier du répondant", "en": "Respondent case number"},
    "title": {"fr": "suivi individuel", "en": "individual follow-up"},
}


@dataclass(frozen=True)
class Sheet:
    """One sheet of an XLSForm: its header and its rows (dicts keyed by header; empty cells left out)."""

    header: tuple[str, ...]
    rows: tuple[Mapping[str, Any], ...]

    def table(self) -> list[list[Any]]:
        """Header then rows, as lists of cells in header order."""
        return [list(self.header), *([row.get(column) for column in self.header] for row in self.rows)]


@dataclass(frozen=True)
class MonitoringForm:
    """The short form's survey, choices and settings sheets, and the fields it asks (in form order)."""

    survey: Sheet
    choices: Sheet
    settings: Sheet
    fields: tuple[str, ...]


def _read_sheet(workbook: Any, name: str) -> Sheet:
    if name not in workbook.sheetnames:
        return Sheet(header=(), rows=())
    rows = workbook[name].iter_rows(values_only=True)
    header = tuple(str(cell).strip() if cell is not None else "" for cell in next(rows, ()))
    records = []
    for values in rows:
        record = {
            key: value
            for key, value in zip(header, values, strict=False)
            if key and value is not None and str(value).strip() != ""
        }
        if record:
            records.append(record)
    return Sheet(header=tuple(column for column in header if column), rows=tuple(records))


def read_xlsform(path: Path) -> tuple[Sheet, Sheet, Sheet]:
    """The survey, choices and settings sheets of an XLSForm workbook."""
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError:
        raise SchemaError(
            f"Questionnaire {path} not found.", "Create a study with: retour init DIR"
        ) from None
    except Exception as error:  # openpyxl raises several unrelated types for a bad file
        raise SchemaError(f"{path} is not a readable XLSX workbook ({error}).") from None
    try:
        return (
            _read_sheet(workbook, "survey"),
            _read_sheet(workbook, "choices"),
            _read_sheet(workbook, "settings"),
        )
    finally:
        workbook.close()


def _kind(row: Mapping[str, Any]) -> str:
    """'begin', 'end' (of a group or repeat) or 'question'."""
    raw = str(row.get("type", "")).strip().lower().replace("_", " ")
    if raw.startswith(("begin group", "begin repeat")):
        return "begin"
    if raw.startswith(("end group", "end repeat")):
        return "end"
    return "question"


def _references(row: Mapping[str, Any]) -> set[str]:
    """Fields a row names with ${...} in any cell (relevance, constraint, calculation, labels, ...)."""
    return {name for value in row.values() for name in _REFERENCE.findall(str(value))}


def needed_fields(survey: Sheet, wanted: Iterable[str]) -> set[str]:
    """`wanted` and, repeatedly, every field that a kept question or one of its groups refers to."""
    enclosing: dict[str, list[Mapping[str, Any]]] = {}
    rows_by_name: dict[str, Mapping[str, Any]] = {}
    groups: list[Mapping[str, Any]] = []
    for row in survey.rows:
        kind = _kind(row)
        if kind == "begin":
            groups.append(row)
        elif kind == "end":
            if groups:
                groups.pop()
        elif row.get("name"):
            rows_by_name[str(row["name"])] = row
            enclosing[str(row["name"])] = list(groups)
    needed: set[str] = set()
    pending = [name for name in wanted if name in rows_by_name]
    while pending:
        name = pending.pop()
        if name in needed:
            continue
        needed.add(name)
        for row in (rows_by_name[name], *enclosing[name]):
            pending += [other for other in _references(row) if other in rows_by_name and other not in needed]
    return needed


def _language_columns(header: Sequence[str], column: str) -> dict[str, str]:
    """Header -> language code for the `column::Language (xx)` headers (a bare `column` -> 'default')."""
    found = {}
    for key in header:
        if key == column:
            found[key] = "default"
        elif key.startswith(f"{column}::"):
            match = _LANGUAGE.search(key)
            found[key] = match.group("code") if match else key.split("::", 1)[1].strip().lower()
    return found


def _localised(header: Sequence[str], column: str, key: str) -> dict[str, str]:
    """Cells of one of retour's own texts in every language column of the sheet (English by default)."""
    return {
        name: TEXTS[key].get(code, TEXTS[key]["en"])
        for name, code in _language_columns(header, column).items()
    }


def _new_rows(header: Sequence[str], present: set[str], design: DesignSettings) -> list[dict[str, Any]]:
    """Identity rows the questionnaire lacks: case id, visit."""
    rows: list[dict[str, Any]] = []
    if design.case_id not in present:
        rows.append(
            {
                "type": "text",
                "name": design.case_id,
                "required": "yes",
                "retour_identifying": "hash",
                **_localised(header, "label", "case_id_label"),
            }
        )
    if VISIT_FIELD not in present:
        rows.append(
            {
                "type": f"select_one {VISIT_FIELD}",
                "name": VISIT_FIELD,
                "required": "yes",
                **_localised(header, "label", "visit_label"),
                **_localised(header, "hint", "visit_hint"),
            }
        )
    return rows


def _survey(source: Sheet, keep: set[str], design: DesignSettings) -> Sheet:
    """The kept questions inside their groups (empty groups left out), identity rows added after the
    community question, case id required and hashed."""
    header = list(source.header)
    for column in ("label", "hint", "required", "retour_identifying"):
        if not any(key == column or key.startswith(f"{column}::") for key in header):
            header.append(column)
    additions = _new_rows(header, keep, design)
    rows: list[Mapping[str, Any]] = []
    opened: list[int] = []
    for row in source.rows:
        kind = _kind(row)
        if kind == "begin":
            opened.append(len(rows))
            rows.append(row)
        elif kind == "end":
            start = opened.pop() if opened else -1
            if start >= 0 and len(rows) == start + 1:
                rows.pop()  # a group none of whose questions is kept
            elif start >= 0:
                rows.append(row)
        elif str(row.get("name", "")) in keep:
            name = str(row["name"])
            if name == design.case_id:
                row = {**row, "required": "yes", "retour_identifying": "hash"}
            rows.append(row)
            if name == design.community:
                rows += additions
                additions = []
    return Sheet(header=tuple(header), rows=(*additions, *rows))


def _lists_used(survey: Sheet) -> set[str]:
    used = set()
    for row in survey.rows:
        parts = str(row.get("type", "")).split()
        if len(parts) > 1 and parts[0].startswith("select_"):
            used.add(parts[1])
    return used


def _choices(source: Sheet, used: set[str]) -> Sheet:
    header = list(source.header) or ["list_name", "name", "label"]
    list_column = "list_name" if "list_name" in header else "list name"
    rows = [row for row in source.rows if str(row.get(list_column, "")).strip() in used]
    if VISIT_FIELD in used and not any(str(row.get(list_column, "")).strip() == VISIT_FIELD for row in rows):
        rows += [
            {list_column: VISIT_FIELD, "name": visit, **_localised(header, "label", visit)}
            for visit in VISITS
        ]
    return Sheet(header=tuple(header), rows=tuple(rows))


def _settings(source: Sheet, languages: Iterable[str]) -> Sheet:
    header = list(source.header)
    for column in ("form_title", "form_id", "version"):
        if column not in header:
            header.append(column)
    base = dict(source.rows[0]) if source.rows else {}
    form_id = str(base.get("form_id", "retour")).strip()
    codes = [code for code in languages if code in TEXTS["title"]] or ["en"]
    suffix = " / ".join(TEXTS["title"][code] for code in codes)
    title = str(base.get("form_title", form_id)).strip()
    settings = {
        **base,
        "form_id": form_id if form_id.endswith(FORM_ID_SUFFIX) else form_id + FORM_ID_SUFFIX,
        "form_title": title if suffix in title else f"{title} – {suffix}",
        "version": str(base.get("version", "1")),
    }
    return Sheet(header=tuple(header), rows=(settings,))


def derive_form(xlsform: Path, spec: ScoreSpec, design: DesignSettings | None = None,
                rules: ScoreRules | None = None) -> MonitoringForm:
    """The short form for `spec` from the questionnaire `xlsform` (see the module docstring); `rules`
    names the interview-date and consent fields it keeps (default: neither)."""
    design = design or DesignSettings()
    rules = rules or ScoreRules()
    survey, choices, settings = read_xlsform(Path(xlsform))
    names = {str(row.get("name")) for row in survey.rows if _kind(row) == "question" and row.get("name")}
    absent = [f"{setting} names '{name}', a field {Path(xlsform).name} lacks"
              for setting, name in rules.named_fields if name not in names]
    if absent:
        named = "; ".join(absent)
        raise ConfigError(f"{SETTINGS_FILE}: {named}.",
                          "Set each to a field of the survey sheet, or leave it empty (no date: the "
                          "submission time dates a visit; no consent field: no consent question).")
    if design.community not in names:
        raise SchemaError(
            f"{xlsform}: no '{design.community}' question, so the monitoring form could not say "
            "where a visit took place.",
            "Add the community question (design.community).",
        )
    missing = [name for name in spec.questions if name not in names]
    if missing:
        raise SchemaError(
            f"{xlsform} lacks question(s) the individual score reads: {', '.join(missing)}.",
            "Add them to the questionnaire, or remove their sub-indicators from the weights file.",
        )
    identity = [design.community, design.case_id, VISIT_FIELD, *rules.fields]
    keep = needed_fields(survey, [*identity, *spec.questions])
    short = _survey(survey, keep, design)
    languages = [code for code in _language_columns(short.header, "label").values() if code != "default"]
    fields = tuple(str(row["name"]) for row in short.rows if _kind(row) == "question" and row.get("name"))
    return MonitoringForm(
        survey=short,
        choices=_choices(choices, _lists_used(short)),
        settings=_settings(settings, languages),
        fields=fields,
    )


def write_form(form: MonitoringForm, target: Path) -> Path:
    """Write the form as an XLSForm workbook (survey, choices, settings sheets) at `target`."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    workbook = openpyxl.Workbook()
    sheets = (("survey", form.survey), ("choices", form.choices), ("settings", form.settings))
    for position, (name, sheet) in enumerate(sheets):
        worksheet = workbook.active if position == 0 else workbook.create_sheet(name)
        worksheet.title = name
        for cells in sheet.table():
            worksheet.append(cells)
    try:
        workbook.save(target)
    except OSError as error:
        raise SchemaError(f"Cannot write the monitoring form {target}: {error.strerror}.") from None
    return target
