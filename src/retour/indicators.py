"""Indicator catalogue (indicators.toml) and respondent-level indicator variables derived from it.

The catalogue says, for every indicator, what it measures (labels in French and English), how it is
computed from the questionnaire (a `formula` in XLSForm expression syntax), over whom (its `universe`),
whether it is a proportion or a mean, which way is better, which pillar of the reintegration index it
feeds and with what weight. It also defines the groups results are broken down by (migration status,
sex, age band, area type). `load_catalogue` reads and checks it against the questionnaire; `derive` turns
stored submissions into one row per respondent and one column per indicator. `derive` is pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from retour.config import DesignSettings, pick_text
from retour.errors import EstimationError, Problem, SpecError
from retour.expressions import referenced_choices, referenced_fields, translate
from retour.keydocs import KeyDoc, allowed_keys_hint, key_names, unknown_keys
from retour.schema import Instrument
from retour.textfiles import read_toml_file

PILLARS = ("economic", "social", "psychosocial")
KINDS = ("proportion", "mean")
SELECT_TYPES = frozenset({"select_one", "select_multiple"})
GROUP_SOURCE_REGISTER = "community_register"
EVERYONE = "true()"
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Indicator:
    """One indicator: a 0/1 (proportion) or numeric (mean) variable per respondent in its universe.

    `higher_is_better` is None for descriptive indicators (shares of answers) that feed no pillar;
    `weight` is the indicator's weight within its pillar; `fiche_block` is the fact-sheet block it is
    printed in ('' when it is not on the fact sheet).
    """

    id: str
    label_fr: str
    label_en: str
    formula: str
    universe: str = EVERYONE
    kind: str = "proportion"
    higher_is_better: bool | None = None
    pillar: str = "none"
    theme: str = "other"
    weight: float = 1.0
    fiche_block: str = ""
    short_label_fr: str = ""  # a few words for chart bars (e.g. "Logement"); empty: derived from the label
    short_label_en: str = ""

    def label(self, language: str) -> str:
        return self.label_fr if language == "fr" else self.label_en


@dataclass(frozen=True)
class Group:
    """A breakdown of respondents: an expression giving each respondent one of `levels` (else null).

    A group with `source = "community_register"` takes its level from the community's area type instead.
    """

    id: str
    label_fr: str
    label_en: str
    levels: tuple[str, ...]
    expression: str = ""
    source: str = ""
    compare: tuple[str, str] | None = None  # (a, b): gaps a - b are estimated and tested; None: no gaps
    level_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # level -> language -> text

    def label(self, language: str) -> str:
        return self.label_fr if language == "fr" else self.label_en

    def level_label(self, level: str, language: str) -> str:
        """The level's name in `language` (`level_labels`), else the level id."""
        texts = self.level_labels.get(level, {})
        return texts.get(language) or next(iter(texts.values()), "") or level


PANEL_KINDS = ("tiles", "gap_bars", "top_shares", "share_bars")


@dataclass(frozen=True)
class FichePanel:
    """One panel of a fact-sheet block: `kind` is one of PANEL_KINDS.

    tiles: the block's indicators as tiles (community value beside the sample mean); gap_bars: diverging
    bars against the sample mean; top_shares: the three largest shares; share_bars: shares as 100 % bars
    (community above the sample). Those three draw the block's indicators whose theme is `theme`.
    `title` and `note` are texts by language.
    """

    kind: str
    theme: str = ""
    title: Mapping[str, str] = field(default_factory=dict)
    note: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FicheBlock:
    """A block of the community fact sheet (`[[fiche_blocks]]`), in fact-sheet order.

    Its tiles are the catalogue's indicators whose `fiche_block` is the block's id, in catalogue order,
    except those of the themes its other panels draw; without a `tiles` panel they come first.
    """

    id: str
    title: Mapping[str, str] = field(default_factory=dict)
    note: Mapping[str, str] = field(default_factory=dict)
    panels: tuple[FichePanel, ...] = ()

    def title_in(self, language: str) -> str:
        """The block's title in `language` (else another language's, else its id)."""
        return pick_text(dict(self.title), language, self.id)

    @property
    def panel_themes(self) -> frozenset[str]:
        """Themes drawn by the block's panels other than tiles."""
        return frozenset(panel.theme for panel in self.panels if panel.kind != "tiles")


def _texts_of(value: Any, where: str, problems: list[Problem]) -> dict[str, str]:
    """A `{fr = "...", en = "..."}` table of texts; another shape is a problem."""
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(text, str) for text in value.values()):
        problems.append(_problem("bad_texts", where, "must map languages to texts.", value,
                                 'Write {fr = "...", en = "..."}.'))
        return {}
    return {str(language): text for language, text in value.items()}


