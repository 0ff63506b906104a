"""Read the community register (`communities.yaml`): identity, location and narrative of each community.

The register is hand-written by the study team, in French and English. Reading it checks every entry
and raises one SpecError listing every problem (file, entry, field, value, fix). A narrative field
that is missing or empty is simply absent from the record: fact sheets leave its block out.

Where a community lies is given by the study's administrative levels (`[[places.admin_levels]]` in
retour.toml): each entry gives a value for each level id (e.g. `region: ...`); a key that is neither a
field of an entry nor a declared level is a problem. The register may name its community types in each
language (`types: {urban: {fr: ..., en: ...}}`); a community's `type` must then be one of them, else
urban or rural.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retour.keydocs import KeyDoc, allowed_keys_hint, key_names, unknown_keys
from retour.registers import SpecProblem, entries, problem, raise_problems, read_yaml, text_field

COMMUNITIES_FILE = "communities.yaml"
AREA_TYPES = ("urban", "rural")
DIMENSIONS = ("economic", "social", "psychosocial")
CHALLENGE_KINDS = ("economic", "social")
LANGUAGES = ("fr", "en")

Texts = Mapping[str, str]  # language -> text
TextLists = Mapping[str, tuple[str, ...]]  # language -> items


@dataclass(frozen=True)
class Community:
    """One community of the study: who it is, where it lies and what the fieldwork said about it."""

    id: str
    name: str
    type: str
    places: Mapping[str, str] = field(default_factory=dict)  # administrative level id -> name of the place
    type_label: Texts = field(default_factory=dict)  # the register's words for the community's type
    latitude: float | None = None
    longitude: float | None = None
    population: int | None = None
    census_year: int | None = None
    languages: TextLists = field(default_factory=dict)
    type_note: Texts = field(default_factory=dict)
    population_note: Texts = field(default_factory=dict)
    description: Texts = field(default_factory=dict)
    opportunities: Mapping[str, TextLists] = field(default_factory=dict)
    constraints: Mapping[str, TextLists] = field(default_factory=dict)
    challenges: Mapping[str, TextLists] = field(default_factory=dict)

    def has_coordinates(self) -> bool:
        return self.latitude is not None and self.longitude is not None


def _by_language(value: Any, source: str, label: str, name: str, problems: list[SpecProblem],
                 expected: str, example: str) -> list[tuple[str, Any]]:
    """(language, entry) pairs of a `{fr: ..., en: ...}` mapping; another shape or an unknown language
    is recorded in `problems` and left out."""
    if value is None:
        return []
    if not isinstance(value, Mapping):
        problems.append(problem(source, label, name, value, f"must map languages to {expected}.",
                                f"Write `{name}: {{fr: {example}, en: {example}}}`."))
        return []
    entries = []
    for language, entry in value.items():
        if language in LANGUAGES:
            entries.append((language, entry))
        else:
            problems.append(problem(source, label, f"{name}.{language}", None, "is not a report language.",
                                    f"Use {' or '.join(LANGUAGES)}."))
    return entries


def _texts(value: Any, source: str, label: str, name: str, problems: list[SpecProblem]) -> dict[str, str]:
    result = {}
    for language, text in _by_language(value, source, label, name, problems, "text", "..."):
        if text is not None and not isinstance(text, str):
            problems.append(problem(source, label, f"{name}.{language}", text, "must be text."))
        elif text and text.strip():
            result[language] = " ".join(text.split())
    return result


def _text_lists(
    value: Any, source: str, label: str, name: str, problems: list[SpecProblem]
) -> dict[str, tuple[str, ...]]:
    result = {}
    for language, items in _by_language(value, source, label, name, problems, "lists of text", "[...]"):
        if items is None:
            continue
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            problems.append(problem(source, label, f"{name}.{language}", items,
                                    "must be a list of text items."))
        elif items:
            result[language] = tuple(" ".join(item.split()) for item in items)
    if len({len(v) for v in result.values()}) > 1:
        problems.append(
            problem(
                source,
                label,
                name,
                None,
                "has a different number of items per language.",
                "Give each item in every language, in the same order.",
            )
        )
    return result


def _by_dimension(
    value: Any, allowed: tuple[str, ...], source: str, label: str, name: str, problems: list[SpecProblem]
) -> dict[str, dict[str, tuple[str, ...]]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append(problem(source, label, name, value, f"must map {', '.join(allowed)} to lists."))
        return {}
    result = {}
    for dimension, lists in value.items():
        if dimension not in allowed:
            problems.append(
                problem(
                    source,
                    label,
                    f"{name}.{dimension}",
                    None,
                    "is not a dimension.",
                    f"Use one of: {', '.join(allowed)}.",
                )
            )
            continue
        parsed = _text_lists(lists, source, label, f"{name}.{dimension}", problems)
        if parsed:
            result[dimension] = parsed
    return result


def _number(
    entry: Mapping[str, Any], name: str, kind: type, source: str, label: str, problems: list[SpecProblem]
) -> Any:
    value = entry.get(name)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (kind is int and value != int(value))
    ):
        problems.append(
            problem(source, label, name, value, f"must be a {'whole ' if kind is int else ''}number.")
        )
        return None
    return kind(value)


def _coordinates(
    entry: Mapping[str, Any], source: str, label: str, problems: list[SpecProblem]
) -> tuple[float | None, float | None]:
    value = entry.get("coordinates")
    if value is None:
        return None, None
    if not isinstance(value, Mapping):
        problems.append(problem(source, label, "coordinates", value, "must be {lat: ..., lon: ...}."))
        return None, None
    lat = _number(value, "lat", float, source, label, problems)
    lon = _number(value, "lon", float, source, label, problems)
    if lat is not None and not -90 <= lat <= 90:
        problems.append(problem(source, label, "coordinates.lat", lat, "is outside -90..90."))
        lat = None
    if lon is not None and not -180 <= lon <= 180:
        problems.append(problem(source, label, "coordinates.lon", lon, "is outside -180..180."))
        lon = None
    return lat, lon


# The keys of communities.yaml and of each community (docs/study-files.md is generated from them).
_TEXTS = "mapping: language -> text"
_LISTS = "mapping: language -> list of texts"
REGISTER_KEY_DOCS = (
    KeyDoc("communities", "list of mappings", "", "The communities of the study (keys below)."),
    KeyDoc("types", "mapping: type -> {language -> text}", "urban and rural, unnamed",
           "The community types and their words by language; a community's `type` must be one of them."),
)
COMMUNITY_KEY_DOCS = (
    KeyDoc("id", "text", "", "The community's id: a choice name of the questionnaire's community field."),
    KeyDoc("name", "text", "", "The community's name as printed."),
    KeyDoc("type", "text", "", "One of the types under `types:`; without them, urban or rural."),
    KeyDoc("<admin level id>", "text", "", "One key per administrative level declared in retour.toml "
           "(`[[places.admin_levels]] id = ...`): the place the community lies in at that level. A key "
           "that is neither listed here nor a declared level is refused."),
    KeyDoc("coordinates", "mapping: lat, lon", "none (no map)", "Latitude (-90..90) and longitude "
           "(-180..180) in decimal degrees."),
    KeyDoc("population", "whole number", "none", "Population of the community."),
    KeyDoc("census_year", "whole number", "none", "Year of the population figure."),
    KeyDoc("languages", _LISTS, "none", "Languages spoken, the same items in each language."),
    KeyDoc("type_note", _TEXTS, "none", "A note on the community's type."),
    KeyDoc("population_note", _TEXTS, "none", "A note on the population figure."),
    KeyDoc("description", _TEXTS, "none", "The fact sheet's description of the community."),
    KeyDoc("opportunities", "mapping: dimension -> " + _LISTS, "none", "Opportunities by dimension.",
           DIMENSIONS),
    KeyDoc("constraints", "mapping: dimension -> " + _LISTS, "none", "Constraints by dimension.",
           DIMENSIONS),
    KeyDoc("challenges", "mapping: kind -> " + _LISTS, "none", "Challenges by kind.", CHALLENGE_KINDS),
)
ENTRY_FIELDS = key_names(COMMUNITY_KEY_DOCS)


def _places(entry: Mapping[str, Any], levels: Sequence[str], source: str, label: str | int,
            problems: list[SpecProblem]) -> dict[str, str]:
    """The entry's place at each administrative level; a key that is no field nor level is a problem."""
    for key in sorted(set(entry) - ENTRY_FIELDS - set(levels), key=str):
        problems.append(problem(
            source, label, str(key), None, "is neither a field of a community nor an administrative level "
            "of the study (setting places.admin_levels in retour.toml).",
            f"Declare it with [[places.admin_levels]] id = \"{key}\" (declared: "
            f"{', '.join(levels) or 'none'}), or remove it."))
    return {level: text_field(entry, level, source, label, problems) for level in levels}


