"""Names the dashboard shows for ids: communities, indicators, needs issues, rounds.

Labels come from the study's own files when they give them (`communities.yaml`, `indicators.toml`,
`needs.toml`, the rounds in `retour.toml`); the built-in names below cover the example study's ids, and
any other id is shown tidied up. Read once per app; nothing here touches the store.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from retour.config import Project

COMMUNITY_NAMES = {
    "bafoulabe": "Bafoulabé",
    "bamako_commune_iv": "Bamako (Commune IV)",
    "kati": "Kati",
    "kayes": "Kayes",
    "kita": "Kita",
    "sikasso": "Sikasso",
    "kirane": "Kirané",
    "all": "Échantillon",
}

INDICATOR_LABELS: dict[str, tuple[str, str]] = {
    "paid_job_or_iga": (
        "Ont un emploi payé ou une activité qui rapporte",
        "Have paid work or an income activity",
    ),
    "can_borrow_money": ("Peuvent emprunter de l'argent", "Can borrow money"),
    "reduced_food_consumption": ("Ont dû manger moins faute de moyens", "Had to eat less for lack of means"),
    "has_friends_group": ("Ont un groupe d'amis", "Have a group of friends"),
    "reached_high_school_or_more": (
        "Sont allés au lycée ou au-delà",
        "Went to upper-secondary school or beyond",
    ),
    "left_school_early": ("Ont quitté l'école avant la fin", "Left school before the end"),
    "seeking_job": ("Cherchent un emploi", "Are looking for work"),
    "has_support_network": ("Ont un réseau sur qui compter", "Have a network to rely on"),
    "interested_in_own_business": ("Veulent créer leur entreprise", "Want to start a business"),
    "illness_or_accident_last_year": (
        "Malades ou accidentés dans l'année",
        "Ill or injured in the past year",
    ),
    "wants_psych_services": ("Souhaitent un soutien psychologique", "Would like psychological support"),
    "born_in_other_community": ("Nés dans une autre communauté", "Born in another community"),
    "receives_remittances": ("Reçoivent de l'argent de l'étranger", "Receive money from abroad"),
    "family_or_friends_abroad": (
        "Ont de la famille ou des amis à l'étranger",
        "Have family or friends abroad",
    ),
    "return_migrants_share": ("Sont des migrants de retour", "Are return migrants"),
    "access_psychosocial_services": (
        "Ont accès à un soutien psychosocial",
        "Have access to psychosocial support",
    ),
    "feels_discriminated": ("Se sentent discriminés", "Feel discriminated against"),
    "satisfied_education": ("Éducation", "Education"),
    "satisfied_id_papers": ("Papiers d'identité", "Identity papers"),
    "satisfied_housing": ("Logement", "Housing"),
    "satisfied_healthcare": ("Soins de santé", "Healthcare"),
    "satisfied_drinking_water": ("Eau potable", "Drinking water"),
    "satisfied_justice_police": ("Justice et police", "Justice and police"),
}

ISSUE_LABELS: dict[str, tuple[str, str]] = {
    "water": ("Eau", "Water"),
    "education": ("Éducation", "Education"),
    "energy": ("Énergie", "Energy"),
    "infrastructure": ("Infrastructures", "Infrastructure"),
    "agricultural_productivity": ("Productivité agricole", "Farm productivity"),
    "environment": ("Environnement", "Environment"),
    "training": ("Formation", "Training"),
    "finance": ("Financement", "Finance"),
    "social_cohesion": ("Cohésion sociale", "Social cohesion"),
    "housing": ("Logement", "Housing"),
    "health": ("Santé", "Health"),
    "psychosocial": ("Psychosocial", "Psychosocial"),
    "documentation": ("Documentation", "Documentation"),
    "justice_police": ("Justice et police", "Justice and police"),
}


def tidy(identifier: str) -> str:
    """An id made readable when no label is known ('farm_output' -> 'Farm output')."""
    text = identifier.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _read(path: Path) -> Any:
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


def _bilingual(entry: Mapping[str, Any], *prefixes: str) -> tuple[str, str] | None:
    for prefix in prefixes:
        french, english = entry.get(f"{prefix}_fr"), entry.get(f"{prefix}_en")
        if french or english:
            return str(french or english), str(english or french)
        nested = entry.get(prefix)
        if isinstance(nested, Mapping) and (nested.get("fr") or nested.get("en")):
            return str(nested.get("fr") or nested.get("en")), str(nested.get("en") or nested.get("fr"))
    return None


@dataclass(frozen=True)
class Labels:
    """Display names by id, per language."""

    communities: dict[str, str] = field(default_factory=dict)
    coordinates: dict[str, tuple[float, float]] = field(default_factory=dict)
    indicators: dict[str, tuple[str, str]] = field(default_factory=dict)
    indicator_kinds: dict[str, str] = field(default_factory=dict)
    indicator_blocks: dict[str, str] = field(default_factory=dict)
    indicator_themes: dict[str, str] = field(default_factory=dict)
    issues: dict[str, tuple[str, str]] = field(default_factory=dict)
    rounds: dict[str, tuple[str, str]] = field(default_factory=dict)

    def community(self, community_id: str, language: str = "fr") -> str:
        if community_id == "all":
            return "Échantillon" if language == "fr" else "Whole sample"
        return self.communities.get(community_id) or tidy(community_id)

    def indicator(self, indicator_id: str, language: str) -> str:
        pair = self.indicators.get(indicator_id)
        return (pair[1] if language == "en" else pair[0]) if pair else tidy(indicator_id)

    def is_proportion(self, indicator_id: str) -> bool:
        return self.indicator_kinds.get(indicator_id, "proportion") == "proportion"

    def indicator_order(self) -> list[str]:
        """Indicator ids in catalogue order."""
        return list(self.indicators)

    def issue(self, issue_id: str, language: str) -> str:
        pair = self.issues.get(issue_id)
        return (pair[1] if language == "en" else pair[0]) if pair else tidy(issue_id)

    def round(self, round_name: str, language: str) -> str:
        pair = self.rounds.get(round_name)
        label = (pair[1] if language == "en" else pair[0]) if pair else ""
        return label or tidy(round_name)


def load_labels(project: Project) -> Labels:
    """Labels from the study's files, over the built-in names."""
    communities = {key: value for key, value in COMMUNITY_NAMES.items() if key != "all"}
    coordinates: dict[str, tuple[float, float]] = {}
    for entry in _entries(_read(project.path("communities.yaml")), "communities"):
        if entry.get("name"):
            communities[str(entry["id"])] = str(entry["name"])
        location = entry.get("coordinates") or entry.get("location") or entry
        if isinstance(location, Mapping):
            latitude = location.get("latitude", location.get("lat"))
            longitude = location.get("longitude", location.get("lon"))
            if isinstance(latitude, int | float) and isinstance(longitude, int | float):
                coordinates[str(entry["id"])] = (float(latitude), float(longitude))
    indicators, kinds, blocks, themes = _indicator_labels(project)
    issues = dict(ISSUE_LABELS)
    needs_spec = _read(project.path("needs.toml"))
    for entry in [*_entries(needs_spec, "issues"), *_entries(needs_spec, "issue")]:
        pair = _bilingual(entry, "label")
        if pair:
            issues[str(entry["id"])] = pair
    rounds = {r.name: (r.label_fr, r.label_en) for r in project.settings.rounds}
    return Labels(
        communities=communities,
        coordinates=coordinates,
        indicators=indicators,
        indicator_kinds=kinds,
        indicator_blocks=blocks,
        indicator_themes=themes,
        issues=issues,
        rounds=rounds,
    )


