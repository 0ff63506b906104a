"""Check every settings file of a study and every cross-reference between them, listing all problems.

`check_study` reads each file of a study folder (retour.toml, the questionnaire, the indicator
catalogue, the index and needs specs, the registers and the score weights) through the loaders the
stages use, and turns each problem they report into a `StudyProblem`: the file, the line (found by
searching the key or entry in the file's text), the field, what is wrong and how to fix it. It never
stops at the first problem nor at the first file. `check_files` runs the checks of some files only, for
the stages to call before doing any work (issue 16). This module computes nothing about the data.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from retour.config import CONFIG_FILES, SETTINGS_FILE, Settings
from retour.errors import ConfigError, RetourError
from retour.textfiles import FROM_EXAMPLE

_SETTINGS_HINT = "See docs/settings.md for every setting."


@dataclass(frozen=True)
class StudyProblem:
    """One problem in one settings file of a study: where it is (file, line, field), what and the fix."""

    file: str
    line: int | None
    field: str
    message: str
    hint: str = ""

    def describe(self) -> str:
        """One line: `file:line: field: message Hint: ...`."""
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        return f"{text} Hint: {self.hint}" if self.hint else text

    def as_record(self) -> dict[str, object]:
        """Flat record with stable keys, for tables, CSV and JSON."""
        return {"file": self.file, "line": self.line, "field": self.field, "message": self.message,
                "hint": self.hint}


# --- finding lines ---------------------------------------------------------------------------------


class _Lines:
    """The lines of a settings file, to find where a key, table or entry is written (1-based)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def _first(self, pattern: str, start: int = 0) -> int | None:
        compiled = re.compile(pattern)
        for number in range(max(start, 0), len(self.lines)):
            if compiled.search(self.lines[number]):
                return number + 1
        return None

    def key(self, name: str, start: int = 0) -> int | None:
        """First line after line `start` (1-based; 0: the top) that sets `name` (TOML or YAML); after a
        TOML table header, only up to the next one."""
        quoted = re.escape(name)
        pattern = re.compile(rf"^\s*(-\s+)?[\"']?{quoted}[\"']?\s*[=:]|[{{,]\s*{quoted}\s*[=:]")
        item = re.match(r"^(\s*)- ", self.lines[start - 1]) if 0 < start <= len(self.lines) else None
        for number in range(max(start, 0), len(self.lines)):
            line = self.lines[number]
            if start and (line.lstrip().startswith("[") or (item and line.startswith(item.group(0)))):
                return None  # the next TOML table, or the next YAML list item
            if pattern.search(self.lines[number]):
                return number + 1
        return None

    def table(self, name: str, number: int | None = None) -> int | None:
        """Line of the `[name]` table, or of the `number`-th (1-based) `[[name]]` table."""
        if number is None:
            return self._first(rf"^\s*\[{re.escape(name)}\]\s*(#.*)?$")
        found = 0
        for position, line in enumerate(self.lines):
            if re.match(rf"^\s*\[\[{re.escape(name)}\]\]", line):
                found += 1
                if found == number:
                    return position + 1
        return None

    def entry(self, entry_id: str) -> int | None:
        """Line of the entry whose `id` is `entry_id` (TOML `id = "x"` or YAML `- id: x`)."""
        return self._first(rf"^\s*(-\s+)?id\s*[=:]\s*[\"']?{re.escape(entry_id)}[\"']?\s*(#.*)?$")

    def text(self, value: str) -> int | None:
        """First line containing `value`."""
        return self._first(re.escape(value)) if value else None

    def path(self, parts: Iterable[str | int]) -> int | None:
        """Line of a location such as `indicators[3].formula` (arrays counted from 1) or pydantic's
        `("rounds", 1, "name")` (from 0): tables and arrays of tables by their headers, then the key."""
        tokens: list[str | int] = []
        for part in parts:
            if isinstance(part, int):
                tokens.append(part + 1)
            else:
                tokens += [int(t) if t.isdigit() else t for t in re.findall(r"[^.\[\]]+", part)]
        line, prefix, found = 0, "", None
        for position, token in enumerate(tokens):
            if isinstance(token, int):
                at = self.table(prefix, token) if prefix else None
            else:
                prefix = f"{prefix}.{token}" if prefix else token
                following = tokens[position + 1] if position + 1 < len(tokens) else None
                at = None if isinstance(following, int) else self.table(prefix)
                at = at or self.key(token, line)
            if at is not None:
                line, found = at, at
        return found


