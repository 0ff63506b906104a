"""The actor register of a study, its value chains and recommendations, and who can answer which need.

Three register files are read and checked together (`actors.yaml`, `value_chains.yaml`,
`recommendations.yaml`), so one SpecError lists every problem across them. An actor covers a need
when it works in the community (or nationally) and lists the need's issue among the `issues` it can
address. Contacts are kept in the register but never put in a listing unless asked for. Analysts'
corrections made in the dashboard are kept in the store, not in the files; `apply_edits` lays them over
the register, so every listing, gap table and report shows the corrected actors.
Apart from reading the YAML files in `load_register`, everything here is pure.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import polars as pl

from retour.keydocs import KeyDoc, allowed_keys_hint, unknown_keys
from retour.registers import (
    SpecProblem,
    entries,
    list_field,
    problem,
    raise_problems,
    read_yaml,
    text_field,
)

ACTORS_FILE = "actors.yaml"
VALUE_CHAINS_FILE = "value_chains.yaml"
RECOMMENDATIONS_FILE = "recommendations.yaml"

DIMENSIONS = ("economic", "social", "psychosocial", "c4d")
EDITABLE_TEXTS = ("strengths_fr", "strengths_en", "weaknesses_fr", "weaknesses_en")
EDITABLE_FIELDS = (*DIMENSIONS, *EDITABLE_TEXTS)  # what an analyst can change in the dashboard
SCOPES = ("community", "national")
KINDS = (
    "ngo", "international_ngo", "association", "public_agency", "local_government", "programme",
    "private_firm", "financial_institution", "un_agency", "donor", "media", "research",
    "traditional_leaders", "producer_organisation", "network",
)
FRAMINGS = ("answer_community_challenges", "create_jobs", "support_lasting_reintegration")
FRAMING_LABELS = {
    "answer_community_challenges": ("Answer the community's challenges",
                                    "Répondre aux défis de la communauté"),
    "create_jobs": ("Create jobs", "Créer de l'emploi"),
    "support_lasting_reintegration": ("Support lasting reintegration", "Favoriser une réintégration durable"),
}
_ID = re.compile(r"^[a-z0-9][a-z0-9_]*$")

# The keys of the three register files and of their entries (docs/study-files.md is generated from
# them; the parsers refuse any other key).
_ID_DOC = KeyDoc("id", "text", "", "Stable identifier: lower-case letters, digits and `_`.")
ACTORS_FILE_KEY_DOCS = (
    KeyDoc("actors", "list of mappings", "", "The actors (keys below)."),
    KeyDoc("categories", "list of mappings", "none", "Categories of structural partners (keys below); "
           "when given, actors' `categories` must be among them."),
)
CATEGORY_KEY_DOCS = (
    _ID_DOC,
    KeyDoc("label_fr", "text", "", "What French readers see."),
    KeyDoc("label_en", "text", "", "What English readers see."),
)
ACTOR_KEY_DOCS = (
    _ID_DOC,
    KeyDoc("name", "text", "", "The actor's name as printed."),
    KeyDoc("kind", "text", "", "What sort of organisation it is.", KINDS),
    KeyDoc("scope", "text", "community", "Works in the communities listed, or nationally.", SCOPES),
    KeyDoc("communities", "list of texts", "required but for a national actor", "Community ids "
           "(communities.yaml) it works in."),
    KeyDoc("dimensions", "list of texts", "none", "The dimensions it works on.", DIMENSIONS),
    KeyDoc("uncertain_dimensions", "boolean", "false", "The dimensions are inferred, not recorded."),
    KeyDoc("issues", "list of texts", "none", "Issue ids of needs.toml it can address: what matches "
           "actors to needs."),
    KeyDoc("categories", "list of texts", "none", "Its categories of structural partner (ids under "
           "`categories:`)."),
    KeyDoc("listed_in", "list of texts", "none", "Where the study lists the actor (free tags)."),
    KeyDoc("description_fr", "text", "none", "What it does, in French (give both languages or neither)."),
    KeyDoc("description_en", "text", "none", "What it does, in English."),
    KeyDoc("strengths_fr", "text", "none", "Its strengths, in French (editable in the dashboard)."),
    KeyDoc("strengths_en", "text", "none", "Its strengths, in English."),
    KeyDoc("weaknesses_fr", "text", "none", "Its weaknesses, in French (editable in the dashboard)."),
    KeyDoc("weaknesses_en", "text", "none", "Its weaknesses, in English."),
    KeyDoc("contact", "text", "none", "How to reach it; never printed unless asked for."),
)
VALUE_CHAINS_FILE_KEY_DOCS = (
    KeyDoc("value_chains", "list of mappings", "", "The value chains (keys below)."),
)
VALUE_CHAIN_KEY_DOCS = (
    _ID_DOC,
    KeyDoc("label_fr", "text", "", "What French readers see."),
    KeyDoc("label_en", "text", "", "What English readers see."),
    KeyDoc("communities", "list of texts", "none", "Community ids (communities.yaml) the chain concerns."),
    KeyDoc("partners", "list of texts", "none", "Actor ids (actors.yaml) of its partners."),
    KeyDoc("communities_uncertain", "boolean", "false", "The communities are inferred, not recorded."),
    KeyDoc("note_fr", "text", "none", "A note, in French."),
    KeyDoc("note_en", "text", "none", "A note, in English."),
)
RECOMMENDATIONS_FILE_KEY_DOCS = (
    KeyDoc("recommendations", "list of mappings", "", "The recommendations (keys below)."),
)
RECOMMENDATION_KEY_DOCS = (
    _ID_DOC,
    KeyDoc("community", "text", "", "The community id (communities.yaml) it is for."),
    KeyDoc("title_fr", "text", "", "Its title, in French."),
    KeyDoc("title_en", "text", "", "Its title, in English."),
    KeyDoc("what_fr", "text", "", "What is recommended, in French."),
    KeyDoc("what_en", "text", "", "What is recommended, in English."),
    KeyDoc("needs", "list of texts", "none", "Issue ids of needs.toml it answers."),
    KeyDoc("partners", "list of texts", "none", "Actor ids (actors.yaml) of potential partners."),
    KeyDoc("framing", "text", "", "Which aim it serves.", FRAMINGS),
    KeyDoc("framing_inferred", "boolean", "false", "The framing is inferred, not recorded."),
    KeyDoc("source", "text", "fiche", "Where the recommendation comes from."),
)


@dataclass(frozen=True)
class Actor:
    """Who can act, where (`communities`, or the whole country when `scope` is national) and on what."""

    id: str
    name: str
    kind: str
    scope: str
    communities: tuple[str, ...]
    dimensions: tuple[str, ...]
    uncertain_dimensions: bool = False
    issues: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    listed_in: tuple[str, ...] = ()
    description_fr: str = ""
    description_en: str = ""
    strengths_fr: str = ""
    strengths_en: str = ""
    weaknesses_fr: str = ""
    weaknesses_en: str = ""
    contact: str = ""

    def works_in(self, community_id: str) -> bool:
        return community_id in self.communities


@dataclass(frozen=True)
class ValueChain:
    """A value chain (filière), the communities it concerns and its partners (actor ids)."""

    id: str
    label_fr: str
    label_en: str
    communities: tuple[str, ...]
    partners: tuple[str, ...]
    communities_uncertain: bool = False
    note_fr: str = ""
    note_en: str = ""


@dataclass(frozen=True)
class Recommendation:
    """What the study recommends for a community, the needs it answers and its potential partners."""

    id: str
    community_id: str
    title_fr: str
    title_en: str
    what_fr: str
    what_en: str
    needs: tuple[str, ...]
    partners: tuple[str, ...]
    framing: str
    framing_inferred: bool = False
    source: str = "fiche"


@dataclass(frozen=True)
class ActorRegister:
    """The three register files of a study, checked against each other."""

    actors: tuple[Actor, ...]
    value_chains: tuple[ValueChain, ...] = ()
    recommendations: tuple[Recommendation, ...] = ()

    def actor(self, actor_id: str) -> Actor:
        return {a.id: a for a in self.actors}[actor_id]

    def names(self) -> dict[str, str]:
        return {a.id: a.name for a in self.actors}


# --- reading --------------------------------------------------------------------------------------


def load_register(root: Path, community_ids: Collection[str], issue_ids: Collection[str]) -> ActorRegister:
    """Read and check `actors.yaml`, `value_chains.yaml` and `recommendations.yaml` of a study folder.

    `value_chains.yaml` and `recommendations.yaml` are optional. One SpecError lists every problem.
    """
    root = Path(root)
    problems: list[SpecProblem] = []
    actors = parse_actors(read_yaml(root / ACTORS_FILE), community_ids, issue_ids, problems)
    actor_ids = {a.id for a in actors}
    chains: tuple[ValueChain, ...] = ()
    if (root / VALUE_CHAINS_FILE).exists():
        chains = parse_value_chains(read_yaml(root / VALUE_CHAINS_FILE), community_ids, actor_ids, problems)
    recommendations: tuple[Recommendation, ...] = ()
    if (root / RECOMMENDATIONS_FILE).exists():
        recommendations = parse_recommendations(read_yaml(root / RECOMMENDATIONS_FILE), community_ids,
                                                issue_ids, actor_ids, problems)
    files = sorted({p.source for p in problems}) or [ACTORS_FILE]
    raise_problems(problems, f"The actor and programme registers are invalid ({', '.join(files)})")
    return ActorRegister(actors=actors, value_chains=chains, recommendations=recommendations)


def _check_id(value: str, source: str, label: str | int, seen: set[str], problems: list[SpecProblem]) -> None:
    if value and not _ID.match(value):
        problems.append(problem(source, label, "id", value, "is not a valid id.",
                                "Use lower-case letters, digits and underscores (e.g. kayes_amrk)."))
    if value in seen:
        problems.append(problem(source, label, "id", value, "is used by two entries.",
                                "Give each entry its own id."))
    seen.add(value)


def _unknown_keys(entry: Mapping[str, Any], keys: Sequence[KeyDoc], what: str, source: str,
                  label: str | int | None, problems: list[SpecProblem]) -> None:
    """A problem for each key of `entry` that `keys` does not declare, naming the keys allowed."""
    problems += [problem(source, label, key, None, f"is not a key of {what}.", allowed_keys_hint(keys))
                 for key in unknown_keys(entry, keys)]


def _identified_entries(raw: Any, key: str, noun: str, source: str, problems: list[SpecProblem],
                        keys: Sequence[KeyDoc], file_keys: Sequence[KeyDoc]
                        ) -> Iterator[tuple[Mapping[str, Any], str | int, str]]:
    """Each mapping listed under `key`, with its label (its id, else its position) and its checked id.

    Entries that are not mappings, ids that are malformed or used twice, and keys of the file
    (`file_keys`) or of an entry (`keys`) that are not declared are recorded as problems.
    """
    if isinstance(raw, Mapping):
        _unknown_keys(raw, file_keys, "the top level", source, None, problems)
    seen: set[str] = set()
    for position, entry in enumerate(entries(raw, key), start=1):
        if not isinstance(entry, Mapping):
            problems.append(problem(source, position, None, entry, f"{noun} must be a mapping."))
            continue
        label = entry["id"] if isinstance(entry.get("id"), str) else position
        _unknown_keys(entry, keys, noun, source, label, problems)
        entry_id = text_field(entry, "id", source, label, problems)
        _check_id(entry_id, source, label, seen, problems)
        yield entry, label, entry_id


def _check_members(values: Sequence[str], allowed: Collection[str], source: str, label: str,
                   field_name: str, what: str, problems: list[SpecProblem], hint: str | None = None) -> None:
    for value in values:
        if value not in allowed:
            problems.append(problem(source, label, field_name, value, f"is not a known {what}.",
                                    hint or f"Use one of: {', '.join(sorted(allowed))}."))


def _flag(entry: Mapping[str, Any], name: str, source: str, label: str, problems: list[SpecProblem]) -> bool:
    value = entry.get(name, False)
    if not isinstance(value, bool):
        problems.append(problem(source, label, name, value, "must be true or false."))
        return False
    return value


def parse_actors(raw: Any, community_ids: Collection[str], issue_ids: Collection[str],
                 problems: list[SpecProblem], source: str = ACTORS_FILE) -> tuple[Actor, ...]:
    """Actors of a parsed `actors.yaml` (a list under `actors`); problems are appended, not raised.

    When the file defines `categories` (id, label_fr, label_en), actors' categories must be among them.
    """
    actors = []
    categories = {c["id"] for c in entries(raw, "categories") if isinstance(c, Mapping) and "id" in c} \
        if isinstance(raw, Mapping) else set()
    for position, category in enumerate(entries(raw, "categories") if isinstance(raw, Mapping) else [],
                                        start=1):
        if isinstance(category, Mapping):
            _unknown_keys(category, CATEGORY_KEY_DOCS, "a category", source, category.get("id", position),
                          problems)
    listed = _identified_entries(raw, "actors", "an actor", source, problems, ACTOR_KEY_DOCS,
                                 ACTORS_FILE_KEY_DOCS)
    for entry, label, actor_id in listed:
        scope = entry.get("scope", "community")
        if scope not in SCOPES:
            problems.append(problem(source, label, "scope", scope, "is not a scope.",
                                    f"Use one of: {', '.join(SCOPES)}."))
        kind = text_field(entry, "kind", source, label, problems)
        if kind and kind not in KINDS:
            problems.append(problem(source, label, "kind", kind, "is not a kind of actor.",
                                    f"Use one of: {', '.join(KINDS)}."))
        communities = list_field(entry, "communities", source, label, problems)
        _check_members(communities, community_ids, source, str(label), "communities", "community", problems)
        if scope == "community" and not communities:
            problems.append(problem(source, label, "communities", None,
                                    "a community actor must name its communities.",
                                    "List them, or set `scope: national`."))
        dimensions = list_field(entry, "dimensions", source, label, problems)
        _check_members(dimensions, DIMENSIONS, source, str(label), "dimensions", "dimension", problems)
        issues = list_field(entry, "issues", source, label, problems)
        _check_members(issues, issue_ids, source, str(label), "issues", "issue (needs.toml)", problems)
        in_categories = list_field(entry, "categories", source, label, problems)
        if categories:
            _check_members(in_categories, categories, source, str(label), "categories", "category", problems)
        texts = {name: text_field(entry, name, source, label, problems, required=False)
                 for name in ("description_fr", "description_en", "strengths_fr", "strengths_en",
                              "weaknesses_fr", "weaknesses_en", "contact")}
        for first, second in (("strengths_fr", "strengths_en"), ("weaknesses_fr", "weaknesses_en"),
                              ("description_fr", "description_en")):
            if bool(texts[first]) != bool(texts[second]):
                missing = second if texts[first] else first
                problems.append(problem(source, label, missing, None, "is missing its translation.",
                                        "Give this text in both French and English."))
        actors.append(Actor(
            id=actor_id, name=text_field(entry, "name", source, label, problems), kind=kind,
            scope=str(scope), communities=communities, dimensions=dimensions,
            uncertain_dimensions=_flag(entry, "uncertain_dimensions", source, str(label), problems),
            issues=issues, categories=in_categories,
            listed_in=list_field(entry, "listed_in", source, label, problems), **texts))
    return tuple(actors)


def parse_value_chains(raw: Any, community_ids: Collection[str], actor_ids: Collection[str],
                       problems: list[SpecProblem],
                       source: str = VALUE_CHAINS_FILE) -> tuple[ValueChain, ...]:
    """Value chains of a parsed `value_chains.yaml` (a list under `value_chains`)."""
    chains = []
    listed = _identified_entries(raw, "value_chains", "a value chain", source, problems, VALUE_CHAIN_KEY_DOCS,
                                 VALUE_CHAINS_FILE_KEY_DOCS)
    for entry, label, chain_id in listed:
        communities = list_field(entry, "communities", source, label, problems)
        _check_members(communities, community_ids, source, str(label), "communities", "community", problems)
        partners = list_field(entry, "partners", source, label, problems)
        _check_members(partners, actor_ids, source, str(label), "partners", "actor", problems,
                       "Name partners by their id in actors.yaml.")
        chains.append(ValueChain(
            id=chain_id, label_fr=text_field(entry, "label_fr", source, label, problems),
            label_en=text_field(entry, "label_en", source, label, problems), communities=communities,
            partners=partners,
            communities_uncertain=_flag(entry, "communities_uncertain", source, str(label), problems),
            note_fr=text_field(entry, "note_fr", source, label, problems, required=False),
            note_en=text_field(entry, "note_en", source, label, problems, required=False)))
    return tuple(chains)


def parse_recommendations(raw: Any, community_ids: Collection[str], issue_ids: Collection[str],
                          actor_ids: Collection[str], problems: list[SpecProblem],
                          source: str = RECOMMENDATIONS_FILE) -> tuple[Recommendation, ...]:
    """Recommendations of a parsed `recommendations.yaml` (a list under `recommendations`)."""
    found = []
    listed = _identified_entries(raw, "recommendations", "a recommendation", source, problems,
                                 RECOMMENDATION_KEY_DOCS, RECOMMENDATIONS_FILE_KEY_DOCS)
    for entry, label, recommendation_id in listed:
        community = text_field(entry, "community", source, label, problems)
        if community:
            _check_members([community], community_ids, source, str(label), "community", "community", problems)
        needs = list_field(entry, "needs", source, label, problems)
        _check_members(needs, issue_ids, source, str(label), "needs", "need (issue id of needs.toml)",
                       problems)
        partners = list_field(entry, "partners", source, label, problems)
        _check_members(partners, actor_ids, source, str(label), "partners", "actor", problems,
                       "Name partners by their id in actors.yaml.")
        framing = text_field(entry, "framing", source, label, problems)
        if framing and framing not in FRAMINGS:
            problems.append(problem(source, label, "framing", framing, "is not a framing.",
                                    f"Use one of: {', '.join(FRAMINGS)}."))
        found.append(Recommendation(
            id=recommendation_id, community_id=community,
            title_fr=text_field(entry, "title_fr", source, label, problems),
            title_en=text_field(entry, "title_en", source, label, problems),
            what_fr=text_field(entry, "what_fr", source, label, problems),
            what_en=text_field(entry, "what_en", source, label, problems),
            needs=needs, partners=partners, framing=framing,
            framing_inferred=_flag(entry, "framing_inferred", source, str(label), problems),
            source=text_field(entry, "source", source, label, problems, required=False) or "fiche"))
    return tuple(found)


# --- analysts' edits ------------------------------------------------------------------------------


def _latest_edits(edits: pl.DataFrame) -> pl.DataFrame:
    """The last edit of each actor field that can be edited, in the order the edits were made."""
    if edits.height == 0:
        return edits
    order = ["edit_id", "_row"] if "edit_id" in edits.columns else ["_row"]
    return (edits.with_row_index("_row").filter(pl.col("field").is_in(list(EDITABLE_FIELDS))).sort(order)
            .unique(["actor_id", "field"], keep="last").sort(order).drop("_row"))


def apply_edits(register: ActorRegister, edits: pl.DataFrame,
                issue_dimensions: Mapping[str, str] | None = None) -> ActorRegister:
    """The register with analysts' edits laid over actors.yaml: each edited field takes its latest value.

    Analysts correct actors in the dashboard (the dimensions each works on, its strengths and
    weaknesses); the store logs every edit and actors.yaml stays as written, so each output lays the
    log over the file through this one function. `edits` is the log as `store.read_actor_edits` gives
    it (columns actor_id, field, new_value; with edit_id, the highest wins, else the last row). A
    dimension's new value is "true" (the actor works on it) or anything else (it does not); a missing
    new value leaves the field as written. Edits of actors or fields the register no longer has are
    ignored: the actor may have left actors.yaml since. With `issue_dimensions` (issue id -> dimension,
    from needs.toml), an actor whose edits take a dimension away also stops addressing that dimension's
    issues, so `match_needs` no longer counts it there. The inputs are not changed.
    """
    changes: dict[str, dict[str, str]] = {}
    for edit in _latest_edits(edits).iter_rows(named=True):
        if edit["new_value"] is not None:
            changes.setdefault(edit["actor_id"], {})[edit["field"]] = edit["new_value"]
    if not changes:
        return register
    return replace(register, actors=tuple(
        _edited(actor, changes[actor.id], issue_dimensions or {}) if actor.id in changes else actor
        for actor in register.actors))


def _edited(actor: Actor, changes: Mapping[str, str], issue_dimensions: Mapping[str, str]) -> Actor:
    kept = tuple(d for d in actor.dimensions if changes.get(d, "true") == "true")
    added = tuple(d for d in DIMENSIONS if d not in actor.dimensions and changes.get(d) == "true")
    removed = set(actor.dimensions) - set(kept)
    issues = tuple(i for i in actor.issues if issue_dimensions.get(i) not in removed)
    texts = {name: changes[name] for name in EDITABLE_TEXTS if name in changes}
    return replace(actor, dimensions=kept + added, issues=issues, **texts)


EDIT_SUMMARY_SCHEMA = {"actor_id": pl.Utf8, "edited_by": pl.Utf8, "edited_at": pl.Datetime("us"),
                       "edited_fields": pl.Utf8}


def edit_summary(edits: pl.DataFrame) -> pl.DataFrame:
    """One row per edited actor: who made its last edit, when, and which fields were edited.

    `edited_fields` is "; "-separated in `EDITABLE_FIELDS` order. `edits` as for `apply_edits`, with
    edited_by and edited_at; edits of fields that cannot be edited are left out, as `apply_edits` does.
    """
    latest = _latest_edits(edits)
    if latest.height == 0:
        return pl.DataFrame(schema=EDIT_SUMMARY_SCHEMA)
    order = {field: position for position, field in enumerate(EDITABLE_FIELDS)}
    summary = latest.group_by("actor_id", maintain_order=True).agg(
        pl.col("edited_by").last(), pl.col("edited_at").last(),
        pl.col("field").sort_by(pl.col("field").replace_strict(order, return_dtype=pl.Int64))
        .str.join("; ").alias("edited_fields"))
    return summary.cast(EDIT_SUMMARY_SCHEMA)


# --- listings -------------------------------------------------------------------------------------


def _joined(values: Sequence[str]) -> str:
    return "; ".join(values)


def list_actors(register: ActorRegister, community_id: str | None = None, dimension: str | None = None,
                include_national: bool = False, include_contact: bool = False) -> pl.DataFrame:
    """One row per community x actor working there (national actors under `national` when included).

    Filter by community and by dimension (economic, social, psychosocial, c4d). Contacts are left out
    unless `include_contact`.
    """
    rows = []
    for actor in register.actors:
        places = list(actor.communities) if actor.scope == "community" else (
            ["national"] if include_national else [])
        for place in places:
            if community_id is not None and place != community_id:
                continue
            if dimension is not None and dimension not in actor.dimensions:
                continue
            row = {
                "community_id": place, "actor_id": actor.id, "name": actor.name, "kind": actor.kind,
                **{name: name in actor.dimensions for name in DIMENSIONS},
                "uncertain_dimensions": actor.uncertain_dimensions, "issues": _joined(actor.issues),
                "strengths_en": actor.strengths_en, "weaknesses_en": actor.weaknesses_en,
                "strengths_fr": actor.strengths_fr, "weaknesses_fr": actor.weaknesses_fr,
            }
            if include_contact:
                row["contact"] = actor.contact
            rows.append(row)
    schema = {"community_id": pl.Utf8, "actor_id": pl.Utf8, "name": pl.Utf8, "kind": pl.Utf8,
              **dict.fromkeys(DIMENSIONS, pl.Boolean), "uncertain_dimensions": pl.Boolean,
              "issues": pl.Utf8, "strengths_en": pl.Utf8, "weaknesses_en": pl.Utf8,
              "strengths_fr": pl.Utf8, "weaknesses_fr": pl.Utf8}
    if include_contact:
        schema["contact"] = pl.Utf8
    return pl.DataFrame(rows, schema=schema)


def list_value_chains(register: ActorRegister) -> pl.DataFrame:
    """One row per value chain: the communities it concerns and its partners' names."""
    names = register.names()
    rows = [{
        "chain_id": chain.id, "label_fr": chain.label_fr, "label_en": chain.label_en,
        "communities": _joined(chain.communities), "n_communities": len(chain.communities),
        "communities_uncertain": chain.communities_uncertain,
        "partners": _joined([names[p] for p in chain.partners]), "n_partners": len(chain.partners),
    } for chain in register.value_chains]
    return pl.DataFrame(rows, schema={
        "chain_id": pl.Utf8, "label_fr": pl.Utf8, "label_en": pl.Utf8, "communities": pl.Utf8,
        "n_communities": pl.Int64, "communities_uncertain": pl.Boolean, "partners": pl.Utf8,
        "n_partners": pl.Int64})