def _fiche_panel(entry: Any, where: str, themes: set[str], problems: list[Problem]) -> FichePanel | None:
    if not isinstance(entry, Mapping):
        problems.append(_problem("bad_panel", where, "a panel must be a table.", entry,
                                 'Write {kind = "tiles"} or {kind = "gap_bars", theme = "...", '
                                 'title = {...}}.'))
        return None
    kind, theme = str(entry.get("kind", "")), str(entry.get("theme", ""))
    for key in unknown_keys(entry, FICHE_PANEL_KEY_DOCS):
        problems.append(_problem("unknown_key", f"{where}.{key}", f"unknown key '{key}' in a panel.", None,
                                 allowed_keys_hint(FICHE_PANEL_KEY_DOCS)))
    if kind not in PANEL_KINDS:
        problems.append(_problem("bad_panel_kind", f"{where}.kind", f"panel kind '{kind}' is unknown.", kind,
                                 f"Use one of {', '.join(PANEL_KINDS)}."))
        return None
    if kind != "tiles" and theme not in themes:
        problems.append(_problem("unknown_theme", f"{where}.theme",
                                 f"a {kind} panel draws the block's indicators of a theme, and none of them "
                                 f"has theme '{theme}'.", theme,
                                 f"Themes of the block's indicators: {', '.join(sorted(themes)) or 'none'}; "
                                 "give the theme's indicators this block's id as fiche_block."))
    return FichePanel(kind=kind, theme=theme if kind != "tiles" else "",
                      title=_texts_of(entry.get("title"), f"{where}.title", problems),
                      note=_texts_of(entry.get("note"), f"{where}.note", problems))


def parse_fiche_blocks(raw: Any, indicators: tuple[Indicator, ...], problems: list[Problem]
                       ) -> tuple[FicheBlock, ...]:
    """The fact-sheet layout of a catalogue (`[[fiche_blocks]]`), checked against its indicators.

    A catalogue without `[[fiche_blocks]]` gets one block per `fiche_block` its indicators name, in
    the order they are first named, titled by the id, with tiles only. Problems: an entry that is not
    a table, a missing or repeated id, an unknown panel kind or theme, and a `fiche_block` named by an
    indicator but not declared.
    """
    used = list(dict.fromkeys(indicator.fiche_block for indicator in indicators if indicator.fiche_block))
    if not raw:
        return tuple(FicheBlock(id=block_id) for block_id in used)
    blocks: list[FicheBlock] = []
    for number, entry in enumerate(raw if isinstance(raw, list) else [raw], start=1):
        where = f"fiche_blocks[{number}]"
        if not isinstance(entry, Mapping):
            problems.append(_problem("bad_block", where, "a fiche block must be a table.", entry))
            continue
        identifier = str(entry.get("id", ""))
        if not _ID.match(identifier) or identifier in {block.id for block in blocks}:
            problems.append(_problem("bad_block_id", f"{where}.id",
                                     f"'{identifier}' is not a new valid block id.", identifier,
                                     "Give each block its own id: lower-case letters, digits and _."))
        for key in unknown_keys(entry, FICHE_BLOCK_KEY_DOCS):
            problems.append(_problem("unknown_key", f"{where}.{key}",
                                     f"unknown key '{key}' in fiche block '{identifier}'.", None,
                                     allowed_keys_hint(FICHE_BLOCK_KEY_DOCS)))
        panels = entry.get("panels", [])
        themes = {indicator.theme for indicator in indicators if indicator.fiche_block == identifier}
        found = [_fiche_panel(panel, f"{where}.panels[{position}]", themes, problems)
                 for position, panel in enumerate(panels if isinstance(panels, list) else [panels], start=1)]
        blocks.append(FicheBlock(id=identifier,
                                 title=_texts_of(entry.get("title"), f"{where}.title", problems),
                                 note=_texts_of(entry.get("note"), f"{where}.note", problems),
                                 panels=tuple(panel for panel in found if panel is not None)))
    declared = {block.id for block in blocks}
    for block_id in used:
        if block_id not in declared:
            names = [indicator.id for indicator in indicators if indicator.fiche_block == block_id]
            problems.append(_problem("unknown_fiche_block", "indicators",
                                     f"fiche_block '{block_id}' ({', '.join(names[:3])}"
                                     f"{', ...' if len(names) > 3 else ''}) is not a declared block.",
                                     block_id,
                                     f"Add [[fiche_blocks]] id = \"{block_id}\", or use one of: "
                                     f"{', '.join(sorted(declared))}."))
    return tuple(blocks)