# --- the study being checked ------------------------------------------------------------------------


def _problem_line(message: str) -> int | None:
    """The line number a parser's message gives (`line 12`, `at line 12`), if any."""
    match = re.search(r"\bline (\d+)", message)
    return int(match.group(1)) if match else None


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"Did you mean '{close[0]}'? " if close else ""


class _Study:
    """A study folder read once for all checks; each part is None when its file cannot be read."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.problems: list[StudyProblem] = []
        self._lines: dict[str, _Lines] = {}

    def add(self, file: str, line: int | None, field: str, message: str, hint: str = "") -> None:
        self.problems.append(StudyProblem(file, line, field, message.strip(), hint.strip()))

    def reported(self, file: str, *fields: str) -> bool:
        """Whether a problem of one of `fields` in `file` is listed already (by a check that knows it
        better)."""
        return any(problem.file == file and problem.field in fields for problem in self.problems)

    def text(self, name: str) -> str:
        try:
            return (self.root / name).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            return ""

    def lines(self, name: str) -> _Lines:
        if name not in self._lines:
            self._lines[name] = _Lines(self.text(name))
        return self._lines[name]

    def read(self, name: str, reader: Callable[[Path], Any]) -> Any:
        """The parsed file, or None with its problem recorded (unreadable, not valid TOML or YAML)."""
        try:
            return reader(self.root / name)
        except RetourError as error:
            message = error.message.replace(f"{self.root / name}: ", "").replace(str(self.root / name), name)
            hint = error.hint or ("Check the quoting and brackets on that line." if "line" in message else
                                  FROM_EXAMPLE if message.endswith("not found.") else "")
            self.add(name, _problem_line(message), "", message, hint)
            return None

    @cached_property
    def raw_settings(self) -> dict[str, Any]:
        from retour.textfiles import read_toml_file

        return self.read(SETTINGS_FILE, lambda path: read_toml_file(path, "Settings file", ConfigError)) or {}

    @cached_property
    def settings(self) -> Settings | None:
        try:
            return Settings.model_validate(self.raw_settings)
        except ValidationError:
            return None

    def section(self, name: str) -> Any:
        """One section of retour.toml, validated on its own (its defaults when absent, None when invalid
        or unreadable), so that the other files are still checked against the sections that are right."""
        if self.settings is not None:
            return getattr(self.settings, name)
        field = Settings.model_fields[name]
        if not self.raw_settings:
            return None  # unreadable: nothing is known of it
        if name not in self.raw_settings:
            return None if field.is_required() else field.get_default(call_default_factory=True)
        try:
            return TypeAdapter(field.annotation).validate_python(self.raw_settings[name])
        except ValidationError:  # its problems are listed by the retour.toml check
            return None

    @property
    def languages(self) -> tuple[str, ...]:
        """The study's languages (none when retour.toml cannot tell them)."""
        study = self.section("study")
        return tuple(study.languages) if study is not None else ()

    @property
    def weights_file(self) -> str:
        scoring = self.section("scoring")
        return scoring.weights_file if scoring is not None else "score_weights.toml"

    @property
    def round_names(self) -> list[str] | None:
        rounds = self.section("rounds")
        return [r.name for r in rounds] if rounds else None

    @cached_property
    def instrument(self) -> Any:
        from retour.schema import load_instrument

        return self.read("instrument.xlsx", load_instrument)

    @cached_property
    def catalogue_raw(self) -> dict[str, Any] | None:
        from retour.registers import read_toml

        return self.read("indicators.toml", read_toml)

    @cached_property
    def catalogue(self) -> Any:
        """The catalogue checked against the questionnaire, with its problems (None: unreadable)."""
        from retour.indicators import check_catalogue

        if self.catalogue_raw is None or self.instrument is None:
            return None
        return check_catalogue(self.catalogue_raw, self.instrument, "indicators.toml")

    @property
    def indicator_ids(self) -> set[str] | None:
        if self.catalogue is not None:
            return set(self.catalogue[0].ids)
        if self.catalogue_raw is not None:
            from retour.registers import catalogue_indicators

            return set(catalogue_indicators(self.catalogue_raw))
        return None

    @cached_property
    def community_ids(self) -> tuple[str, ...]:
        """Ids of communities.yaml, else the choices of the questionnaire's community field."""
        from retour.registers import community_ids, read_yaml

        if (self.root / "communities.yaml").exists():
            try:
                found = community_ids(read_yaml(self.root / "communities.yaml"))
            except RetourError:
                found = ()
            if found:
                return found
        return tuple(choice.name for choice in self.community_choices or ())

    @property
    def community_choices(self) -> tuple[Any, ...] | None:
        """The choices of the questionnaire's community field (None: not a select_one question)."""
        design = self.section("design")
        name = design.community if design is not None else ""
        if not name or self.instrument is None or not self.instrument.has(name):
            return None
        question = self.instrument.question(name)
        return question.choices if question.type == "select_one" else None

    @cached_property
    def issue_ids(self) -> tuple[str, ...]:
        from retour.registers import read_toml

        try:
            raw = read_toml(self.root / "needs.toml")
        except RetourError:
            return ()
        issues = raw.get("issues", [])
        if not isinstance(issues, list):
            return ()
        return tuple(i["id"] for i in issues if isinstance(i, Mapping) and isinstance(i.get("id"), str))


