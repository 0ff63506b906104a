"""What each dashboard page shows, gathered from stored result tables; one public function per page.

These functions select, join and order rows of the stored tables (`estimates`, `gaps`, `index_scores`,
`needs`, `runs`, ...) for the templates. They compute no statistic: every number shown was written by a
pipeline stage. They never write; see `actions` for what analysts change.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from retour import store
from retour.actors import DIMENSIONS, EDITABLE_TEXTS, apply_edits, edit_summary, list_actors
from retour.dashboard.access import StoreAccess
from retour.dashboard.labels import Labels

PILLARS = ("economic", "social", "psychosocial", "composite")
LEVELS = ("priority", "important", "outside_reach", "none")
RESULT_TABLES = (
    "estimates",
    "gaps",
    "index_scores",
    "index_contributions",
    "index_rank_probabilities",
    "needs",
    "changes",
)


@dataclass(frozen=True)
class RoundChoice:
    """A round of the study and whether the store has results for it."""

    name: str
    has_results: bool


def rounds_with_results(access: StoreAccess, round_names: list[str]) -> list[RoundChoice]:
    """The study's rounds in order, each marked by whether estimates or an index are stored for it."""
    return access.memo(
        ("rounds_with_results", tuple(round_names)), lambda: _rounds_with_results(access, round_names)
    )


def _rounds_with_results(access: StoreAccess, round_names: list[str]) -> list[RoundChoice]:
    present: set[str] = set()
    for table in ("estimates", "index_scores"):
        stored = access.results(table)
        if stored.height and "round" in stored.columns:
            present |= set(stored.get_column("round").unique().to_list())
    return [RoundChoice(name, name in present) for name in round_names]


def default_round(access: StoreAccess, round_names: list[str]) -> str:
    """The last round with results, else the first round of the study."""
    with_results = [choice.name for choice in rounds_with_results(access, round_names) if choice.has_results]
    return with_results[-1] if with_results else round_names[0]


def latest_stamp(access: StoreAccess, round_name: str) -> dict[str, Any] | None:
    """The most recent stage run for the round (or for no round): its version, hashes and time."""
    return access.memo(("latest_stamp", round_name), lambda: _latest_stamp(access, round_name))


def _latest_stamp(access: StoreAccess, round_name: str) -> dict[str, Any] | None:
    runs = access.cached(("runs",), store.read_runs)
    if runs.height == 0:
        return None
    mine = runs.filter(pl.col("round").is_null() | (pl.col("round") == round_name))
    return mine.row(mine.height - 1, named=True) if mine.height else None


def _rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dicts() if frame.height else []


def _overall(estimates: pl.DataFrame) -> pl.DataFrame:
    if estimates.height == 0:
        return estimates
    return estimates.filter(pl.col("group_dimension") == "all")


def sample_sizes(
    access: StoreAccess, labels: Labels, community_field: str, round_name: str
) -> tuple[list[dict[str, Any]], int | None, bool]:
    """Respondents per community for a round: accepted submissions when the store has them (True), else
    the largest `n` among the stored estimates (False). Returns rows, the total and which it is."""
    counts = access.cached(
        ("submission_counts", community_field), lambda con: store.count_submissions(con, community_field)
    )
    mine = counts.filter(pl.col("round") == round_name).drop("round") if counts.height else counts
    counted = bool(mine.height)
    if not counted:
        estimates = _overall(access.results("estimates", round_name))
        if estimates.height == 0:
            return [], None, False
        largest = estimates.group_by("community_id").agg(pl.col("n").max().alias("respondents"))
        total_row = largest.filter(pl.col("community_id") == "all")
        total = int(total_row.item(0, "respondents")) if total_row.height else None
        mine = largest.filter(pl.col("community_id") != "all")
    else:
        total = int(mine.get_column("respondents").sum())
    rows = sorted(mine.to_dicts(), key=lambda row: labels.community(row["community_id"]))
    return rows, total, counted


def overview(
    access: StoreAccess,
    labels: Labels,
    round_names: list[str],
    round_name: str,
    community_field: str = "community",
) -> dict[str, Any]:
    """Rounds and their status, the sample per community, the composite ranking and the stage runs."""
    sample, sample_total, counted = sample_sizes(access, labels, community_field, round_name)
    scores = access.results("index_scores", round_name)
    composite = _rows(scores.filter(pl.col("pillar") == "composite").sort("rank")) if scores.height else []
    runs = access.cached(("runs",), store.read_runs)
    stage_runs = []
    if runs.height:
        mine = runs.filter(pl.col("round").is_null() | (pl.col("round") == round_name))
        stage_runs = _rows(
            mine.sort("run_id", descending=True).unique("stage", keep="first", maintain_order=True)
        )
    return {
        "rounds": rounds_with_results(access, round_names),
        "sample": sample,
        "sample_total": sample_total,
        "sample_counted": counted,
        "composite": composite,
        "stage_runs": stage_runs,
    }