def parse_themes(raw: Any, problems: list[Problem]) -> dict[str, dict[str, str]]:
    """Names of the catalogue's themes per language (`[themes] id = {fr = "...", en = "..."}`); a theme
    without a name is shown by its id."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        problems.append(_problem("bad_themes", "themes", "[themes] must map theme ids to names by language.",
                                 raw, 'Write [themes] then my_theme = {fr = "...", en = "..."}.'))
        return {}
    found: dict[str, dict[str, str]] = {}
    for theme, texts in raw.items():
        if not isinstance(texts, Mapping) or not all(isinstance(text, str) for text in texts.values()):
            problems.append(_problem("bad_themes", f"themes.{theme}",
                                     f"theme '{theme}' must map languages to its name.", texts,
                                     f'Write {theme} = {{fr = "...", en = "..."}}.'))
            continue
        found[str(theme)] = {str(language): str(text) for language, text in texts.items()}
    return found


@dataclass(frozen=True)
class Catalogue:
    """Indicators in catalogue order, the groups, the area type of each community (if given), and the
    questionnaire the catalogue was checked against (its formulas are translated with it)."""

    indicators: tuple[Indicator, ...]
    groups: tuple[Group, ...]
    instrument: Instrument
    area_types: Mapping[str, str] = field(default_factory=dict)
    path: Path | None = field(default=None, compare=False)
    fiche_blocks: tuple[FicheBlock, ...] = ()  # the fact sheet's blocks, in order (see parse_fiche_blocks)
    themes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # theme -> language -> text

    def theme_label(self, theme: str, language: str) -> str:
        """The theme's name in `language` (`[themes]`), else the theme id."""
        texts = self.themes.get(theme, {})
        return texts.get(language) or next(iter(texts.values()), "") or theme

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(indicator.id for indicator in self.indicators)

    def indicator(self, indicator_id: str) -> Indicator:
        """The indicator called `indicator_id`; SpecError if there is none."""
        for indicator in self.indicators:
            if indicator.id == indicator_id:
                return indicator
        raise SpecError(f"The indicator catalogue has no indicator '{indicator_id}'.")

    def pillar(self, name: str) -> tuple[Indicator, ...]:
        """Indicators feeding pillar `name`, in catalogue order."""
        return tuple(indicator for indicator in self.indicators if indicator.pillar == name)


# --- loading and checking -------------------------------------------------------------------------


def _problem(
    code: str, where: str, message: str, value: object = None, hint: str = "", source: str = ""
) -> Problem:
    return Problem(
        code=code,
        row=None,
        column=where,
        value=None if value is None else str(value),
        message=message,
        hint=hint,
        source=source,
    )


def _expand_choice_shares(
    entry: Mapping[str, Any], instrument: Instrument, where: str, problems: list[Problem]
) -> list[dict[str, Any]]:
    """One proportion per choice of a select question: `${f} = 'c'` or `selected(${f}, 'c')`."""
    name = str(entry.get("field", ""))
    problems += [_problem("unknown_key", f"{where}.{key}", f"unknown key '{key}' in the choice shares of "
                          f"'{name}'.", None, allowed_keys_hint(CHOICE_SHARE_KEY_DOCS))
                 for key in unknown_keys(entry, CHOICE_SHARE_KEY_DOCS)]
    if not instrument.has(name) or instrument.question(name).type not in SELECT_TYPES:
        problems.append(
            _problem(
                "unknown_field",
                f"{where}.field",
                f"'{name}' is not a select question of the questionnaire.",
                name,
                "Name a select_one or select_multiple field.",
            )
        )
        return []
    question = instrument.question(name)
    skip = set(entry.get("skip", []))
    expanded = []
    for choice in question.choices:
        if choice.name in skip:
            continue
        test = (
            f"selected(${{{name}}}, '{choice.name}')"
            if question.type == "select_multiple"
            else f"${{{name}}} = '{choice.name}'"
        )
        expanded.append(
            {
                "id": f"{entry.get('id_prefix', name + '_')}{choice.name}",
                "label_fr": str(entry.get("label_fr", "{choice}")).format(
                    choice=choice.labels.get("fr", choice.name)
                ),
                "label_en": str(entry.get("label_en", "{choice}")).format(
                    choice=choice.labels.get("en", choice.name)
                ),
                "formula": test,
                "universe": entry.get("universe", ""),
                "theme": entry.get("theme", "other"),
                "fiche_block": entry.get("fiche_block", ""),
            }
        )
    return expanded