# --- one check per file ----------------------------------------------------------------------------


def _check_settings(study: _Study) -> None:
    raw = study.raw_settings
    if not raw:
        return
    lines = study.lines(SETTINGS_FILE)
    try:
        Settings.model_validate(raw)
    except ValidationError as error:
        for item in error.errors():
            location = [part for part in item["loc"] if part != "__root__"]
            field = "".join(f"[{part + 1}]" if isinstance(part, int) else f".{part}"
                            for part in location)[1:]
            message = str(item["msg"]).removeprefix("Value error, ")
            line = lines.path(location) if location else None
            if not location:  # a check across settings: its message names them
                named = re.search(r"\b([a-z_]+\.[a-z_]+)\b", message)
                field = named.group(1) if named else ""
                line = lines.path(field.split(".")) if named else None
            elif len(location) == 1 and str(location[0]) in Settings.model_fields:  # a check of a section
                model = Settings.model_fields[str(location[0])].annotation
                known = getattr(model, "model_fields", {})
                named = [key for key in known if re.search(rf"\b{key}\b", message)]
                if named:
                    field, line = f"{location[0]}.{named[0]}", lines.path([str(location[0]), named[0]])
            hint = _SETTINGS_HINT
            if item["type"] == "extra_forbidden" and len(location) > 1:
                message = f"is not a setting of [{location[0]}]"
                model = Settings.model_fields[str(location[0])].annotation
                known = list(getattr(model, "model_fields", {}))
                hint = (f"{_did_you_mean(str(location[-1]), known)}Settings of [{location[0]}]: "
                        f"{', '.join(known)}.")
            study.add(SETTINGS_FILE, line, field, message.rstrip(".") + ".", hint)
    _check_design(study, lines)
    _check_population(study, lines)
    _check_scoring(study, lines)


_DESIGN_TYPES = {
    "community": ("select_one", "text"),
    "weight": ("decimal", "integer", "calculate"),
}
_DESIGN_WHAT = {"community": "community id", "stratum": "stratum", "psu": "primary sampling unit (cluster)",
                "weight": "sampling weight", "fpc": "finite population correction"}


