"""Names the dashboard shows for ids: communities, places, indicators, fact-sheet blocks, groups,
needs issues and rounds, all read from the study's own files.

Every name comes from the study: `communities.yaml` (names, coordinates, administrative places),
`indicators.toml` (indicator labels, fact-sheet blocks, groups and their levels), `needs.toml` (issue
labels) and `retour.toml` (rounds, administrative levels). retour holds no table of names of its own:
an id the files give no name is shown tidied up ('farm_output' -> 'Farm output'), and the whole sample
("all") is a word of the dashboard's catalogue. Read once per app; nothing here touches the store.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from retour.config import Project, pick_text
from retour.dashboard.i18n import LANGUAGES, translate

Texts = Mapping[str, str]  # language -> text
WHOLE_SAMPLE = "all"


def tidy(identifier: str) -> str:
    """An id made readable when no label is known ('farm_output' -> 'Farm output')."""
    text = identifier.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _name(texts: Texts, language: str, identifier: str) -> str:
    return pick_text(texts, language) or tidy(identifier)


@dataclass(frozen=True)
class Panel:
    """One table of a fact-sheet block, with its title per language (if any): the block's tiles, or the
    indicators of the theme one of its panels draws."""

    titles: Texts
    indicator_ids: tuple[str, ...]


@dataclass(frozen=True)
class Block:
    """A block of the fact sheet: its title per language and its panels, in the catalogue's order."""

    id: str
    titles: Texts
    panels: tuple[Panel, ...]

    @property
    def indicator_ids(self) -> tuple[str, ...]:
        return tuple(indicator_id for panel in self.panels for indicator_id in panel.indicator_ids)


@dataclass(frozen=True)
class GroupNames:
    """A breakdown of respondents as the study names it: its levels and the two it compares (or None)."""

    id: str
    names: Texts
    levels: tuple[str, ...]
    level_names: Mapping[str, Texts]
    compare: tuple[str, str] | None


@dataclass(frozen=True)
class Labels:
    """Display names by id, per language, from the study's files."""

    communities: dict[str, Texts] = field(default_factory=dict)
    coordinates: dict[str, tuple[float, float]] = field(default_factory=dict)
    places: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)  # community -> its places
    admin_levels: dict[str, Texts] = field(default_factory=dict)
    indicators: dict[str, Texts] = field(default_factory=dict)
    indicator_kinds: dict[str, str] = field(default_factory=dict)
    blocks: tuple[Block, ...] = ()
    groups: tuple[GroupNames, ...] = ()
    issues: dict[str, Texts] = field(default_factory=dict)
    rounds: dict[str, Texts] = field(default_factory=dict)

    def community(self, community_id: str, language: str = "fr") -> str:
        if community_id == WHOLE_SAMPLE:
            return translate("common.whole_sample", language)
        return _name(self.communities.get(community_id, {}), language, community_id)

    def community_places(self, community_id: str, language: str) -> list[tuple[str, str]]:
        """(level name, place) for each administrative level the community's entry gives, smallest first."""
        return [
            (_name(self.admin_levels.get(level, {}), language, level), value)
            for level, value in self.places.get(community_id, ())
        ]

    def indicator(self, indicator_id: str, language: str) -> str:
        return _name(self.indicators.get(indicator_id, {}), language, indicator_id)

    def is_proportion(self, indicator_id: str) -> bool:
        return self.indicator_kinds.get(indicator_id, "proportion") == "proportion"

    def indicator_order(self) -> list[str]:
        """Indicator ids in catalogue order."""
        return list(self.indicators)

    def text(self, texts: Texts, language: str) -> str:
        """A study text (`{language: text}`) in `language`, else in another; '' when it has none."""
        return pick_text(texts, language)

    def block(self, block_id: str, language: str) -> str:
        titles = next((block.titles for block in self.blocks if block.id == block_id), {})
        return _name(titles, language, block_id)

    def fiche_indicator_ids(self) -> list[str]:
        """Indicators printed on the fact sheet, block by block."""
        return [indicator_id for block in self.blocks for indicator_id in block.indicator_ids]

    def group_names(self, group_id: str) -> GroupNames | None:
        return next((group for group in self.groups if group.id == group_id), None)

    def group(self, group_id: str, language: str) -> str:
        found = self.group_names(group_id)
        return _name(found.names if found else {}, language, group_id)

    def level(self, group_id: str, level: str, language: str) -> str:
        found = self.group_names(group_id)
        return _name(found.level_names.get(level, {}) if found else {}, language, level)

    def issue(self, issue_id: str, language: str) -> str:
        return _name(self.issues.get(issue_id, {}), language, issue_id)

    def round(self, round_name: str, language: str) -> str:
        return _name(self.rounds.get(round_name, {}), language, round_name)


