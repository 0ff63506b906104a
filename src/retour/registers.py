"""Read a study's register files (YAML and TOML) and turn validation problems into one SpecError.

Registers are the study's hand-written data: `communities.yaml`, `actors.yaml`, `value_chains.yaml`,
`recommendations.yaml`, `needs.toml`, `indicators.toml`. This module only reads files and reports
problems; what a register means is parsed and checked by the module that owns it (`actors`, `needs`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from retour.errors import SpecError
from retour.textfiles import read_text_file, read_toml_file

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader reads large registers 5x faster


def read_yaml(path: Path) -> Any:
    """Parsed content of a YAML file; a SpecError naming the file and line when it cannot be read."""
    text = read_text_file(path, "Register")
    try:
        return yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        reason = getattr(error, "problem", None) or str(error)
        raise SpecError(f"{path}: not valid YAML{where}: {reason}.",
                        "Check indentation and quoting around that line.") from None


def read_toml(path: Path) -> dict[str, Any]:
    """Parsed content of a TOML file; a SpecError naming the file when it cannot be read."""
    return read_toml_file(path, "File")


def entries(raw: Any, key: str) -> list[Any]:
    """The list of entries of a register: `raw[key]` when `raw` is a mapping, or `raw` itself if a list."""
    if raw is None:
        return []
    if isinstance(raw, Mapping):
        found = raw.get(key, [])
        return list(found) if isinstance(found, list) else [found]
    if isinstance(raw, list):
        return list(raw)
    return [raw]


def community_ids(raw: Any) -> tuple[str, ...]:
    """Community ids of a parsed `communities.yaml` (a list of entries with `id`, under `communities`)."""
    found = []
    for entry in entries(raw, "communities"):
        if isinstance(entry, Mapping) and isinstance(entry.get("id"), str):
            found.append(entry["id"])
    return tuple(found)


def catalogue_indicators(raw: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Indicator definitions of a parsed `indicators.toml`, keyed by id.

    Accepts the catalogue as an array of tables (`[[indicators]]` or `[[indicator]]`, each with `id`)
    or as tables keyed by id (`[indicators.paid_job_or_iga]`).
    """
    result: dict[str, dict[str, Any]] = {}
    for key in ("indicators", "indicator"):
        block = raw.get(key)
        if isinstance(block, list):
            for entry in block:
                if isinstance(entry, Mapping) and isinstance(entry.get("id"), str):
                    result[entry["id"]] = dict(entry)
        elif isinstance(block, Mapping):
            for indicator_id, entry in block.items():
                if isinstance(entry, Mapping):
                    result[str(indicator_id)] = {"id": str(indicator_id), **dict(entry)}
    return result


@dataclass(frozen=True)
class SpecProblem:
    """One problem in a register file: which file, which entry (id or 1-based position), field, value."""

    source: str
    entry: str | None
    field: str | None
    value: str | None
    message: str
    hint: str = ""

    def describe(self) -> str:
        """One line: file, entry, field, value, what is wrong, and how to fix it."""
        parts = [self.source]
        if self.entry:
            parts.append(f"entry '{self.entry}'")
        if self.field:
            parts.append(f"field '{self.field}'")
        if self.value is not None:
            parts.append(f"value '{self.value}'")
        line = ", ".join(parts) + f": {self.message}"
        return f"{line} Hint: {self.hint}" if self.hint else line

    def as_record(self) -> dict[str, str | None]:
        """Flat record with stable keys, for tables, CSV and JSON."""
        return {"source": self.source, "entry": self.entry, "field": self.field, "value": self.value,
                "message": self.message, "hint": self.hint}


def problem(source: str, entry: str | int | None, field: str | None, value: Any, message: str,
            hint: str = "") -> SpecProblem:
    """A register problem; `entry` is the entry's id, or its 1-based position when it has no id."""
    label = None if entry is None or entry == "" else (f"#{entry}" if isinstance(entry, int) else str(entry))
    shown = None if value is None else (value if isinstance(value, str) else repr(value))
    return SpecProblem(source=source, entry=label, field=field, value=shown, message=message, hint=hint)


def raise_problems(problems: Iterable[SpecProblem], what: str) -> None:
    """Raise one SpecError listing every problem (none: return). `error.problems` keeps the records."""
    found = list(problems)
    if not found:
        return
    lines = "\n".join(f"  - {item.describe()}" for item in found)
    count = f"{len(found)} problem{'s' if len(found) != 1 else ''}"
    error = SpecError(f"{what}: {count}:\n{lines}",
                      "Fix each entry listed above, then run the command again.")
    error.problems = tuple(found)  # type: ignore[attr-defined]
    raise error


def text_field(entry: Mapping[str, Any], field: str, source: str, label: str | int,
               problems: list[SpecProblem], required: bool = True) -> str:
    """A string field of an entry; records a problem when it is missing (if required) or not text."""
    value = entry.get(field)
    if value is None or value == "":
        if required:
            problems.append(problem(source, label, field, None, "is required and missing.",
                                    f"Add `{field}: ...` to this entry."))
        return ""
    if not isinstance(value, str):
        problems.append(problem(source, label, field, value, "must be text."))
        return str(value)
    return value.strip()


def list_field(entry: Mapping[str, Any], field: str, source: str, label: str | int,
               problems: list[SpecProblem]) -> tuple[str, ...]:
    """A list-of-text field (a single text is read as a one-item list); records a problem otherwise."""
    value = entry.get(field)
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problems.append(problem(source, label, field, value, "must be a list of text values."))
        return ()
    return tuple(value)