def _check_expression(
    expression: str, instrument: Instrument, where: str, wanted: tuple[str, ...], problems: list[Problem]
) -> None:
    """Problems of one formula/universe/group expression: unreadable, unknown field or choice, wrong type."""
    try:
        names = referenced_fields(expression)
        choices = referenced_choices(expression)
    except SpecError as error:
        problems.append(_problem("bad_expression", where, error.message, expression, error.hint or ""))
        return
    unknown = sorted(name for name in names if not instrument.has(name))
    for name in unknown:
        problems.append(
            _problem(
                "unknown_field",
                where,
                f"names ${{{name}}}, which the questionnaire lacks.",
                expression,
                "Use a field name from the survey sheet.",
            )
        )
    for name, choice in choices:
        if name in unknown or not instrument.has(name):
            continue
        question = instrument.question(name)
        if question.type in SELECT_TYPES and choice not in question.choice_names:
            problems.append(
                _problem(
                    "unknown_choice",
                    where,
                    f"tests choice '{choice}' of ${{{name}}}, which its list '{question.list_name}' lacks.",
                    expression,
                    f"Choices: {', '.join(question.choice_names)}.",
                )
            )
    if unknown:
        return
    try:
        kind = translate(expression, instrument).kind
    except SpecError as error:
        problems.append(_problem("bad_expression", where, error.message, expression, error.hint or ""))
        return
    if kind not in wanted:
        problems.append(
            _problem(
                "wrong_type",
                where,
                f"gives a {kind}, where a {' or '.join(wanted)} is needed.",
                expression,
                "A proportion's formula and every universe must be a condition.",
            )
        )


# The keys of an `[[indicators]]` entry (docs/study-files.md is generated from them; a test holds them
# to the fields of Indicator).
INDICATOR_KEY_DOCS = (
    KeyDoc("id", "text", "", "Stable identifier: lower-case letters, digits and `_`, starting with a "
           "letter."),
    KeyDoc("label_fr", "text", "", "What French readers see."),
    KeyDoc("label_en", "text", "", "What English readers see."),
    KeyDoc("short_label_fr", "text", "derived from the label", "A few words for chart bars, in French."),
    KeyDoc("short_label_en", "text", "derived from the label", "A few words for chart bars, in English."),
    KeyDoc("formula", "XLSForm expression", "", "Over the questionnaire's fields: a condition for a "
           "proportion (1 when true), a number for a mean (see Formulas in docs/catalogue.md)."),
    KeyDoc("universe", "XLSForm condition", EVERYONE, "Who is in the denominator; a missing answer inside "
           "it is missing, not \"no\"."),
    KeyDoc("kind", "text", "proportion", "A share of respondents or a mean.", KINDS),
    KeyDoc("higher_is_better", "boolean", "none (descriptive)", "Direction; required when the indicator "
           "feeds a pillar."),
    KeyDoc("pillar", "text", "none", "The pillar index the indicator feeds.", (*PILLARS, "none")),
    KeyDoc("theme", "text", "other", "Grouping in tables and fact-sheet panels (named under [themes])."),
    KeyDoc("weight", "number", "1", "Weight within its pillar."),
    KeyDoc("fiche_block", "text", "not on the fact sheet",
           "The fact-sheet block the indicator is printed in."),
)
INDICATOR_KEYS = key_names(INDICATOR_KEY_DOCS)
_TEXTS = "table: language = text"
CATALOGUE_KEY_DOCS = (
    KeyDoc("indicators", "list of tables", "none", "The indicators, in catalogue order (keys below)."),
    KeyDoc("choice_shares", "list of tables", "none", "One proportion per choice of a select question "
           "(keys below); they follow the indicators."),
    KeyDoc("groups", "list of tables", "none", "The breakdowns of results (keys below)."),
    KeyDoc("fiche_blocks", "list of tables", "one block per `fiche_block` named, tiles only",
           "The community fact sheet's blocks, in order (keys below)."),
    KeyDoc("themes", "table", "none", "Names of the themes by language (keys below)."),
    KeyDoc("area_types", "table: community id = text", "none", "Area type of each community, used when "
           "there is no communities.yaml."),
)
CHOICE_SHARE_KEY_DOCS = (
    KeyDoc("field", "text", "", "A select_one or select_multiple question; each of its choices gives an "
           "indicator (`${field} = 'choice'` or `selected(${field}, 'choice')`)."),
    KeyDoc("id_prefix", "text", "the field's name and `_`", "Put before each choice's name to make the "
           "indicator id."),
    KeyDoc("label_fr", "text", "{choice}", "French label; `{choice}` stands for the choice's French label."),
    KeyDoc("label_en", "text", "{choice}", "English label; `{choice}` stands for the choice's English "
           "label."),
    KeyDoc("skip", "list of texts", "none", "Choices that give no indicator."),
    KeyDoc("universe", "XLSForm condition", EVERYONE, "Who is in the denominator of each share."),
    KeyDoc("theme", "text", "other", "Theme of the indicators (a share_bars or top_shares panel draws "
           "one theme)."),
    KeyDoc("fiche_block", "text", "not on the fact sheet", "The fact-sheet block the shares are drawn in."),
)
GROUP_KEY_DOCS = (
    KeyDoc("id", "text", "", "Stable identifier of the breakdown (a column of the estimates)."),
    KeyDoc("label_fr", "text", "the id", "What French readers see."),
    KeyDoc("label_en", "text", "the id", "What English readers see."),
    KeyDoc("levels", "list of texts", "", "The levels; a respondent whose value is none of them is in no "
           "level."),
    KeyDoc("expression", "XLSForm expression", "or `source`", "Gives each respondent a level (a text)."),
    KeyDoc("source", "text", "or `expression`", "Take the level from the community's area type (in "
           "communities.yaml) instead of an expression.", (GROUP_SOURCE_REGISTER,)),
    KeyDoc("compare", "list of two texts", "no gaps", "Two levels [a, b] whose gap a - b is estimated and "
           "tested."),
    KeyDoc("level_labels", "table: level = {language = text}", "the level ids", "Names of the levels by "
           "language."),
)
FICHE_BLOCK_KEY_DOCS = (
    KeyDoc("id", "text", "", "The block's id, named by indicators' `fiche_block`: lower-case letters, "
           "digits and `_`."),
    KeyDoc("title", _TEXTS, "the id", "The block's heading by language."),
    KeyDoc("note", _TEXTS, "none", "A note printed under the block, by language."),
    KeyDoc("panels", "list of tables", "tiles only", "The block's panels, in order (keys below)."),
)
FICHE_PANEL_KEY_DOCS = (
    KeyDoc("kind", "text", "", "tiles: the block's indicators beside the sample mean; gap_bars: bars "
           "against the sample mean; top_shares: the three largest shares; share_bars: 100 % bars.",
           PANEL_KINDS),
    KeyDoc("theme", "text", "required but for tiles", "The theme of the block's indicators the panel "
           "draws."),
    KeyDoc("title", _TEXTS, "none", "The panel's heading by language."),
    KeyDoc("note", _TEXTS, "none", "A note printed under the panel, by language."),
)
THEME_KEY_DOCS = (
    KeyDoc("<theme id>", _TEXTS, "the id", "One key per theme named by indicators' `theme`: its name by "
           "language, e.g. `my_theme = {fr = \"...\", en = \"...\"}`."),
)