def parse_community(entry: Any, position: int, source: str, problems: list[SpecProblem],
                    levels: Sequence[str] = (), types: Mapping[str, Texts] | None = None) -> Community | None:
    """One register entry as a Community; problems are appended to `problems`.

    `levels`: the study's administrative level ids; `types`: the register's type words (None: urban or
    rural, unnamed)."""
    if not isinstance(entry, Mapping):
        problems.append(problem(source, position, None, entry, "an entry must be a mapping."))
        return None
    label = entry["id"] if isinstance(entry.get("id"), str) else position
    names = {name: text_field(entry, name, source, label, problems) for name in ("id", "name")}
    area_type = text_field(entry, "type", source, label, problems)
    allowed = tuple(types) if types else AREA_TYPES
    if area_type and area_type not in allowed:
        problems.append(problem(source, label, "type", area_type, f"must be one of: {', '.join(allowed)}.",
                                "Use a type named under `types:` at the top of the register." if types
                                else ""))
    latitude, longitude = _coordinates(entry, source, str(label), problems)
    return Community(
        **names,
        type=area_type,
        places=_places(entry, levels, source, label, problems),
        type_label=dict((types or {}).get(area_type, {})),
        latitude=latitude,
        longitude=longitude,
        population=_number(entry, "population", int, source, str(label), problems),
        census_year=_number(entry, "census_year", int, source, str(label), problems),
        languages=_text_lists(entry.get("languages"), source, str(label), "languages", problems),
        type_note=_texts(entry.get("type_note"), source, str(label), "type_note", problems),
        population_note=_texts(entry.get("population_note"), source, str(label), "population_note", problems),
        description=_texts(entry.get("description"), source, str(label), "description", problems),
        opportunities=_by_dimension(
            entry.get("opportunities"), DIMENSIONS, source, str(label), "opportunities", problems
        ),
        constraints=_by_dimension(
            entry.get("constraints"), DIMENSIONS, source, str(label), "constraints", problems
        ),
        challenges=_by_dimension(
            entry.get("challenges"), CHALLENGE_KINDS, source, str(label), "challenges", problems
        ),
    )