def chains_by_community(register: ActorRegister) -> dict[str, tuple[str, ...]]:
    """Value chain ids per community."""
    result: dict[str, list[str]] = {}
    for chain in register.value_chains:
        for community_id in chain.communities:
            result.setdefault(community_id, []).append(chain.id)
    return {community_id: tuple(ids) for community_id, ids in result.items()}


def list_recommendations(register: ActorRegister, community_id: str | None = None) -> pl.DataFrame:
    """One row per recommendation, with partners by name and the needs it answers."""
    names = register.names()
    rows = [{
        "community_id": r.community_id, "recommendation_id": r.id, "framing": r.framing,
        "framing_inferred": r.framing_inferred, "title_en": r.title_en, "title_fr": r.title_fr,
        "what_en": r.what_en, "what_fr": r.what_fr, "needs": _joined(r.needs), "source": r.source,
        "partners": _joined([names[p] for p in r.partners]), "partner_ids": _joined(r.partners),
    } for r in register.recommendations if community_id is None or r.community_id == community_id]
    columns = ("community_id", "recommendation_id", "framing", "framing_inferred", "title_en", "title_fr",
               "what_en", "what_fr", "needs", "source", "partners", "partner_ids")
    schema = {name: pl.Boolean if name == "framing_inferred" else pl.Utf8 for name in columns}
    return pl.DataFrame(rows, schema=schema)