def _check_entry(entry: Mapping[str, Any], where: str) -> list[Problem]:
    """Problems of an indicator entry's plain values (keys, id, labels, kind, pillar, direction, weight)."""
    identifier = str(entry.get("id", ""))
    kind, pillar = str(entry.get("kind", "proportion")), str(entry.get("pillar", "none"))
    direction, weight = entry.get("higher_is_better"), entry.get("weight", 1.0)
    problems = [
        _problem(
            "unknown_key",
            f"{where}.{key}",
            f"unknown key '{key}'.",
            None,
            f"Keys of an indicator: {', '.join(sorted(INDICATOR_KEYS))}.",
        )
        for key in sorted(set(entry) - INDICATOR_KEYS)
    ]
    problems += [
        _problem("missing_key", f"{where}.{key}", f"indicator '{identifier}' has no {key}.")
        for key in ("label_fr", "label_en", "formula")
        if not str(entry.get(key, "")).strip()
    ]
    # fmt: off
    checks = [  # (failed, code, key, message, value, hint)
        (not _ID.match(identifier), "bad_id", "id", f"'{identifier}' is not a valid indicator id.",
         identifier, "Use lower-case letters, digits and _, starting with a letter."),
        (kind not in KINDS, "bad_kind", "kind", f"kind '{kind}' is unknown.", kind,
         "Use proportion or mean."),
        (pillar not in (*PILLARS, "none"), "unknown_pillar", "pillar", f"pillar '{pillar}' is unknown.",
         pillar, f"Use one of {', '.join(PILLARS)} or none."),
        (direction is not None and not isinstance(direction, bool), "bad_direction", "higher_is_better",
         "must be true or false.", direction, ""),
        (pillar in PILLARS and direction is None, "missing_direction", "higher_is_better",
         f"indicator '{identifier}' feeds the {pillar} pillar but has no direction.", None,
         "Say higher_is_better = true or false."),
        (isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0, "bad_weight",
         "weight", "the weight must be a positive number.", weight, ""),
    ]
    # fmt: on
    problems += [
        _problem(code, f"{where}.{key}", message, value, hint)
        for failed, code, key, message, value, hint in checks
        if failed
    ]
    return problems