def ranking(
    access: StoreAccess, round_name: str, sort: str = "composite", descending: bool = False
) -> dict[str, Any]:
    """Tableau 1: one row per community with every pillar's score, rank and intervals, ordered by `sort`."""
    sort = sort if sort in PILLARS else "composite"
    scores = access.results("index_scores", round_name)
    if scores.height == 0:
        return {"rows": [], "sort": sort, "descending": descending}
    rows: dict[str, dict[str, Any]] = {}
    for record in scores.iter_rows(named=True):
        rows.setdefault(record["community_id"], {"community_id": record["community_id"]})[
            record["pillar"]
        ] = record
    ordered = sorted(
        rows.values(), key=lambda row: (row.get(sort) or {}).get("rank") or 10**6, reverse=descending
    )
    return {"rows": ordered, "sort": sort, "descending": descending}


def _indicator_rows(
    labels: Labels, community: pl.DataFrame, sample: pl.DataFrame, indicator_ids: list[str]
) -> list[dict[str, Any]]:
    by_id = {row["indicator_id"]: row for row in _rows(community)}
    means = {row["indicator_id"]: row for row in _rows(sample)}
    return [
        {
            "indicator_id": indicator_id,
            "own": by_id[indicator_id],
            "mean": means.get(indicator_id),
            "proportion": labels.is_proportion(indicator_id),
        }
        for indicator_id in indicator_ids
        if indicator_id in by_id
    ]


Breakdown = tuple[str, tuple[str, ...], tuple[str, str] | None]  # group, levels shown, levels compared


def group_breakdowns(labels: Labels, gaps: pl.DataFrame) -> list[Breakdown]:
    """(group, levels shown, levels compared or None) for every group, in catalogue order. The pair
    compared is the one the stored gap tests were computed for, else the catalogue's `compare`; groups
    the stored gaps name but the catalogue does not come last."""
    stored: dict[str, tuple[str, str]] = {}
    if gaps.height and {"group_dimension", "group_a", "group_b"} <= set(gaps.columns):
        for dimension, group_a, group_b in gaps.select("group_dimension", "group_a", "group_b").iter_rows():
            stored.setdefault(dimension, (group_a, group_b))
    breakdowns = []
    for group in labels.groups:
        pair = stored.get(group.id) or group.compare
        breakdowns.append((group.id, tuple(dict.fromkeys((*(pair or ()), *group.levels))), pair))
    known = {group.id for group in labels.groups}
    breakdowns += [(dimension, pair, pair) for dimension, pair in stored.items() if dimension not in known]
    return breakdowns


def _group_rows(
    labels: Labels, estimates: pl.DataFrame, gaps: pl.DataFrame, community_id: str, indicator_ids: list[str]
) -> list[dict[str, Any]]:
    """Per group and indicator: each level's estimate and, for the levels compared, the stored gap test."""
    mine = estimates.filter(pl.col("community_id") == community_id) if estimates.height else estimates
    by_key = {(r["group_dimension"], r["group"], r["indicator_id"]): r for r in _rows(mine)}
    gap_rows = gaps.filter(pl.col("community_id") == community_id) if gaps.height else gaps
    gap_by_key = {(r["group_dimension"], r["indicator_id"]): r for r in _rows(gap_rows)}
    tables = []
    for dimension, levels, compared in group_breakdowns(labels, gaps):
        lines = []
        for indicator_id in indicator_ids:
            values = [by_key.get((dimension, level, indicator_id)) for level in levels]
            if all(value is None for value in values):
                continue
            lines.append(
                {
                    "indicator_id": indicator_id,
                    "values": values,
                    "gap": gap_by_key.get((dimension, indicator_id)) if compared else None,
                    "proportion": labels.is_proportion(indicator_id),
                }
            )
        if lines:
            tables.append({"dimension": dimension, "levels": levels, "compare": compared, "lines": lines})
    return tables