GAPS_SCHEMA = {
    "community_id": pl.Utf8, "issue_id": pl.Utf8, "level": pl.Utf8, "overridden": pl.Boolean,
    "covered": pl.Boolean, "n_actors": pl.Int64, "actor_ids": pl.Utf8, "actors": pl.Utf8,
    "n_national_partners": pl.Int64, "national_partner_ids": pl.Utf8, "national_partners": pl.Utf8,
    "recommendations": pl.Utf8,
}


def match_needs(needs: pl.DataFrame, register: ActorRegister,
                levels: Collection[str] = ("priority",)) -> pl.DataFrame:
    """For each community's need at one of `levels`: the actors there who can address it, and gaps.

    An actor addresses a need when it works in the community and lists the issue. `covered` is false
    when no actor of the community does: a gap. National partners listing the issue are shown beside
    (one known only as a value-chain partner when its chain concerns the community), as are the community's
    recommendations answering the need.
    """
    chain_partners = {chain.id: set(chain.partners) for chain in register.value_chains}
    near_chains = {community_id: set().union(*(chain_partners[c] for c in chain_ids))
                   for community_id, chain_ids in chains_by_community(register).items()}
    in_chain = set().union(*chain_partners.values())
    local: dict[tuple[str, str], list[Actor]] = {}
    national: dict[str, list[Actor]] = {}
    for actor in register.actors:
        for issue_id in actor.issues:
            if actor.scope == "community":
                for community_id in actor.communities:
                    local.setdefault((community_id, issue_id), []).append(actor)
            else:
                national.setdefault(issue_id, []).append(actor)
    answers: dict[tuple[str, str], list[str]] = {}
    for recommendation in register.recommendations:
        for issue_id in recommendation.needs:
            answers.setdefault((recommendation.community_id, issue_id), []).append(recommendation.id)
    rows = []
    for need in needs.filter(pl.col("level").is_in(list(levels))).iter_rows(named=True):
        community_id, issue_id = need["community_id"], need["issue_id"]
        here = local.get((community_id, issue_id), [])
        near = near_chains.get(community_id, set())
        partners = [a for a in national.get(issue_id, [])
                    if a.categories or a.id not in in_chain or a.id in near]
        rows.append({
            "community_id": community_id, "issue_id": issue_id, "level": need["level"],
            "overridden": bool(need.get("overridden", False)), "covered": bool(here),
            "n_actors": len(here), "actor_ids": _joined([a.id for a in here]),
            "actors": _joined([a.name for a in here]),
            "n_national_partners": len(partners), "national_partner_ids": _joined([a.id for a in partners]),
            "national_partners": _joined([a.name for a in partners]),
            "recommendations": _joined(answers.get((community_id, issue_id), [])),
        })
    return pl.DataFrame(rows, schema=GAPS_SCHEMA)