def _indicator_from(
    entry: Mapping[str, Any], instrument: Instrument, where: str, problems: list[Problem]
) -> Indicator:
    """The indicator of a catalogue entry; its problems (values and expressions) go to `problems`."""
    found = _check_entry(entry, where)
    problems += found
    identifier, kind = str(entry.get("id", "")), str(entry.get("kind", "proportion"))
    formula = str(entry.get("formula", "")).strip()
    universe = str(entry.get("universe", "")).strip() or EVERYONE
    if formula:
        wanted = ("boolean",) if kind == "proportion" else ("number", "boolean")
        _check_expression(formula, instrument, f"{where}.formula ({identifier})", wanted, problems)
    _check_expression(universe, instrument, f"{where}.universe ({identifier})", ("boolean",), problems)
    direction = entry.get("higher_is_better")
    weight = entry.get("weight", 1.0)
    bad = {problem.code for problem in found}
    return Indicator(
        id=identifier,
        label_fr=str(entry.get("label_fr", "")),
        label_en=str(entry.get("label_en", "")),
        formula=formula,
        universe=universe,
        kind=kind,
        higher_is_better=None if "bad_direction" in bad else direction,
        pillar=str(entry.get("pillar", "none")),
        theme=str(entry.get("theme", "other")),
        weight=1.0 if "bad_weight" in bad else float(weight),
        fiche_block=str(entry.get("fiche_block", "")),
        short_label_fr=str(entry.get("short_label_fr", "")),
        short_label_en=str(entry.get("short_label_en", "")),
    )


def _group_from(
    entry: Mapping[str, Any], instrument: Instrument, where: str, problems: list[Problem]
) -> Group:
    identifier = str(entry.get("id", ""))
    problems += [_problem("unknown_key", f"{where}.{key}", f"unknown key '{key}' in group '{identifier}'.",
                          None, allowed_keys_hint(GROUP_KEY_DOCS))
                 for key in unknown_keys(entry, GROUP_KEY_DOCS)]
    levels = tuple(str(level) for level in entry.get("levels", []))
    expression = str(entry.get("expression", "")).strip()
    source = str(entry.get("source", "")).strip()
    if not levels:
        problems.append(
            _problem("missing_levels", f"{where}.levels", f"group '{identifier}' lists no levels.")
        )
    if bool(expression) == bool(source):
        problems.append(
            _problem(
                "bad_group",
                where,
                f"group '{identifier}' needs either an expression or "
                f'source = "{GROUP_SOURCE_REGISTER}", not both or neither.',
            )
        )
    elif source and source != GROUP_SOURCE_REGISTER:
        problems.append(
            _problem(
                "bad_group",
                f"{where}.source",
                f"unknown source '{source}'.",
                source,
                f'The only source is "{GROUP_SOURCE_REGISTER}" (the area type of the community).',
            )
        )
    elif expression:
        _check_expression(expression, instrument, f"{where}.expression ({identifier})", ("string",), problems)
    return Group(
        id=identifier,
        label_fr=str(entry.get("label_fr", identifier)),
        label_en=str(entry.get("label_en", identifier)),
        levels=levels,
        expression=expression,
        source=source,
        compare=_compared_levels(entry.get("compare"), identifier, levels, where, problems),
        level_labels=_level_labels(entry.get("level_labels"), identifier, levels, where, problems),
    )


def _compared_levels(value: Any, identifier: str, levels: tuple[str, ...], where: str,
                     problems: list[Problem]) -> tuple[str, str] | None:
    """The (a, b) of a group's `compare = ["a", "b"]`, checked against its levels; None when absent."""
    if value is None:
        return None
    pair = tuple(str(level) for level in value) if isinstance(value, list) else ()
    if len(pair) != 2 or pair[0] == pair[1] or not set(pair) <= set(levels):
        problems.append(_problem("bad_compare", f"{where}.compare",
                                 f"group '{identifier}' must compare two different levels of its own.", value,
                                 f'Write compare = ["a", "b"] with a and b among {", ".join(levels)}.'))
        return None
    return (pair[0], pair[1])


def _level_labels(value: Any, identifier: str, levels: tuple[str, ...], where: str,
                  problems: list[Problem]) -> dict[str, dict[str, str]]:
    """A group's `level_labels = {level = {fr = "...", en = "..."}}`, checked against its levels."""
    if value is None:
        return {}
    found: dict[str, dict[str, str]] = {}
    if not isinstance(value, Mapping):
        value = {"": value}
    for level, texts in value.items():
        if level not in levels or not isinstance(texts, Mapping) or not all(
                isinstance(text, str) for text in texts.values()):
            problems.append(_problem("bad_level_labels", f"{where}.level_labels",
                                     f"group '{identifier}': level_labels must map each of its levels to "
                                     "texts by language.", level or value,
                                     f'Write level_labels.{levels[0] if levels else "level"} = '
                                     '{fr = "...", en = "..."}.'))
            continue
        found[str(level)] = {str(language): str(text) for language, text in texts.items()}
    return found


