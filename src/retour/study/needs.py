"""Needs stage: classify a round's needs, keep analysts' overrides, match the actor register (issue 8)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from retour.config import Project
from retour.errors import ConfigError, RetourError
from retour.study import _community_ids, _stage_details, _stored_estimates, _stored_results, stamp

if TYPE_CHECKING:
    import polars as pl

    from retour.actors import ActorRegister
    from retour.needs import NeedsSpec


def _indicator_labels(project: Project) -> dict[str, Any]:
    """How each catalogue indicator is named in needs evidence, and whether it is a proportion."""
    from retour.needs import IndicatorLabel
    from retour.registers import catalogue_indicators, read_toml

    path = project.path("indicators.toml")
    if not path.exists():
        return {}
    try:
        from retour.indicators import load_catalogue
        from retour.schema import load_instrument

        catalogue = load_catalogue(path, load_instrument(project.path("instrument.xlsx")))
        entries = {i.id: {"label_fr": i.label_fr, "label_en": i.label_en, "kind": i.kind}
                   for i in catalogue.indicators}
    except (ImportError, OSError, RetourError):
        entries = catalogue_indicators(read_toml(path))
    return {indicator_id: IndicatorLabel(label_en=str(entry.get("label_en") or indicator_id),
                                         label_fr=str(entry.get("label_fr") or indicator_id),
                                         proportion=entry.get("kind", "proportion") != "mean")
            for indicator_id, entry in entries.items()}


def load_needs_spec(project: Project, labels: dict[str, Any] | None = None,
                    communities: tuple[str, ...] | None = None) -> NeedsSpec:
    """The study's needs.toml, checked against its catalogue, communities and rounds."""
    from retour.needs import parse_spec
    from retour.registers import read_toml

    labels = _indicator_labels(project) if labels is None else labels
    return parse_spec(read_toml(project.path("needs.toml")), source="needs.toml",
                      indicator_ids=set(labels) if labels else None,
                      community_ids=communities or _community_ids(project),
                      round_names=[r.name for r in project.settings.rounds])


def load_actor_register(project: Project, spec: NeedsSpec | None = None,
                        communities: tuple[str, ...] | None = None, *, edits: bool = True,
                        con: Any = None) -> ActorRegister:
    """The study's actors.yaml, value_chains.yaml and recommendations.yaml, checked together, with the
    analysts' actor edits kept in the store laid over them (`actors.apply_edits`).

    Every listing, gap table and report reads the register here, so an actor corrected in the dashboard
    is corrected everywhere. `edits=False` gives the register exactly as the files say (to check them,
    or for the dashboard, which lays the edits over it itself). The edits are read through `con` when
    the caller holds the store open, else from the study's store; a study without a store has none.
    """
    from retour.actors import apply_edits, load_register

    communities = communities or _community_ids(project)
    spec = spec or load_needs_spec(project, communities=communities)
    register = load_register(project.root, communities, spec.issue_ids())
    if not edits:
        return register
    issue_dimensions = {issue.id: issue.dimension for issue in spec.issues}
    return apply_edits(register, _stored_actor_edits(project, con), issue_dimensions)


def _stored_actor_edits(project: Project, con: Any = None) -> pl.DataFrame:
    """The latest edit of each actor field, from `con` or the study's store (none before it exists)."""
    import polars as pl

    from retour import store

    if con is not None:
        return store.read_actor_edits(con, latest=True)
    if not project.store_path.exists():  # connecting would create the store
        return pl.DataFrame()
    con = store.connect(project.store_path)
    try:
        return store.read_actor_edits(con, latest=True)
    finally:
        con.close()


def _needs_data_hash(con: Any, round_name: str) -> str:
    """The data hash of the round's latest index (or estimate) run, which the needs rest on."""
    from retour import store

    for stage in ("index", "estimate"):
        run = store.latest_run(con, stage, round_name)
        if run is not None:
            return str(run["data_hash"])
    return ""