def _check_field(study: _Study, lines: _Lines, section: str, key: str, name: str, what: str,
                 types: tuple[str, ...] = (), optional: bool = True) -> None:
    """A setting naming a questionnaire field: the field exists, with one of `types` when given."""
    instrument = study.instrument
    if instrument is None or not name:
        return
    line = lines.key(key, lines.table(section) or 0) if lines.table(section) else None
    setting = f"{section}.{key}"
    if not instrument.has(name):
        empty = " or leave it empty (\"\")" if optional else ""
        study.add(SETTINGS_FILE, line, setting, f"the questionnaire has no field '{name}'.",
                  f"{_did_you_mean(name, instrument.names)}Set {setting} to the questionnaire field holding "
                  f"the {what}{empty}.")
        return
    question = instrument.question(name)
    if types and question.type not in types:
        study.add(SETTINGS_FILE, line, setting,
                  f"field '{name}' is a {question.type} question; the {what} must be {' or '.join(types)}.",
                  f"Set {setting} to a {' or '.join(types)} field of the questionnaire.")


def _check_design(study: _Study, lines: _Lines) -> None:
    design = study.section("design")
    if design is None:
        return
    if not design.community:
        study.add(SETTINGS_FILE, lines.key("community", lines.table("design") or 0), "design.community",
                  "is empty; every study needs its community field.",
                  "Set design.community to the questionnaire field holding the community id.")
    for key in ("community", "stratum", "psu", "weight", "fpc"):
        _check_field(study, lines, "design", key, getattr(design, key), _DESIGN_WHAT[key],
                     _DESIGN_TYPES.get(key, ()), optional=key in ("stratum", "fpc"))


def _check_population(study: _Study, lines: _Lines) -> None:
    from retour.expressions import referenced_choices, referenced_fields

    population = study.section("population")
    rule = population.returnee_rule if population is not None else ""
    if not rule or study.instrument is None:
        return
    line = lines.key("returnee_rule", lines.table("population") or 0)
    field = "population.returnee_rule"
    try:
        fields, choices = referenced_fields(rule), referenced_choices(rule)
    except RetourError as error:
        study.add(SETTINGS_FILE, line, field, f"cannot be read: {error.message}",
                  "Write an XLSForm condition, e.g. ${lived_abroad} = 'yes'.")
        return
    instrument = study.instrument
    for name in sorted(fields - set(instrument.names)):
        study.add(SETTINGS_FILE, line, field,
                  f"names '${{{name}}}', which is not a field of the questionnaire.",
                  f"{_did_you_mean(name, instrument.names)}Name a field of instrument.xlsx.")
    for name, choice in choices:
        if instrument.has(name) and instrument.question(name).choices \
                and choice not in instrument.question(name).choice_names:
            known = instrument.question(name).choice_names
            study.add(SETTINGS_FILE, line, field, f"tests '{choice}', which is not a choice of '{name}'.",
                      f"{_did_you_mean(choice, known)}Choices of '{name}': {', '.join(known)}.")


def _check_scoring(study: _Study, lines: _Lines) -> None:
    scoring = study.section("scoring")
    if scoring is None:
        return
    _check_field(study, lines, "scoring", "interview_date_field", scoring.interview_date_field,
                 "interview date")
    _check_field(study, lines, "scoring", "consent_field", scoring.consent_field, "consent answer")


def _check_catalogue(study: _Study) -> None:
    if study.catalogue is None:
        return
    lines = study.lines("indicators.toml")
    for item in study.catalogue[1]:
        where = item.column or ""
        location = [part.split(" (")[0] for part in where.split(".")]
        line = lines.path(location) if where else None
        field = where.split(" (")[0] + ("." + where.split(").", 1)[1] if ")." in where else "")
        study.add("indicators.toml", line, field, item.message, item.hint)


def _sound_indicators(study: _Study) -> list[Any]:
    """The catalogue's indicators without a problem of their own (theirs are listed once, under
    indicators.toml, not again as problems of the files that use them)."""
    catalogue, problems = study.catalogue
    raw = study.catalogue_raw.get("indicators", []) if study.catalogue_raw else []
    broken = set()
    for item in problems:
        match = re.match(r"indicators\[(\d+)\]", item.column or "")
        if match and int(match.group(1)) <= len(raw) and isinstance(raw[int(match.group(1)) - 1], Mapping):
            broken.add(raw[int(match.group(1)) - 1].get("id"))
    return [indicator for indicator in catalogue.indicators if indicator.id not in broken]


