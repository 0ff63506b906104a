"""Write the starting files of a new study: a blank commented study, or one drafted from a questionnaire.

The commented text of every file is a template under `retour/templates/study/`; this module only fills
in what a study decides (its id, languages, design fields, candidate indicators, communities) and
writes the files with `retour init`'s rules for a folder that is not empty. From a questionnaire,
design fields are guessed from field names and types, and each guess says so in a comment; nothing
is guessed about what an indicator means (its pillar and direction are left to the analyst).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from retour.config import DesignSettings, load_project
from retour.schema import Instrument, Question, load_instrument
from retour.study import INSTRUMENT_FILE, NewStudy, check_target

TEMPLATE_FILES = ("retour.toml", "indicators.toml", "index.toml", "needs.toml", "communities.yaml",
                  "actors.yaml")
CATALOGUE_LANGUAGES = ("fr", "en")  # the catalogue's label keys (label_fr, label_en)

# Words a design field's name is made of, per setting (name split on `_`, `-` and `.`); `stratum`
# matches any word starting with `strat`. The first question that matches, in form order, is taken.
DESIGN_WORDS: dict[str, tuple[str, ...]] = {
    "community": ("community", "commune", "communaute", "village", "localite", "locality"),
    "psu": ("cluster", "grappe", "psu", "ea", "zd"),
    "weight": ("weight", "poids", "wt"),
    "case_id": ("case", "code", "id"),
    "beneficiary": ("beneficiary", "beneficiaire"),
}
DESIGN_TYPES: dict[str, tuple[str, ...]] = {
    "community": ("select_one",),
    "psu": ("text", "integer", "select_one", "calculate"),
    "weight": ("decimal", "calculate"),
    "stratum": ("text", "integer", "select_one", "calculate"),
    "case_id": ("text", "integer", "calculate"),
    "beneficiary": ("select_one",),
}
_YES = ("yes", "oui", "y", "1", "true")
_NO = ("no", "non", "n", "0", "false")


@dataclass(frozen=True)
class DesignGuess:
    """The value `retour init --from-form` writes for one [design] setting, and why."""

    setting: str
    value: str
    question: Question | None  # the field the value was guessed from; None: nothing matched

    @property
    def comment(self) -> str:
        if self.question is None:
            return "set me: no field of the questionnaire looks like it"
        return f"guessed from {self.question.name} ({self.question.type})"


def _words(name: str) -> tuple[str, ...]:
    return tuple(word for word in re.split(r"[_\-.]+", name.lower()) if word)


def _matches(setting: str, question: Question) -> bool:
    if question.type not in DESIGN_TYPES[setting]:
        return False
    if setting == "stratum":
        return any(word.startswith("strat") for word in _words(question.name))
    return bool(set(_words(question.name)) & set(DESIGN_WORDS[setting]))


def guess_design(instrument: Instrument) -> tuple[DesignGuess, ...]:
    """A guess for each [design] setting but `fpc` (never guessed): the first question whose name and
    type fit (DESIGN_WORDS, DESIGN_TYPES), a question used by no other setting."""
    taken: set[str] = set()
    guesses = []
    for setting in ("community", "weight", "psu", "stratum", "case_id", "beneficiary"):
        found = next((question for question in instrument.questions
                      if question.name not in taken and _matches(setting, question)), None)
        if found is not None:
            taken.add(found.name)
        guesses.append(DesignGuess(setting, found.name if found else "", found))
    return tuple(guesses)


def _design_lines(guesses: Iterable[DesignGuess] | None) -> str:
    """The [design] table's lines: guessed values with their reason, else the defaults with their help."""
    fields = DesignSettings.model_fields
    if guesses is None:
        return "\n".join(f"{name} = {json.dumps(field.default)}  # {field.description}"
                         for name, field in fields.items())
    lines = [f"{guess.setting} = {json.dumps(guess.value)}  # {guess.comment}" for guess in guesses]
    lines.append(f'fpc = ""  # {fields["fpc"].description}')
    return "\n".join(lines)