def compute_needs(project: Project, round_name: str) -> pl.DataFrame:
    """Classify every community's needs for a round, keep analysts' overrides, store needs and gaps.

    Reads the stored `estimates` (and `index_scores` when a rule uses a pillar) of the round; writes
    the `needs` table (contract 6) and `actor_gaps` (priority and important needs with the actors who
    can address them), and records a `needs` run. Returns the needs matrix.
    """
    from retour import needs, store
    from retour.actors import match_needs
    from retour.errors import EstimationError
    from retour.study.check import check_stage

    check_stage(project, "needs")  # every problem of the files it reads, before any work (issue 16)
    project.settings.round(round_name)
    communities, labels = _community_ids(project), _indicator_labels(project)
    spec = load_needs_spec(project, labels, communities)
    register = load_actor_register(project, spec, communities) if project.path("actors.yaml").exists() \
        else None
    con = store.connect(project.store_path)
    try:
        estimates = _stored_estimates(project, con, round_name)
        scores = store.read_results(con, "index_scores", round_name)
        if spec.uses_pillars() and scores.height == 0:
            raise EstimationError(f"No index scores for round '{round_name}', and needs.toml has rules "
                                  "on pillars.",
                                  f"Run `retour index {project.root} --round {round_name}` first.")
        present = set(estimates.get_column("community_id").unique().to_list()) - {"all"}
        order = [c for c in communities if c in present] + sorted(present - set(communities))
        matrix = needs.classify(estimates, scores, spec, round_name, labels=labels, communities=order)
        matrix = needs.apply_overrides(matrix, store.read_need_overrides(con, round_name, latest=True))
        store.write_results(con, "needs", matrix, round_name)
        if register is not None:
            gaps = match_needs(matrix, register, levels=("priority", "important"))
            store.write_results(con, "actor_gaps", gaps, round_name)
        run_stamp = stamp(project, _needs_data_hash(con, round_name), round_name)
        store.record_run(con, "needs", round_name, run_stamp, _stage_details(project, "needs"))
    finally:
        con.close()
    return matrix


def set_need_override(project: Project, round_name: str, community_id: str, issue_id: str, level: str,
                      why: str, by: str | None = None) -> pl.DataFrame:
    """Record an analyst's level for one needs cell (who, when, why) and return the updated matrix.

    `by` defaults to the operating-system user. The override is kept in the store and applied by every
    later `compute_needs` of the round, until another override of the same cell replaces it.
    """
    import polars as pl

    from retour import needs, store

    project.settings.round(round_name)
    communities = _community_ids(project)
    spec = load_needs_spec(project, communities=communities)
    needs.check_override(spec, communities, community_id, issue_id, level, why)
    con = store.connect(project.store_path)
    try:
        stored = store.read_results(con, "needs", round_name)
        has_cell = stored.height > 0 and stored.filter(
            (pl.col("community_id") == community_id) & (pl.col("issue_id") == issue_id)).height > 0
        if not has_cell:  # the cell must be stored before it can be overridden
            con.close()
            compute_needs(project, round_name)
            con = store.connect(project.store_path)
        store.set_need_override(con, round_name, community_id, issue_id, level, why.strip(),
                                (by or _user_name()).strip())
    finally:
        con.close()
    return compute_needs(project, round_name)


def _user_name() -> str:
    """The operating-system user, who records an override when no name is given."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def list_actors(project: Project, community_id: str | None = None, dimension: str | None = None,
                include_national: bool = False) -> pl.DataFrame:
    """Actors by community and dimension (economic, social, psychosocial, c4d); contacts left out.

    Analysts' dashboard edits are applied; `edited_by`, `edited_at` and `edited_fields` say who last
    edited an actor, when, and which fields (null for actors as actors.yaml has them).
    """
    from retour import actors

    communities = _community_ids(project)
    register = load_actor_register(project, communities=communities)
    if community_id is not None and community_id not in communities:
        raise ConfigError(f"Unknown community '{community_id}'.",
                          f"Communities of the study: {', '.join(communities)}.")
    if dimension is not None and dimension not in actors.DIMENSIONS:
        raise ConfigError(f"Unknown dimension '{dimension}'.", f"Use one of: {', '.join(actors.DIMENSIONS)}.")
    listing = actors.list_actors(register, community_id, dimension, include_national=include_national)
    return listing.join(actors.edit_summary(_stored_actor_edits(project)), on="actor_id", how="left",
                        maintain_order="left")


def actor_gaps(project: Project, round_name: str, include_important: bool = False) -> pl.DataFrame:
    """Per community, each priority need (and important ones if asked) with the actors who can address
    it; `covered` is false where no actor of the community does. Computes the needs if not yet stored."""
    from retour.actors import match_needs

    project.settings.round(round_name)
    (stored,) = _stored_results(project, round_name, "needs")
    matrix = stored if stored.height else compute_needs(project, round_name)
    levels = ("priority", "important") if include_important else ("priority",)
    return match_needs(matrix, load_actor_register(project), levels=levels)


def list_value_chains(project: Project) -> pl.DataFrame:
    """Value chains of the study with the communities each concerns and its partners."""
    from retour.actors import list_value_chains as listing

    return listing(load_actor_register(project, edits=False))  # edits touch no value chain