def _check_index(study: _Study) -> None:
    from retour.index import IndexSpec
    from retour.registers import read_toml

    raw = study.read("index.toml", read_toml)
    if raw is None or study.catalogue is None:
        return
    lines = study.lines("index.toml")
    try:
        reference_round = getattr(study.section("index"), "reference_round", "baseline")
        IndexSpec.from_toml(raw, _sound_indicators(study), reference_round=reference_round)
    except RetourError as error:
        message = error.message.removeprefix("index.toml: ")
        parts = message.removeprefix("Index spec invalid: ").rstrip(".").split("; ") \
            if message.startswith("Index spec invalid: ") else [message.rstrip(".")]
        for part in parts:
            named = [key for key in raw if re.search(rf"\b{re.escape(key)}\b", part)]
            study.add("index.toml", lines.path([named[0]]) if named else None, named[0] if named else "",
                      part + ".", error.hint or "")


def _register_problems(study: _Study, error: RetourError, default_file: str) -> None:
    """The SpecProblem records of a register loader's error, each placed at its entry's line."""
    records = getattr(error, "problems", None)
    if not records:
        study.add(default_file, _problem_line(error.message), "", error.message, error.hint or "")
        return
    for record in records:
        file = Path(record.source).name or default_file
        lines = study.lines(file)
        entry = (record.entry or "").split(" rule ")[0]
        start = None
        numbered = re.fullmatch(r"(?:(\w+) )?#(\d+)", entry)
        if numbered:  # an entry without id, by its position: `#3` (an issue) or `assessed #3`
            start = lines.table(numbered.group(1) or "issues", int(numbered.group(2)))
        elif entry:
            start = lines.entry(entry)
        line = (lines.key(record.field.split(".")[0], start or 0) if record.field else None) or start
        if record.value and record.field and line is None:
            line = lines.text(record.value)
        where = ".".join(part for part in (record.entry, record.field) if part)
        shown = f" ('{record.value}')" if record.value is not None else ""
        study.add(file, line, where, f"{record.message}{shown}" if not shown else
                  f"{record.message.rstrip('.')}{shown}.", record.hint)


def _check_needs(study: _Study) -> None:
    from retour.needs import parse_spec
    from retour.registers import read_toml

    raw = study.read("needs.toml", read_toml)
    if raw is None:
        return
    try:
        parse_spec(raw, source="needs.toml", indicator_ids=study.indicator_ids,
                   community_ids=study.community_ids or None, round_names=study.round_names)
    except RetourError as error:
        _register_problems(study, error, "needs.toml")


def _check_communities(study: _Study) -> None:
    from retour.registers import read_yaml
    from retour.report.narrative import parse_communities

    raw = study.read("communities.yaml", read_yaml)
    if raw is None:
        return
    places = study.section("places")
    if places is not None:
        levels = [level.id for level in places.admin_levels]
    else:  # the levels are unknown: any extra field of an entry may be one
        from retour.registers import entries
        from retour.report.narrative import ENTRY_FIELDS

        levels = sorted({str(key) for entry in entries(raw, "communities") if isinstance(entry, Mapping)
                         for key in entry} - set(ENTRY_FIELDS))
    try:
        communities = parse_communities(raw, source="communities.yaml", levels=levels)
    except RetourError as error:
        _register_problems(study, error, "communities.yaml")
        return
    choices = study.community_choices
    if choices is None:
        return
    lines = study.lines("communities.yaml")
    names = [choice.name for choice in choices]
    field = study.section("design").community
    for community in communities:
        if community.id not in names:
            study.add("communities.yaml", lines.entry(community.id), f"{community.id}.id",
                      f"'{community.id}' is not a choice of the questionnaire's community field '{field}'.",
                      f"{_did_you_mean(community.id, names)}Use the choice names of '{field}': "
                      f"{', '.join(names)}.")
    registered = {community.id for community in communities}
    for name in names:
        if name not in registered:
            study.add("communities.yaml", None, "communities",
                      f"the questionnaire's community '{name}' has no entry.",
                      f"Add an entry with `id: {name}` under `communities:`.")


