"""Estimate and index stages: a round's estimates and gaps, its index and its explanation (issue 6)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from retour.config import Project
from retour.errors import ConfigError
from retour.study import (
    _index_area_types,
    _index_catalogue,
    _stage_details,
    _stored_estimates,
    _stored_results,
    stamp,
)

if TYPE_CHECKING:
    import polars as pl

    from retour.index import IndexSpec
    from retour.index.tables import IndexTables


def load_index_spec(project: Project, catalogue: Any = None) -> IndexSpec:
    """The study's IndexSpec: index.toml with the pillars, directions and weights of indicators.toml."""
    from retour.index import IndexSpec

    return IndexSpec.from_toml(project.path("index.toml"), catalogue or _index_catalogue(project),
                               reference_round=project.settings.index.reference_round)


def _frozen_index_spec(con: Any, spec: IndexSpec, round_name: str) -> IndexSpec:
    """The spec with the reference round's goalposts, for every round after it (design.md section 5)."""
    from retour import store
    from retour.errors import EstimationError
    from retour.index import frozen_goalposts

    if spec.goalposts_from != "reference_round" or round_name == spec.reference_round:
        return spec
    stored = store.read_results(con, "index_goalposts", spec.reference_round)
    if stored.height == 0:
        raise EstimationError(f"The index of the reference round '{spec.reference_round}' has not been "
                              f"built, so round '{round_name}' has no goalposts to be compared with.",
                              f"Run `retour index DIR --round {spec.reference_round}` first.")
    frozen = spec.with_goalposts(frozen_goalposts(stored))
    missing = sorted(set(frozen.indicator_ids) - {g.indicator_id for g in frozen.goalposts})
    if missing:
        raise EstimationError(f"No goalposts from round '{spec.reference_round}' for indicator(s) "
                              f"{', '.join(missing)}.",
                              "Rebuild the reference round's index: "
                              f"retour index DIR --round {spec.reference_round}")
    return frozen


@dataclass(frozen=True)
class RoundEstimates:
    """A round's stored estimates (contract 4, table `estimates`) and gaps (table `gaps`), and the
    catalogue groups that compare no levels, so have no gaps."""

    estimates: pl.DataFrame
    gaps: pl.DataFrame
    groups_without_comparison: tuple[str, ...] = ()


def group_levels(catalogue: Any) -> dict[str, tuple[str, ...]]:
    """Each catalogue group's levels in report order, the groups in catalogue order."""
    return {group.id: tuple(group.levels) for group in catalogue.groups}


def group_ids(project: Project) -> tuple[str, ...]:
    """The ids of the study's groups (indicators.toml), in catalogue order."""
    return tuple(group.id for group in _index_catalogue(project).groups)


def compared_levels(catalogue: Any) -> dict[str, tuple[str, str]]:
    """The (a, b) each catalogue group compares (its `compare` setting), for the groups that have one."""
    return {group.id: group.compare for group in catalogue.groups if group.compare is not None}


def estimate_round(project: Project, round_name: str | None = None,
                   progress: Callable[[str, float], None] | None = None) -> RoundEstimates:
    """Estimate every catalogue indicator for a round and store the estimates and the gaps.

    Derives the respondent-level indicators from the round's stored submissions, estimates them under
    the study design (retour.toml [design], [estimation]) for every community and the whole sample,
    overall and by group (the catalogue's groups and levels, in its order), computes the gaps a - b
    of the groups that compare two levels (`compare` in indicators.toml), writes the `estimates` and
    `gaps` tables and records an `estimate` run. `progress(step, share)` is told how far the work is
    (0..1).
    """
    from retour import store
    from retour.errors import EstimationError
    from retour.estimate import EstimationSpec, estimates_of
    from retour.gaps import gaps_of
    from retour.indicators import derive
    from retour.linearise import Design, linearise
    from retour.study.check import check_stage

    check_stage(project, "estimate")  # every problem of the files it reads, before any work (issue 16)
    settings = project.settings
    round_name = round_name or settings.rounds[0].name
    settings.round(round_name)
    step = progress or (lambda _step, _share: None)
    catalogue = _index_catalogue(project)
    con = store.connect(project.store_path)
    try:
        submissions = store.read_submissions(con, round_name)
        if submissions.height == 0:
            raise EstimationError(f"No submissions for round '{round_name}'.",
                                  f"Ingest an export first: retour ingest {project.root} FILE "
                                  f"--round {round_name}")
        step("derive", 0.1)
        respondents = derive(submissions, catalogue, _index_area_types(project), settings.design)
        design = Design("stratum", "psu", "weight", "fpc" if settings.design.fpc else None)
        spec = EstimationSpec.from_settings(settings.estimation)
        levels = group_levels(catalogue)
        step("estimate", 0.3)
        linearised = linearise(respondents, catalogue.ids, design, ("community_id",), tuple(levels),
                               {i.id: i.kind for i in catalogue.indicators}, spec.lonely_psu, levels)
        estimates = estimates_of(linearised, spec)
        step("gaps", 0.6)
        pairs = compared_levels(catalogue)
        gaps = gaps_of(linearised, spec, pairs)
        step("write", 0.9)
        store.write_results(con, "estimates", estimates, round_name)
        store.write_results(con, "gaps", gaps, round_name)
        run_stamp = stamp(project, store.data_hash(con, round_name), round_name)
        store.record_run(con, "estimate", round_name, run_stamp, _stage_details(project, "estimate"))
    finally:
        con.close()
    step("done", 1.0)
    return RoundEstimates(estimates=estimates, gaps=gaps,
                          groups_without_comparison=tuple(g for g in levels if g not in pairs))