def check_catalogue(
    raw: Mapping[str, Any], instrument: Instrument, source: str = ""
) -> tuple[Catalogue, list[Problem]]:
    """Build a catalogue from parsed TOML and list every problem found (none: the catalogue is valid)."""
    problems: list[Problem] = [
        _problem("unknown_key", key, f"unknown top-level key '{key}'.", None,
                 allowed_keys_hint(CATALOGUE_KEY_DOCS))
        for key in unknown_keys(raw, CATALOGUE_KEY_DOCS)
    ]
    listed = raw.get("indicators", [])
    listed = listed if isinstance(listed, list) else [listed]
    entries: list[tuple[str, Mapping[str, Any]]] = [
        (f"indicators[{number}]", entry) for number, entry in enumerate(listed, start=1)
        if isinstance(entry, Mapping)
    ]
    problems += [  # issue 22: a wrong-typed entry is a problem, not a traceback
        _problem("not_a_table", f"indicators[{number}]", "each [[indicators]] entry must be a table of keys.",
                 entry)
        for number, entry in enumerate(listed, start=1) if not isinstance(entry, Mapping)
    ]
    for number, entry in enumerate(raw.get("choice_shares", []), start=1):
        where = f"choice_shares[{number}]"
        entries += [
            (f"{where} ({item['id']})", item)
            for item in _expand_choice_shares(entry, instrument, where, problems)
        ]
    indicators = [_indicator_from(entry, instrument, where, problems) for where, entry in entries]
    ids = [indicator.id for indicator in indicators]
    for duplicated in sorted({identifier for identifier in ids if ids.count(identifier) > 1}):
        problems.append(
            _problem(
                "duplicate_id",
                "indicators",
                f"indicator id '{duplicated}' is used {ids.count(duplicated)} times.",
                duplicated,
                "Give every indicator its own id.",
            )
        )
    # how many indicators a pillar needs is the index's rule (index.toml min_indicators_per_pillar,
    # a warning; a pillar with none is an error of the index spec), not the catalogue's
    groups = [
        _group_from(entry, instrument, f"groups[{number}]", problems)
        for number, entry in enumerate(raw.get("groups", []), start=1)
    ]
    area_types = {str(key): str(value) for key, value in raw.get("area_types", {}).items()}
    fiche_blocks = parse_fiche_blocks(raw.get("fiche_blocks"), tuple(indicators), problems)
    themes = parse_themes(raw.get("themes"), problems)
    problems = [Problem(**{**problem.__dict__, "source": source}) for problem in problems]
    catalogue = Catalogue(
        indicators=tuple(indicators),
        groups=tuple(groups),
        instrument=instrument,
        area_types=area_types,
        path=Path(source) if source else None,
        fiche_blocks=fiche_blocks,
        themes=themes,
    )
    return catalogue, problems


def load_catalogue(path: Path, instrument: Instrument) -> Catalogue:
    """Read indicators.toml and check it against the questionnaire; one SpecError lists every problem."""
    path = Path(path)
    raw = read_toml_file(path, "Indicator catalogue", SpecError, "Copy one from `retour init`.")
    catalogue, problems = check_catalogue(raw, instrument, str(path))
    if problems:
        lines = "\n".join(
            f"  - {p.column}: {p.message}" + (f" ({p.hint})" if p.hint else "") for p in problems
        )
        raise SpecError(f"{path}: {len(problems)} problem(s) in the indicator catalogue:\n{lines}")
    return catalogue


def area_types_from_register(register: Mapping[str, Any] | None, catalogue: Catalogue) -> dict[str, str]:
    """Community id -> urban|rural from a parsed communities.yaml (`communities: [{id, type}, ...]`);
    the catalogue's `[area_types]` table when there is no register."""
    if not register:
        return dict(catalogue.area_types)
    return {
        str(entry["id"]): str(entry["type"])
        for entry in register.get("communities", [])
        if isinstance(entry, Mapping) and entry.get("id") and entry.get("type")
    }


# --- deriving respondent-level variables ---------------------------------------------------------