def _indicator_labels(
    project: Project,
) -> tuple[dict[str, tuple[str, str]], dict[str, str], dict[str, str], dict[str, str]]:
    """Labels, kinds, fact-sheet blocks and themes from the indicator catalogue (checked against the
    questionnaire when both load; read as plain TOML otherwise)."""
    from retour.errors import RetourError
    from retour.indicators import load_catalogue
    from retour.schema import load_instrument

    labels = dict(INDICATOR_LABELS)
    kinds: dict[str, str] = {}
    blocks: dict[str, str] = {}
    themes: dict[str, str] = {}
    try:
        catalogue = load_catalogue(
            project.path("indicators.toml"), load_instrument(project.path("instrument.xlsx"))
        )
    except (RetourError, OSError):
        for entry in _entries(_read(project.path("indicators.toml")), "indicators"):
            pair = _bilingual(entry, "label")
            identifier = str(entry["id"])
            if pair:
                labels[identifier] = pair
            kinds[identifier] = str(entry.get("kind", "proportion"))
            blocks[identifier] = str(entry.get("fiche_block", ""))
            themes[identifier] = str(entry.get("theme", ""))
        return labels, kinds, blocks, themes
    for indicator in catalogue.indicators:
        labels[indicator.id] = (indicator.label_fr, indicator.label_en)
        kinds[indicator.id] = indicator.kind
        blocks[indicator.id] = indicator.fiche_block
        themes[indicator.id] = indicator.theme
    return labels, kinds, blocks, themes