def build_index(project: Project, round_name: str | None = None,
                progress: Callable[[str, float], None] | None = None) -> IndexTables:
    """Build, store and return a round's index (contract 5) with its bootstrap and method intervals.

    Reads the round's stored `estimates` and submissions; later rounds take their goalposts from the
    reference round's stored index. Writes `index_scores`, `index_contributions`,
    `index_rank_probabilities`, `index_method_rank_probabilities`, `index_goalposts` and `index_specs`,
    records an `index` run, and returns the `IndexTables`. `progress(step, share)` is told how far the
    work is (share of 0..1).
    """
    from retour import store
    from retour.index import build
    from retour.index.tables import index_tables
    from retour.index.uncertainty import method_uncertainty, sampling_uncertainty
    from retour.indicators import derive
    from retour.study.check import check_stage

    check_stage(project, "index")  # every problem of the files it reads, before any work (issue 16)
    settings = project.settings
    round_name = round_name or settings.index.reference_round
    settings.round(round_name)
    catalogue = _index_catalogue(project)
    con = store.connect(project.store_path)
    try:
        estimates = _stored_estimates(project, con, round_name)
        spec = _frozen_index_spec(con, load_index_spec(project, catalogue), round_name)
        result = build(estimates.drop("round"), spec)
        respondents = derive(store.read_submissions(con, round_name), catalogue, _index_area_types(project),
                             settings.design)
        step = progress or (lambda _step, _share: None)
        sampling = sampling_uncertainty(respondents, result, settings.index.bootstrap_replicates,
                                        settings.index.seed, settings.index.interval_level,
                                        lambda share: step("bootstrap", 0.9 * share))
        step("method", 0.9)
        tables = index_tables(result, sampling, method_uncertainty(result, settings.index.interval_level))
        step("write", 0.95)
        for table, frame in tables.frames().items():
            store.write_results(con, table, frame, round_name)
        run_stamp = stamp(project, store.data_hash(con, round_name), round_name)
        store.record_run(con, "index", round_name, run_stamp, _stage_details(project, "index"))
    finally:
        con.close()
    step("done", 1.0)
    return tables


def rank_probabilities(project: Project, round_name: str | None = None) -> pl.DataFrame:
    """How sure the ranking is: per pillar and community (as Tableau 1), its rank and the probability of
    each rank, P(rank = r) = share of the stored survey-bootstrap draws in which it ranked r."""
    from retour.errors import EstimationError
    from retour.index.tables import rank_probability_table

    round_name = round_name or project.settings.index.reference_round
    project.settings.round(round_name)
    probabilities, scores = _stored_results(project, round_name, "index_rank_probabilities", "index_scores")
    if probabilities.height == 0 or scores.height == 0:
        raise EstimationError(f"No index stored for round '{round_name}'.",
                              f"Run `retour index {project.root} --round {round_name}` first.")
    pillars = tuple(scores["pillar"].unique(maintain_order=True).to_list())
    return rank_probability_table(probabilities.drop("round"), scores.drop("round"), pillars)


def explain_index(project: Project, community_id: str, round_name: str | None = None) -> pl.DataFrame:
    """A community's stored contributions: each indicator to its pillar and each pillar to the composite.

    contribution = weight x normalised / (sum of the weights of the components with a value); under the
    default arithmetic aggregation a pillar's contributions add up to its score.
    """
    import polars as pl

    from retour.errors import EstimationError

    round_name = round_name or project.settings.index.reference_round
    project.settings.round(round_name)
    (stored,) = _stored_results(project, round_name, "index_contributions")
    if stored.height == 0:
        raise EstimationError(f"No index stored for round '{round_name}'.",
                              f"Run `retour index {project.root} --round {round_name}` first.")
    known = sorted(stored["community_id"].unique().to_list())
    if community_id not in known:
        raise ConfigError(f"No community '{community_id}' in the index of round '{round_name}'.",
                          f"Communities: {', '.join(known)}.")
    return stored.filter(pl.col("community_id") == community_id).drop("round")