def community(access: StoreAccess, labels: Labels, round_name: str, community_id: str) -> dict[str, Any]:
    """A community's fact-sheet content for one round, read from the stored tables: one table per block
    of the fact sheet (the catalogue's blocks and order), then indicators the catalogue lacks."""
    estimates = access.results("estimates", round_name)
    overall = _overall(estimates)
    own = overall.filter(pl.col("community_id") == community_id) if overall.height else overall
    sample = overall.filter(pl.col("community_id") == "all") if overall.height else overall
    stored_ids = set(own.get_column("indicator_id").to_list()) if own.height else set()
    blocks = []
    for block in labels.blocks:
        panels = [
            {"titles": panel.titles, "rows": _indicator_rows(labels, own, sample, list(panel.indicator_ids))}
            for panel in block.panels
        ]
        blocks.append({"id": block.id, "panels": [panel for panel in panels if panel["rows"]]})
    extra = sorted(stored_ids - set(labels.indicator_order()))
    if extra:
        other = {"titles": {}, "rows": _indicator_rows(labels, own, sample, extra)}
        blocks.append({"id": None, "panels": [other]})
    fiche_ids = labels.fiche_indicator_ids() or sorted(stored_ids)
    scores = access.results("index_scores", round_name)
    mine_scores = scores.filter(pl.col("community_id") == community_id) if scores.height else scores
    needs = access.results("needs", round_name)
    mine_needs = needs.filter(pl.col("community_id") == community_id) if needs.height else needs
    return {
        "community_id": community_id,
        "has_data": bool(own.height or mine_scores.height),
        "blocks": [block for block in blocks if block["panels"]],
        "groups": _group_rows(labels, estimates, access.results("gaps", round_name), community_id, fiche_ids),
        "scores": {row["pillar"]: row for row in _rows(mine_scores)},
        "needs": [row for row in _rows(mine_needs) if row.get("level") in ("priority", "important")],
        "n_communities": scores.get_column("community_id").n_unique() if scores.height else 0,
    }


def community_ids(access: StoreAccess, labels: Labels, round_name: str | None = None) -> list[str]:
    """Communities with stored results (else those the study names), in alphabetical order of name."""
    return access.memo(("community_ids", round_name), lambda: _community_ids(access, labels, round_name))


def _community_ids(access: StoreAccess, labels: Labels, round_name: str | None) -> list[str]:
    found: set[str] = set()
    for table in ("estimates", "index_scores", "needs"):
        stored = access.results(table, round_name)
        if stored.height and "community_id" in stored.columns:
            found |= set(stored.get_column("community_id").unique().to_list())
    found.discard("all")
    ids = found or set(labels.communities)
    return sorted(ids, key=labels.community)


def needs_matrix(access: StoreAccess, labels: Labels, round_name: str) -> dict[str, Any]:
    """Tableau 2: issues by communities, each cell with its level, rule, evidence and any override."""
    needs = access.results("needs", round_name)
    if needs.height == 0:
        return {"issues": [], "communities": [], "cells": {}, "history": []}
    cells = {(row["issue_id"], row["community_id"]): row for row in needs.iter_rows(named=True)}
    issue_ids = needs.get_column("issue_id").unique(maintain_order=True).to_list()
    known = list(labels.issues)
    issue_ids.sort(key=lambda issue: known.index(issue) if issue in known else len(known))
    communities = sorted(needs.get_column("community_id").unique().to_list(), key=labels.community)
    history = access.cached(
        ("need_overrides", round_name), lambda con: store.read_need_overrides(con, round_name)
    )
    return {
        "issues": issue_ids,
        "communities": communities,
        "cells": cells,
        "history": list(reversed(_rows(history))),
    }


def need_cell(
    access: StoreAccess, round_name: str, community_id: str, issue_id: str
) -> dict[str, Any] | None:
    """One cell of the needs matrix, or None if the round has no such cell."""
    needs = access.results("needs", round_name)
    if needs.height == 0:
        return None
    match = needs.filter((pl.col("community_id") == community_id) & (pl.col("issue_id") == issue_id))
    return match.row(0, named=True) if match.height else None


