"""Check a questionnaire (XLSForm) the way data collection tools will, and convert it to an XForm.

Three passes, each reporting problems as `Problem` records placed on a sheet, row and column:
1. retour's own reading of the workbook, which collects every problem it can see at once (unknown
   `${field}` references, choice lists that do not exist, unbalanced groups, duplicate names, missing
   translations, bad `retour_identifying` values);
2. pyxform's conversion to XForm XML (it stops at its first error);
3. ODK Validate (the Java validator pyxform ships), which checks XPath expressions and logic cycles.
The XForm is written to `out/instrument.xml` of the study only when no pass found an error. This module
checks and converts; it computes no statistics.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import openpyxl
from pyxform.errors import PyXFormError
from pyxform.validators import odk_validate
from pyxform.xls2xform import convert

from retour.errors import Problem, SchemaError, Severity
from retour.schema import IDENTIFYING_ACTIONS

INSTRUMENT_FILE = "instrument.xlsx"
XFORM_FILE = "instrument.xml"
EXPRESSION_COLUMNS = (
    "relevant",
    "constraint",
    "calculation",
    "choice_filter",
    "required",
    "repeat_count",
    "default",
    "trigger",
)
_REFERENCE = re.compile(r"\$\{([^}]*)\}")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_PYXFORM_ROW = re.compile(r"\[row\s*:\s*(\d+)\]")
_PYXFORM_SHEET = re.compile(r"(?:On|on|in|In) the '(\w+)' sheet")
_PYXFORM_COLUMN = re.compile(r"the '([\w:]+)' (?:value|column)")
_QUOTED = re.compile(r"'([^']+)'")
_ODK_COLUMN_WORDS = {
    "constraint": "constraint",
    "relevant": "relevant",
    "relevancy": "relevant",
    "display condition": "relevant",
    "calculate": "calculation",
    "calculation": "calculation",
    "required": "required",
    "choice_filter": "choice_filter",
    "itemset": "choice_filter",
}
_JAVA_NOISE = re.compile(r"\s*Bad node: \S+")
# How ODK Validate names the field a message is about ("bind for ${x}", "node [${x}]", ...)
_ODK_SUBJECT = re.compile(
    r"(?:bind for|node \[|attached to \"|expression for|field '[^']*' \()\s*\$\{([^}]+)\}"
)
_DEPENDENCY_COLUMNS = ("calculation", "relevant", "required", "read_only", "readonly", "trigger")


@dataclass(frozen=True)
class Cell:
    sheet: str
    row: int
    column: str
    value: str


@dataclass(frozen=True)
class FormCheck:
    """What checking a questionnaire found; `xform_path` is set when the XForm was written."""

    xlsform: Path
    problems: tuple[Problem, ...]
    xform_path: Path | None = None

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(problem for problem in self.problems if problem.severity is Severity.BLOCKING)

    @property
    def ok(self) -> bool:
        return not self.errors


def _problem(
    code: str,
    sheet: str,
    row: int | None,
    column: str | None,
    value: object,
    message: str,
    hint: str = "",
    severity: Severity = Severity.BLOCKING,
) -> Problem:
    return Problem(
        code=code,
        row=row,
        column=column,
        value=None if value in (None, "") else str(value),
        message=message,
        hint=hint,
        severity=severity,
        source=sheet,
    )


def describe(problem: Problem) -> str:
    """'survey sheet, row 12, column relevant: message (hint)' for one problem."""
    where = [f"{problem.source} sheet" if problem.source else "workbook"]
    if problem.row is not None:
        where.append(f"row {problem.row}")
    if problem.column:
        where.append(f"column {problem.column}")
    text = f"{', '.join(where)}: {problem.message}"
    return f"{text} {problem.hint}".strip() if problem.hint else text


# --- pass 1: retour's own reading of the workbook --------------------------------------------------------


def _read_sheets(path: Path) -> dict[str, list[dict[str, Cell]]]:
    """Every sheet as rows of cells keyed by header (header row excluded; empty cells omitted)."""
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError:
        raise SchemaError(
            f"Questionnaire {path} not found.", "Create a study with: retour init DIR"
        ) from None
    except Exception as error:  # openpyxl raises several unrelated types for a bad file
        raise SchemaError(
            f"{path} is not a readable XLSX workbook ({error}).",
            "Save the questionnaire as .xlsx (Excel 2007 or later).",
        ) from None
    sheets: dict[str, list[dict[str, Cell]]] = {}
    for sheet_name in workbook.sheetnames:
        rows = workbook[sheet_name].iter_rows(values_only=True)
        header = [str(cell).strip() if cell is not None else "" for cell in next(rows, ())]
        records = []
        for number, values in enumerate(rows, start=2):
            record = {
                key: Cell(sheet_name, number, key, str(value).strip())
                for key, value in zip(header, values, strict=False)
                if key and value is not None and str(value).strip()
            }
            if record:
                records.append(record)
        sheets[sheet_name] = records
    workbook.close()
    return sheets


def _text(record: dict[str, Cell], column: str) -> str:
    cell = record.get(column)
    return cell.value if cell else ""


def _check_choices(rows: list[dict[str, Cell]]) -> tuple[dict[str, set[str]], list[Problem]]:
    problems: list[Problem] = []
    lists: dict[str, set[str]] = {}
    for record in rows:
        row = next(iter(record.values())).row
        list_name = _text(record, "list_name") or _text(record, "list name")
        name = _text(record, "name")
        if not list_name or not name:
            missing = "list_name" if not list_name else "name"
            problems.append(
                _problem(
                    "missing_cell",
                    "choices",
                    row,
                    missing,
                    None,
                    f"a choice has no {missing}.",
                    "Every choice needs a list_name and a name.",
                )
            )
            continue
        if name in lists.setdefault(list_name, set()):
            problems.append(
                _problem(
                    "duplicate_choice",
                    "choices",
                    row,
                    "name",
                    name,
                    f"choice '{name}' appears twice in list '{list_name}'.",
                )
            )
        lists[list_name].add(name)
    return lists, problems


def _label_columns(rows: list[dict[str, Cell]]) -> list[str]:
    return sorted({key for record in rows for key in record if key == "label" or key.startswith("label::")})


def _survey(code: str, cell_row: int, column: str, value: object, message: str, hint: str = "") -> Problem:
    return _problem(code, "survey", cell_row, column, value, message, hint)


def _check_list(raw_type: str, row: int, lists: dict[str, set[str]]) -> list[Problem]:
    """A select question must name a choice list that exists."""
    if not raw_type.startswith("select_"):
        return []
    parts = raw_type.split()
    if len(parts) < 2:
        return [
            _survey(
                "missing_list",
                row,
                "type",
                raw_type,
                "the select question names no choice list.",
                "Write 'select_one LIST'.",
            )
        ]
    if parts[1] not in lists:
        return [
            _survey(
                "unknown_list",
                row,
                "type",
                raw_type,
                f"choice list '{parts[1]}' is not in the choices sheet.",
                "Add the list to the choices sheet or fix the spelling.",
            )
        ]
    return []


def _check_name(name: str, raw_type: str, row: int, seen: dict[str, int]) -> list[Problem]:
    """Every answer-holding row needs a valid name used once; `seen` records names already met."""
    if not name:
        return [_survey("missing_name", row, "name", None, f"a '{raw_type}' row has no name.")]
    if not _NAME.match(name):
        return [
            _survey(
                "bad_name",
                row,
                "name",
                name,
                f"'{name}' is not a valid name.",
                "Use letters, digits, _ , - and ., starting with a letter or _.",
            )
        ]
    if name in seen:
        return [
            _survey("duplicate_name", row, "name", name, f"'{name}' is already used on row {seen[name]}.")
        ]
    seen[name] = row
    return []


def _check_identifying(record: dict[str, Cell], row: int) -> list[Problem]:
    identifying = _text(record, "retour_identifying").lower()
    if identifying and identifying not in IDENTIFYING_ACTIONS:
        return [
            _survey(
                "bad_identifying",
                row,
                "retour_identifying",
                identifying,
                f"'{identifying}' is not a way to protect an identifying field.",
                "Use drop, hash or coarsen.",
            )
        ]
    return []


def _check_survey(rows: list[dict[str, Cell]], lists: dict[str, set[str]]) -> list[Problem]:
    problems: list[Problem] = []
    names = {_text(record, "name") for record in rows if _text(record, "name")}
    label_columns = [column for column in _label_columns(rows) if column.startswith("label::")]
    seen: dict[str, int] = {}
    open_groups: list[tuple[str, int]] = []
    for record in rows:
        row = next(iter(record.values())).row
        raw_type, name = _text(record, "type"), _text(record, "name")
        if not raw_type:
            problems.append(
                _survey(
                    "missing_type",
                    row,
                    "type",
                    name,
                    "the row has no type.",
                    "Give the row a type, or delete it.",
                )
            )
            continue
        structure = raw_type.lower().replace("_", " ")
        if structure.startswith(("end group", "end repeat")):
            if open_groups:
                open_groups.pop()
            else:
                problems.append(
                    _survey(
                        "unbalanced_group",
                        row,
                        "type",
                        raw_type,
                        "'end group' without a matching 'begin group'.",
                    )
                )
            continue
        if structure.startswith(("begin group", "begin repeat")):
            open_groups.append((name, row))
        problems += _check_list(raw_type, row, lists)
        problems += _check_name(name, raw_type, row, seen)
        problems += _check_references(record, names)
        problems += _check_translations(record, label_columns, raw_type)
        problems += _check_identifying(record, row)
    problems += [
        _survey(
            "unbalanced_group",
            row,
            "type",
            name,
            f"group '{name}' is never closed.",
            "Add an 'end group' row.",
        )
        for name, row in open_groups
    ]
    return problems


def _check_references(record: dict[str, Cell], names: set[str]) -> list[Problem]:
    problems = []
    for column, cell in record.items():
        if column not in EXPRESSION_COLUMNS and not column.startswith(
            ("label", "hint", "constraint_message")
        ):
            continue
        for reference in _REFERENCE.findall(cell.value):
            if reference not in names:
                problems.append(
                    _problem(
                        "unknown_reference",
                        "survey",
                        cell.row,
                        column,
                        cell.value,
                        f"${{{reference}}} names no question of the survey sheet.",
                        "Check the spelling against the name column.",
                    )
                )
        if column in EXPRESSION_COLUMNS and _unbalanced(cell.value):
            problems.append(
                _problem(
                    "unbalanced_expression",
                    "survey",
                    cell.row,
                    column,
                    cell.value,
                    "brackets or quotes are not balanced.",
                )
            )
    return problems


def _unbalanced(expression: str) -> bool:
    depth, quote = 0, ""
    for character in expression:
        if quote:
            quote = "" if character == quote else quote
        elif character in "'\"":
            quote = character
        elif character == "(":
            depth += 1
        elif character == ")":
            depth -= 1
            if depth < 0:
                return True
    return depth != 0 or bool(quote)


def _check_translations(record: dict[str, Cell], label_columns: list[str], raw_type: str) -> list[Problem]:
    """A question labelled in one language but not another (a warning: the form still works)."""
    present = [column for column in label_columns if column in record]
    if not present or raw_type.startswith(("end", "calculate")):
        return []
    row = next(iter(record.values())).row
    return [
        _problem(
            "missing_translation",
            "survey",
            row,
            column,
            None,
            f"no {column.split('::', 1)[1]} label.",
            "Translate the label.",
            Severity.WARNING,
        )
        for column in label_columns
        if column not in record
    ]


def lint(sheets: dict[str, list[dict[str, Cell]]]) -> list[Problem]:
    """Every problem retour can see in the workbook without converting it."""
    if "survey" not in sheets:
        return [
            _problem(
                "missing_sheet",
                "survey",
                None,
                None,
                None,
                "the workbook has no 'survey' sheet.",
                "An XLSForm needs a 'survey' sheet and, for select questions, a 'choices' sheet.",
            )
        ]
    lists, problems = _check_choices(sheets.get("choices", []))
    return problems + _check_survey(sheets["survey"], lists)


# --- passes 2 and 3: pyxform and ODK Validate ---------------------------------------------------------


def _find_cell(sheets: dict[str, list[dict[str, Cell]]], value: str, sheet: str | None = None) -> Cell | None:
    for sheet_name, rows in sheets.items():
        if sheet and sheet_name != sheet:
            continue
        for record in rows:
            for cell in record.values():
                if cell.value == value or cell.value.split(" ")[0] == value:
                    return cell
    return None


def _name_rows(sheets: dict[str, list[dict[str, Cell]]]) -> dict[str, int]:
    return {
        record["name"].value: record["name"].row for record in sheets.get("survey", []) if "name" in record
    }


def _pyxform_problem(
    message: str, sheets: dict[str, list[dict[str, Cell]]], severity: Severity = Severity.BLOCKING
) -> Problem:
    """Place a pyxform message on its sheet, row and column (from '[row : N]' or a quoted value)."""
    row_match, sheet_match = _PYXFORM_ROW.search(message), _PYXFORM_SHEET.search(message)
    column_match = _PYXFORM_COLUMN.search(message)
    sheet = sheet_match.group(1) if sheet_match else "survey"
    row = int(row_match.group(1)) if row_match else None
    column = column_match.group(1) if column_match else None
    if row is None:
        for quoted in _QUOTED.findall(message):
            cell = _find_cell(sheets, quoted)
            if cell:
                sheet, row, column = cell.sheet, cell.row, column or cell.column
                break
    text = _PYXFORM_ROW.sub("", message).strip()
    return _problem("pyxform", sheet, row, column, None, text, severity=severity)


def _cycles(sheets: dict[str, list[dict[str, Cell]]]) -> list[list[tuple[str, Cell]]]:
    """Groups of survey fields whose relevant/calculation logic depends on itself: each field (in sheet
    order) with the cell of its reference that closes the loop (a -> ${b} -> ... -> ${a})."""
    depends: dict[str, dict[str, Cell]] = {}  # field -> referenced field -> the cell that references it
    for record in sheets.get("survey", []):
        if "name" in record:
            found = depends.setdefault(record["name"].value, {})
            for column in _DEPENDENCY_COLUMNS:
                for name in _REFERENCE.findall(_text(record, column)):
                    found.setdefault(name, record[column])
    reach: dict[str, set[str]] = {}
    for start in depends:
        seen: set[str] = set()
        stack = list(depends[start])
        while stack:
            name = stack.pop()
            if name not in seen:
                seen.add(name)
                stack.extend(depends.get(name, {}))
        reach[start] = seen
    groups: dict[frozenset[str], list[tuple[str, Cell]]] = {}
    for name, targets in depends.items():
        if name in reach[name]:
            members = frozenset(other for other in reach[name] if name in reach.get(other, ()))
            cell = next(cell for target, cell in targets.items() if target in members)
            groups.setdefault(members, []).append((name, cell))
    return [sorted(fields, key=lambda field: field[1].row) for fields in groups.values()]


def _cycle_problems(text: str, sheets: dict[str, list[dict[str, Cell]]]) -> list[Problem]:
    """ODK's 'Cycle detected' on the rows of the fields in the cycle (ODK's list of 'likely involved'
    nodes can name unrelated fields); on no row when retour finds no cycle itself."""
    named = set(_REFERENCE.findall(text))
    cycles = [fields for fields in _cycles(sheets) if not named or named & {name for name, _ in fields}]
    hint = "Break the loop: a field cannot depend, directly or through others, on itself."
    if not cycles:
        return [_problem("odk_validate", "survey", None, None, None, f"ODK Validate: {text}", hint)]
    problems = []
    for fields in cycles:
        loop = ", ".join(f"{name} (row {cell.row})" for name, cell in fields)
        message = f"ODK Validate: cycle in the relevant and calculation logic: {loop} depend on each other."
        problems += [_problem("odk_validate", "survey", cell.row, cell.column, name, message, hint)
                     for name, cell in fields]
    return problems


def _odk_problems(message: str, sheets: dict[str, list[dict[str, Cell]]]) -> list[Problem]:
    """ODK Validate's report, one problem per message, placed on the row of the field it is about
    (never on a field its expression merely mentions); a cycle on the rows of the fields in it."""
    body = message.split("The following files failed validation", 1)[0]
    lines = [line.strip() for line in body.splitlines()]
    lines = [
        line.lstrip(": ").strip()
        for line in lines
        if line and not line.startswith(("ODK Validate Errors", ">> XForm is invalid", "Result:"))
    ]
    if not lines:
        return [_problem("odk_validate", "survey", None, None, None, message.strip())]
    rows = _name_rows(sheets)
    text = _JAVA_NOISE.sub("", " ".join(lines))
    if "cycle detected" in text.lower():
        return _cycle_problems(text, sheets)
    subject = _ODK_SUBJECT.search(text)
    name = subject.group(1) if subject and subject.group(1) in rows else None
    column = next((target for word, target in _ODK_COLUMN_WORDS.items() if word in text.lower()), None)
    return [
        _problem(
            "odk_validate",
            "survey",
            rows[name] if name else None,
            column,
            name,
            f"ODK Validate: {text}",
            "Fix the expression; ODK Collect and Kobo would refuse the form.",
        )
    ]


def _convert(
    path: Path, sheets: dict[str, list[dict[str, Cell]]], validate: bool
) -> tuple[str | None, list[Problem]]:
    warnings: list[str] = []
    try:
        result = convert(xlsform=str(path), warnings=warnings, pretty_print=True)
    except PyXFormError as error:
        return None, [_pyxform_problem(str(error), sheets)]
    except Exception as error:  # pyxform raises plain exceptions for some malformed workbooks
        return None, [
            _problem("pyxform", "survey", None, None, None, f"pyxform could not convert it: {error}")
        ]
    problems = [_pyxform_problem(warning, sheets, Severity.WARNING) for warning in warnings]
    if validate:
        with tempfile.TemporaryDirectory() as folder:
            xform = Path(folder) / XFORM_FILE
            xform.write_text(result.xform, encoding="utf-8")
            try:
                odk_validate.check_xform(str(xform))
            except odk_validate.ODKValidateError as error:
                problems += _odk_problems(str(error), sheets)
            except OSError as error:
                raise SchemaError(
                    f"ODK Validate could not run: {error}", "Install Java 8 or later, or pass --no-validate."
                ) from None
    return result.xform, problems


def check_form(xlsform: Path, validate: bool = True) -> tuple[FormCheck, str | None]:
    """Check a questionnaire with all three passes; the XForm XML is returned when there is no error."""
    xlsform = Path(xlsform)
    sheets = _read_sheets(xlsform)
    problems = lint(sheets)
    xform: str | None = None
    if "survey" in sheets:
        xform, converted = _convert(xlsform, sheets, validate)
        located = {(problem.source, problem.row) for problem in problems if problem.row is not None}
        # pyxform stops at its first error, which retour has usually already reported on the same row
        problems += [
            problem
            for problem in converted
            if (problem.source, problem.row) not in located or problem.code == "odk_validate"
        ]
    check = FormCheck(xlsform=xlsform, problems=_ordered(problems))
    return check, (xform if check.ok else None)


def _ordered(problems: Iterable[Problem]) -> tuple[Problem, ...]:
    order = {"settings": 0, "survey": 1, "choices": 2}
    return tuple(
        sorted(
            problems,
            key=lambda p: (
                p.severity is not Severity.BLOCKING,
                order.get(p.source, 3),
                p.row or 0,
                p.column or "",
            ),
        )
    )


def build_form(target: Path, validate: bool = True) -> FormCheck:
    """Check a study's questionnaire (a study folder, or an .xlsx file) and write its XForm when valid.

    The XForm goes to `out/instrument.xml` of the study folder (for a file: `out/<name>.xml` beside it).
    """
    target = Path(target)
    if target.is_dir():
        xlsform, output = target / INSTRUMENT_FILE, target / "out" / XFORM_FILE
    else:
        xlsform, output = target, target.parent / "out" / f"{target.stem}.xml"
    check, xform = check_form(xlsform, validate=validate)
    if xform is None:
        return check
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(xform, encoding="utf-8")
    return FormCheck(xlsform=check.xlsform, problems=check.problems, xform_path=output)