# --- reading the study's files -------------------------------------------------------------------------


def _read(path: Path) -> Any:
    """A TOML or YAML file's content; None when it is missing or unreadable (pages then show ids)."""
    if not path.exists():
        return None
    try:
        if path.suffix == ".toml":
            return tomllib.loads(path.read_text(encoding="utf-8"))
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        return None


def _entries(data: Any, key: str) -> Iterable[Mapping[str, Any]]:
    """Records under `key`, given as a list of tables with an `id` or as a table keyed by id."""
    if not isinstance(data, Mapping):
        return []
    entries = data.get(key)
    if isinstance(entries, list):
        return [entry for entry in entries if isinstance(entry, Mapping) and "id" in entry]
    if isinstance(entries, Mapping):
        return [{"id": name, **value} for name, value in entries.items() if isinstance(value, Mapping)]
    return []


def _texts(entry: Mapping[str, Any], key: str, languages: Iterable[str]) -> dict[str, str]:
    """A text per language: `key = {fr = ..., en = ...}`, `key_<language>` fields, or one plain `key`."""
    value = entry.get(key)
    if isinstance(value, Mapping):
        return {str(language): str(text) for language, text in value.items() if text}
    texts = {
        language: str(entry[f"{key}_{language}"]) for language in languages if entry.get(f"{key}_{language}")
    }
    if not texts and isinstance(value, str | int | float) and str(value):
        texts = {language: str(value) for language in languages}
    return texts


def load_labels(project: Project) -> Labels:
    """Every name the dashboard shows, from the study's files."""
    languages = tuple(dict.fromkeys((*project.settings.study.languages, *LANGUAGES)))
    communities, coordinates, places = _communities(project, languages)
    indicators, kinds, blocks, groups = _catalogue_names(project, languages)
    needs_spec = _read(project.path("needs.toml"))
    issues = {
        str(entry["id"]): _texts(entry, "label", languages)
        for entry in [*_entries(needs_spec, "issues"), *_entries(needs_spec, "issue")]
    }
    rounds = {
        r.name: {language: getattr(r, f"label_{language}", "") for language in languages}
        for r in project.settings.rounds
    }
    admin_levels = {level.id: dict(level.label) for level in project.settings.places.admin_levels}
    return Labels(
        communities=communities,
        coordinates=coordinates,
        places=places,
        admin_levels=admin_levels,
        indicators=indicators,
        indicator_kinds=kinds,
        blocks=blocks,
        groups=groups,
        issues=issues,
        rounds=rounds,
    )


def _communities(
    project: Project, languages: tuple[str, ...]
) -> tuple[dict[str, Texts], dict[str, tuple[float, float]], dict[str, tuple[tuple[str, str], ...]]]:
    """Names, coordinates and administrative places of the communities in communities.yaml."""
    names: dict[str, Texts] = {}
    coordinates: dict[str, tuple[float, float]] = {}
    places: dict[str, tuple[tuple[str, str], ...]] = {}
    level_ids = [level.id for level in project.settings.places.admin_levels]
    for entry in _entries(_read(project.path("communities.yaml")), "communities"):
        community_id = str(entry["id"])
        names[community_id] = _texts(entry, "name", languages)
        location = entry.get("coordinates") or entry.get("location") or entry
        if isinstance(location, Mapping):
            latitude = location.get("latitude", location.get("lat"))
            longitude = location.get("longitude", location.get("lon"))
            if isinstance(latitude, int | float) and isinstance(longitude, int | float):
                coordinates[community_id] = (float(latitude), float(longitude))
        places[community_id] = tuple(
            (level, str(entry[level])) for level in level_ids if isinstance(entry.get(level), str | int)
        )
    return names, coordinates, places