def _study_id(target: Path) -> str:
    """A valid study id from the folder's name (lower case, letters, digits, `-` and `_`)."""
    cleaned = re.sub(r"[^a-z0-9_-]+", "-", target.resolve().name.lower()).strip("-_")
    return cleaned or "study"


def _template(name: str) -> str:
    return (resources.files("retour") / "templates" / "study" / name).read_text(encoding="utf-8")


def _fill(text: str, values: Mapping[str, str]) -> str:
    """Replace each `{{key}}` of a template (`$` and `{...}` are left alone: formulas use them)."""
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def _label(labels: Mapping[str, str], language: str, fallback: str) -> str:
    """A form label in `language`, else in the form's default or first language, else `fallback`."""
    return labels.get(language) or labels.get("default") or next(iter(labels.values()), "") or fallback


def _toml_text(text: str) -> str:
    return json.dumps(" ".join(text.split()), ensure_ascii=False)


def _yes_choice(question: Question) -> str | None:
    """The choice meaning yes when a select_one's list is a yes/no list (two choices); else None."""
    names = [choice.name for choice in question.choices]
    if question.type != "select_one" or len(names) != 2:
        return None
    yes = [name for name in names if name.lower() in _YES]
    no = [name for name in names if name.lower() in _NO]
    return yes[0] if yes and no else None


_CHOOSE_PILLAR = 'pillar = "none"  # choose: economic, social, psychosocial or none'


def _candidate(question: Question) -> list[str] | None:
    """The commented-out catalogue entry proposed for one question, or None when none fits it."""
    name = question.name
    label = {language: _label(question.labels, language, name) for language in CATALOGUE_LANGUAGES}
    labels = [f"label_{language} = {_toml_text(text)}" for language, text in label.items()]
    head = f"Question {name} ({question.type}{' ' + question.list_name if question.list_name else ''}):"
    yes = _yes_choice(question)
    if yes is not None:
        body = ["[[indicators]]", f'id = "{name}"', *labels, f"formula = \"${{{name}}} = '{yes}'\"",
                _CHOOSE_PILLAR, "higher_is_better = true  # is a higher share better? true or false"]
    elif question.type in ("select_one", "select_multiple"):
        shares = [f"label_{language} = {_toml_text(text.rstrip(' ?:') + ': {choice}')}"
                  for language, text in label.items()]
        body = ["[[choice_shares]]", f'field = "{name}"', f'id_prefix = "{name}_"', *shares]
    elif question.type in ("integer", "decimal"):
        body = ["[[indicators]]", f'id = "mean_{name}"', *labels, f'formula = "${{{name}}}"', 'kind = "mean"',
                _CHOOSE_PILLAR, "higher_is_better = true  # is a higher mean better? true or false"]
    else:
        return None
    return [f"# {head}", *(f"# {line}" for line in body)]


def draft_catalogue(instrument: Instrument, design: Iterable[DesignGuess]) -> str:
    """The candidates part of indicators.toml: one commented-out entry per select and number question
    (design fields and identifying fields excepted), in form order."""
    skipped = {guess.value for guess in design if guess.value}
    blocks = []
    for question in instrument.questions:
        if question.name in skipped or question.identifying or question.calculation:
            continue
        candidate = _candidate(question)
        if candidate:
            blocks.append("\n".join(candidate))
    if not blocks:
        return "\n# The questionnaire has no select or number question to propose an indicator for.\n"
    header = ("\n# === Candidates from the questionnaire: remove the `# ` of the lines of each one you keep, "
              "then\n# choose its pillar and direction. Every pillar needs at least one indicator. ===\n\n")
    return header + "\n\n".join(blocks) + "\n"