def _check_registers(study: _Study) -> None:
    from retour.actors import load_register

    try:
        load_register(study.root, study.community_ids, study.issue_ids)
    except RetourError as error:
        _register_problems(study, error, "actors.yaml")


def _check_score_weights(study: _Study) -> None:
    from retour.indicators import check_catalogue
    from retour.registers import read_toml
    from retour.score_spec import check_score_spec

    name = study.weights_file
    raw = study.read(name, read_toml)
    if raw is None or study.catalogue_raw is None or study.instrument is None:
        return
    catalogue = check_catalogue(study.catalogue_raw, study.instrument)[0]
    lines = study.lines(name)
    for item in check_score_spec(raw, catalogue, "", name)[1]:
        where = item.column or ""
        study.add(name, lines.path(where.split(".")) if where else None, where, item.message, item.hint)


def _check_instrument(study: _Study) -> None:
    _ = study.instrument  # read once: its problem is recorded


# --- languages ---------------------------------------------------------------------------------------


def _language_problems(study: _Study, name: str, raw: Any) -> None:
    """Every `{language: text}` map and `<field>_<language>` family names each of the study's languages."""
    languages = study.languages
    lines = study.lines(name)
    yaml = name.endswith(".yaml")

    def where(path: str) -> int | None:
        """The line of `path`: a register entry by its id, then its keys; a TOML location by its tables."""
        if not yaml:
            return lines.path([path])
        line, found = 0, None
        for position, part in enumerate(re.findall(r"[^.\[\]]+", path)):
            at = (lines.entry(part) if position == 0 else None) or lines.key(part, line)
            if at is not None:
                line, found = at, at
        return found

    def walk(node: Any, path: str) -> None:
        if isinstance(node, list):
            for position, item in enumerate(node, start=1):
                # register entries are named by their id, as the registers' own checks name them
                named = yaml and isinstance(item, Mapping) and isinstance(item.get("id"), str)
                walk(item, item["id"] if named else f"{path}[{position}]")
            return
        if not isinstance(node, Mapping):
            return
        keys = [str(key) for key in node]
        if keys and all(re.fullmatch(r"[a-z]{2}", key) for key in keys) and set(keys) & set(languages):
            missing = [language for language in languages if language not in keys]
            if missing and not study.reported(name, path):
                example = f"{missing[0]}: ..." if yaml else f'{missing[0]} = "..."'
                study.add(name, where(path), path, f"has no text in {', '.join(missing)} (the study's "
                          f"languages are {', '.join(languages)}).", f"Add {example} to it.")
            return
        families: dict[str, set[str]] = {}
        for key in keys:
            base, _, suffix = key.rpartition("_")
            if base and suffix in languages and isinstance(node[key], str):
                families.setdefault(base, set()).add(suffix)
        for base, present in sorted(families.items()):
            missing = [language for language in languages if language not in present]
            if missing:
                first = f"{base}_{sorted(present)[0]}"
                field = f"{path}.{base}_{missing[0]}".lstrip(".")
                by_id = f"{node['id']}.{base}_{missing[0]}" if isinstance(node.get("id"), str) else field
                if study.reported(name, field, by_id):
                    continue
                study.add(name, where(f"{path}.{first}".lstrip(".")), field,
                          f"has no {', '.join(f'{base}_{m}' for m in missing)} (the study's languages are "
                          f"{', '.join(languages)}).", f"Add {base}_{missing[0]} next to {first}.")
        for key in keys:
            walk(node[key], f"{path}.{key}".lstrip("."))

    walk(raw, "")


def _check_languages(study: _Study, names: Iterable[str]) -> None:
    from retour.registers import read_toml, read_yaml

    for name in names:
        if name == "instrument.xlsx" or not (study.root / name).is_file():
            continue
        reader = read_yaml if name.endswith(".yaml") else read_toml
        try:
            raw = reader(study.root / name)
        except RetourError:
            continue  # its reading problem is listed by the file's own check
        _language_problems(study, name, raw)


# --- entry points --------------------------------------------------------------------------------------