def rounds_comparison(
    access: StoreAccess,
    labels: Labels,
    round_names: list[str],
    community_id: str,
) -> dict[str, Any]:
    """Each round's estimate per indicator for one community (or the whole sample), and the change into
    the latest round as stored by the comparison stage (`changes`: change, p_adjusted, from_round),
    from the earliest round it was compared with. `p_adjusted` is adjusted over the community's
    indicators; the page marks a change clear by `retour.comparison.clear_change`'s rule."""
    estimates = _overall(access.results("estimates"))
    present = [
        r for r in round_names if estimates.height and r in set(estimates.get_column("round").to_list())
    ]
    if not present:
        return {"rounds": [], "lines": [], "has_changes": False}
    mine = estimates.filter(pl.col("community_id") == community_id)
    by_key = {(row["round"], row["indicator_id"]): row for row in _rows(mine)}
    changes = access.results("changes", present[-1])
    if changes.height and "from_round" in changes.columns:  # each pair is kept: the earliest round's
        stored_from = set(changes.get_column("from_round").to_list())
        earliest = next((r for r in round_names if r in stored_from), None)
        changes = changes.filter(pl.col("from_round") == earliest)
    change_by_key: dict[str, dict[str, Any]] = {}
    from_round = None
    if changes.height:
        relevant = changes.filter(
            (pl.col("community_id") == community_id)
            & (pl.col("group_dimension") == "all")
            & (pl.col("group") == "all")
        )
        change_by_key = {row["indicator_id"]: row for row in _rows(relevant)}
        from_round = (
            relevant.item(0, "from_round") if relevant.height and "from_round" in relevant.columns else None
        )
    order = labels.indicator_order()
    ids = [i for i in order if any((r, i) in by_key for r in present)]
    ids += sorted({key[1] for key in by_key} - set(ids))
    lines = [
        {
            "indicator_id": i,
            "values": [by_key.get((r, i)) for r in present],
            "change": change_by_key.get(i),
            "proportion": labels.is_proportion(i),
        }
        for i in ids
    ]
    return {
        "rounds": present,
        "lines": lines,
        "has_changes": bool(change_by_key),
        "from_round": from_round,
        "to_round": present[-1],
    }


def uploads(access: StoreAccess) -> list[dict[str, Any]]:
    """Uploaded exports, newest first."""
    return _rows(access.cached(("uploads",), store.read_uploads))


def downloadable(access: StoreAccess, round_name: str) -> dict[str, Any]:
    """Which result tables the round has, for the downloads page."""
    tables = [table for table in RESULT_TABLES if access.results(table, round_name).height]
    return {"tables": tables}


ACTOR_DIMENSIONS = DIMENSIONS
ACTOR_TEXTS = EDITABLE_TEXTS


def _edited_actors(access: StoreAccess, register: Any, community_id: str | None = None) -> pl.DataFrame:
    """Actor rows with analysts' latest edits laid over the register's values, and who last edited each."""
    edits = access.cached(("actor_edits",), lambda con: store.read_actor_edits(con, latest=True))
    rows = list_actors(apply_edits(register, edits), community_id=community_id)
    editors = edit_summary(edits).select("actor_id", "edited_by")
    return rows.join(editors, on="actor_id", how="left", maintain_order="left")


def actors(
    access: StoreAccess, register: Any, community_id: str | None, dimension: str | None
) -> dict[str, Any]:
    """Actors working in a community (or all), with what they cover, filtered by dimension, edits applied."""
    if register is None:
        return {"rows": [], "missing": True}
    rows = _edited_actors(access, register, community_id)
    if dimension in ACTOR_DIMENSIONS:
        rows = rows.filter(pl.col(dimension))
    descriptions = {actor.id: (actor.description_fr, actor.description_en) for actor in register.actors}
    records = [{**row, "description": descriptions.get(row["actor_id"], ("", ""))} for row in _rows(rows)]
    return {"rows": records, "missing": False}


def actor(access: StoreAccess, register: Any, actor_id: str) -> dict[str, Any] | None:
    """One actor's editable fields (edits applied), or None if the register has no such actor."""
    if register is None or actor_id not in register.names():
        return None
    rows = _edited_actors(access, register).unique("actor_id", keep="first", maintain_order=True)
    match = rows.filter(pl.col("actor_id") == actor_id)
    return match.row(0, named=True)


def locator_svg(
    labels: Labels, community_id: str, language: str, country: str = "", boundaries: Path | None = None
) -> str | None:
    """The report's locator map (inline SVG) with the community marked; None without coordinates.
    `country` is the study's ISO code and `boundaries` its own GeoJSON file (or None)."""
    if community_id not in labels.coordinates:
        return None
    from retour.report.maps import MapPoint, locator_map

    points = tuple(
        MapPoint(id=key, label=labels.community(key, language), lat=lat, lon=lon, focus=key == community_id)
        for key, (lat, lon) in sorted(labels.coordinates.items())
    )
    return locator_map(
        points,
        language,
        title=labels.community(community_id, language),
        country=country,
        boundaries=boundaries,
    )