def _design_columns(design: DesignSettings) -> list[pl.Expr]:
    """`_uuid, community_id, stratum, psu, weight` (and `fpc`). A design setting left empty means: no
    strata (one stratum 'all'), no clusters (each respondent is its own PSU), no weights (1)."""

    def column(name: str) -> pl.Expr | None:
        return pl.col(name) if name else None

    stratum, psu, weight = column(design.stratum), column(design.psu), column(design.weight)
    expressions = [
        pl.col("_uuid").cast(pl.Utf8),
        pl.col(design.community).cast(pl.Utf8).alias("community_id"),
        (stratum.cast(pl.Utf8) if stratum is not None else pl.lit("all")).alias("stratum"),
        (psu.cast(pl.Utf8) if psu is not None else pl.col("_uuid").cast(pl.Utf8)).alias("psu"),
        (weight.cast(pl.Float64) if weight is not None else pl.lit(1.0)).alias("weight"),
    ]
    if design.fpc:
        expressions.append(pl.col(design.fpc).cast(pl.Float64).alias("fpc"))
    return expressions


def group_expressions(
    catalogue: Catalogue, instrument: Instrument, community: pl.Expr, area_types: Mapping[str, str]
) -> list[pl.Expr]:
    """One Utf8 column per group; values outside the group's levels (or a missing answer) become null."""
    expressions = []
    for group in catalogue.groups:
        if group.source == GROUP_SOURCE_REGISTER:
            value = community.replace_strict(dict(area_types), default=None, return_dtype=pl.Utf8)
        else:
            value = translate(group.expression, instrument).expr
        expressions.append(
            pl.when(value.is_in(list(group.levels))).then(value).otherwise(None).alias(group.id)
        )
    return expressions


def indicator_expression(indicator: Indicator, instrument: Instrument) -> pl.Expr:
    """Value of an indicator per respondent: the formula as Float64 inside the universe, null outside.

    A proportion is 1 where the formula holds, 0 where it does not, null where it cannot be told.
    """
    value = translate(indicator.formula, instrument).expr.cast(pl.Float64)
    if indicator.universe == EVERYONE:
        return value.alias(indicator.id)
    universe = translate(indicator.universe, instrument).expr
    return pl.when(universe).then(value).otherwise(None).alias(indicator.id)


def derive(
    submissions: pl.DataFrame,
    catalogue: Catalogue,
    area_types: Mapping[str, str] | None = None,
    design: DesignSettings | None = None,
) -> pl.DataFrame:
    """Respondent-level frame: design columns, one column per group, one Float64 column per indicator.

    `submissions` has one column per questionnaire field (store contract), plus `_uuid`. `area_types`
    maps community id -> urban|rural (from communities.yaml; default: the catalogue's `[area_types]`);
    `design` names the design fields (default: retour.toml's defaults). All columns come from one
    `select`, so polars evaluates every indicator in a single vectorised pass.
    """
    instrument = catalogue.instrument
    design = design or DesignSettings()
    mapping = dict(area_types if area_types is not None else catalogue.area_types)
    columns = set(submissions.columns)
    design_fields = (design.stratum, design.psu, design.weight, design.fpc)
    needed = {"_uuid", design.community} | {name for name in design_fields if name}
    for indicator in catalogue.indicators:
        needed |= referenced_fields(indicator.formula) | referenced_fields(indicator.universe)
    for group in catalogue.groups:
        if group.expression:
            needed |= referenced_fields(group.expression)
    design_missing = sorted({name for name in (design.community, *design_fields) if name} - columns)
    if design_missing:
        raise EstimationError(
            f"The [design] section of retour.toml names field(s) the submissions do not have: "
            f"{', '.join(design_missing)}.",
            "Correct the field names in [design] (community, stratum, psu, weight, fpc), or leave fpc "
            "empty when there is no population size.",
        )
    missing = sorted(needed - columns)
    if missing:
        raise EstimationError(
            f"The submissions lack column(s) the catalogue needs: {', '.join(missing)}.",
            "Ingest the round with the questionnaire the catalogue was written for.",
        )
    if any(group.source == GROUP_SOURCE_REGISTER for group in catalogue.groups):
        present = set(submissions.get_column(design.community).drop_nulls().cast(pl.Utf8).unique().to_list())
        unmapped = sorted(present - set(mapping))
        if unmapped:
            raise SpecError(
                f"No area type (urban or rural) for communit{'y' if len(unmapped) == 1 else 'ies'} "
                f"{', '.join(unmapped)}.",
                "Give each community a type in communities.yaml (or in [area_types] of indicators.toml).",
            )
    community = pl.col(design.community).cast(pl.Utf8)
    return submissions.select(
        *_design_columns(design),
        *group_expressions(catalogue, instrument, community, mapping),
        *(indicator_expression(indicator, instrument) for indicator in catalogue.indicators),
    )