_CHECKS: dict[str, Callable[[_Study], None]] = {
    "retour.toml": _check_settings,
    "instrument.xlsx": _check_instrument,
    "indicators.toml": _check_catalogue,
    "index.toml": _check_index,
    "needs.toml": _check_needs,
    "communities.yaml": _check_communities,
    "actors.yaml": _check_registers,
    "score_weights.toml": _check_score_weights,
}
_OPTIONAL = ("communities.yaml", "actors.yaml", "value_chains.yaml", "recommendations.yaml",
             "score_weights.toml")
_CHECKED_WITH = {"value_chains.yaml": "actors.yaml", "recommendations.yaml": "actors.yaml"}


def _present(study: _Study, names: Iterable[str]) -> list[tuple[str, str]]:
    """(name in CONFIG_FILES, file name in the folder) of the files to check: each required file, and
    each optional one that exists (the score weights are the file `scoring.weights_file` names)."""
    found = []
    for name in dict.fromkeys(names):
        file = study.weights_file if name == "score_weights.toml" else name
        if name not in _OPTIONAL or (study.root / file).is_file():
            found.append((name, file))
    return found


def _run(root: Path, names: Iterable[str]) -> tuple[list[StudyProblem], tuple[str, ...]]:
    study = _Study(root)
    _ = study.raw_settings  # every check reads the settings: an unreadable retour.toml is always listed
    present = _present(study, names)
    done: set[str] = set()
    for name, _file in present:
        checked = _CHECKED_WITH.get(name, name)
        if checked in _CHECKS and checked not in done:
            done.add(checked)
            _CHECKS[checked](study)
    _check_languages(study, [file for _name, file in present])
    return list(dict.fromkeys(study.problems)), tuple(file for _name, file in present)


def check_study(project_root: Path | str) -> list[StudyProblem]:
    """Every problem of every settings file of the study folder and of their cross-references."""
    root = Path(project_root)
    if not root.is_dir():
        raise ConfigError(f"Study folder {root} does not exist.", "Create one with: retour init DIR")
    return _run(root, CONFIG_FILES)[0]


def checked_files(project_root: Path | str) -> tuple[str, ...]:
    """The settings files `check_study` reads in the folder: the required ones and the optional that exist."""
    root = Path(project_root)
    return tuple(file for _name, file in _present(_Study(root), CONFIG_FILES))


def stage_files(stage: str) -> tuple[str, ...]:
    """The settings files a stage reads (`STAGE_INPUTS` of retour.study: what its results depend on)."""
    from retour.study import STAGE_INPUTS

    return STAGE_INPUTS[stage]


_CACHE: set[str] = set()  # hashes of sets of files checked clean in this process


def _files_hash(root: Path, names: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for name in (*names, "score_weights.toml"):
        file = root / name
        digest.update(name.encode())
        digest.update(file.read_bytes() if file.is_file() else b"-")
    return digest.hexdigest()


def check_files(project: Any, names: Iterable[str]) -> None:
    """Check the settings files `names` of a study (and their cross-references) before a stage uses
    them; a ConfigError lists every problem. Files checked clean are not checked again while their
    content stays the same."""
    root = Path(project.root)
    wanted = tuple(sorted(set(names)))
    stamp = _files_hash(root, wanted)
    if stamp in _CACHE:
        return
    problems = _run(root, wanted)[0]
    if len(problems) == 1:  # one problem is one line, as every other error
        only = problems[0]
        where = f"{only.file}:{only.line}" if only.line else only.file
        field = f"{only.field}: " if only.field else ""
        raise ConfigError(f"{root / where}: {field}{only.message}", only.hint)
    if problems:
        listed = "\n".join(f"  - {problem.describe()}" for problem in problems)
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        raise ConfigError(f"The study's settings files have {count}:\n{listed}",
                          f"Fix each one, then run the command again (`retour check {root}` lists them).")
    _CACHE.add(stamp)


def check_stage(project: Any, stage: str) -> None:
    """`check_files` over the files the stage reads (`stage_files`)."""
    check_files(project, stage_files(stage))