def _types(raw: Any, source: str, problems: list[SpecProblem]) -> dict[str, dict[str, str]] | None:
    """The register's `types: {type: {fr: ..., en: ...}}`, or None when it names no types."""
    value = raw.get("types") if isinstance(raw, Mapping) else None
    if value is None:
        return None
    if not isinstance(value, Mapping) or not value:
        problems.append(problem(source, None, "types", value, "must map each community type to its words.",
                                "Write `types: {urban: {fr: Commune urbaine, en: Urban municipality}}`."))
        return None
    return {str(kind): _texts(texts, source, "types", f"types.{kind}", problems)
            for kind, texts in value.items()}


def parse_communities(raw: Any, source: str = COMMUNITIES_FILE,
                      levels: Sequence[str] = ()) -> tuple[Community, ...]:
    """Every community of a parsed register, checked; one SpecError lists every problem.

    `levels`: the study's administrative level ids (`places.admin_levels`), which entries give."""
    problems: list[SpecProblem] = []
    if isinstance(raw, Mapping):
        problems += [problem(source, None, key, None, "is not a top-level key of the register.",
                             allowed_keys_hint(REGISTER_KEY_DOCS))
                     for key in unknown_keys(raw, REGISTER_KEY_DOCS)]
    types = _types(raw, source, problems)
    found = [
        c
        for position, entry in enumerate(entries(raw, "communities"), start=1)
        if (c := parse_community(entry, position, source, problems, levels, types)) is not None
    ]
    ids = [c.id for c in found]
    for duplicated in sorted({i for i in ids if i and ids.count(i) > 1}):
        problems.append(
            problem(
                source,
                duplicated,
                "id",
                duplicated,
                "is used by two entries.",
                "Give each community its own id.",
            )
        )
    if not found and not problems:
        problems.append(
            problem(
                source,
                None,
                "communities",
                None,
                "lists no community.",
                "Add entries under `communities:` (see the example study).",
            )
        )
    raise_problems(problems, f"{source} is invalid")
    return tuple(found)


def load_communities(root: Path, levels: Sequence[str] | None = None) -> tuple[Community, ...]:
    """The community register of a study folder (`communities.yaml`); `levels` defaults to the
    administrative levels of the folder's retour.toml."""
    root = Path(root)
    if levels is None:
        from retour.config import SETTINGS_FILE, load_settings

        settings = root / SETTINGS_FILE
        levels = ([level.id for level in load_settings(settings).places.admin_levels]
                  if settings.exists() else [])
    path = root / COMMUNITIES_FILE
    return parse_communities(read_yaml(path), source=str(path), levels=levels)