def _community_entries(instrument: Instrument, community: DesignGuess) -> str:
    if community.question is None or not community.question.choices:
        return ("# No community question was found in the questionnaire: list the communities here.\n"
                "# - id: my_town\n#   name: My town\n#   type: rural\n\ncommunities: []\n")
    lines = [f"# From the choices of `{community.question.name}` ({community.question.list_name}).",
             "communities:"]
    for choice in community.question.choices:
        name = _label(choice.labels, CATALOGUE_LANGUAGES[0], choice.name)
        lines += [f"  - id: {json.dumps(choice.name)}", f"    name: {json.dumps(name, ensure_ascii=False)}",
                  "    type: rural  # set me: urban or rural (fact sheets print it)"]
    return "\n".join(lines) + "\n"


def _languages(instrument: Instrument) -> tuple[str, ...]:
    return tuple(language for language in instrument.languages if language != "default") or ("en",)


def blank_files(target: Path) -> dict[str, str]:
    """The files of a blank study: every template with its examples commented out."""
    values = {"id": json.dumps(_study_id(target)), "name": _toml_text(target.resolve().name),
              "languages": '"fr", "en"',
              "origin": "", "design": _design_lines(None), "candidates": "",
              "communities": "# - id: my_town\n#   name: My town\n#   type: rural\n\ncommunities: []\n"}
    return {name: _fill(_template(name), values) for name in TEMPLATE_FILES}


def draft_files(target: Path, instrument: Instrument) -> dict[str, str]:
    """The files drafted from a questionnaire: settings, candidate indicators, communities, registers."""
    design = guess_design(instrument)
    community = next(guess for guess in design if guess.setting == "community")
    form_name = instrument.path.name if instrument.path else "a questionnaire"
    origin = f"# Drafted by `retour init --from-form` from {form_name}.\n"
    title = instrument.title or target.resolve().name
    values = {"id": json.dumps(_study_id(target)), "name": _toml_text(title),
              "languages": ", ".join(json.dumps(language) for language in _languages(instrument)),
              "origin": origin, "design": _design_lines(design),
              "candidates": draft_catalogue(instrument, design),
              "communities": _community_entries(instrument, community)}
    return {name: _fill(_template(name), values) for name in TEMPLATE_FILES}


def _write(target: Path, files: Mapping[str, str], form: Path | None, overwrite: bool) -> NewStudy:
    written: list[Path] = []
    kept: list[Path] = []
    target.mkdir(parents=True, exist_ok=True)
    contents: dict[str, str | Path] = dict(files)
    if form is not None:
        contents[INSTRUMENT_FILE] = form
    for name, content in contents.items():
        destination = target / name
        same_file = isinstance(content, Path) and destination.exists() and destination.samefile(content)
        if (destination.exists() and not overwrite) or same_file:
            kept.append(destination)
            continue
        if isinstance(content, Path):
            shutil.copyfile(content, destination)
        else:
            destination.write_text(content, encoding="utf-8")
        written.append(destination)
    return NewStudy(project=load_project(target), written=tuple(written), kept=tuple(kept))


def create_blank_study(target: Path, force: bool = False, overwrite: bool = False) -> NewStudy:
    """Write a blank commented study into `target` (no questionnaire: the user brings theirs).

    `force` and `overwrite` as for `create_study`."""
    target = Path(target)
    check_target(target, force, overwrite)
    return _write(target, blank_files(target), None, overwrite)


def create_study_from_form(target: Path, form: Path, force: bool = False,
                           overwrite: bool = False) -> NewStudy:
    """Draft a study from a questionnaire (XLSForm) into `target`: the form copied as instrument.xlsx,
    retour.toml with guessed design fields, candidate indicators, communities from the community
    question's choices and empty registers. `force` and `overwrite` as for `create_study`."""
    target = Path(target)
    instrument = load_instrument(Path(form))  # a SchemaError before anything is written
    check_target(target, force, overwrite)
    return _write(target, draft_files(target, instrument), Path(form), overwrite)