def _catalogue_names(
    project: Project, languages: tuple[str, ...]
) -> tuple[dict[str, Texts], dict[str, str], tuple[Block, ...], tuple[GroupNames, ...]]:
    """Indicator labels and kinds, fact-sheet blocks and groups from the indicator catalogue (checked
    against the questionnaire when both load; read as plain TOML otherwise)."""
    from retour.errors import RetourError
    from retour.indicators import load_catalogue
    from retour.schema import load_instrument

    try:
        catalogue = load_catalogue(
            project.path("indicators.toml"), load_instrument(project.path("instrument.xlsx"))
        )
    except (RetourError, OSError):
        return _plain_catalogue_names(_read(project.path("indicators.toml")), languages)
    indicators = {i.id: {language: i.label(language) for language in languages} for i in catalogue.indicators}
    kinds = {indicator.id: indicator.kind for indicator in catalogue.indicators}
    members = [(indicator.id, indicator.fiche_block, indicator.theme) for indicator in catalogue.indicators]
    declared = [
        (
            block.id,
            dict(block.title),
            [(panel.kind, panel.theme, dict(panel.title)) for panel in block.panels],
        )
        for block in catalogue.fiche_blocks
    ]
    groups = tuple(
        GroupNames(
            id=group.id,
            names={language: group.label(language) for language in languages},
            levels=tuple(group.levels),
            level_names={
                level: {language: group.level_label(level, language) for language in languages}
                for level in group.levels
            },
            compare=tuple(group.compare) if group.compare else None,  # type: ignore[arg-type]
        )
        for group in catalogue.groups
    )
    return indicators, kinds, _blocks(declared, members), groups


def _plain_catalogue_names(
    data: Any, languages: tuple[str, ...]
) -> tuple[dict[str, Texts], dict[str, str], tuple[Block, ...], tuple[GroupNames, ...]]:
    indicators: dict[str, Texts] = {}
    kinds: dict[str, str] = {}
    members = []
    for entry in _entries(data, "indicators"):
        identifier = str(entry["id"])
        indicators[identifier] = _texts(entry, "label", languages)
        kinds[identifier] = str(entry.get("kind", "proportion"))
        members.append((identifier, str(entry.get("fiche_block", "")), str(entry.get("theme", ""))))
    declared = [
        (
            str(entry["id"]),
            _texts(entry, "title", languages),
            [
                (str(panel.get("kind", "")), str(panel.get("theme", "")), _texts(panel, "title", languages))
                for panel in entry.get("panels", ())
                if isinstance(panel, Mapping)
            ],
        )
        for entry in _entries(data, "fiche_blocks")
    ]
    groups = []
    for entry in _entries(data, "groups"):
        levels = tuple(str(level) for level in entry.get("levels", ()))
        level_texts = entry.get("level_labels") if isinstance(entry.get("level_labels"), Mapping) else {}
        compare = entry.get("compare")
        groups.append(
            GroupNames(
                id=str(entry["id"]),
                names=_texts(entry, "label", languages),
                levels=levels,
                level_names={
                    str(level): {str(k): str(v) for k, v in texts.items()}
                    for level, texts in level_texts.items()
                    if isinstance(texts, Mapping)
                },
                compare=(str(compare[0]), str(compare[1]))
                if isinstance(compare, list) and len(compare) == 2
                else None,
            )
        )
    return indicators, kinds, _blocks(declared, members), tuple(groups)


PanelSpec = tuple[str, str, Texts]  # kind, theme, title


def _blocks(
    declared: list[tuple[str, Texts, list[PanelSpec]]], members: list[tuple[str, str, str]]
) -> tuple[Block, ...]:
    """The fact-sheet blocks in the catalogue's order (declared blocks, then any other block an indicator
    names), each with its panels: the tiles (the block's indicators of no theme another panel of the block
    draws; first when the block lists no tiles panel), then one table per theme panel, in order.
    `members` are (indicator, block, theme) in catalogue order."""
    declared = list(declared)
    named = {block_id for block_id, _, _ in declared}
    used = dict.fromkeys(block for _, block, _ in members if block)
    declared += [(block, {}, []) for block in used if block not in named]
    blocks = []
    for block_id, titles, specs in declared:
        mine = [(indicator_id, theme) for indicator_id, block, theme in members if block == block_id]
        drawn = {theme for kind, theme, _ in specs if kind != "tiles"}
        tiles = tuple(indicator_id for indicator_id, theme in mine if theme not in drawn)
        if not any(kind == "tiles" for kind, _, _ in specs):
            specs = [("tiles", "", {}), *specs]
        panels = [
            Panel(dict(title), tiles if kind == "tiles" else tuple(i for i, own in mine if own == theme))
            for kind, theme, title in specs
        ]
        blocks.append(Block(id=block_id, titles=titles, panels=tuple(panels)))
    return tuple(blocks)
