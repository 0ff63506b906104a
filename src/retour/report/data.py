"""The results bundle a report is made from (`ReportData`), and lookups into it; nothing is computed here.

A bundle holds stored results of one round in the shapes of the store contracts (estimates and gaps,
index scores, needs), the indicator catalogue's labels, directions, groups and fact-sheet blocks, and the
study's registers (communities, actors, recommendations). The sample mean of an indicator is the stored
estimate with `community_id == "all"`. A value flagged `suppressed` (fewer than `min_cell` respondents) is
returned as a suppressed cell: templates print "—" with a footnote, never the number.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from retour.actors import Actor, Recommendation
from retour.config import Settings, pick_text
from retour.indicators import FicheBlock, Group
from retour.report.narrative import Community

ALL = "all"
PILLARS = ("economic", "social", "psychosocial", "composite")
INDICATOR_COLUMNS = {
    "indicator_id": pl.Utf8,
    "label_fr": pl.Utf8,
    "label_en": pl.Utf8,
    "kind": pl.Utf8,
    "higher_is_better": pl.Boolean,
    "pillar": pl.Utf8,
    "theme": pl.Utf8,
    "fiche_block": pl.Utf8,
    "short_label_fr": pl.Utf8,
    "short_label_en": pl.Utf8,
}


@dataclass(frozen=True)
class Cell:
    """One stored estimate as shown: value (None when suppressed or absent), interval and base."""

    estimate: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    se: float | None = None
    n: int | None = None
    suppressed: bool = False

    @property
    def shown(self) -> bool:
        return self.estimate is not None and not self.suppressed


MISSING = Cell(estimate=None)


@dataclass(frozen=True)
class IndicatorInfo:
    """What the catalogue says about an indicator: labels, kind, direction, pillar, theme, block."""

    id: str
    label_fr: str
    label_en: str
    kind: str = "proportion"
    higher_is_better: bool | None = None
    pillar: str = "none"
    theme: str = "other"
    fiche_block: str = ""
    short_label_fr: str = ""
    short_label_en: str = ""

    def label(self, language: str) -> str:
        return pick_text({"fr": self.label_fr, "en": self.label_en}, language, self.id)

    def short_label(self, language: str) -> str:
        """The catalogue's short label, the choice's own label for shares of answers ("Petty trade"), else
        the full label."""
        short = {"fr": self.short_label_fr, "en": self.short_label_en}.get(language, "")
        return short or self.label(language)


def short_label(label: str) -> str:
    """The part of a choice-share label after its colon ("Field of activity: Farming" -> "Farming")."""
    for separator in (" : ", ": "):
        if separator in label:
            return label.rsplit(separator, 1)[1].strip()
    return ""


def indicator_frame(records: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """The bundle's indicator table from catalogue records; short labels are derived when absent."""
    rows = []
    for record in records:
        row = {name: record.get(name) for name in INDICATOR_COLUMNS}
        row["indicator_id"] = record.get("indicator_id") or record.get("id")
        for language in ("fr", "en"):
            row[f"short_label_{language}"] = record.get(f"short_label_{language}") or short_label(
                str(record.get(f"label_{language}") or "")
            )
        rows.append(row)
    return pl.DataFrame(rows, schema=INDICATOR_COLUMNS)


def _cell(row: Mapping[str, Any]) -> Cell:
    suppressed = bool(row.get("suppressed"))
    value = row.get("estimate")
    return Cell(
        estimate=None if suppressed else value,
        ci_low=None if suppressed else row.get("ci_low"),
        ci_high=None if suppressed else row.get("ci_high"),
        se=None if suppressed else row.get("se"),
        n=row.get("n"),
        suppressed=suppressed,
    )


@dataclass(frozen=True)
class ReportData:
    """Stored results of one round and the study's registers: everything a report prints."""

    settings: Settings
    round_name: str
    stamp: Mapping[str, str]
    communities: tuple[Community, ...]
    indicators: pl.DataFrame
    estimates: pl.DataFrame
    gaps: pl.DataFrame = field(default_factory=pl.DataFrame)
    index_scores: pl.DataFrame = field(default_factory=pl.DataFrame)
    rank_probabilities: pl.DataFrame = field(default_factory=pl.DataFrame)
    index_spec: Mapping[str, Any] = field(default_factory=dict)
    needs: pl.DataFrame = field(default_factory=pl.DataFrame)
    actors: tuple[Actor, ...] = ()
    recommendations: tuple[Recommendation, ...] = ()
    generated_on: dt.date = field(default_factory=dt.date.today)
    folder: Path | None = None  # the study folder (for files the settings name); None: a bundle made by hand
    groups: tuple[Group, ...] = ()  # the catalogue's groups (labels, levels, which levels are compared)
    fiche_blocks: tuple[FicheBlock, ...] = ()  # the catalogue's fact-sheet blocks, in order
    themes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # theme -> language -> name
    # change since the baseline (the stored comparison of that pair): changes, score_changes, need_changes
    changes: pl.DataFrame = field(default_factory=pl.DataFrame)
    score_changes: pl.DataFrame = field(default_factory=pl.DataFrame)
    need_changes: pl.DataFrame = field(default_factory=pl.DataFrame)

    # --- registers --------------------------------------------------------------------------------

    @property
    def min_cell(self) -> int:
        return self.settings.estimation.min_cell

    @property
    def synthetic(self) -> bool:
        return self.settings.study.synthetic

    def community(self, community_id: str) -> Community:
        """The register entry of a community; a clear error naming the known ids otherwise."""
        for community in self.communities:
            if community.id == community_id:
                return community
        from retour.errors import ConfigError

        known = ", ".join(c.id for c in self.communities)
        raise ConfigError(
            f"No community '{community_id}' in communities.yaml.", f"Known communities: {known}."
        )

    def community_name(self, community_id: str) -> str:
        return next((c.name for c in self.communities if c.id == community_id), community_id)

    def actors_in(self, community_id: str) -> tuple[Actor, ...]:
        """Actors working in the community, those of the study's community table first."""
        local = [a for a in self.actors if a.scope == "community" and a.works_in(community_id)]
        return tuple(sorted(local, key=lambda a: "community_table" not in a.listed_in))

    def recommendations_for(self, community_id: str) -> tuple[Recommendation, ...]:
        return tuple(r for r in self.recommendations if r.community_id == community_id)

    def actor_names(self) -> dict[str, str]:
        return {a.id: a.name for a in self.actors}

    # --- catalogue --------------------------------------------------------------------------------

    @cached_property
    def _indicators(self) -> dict[str, IndicatorInfo]:
        return {
            row["indicator_id"]: IndicatorInfo(
                id=row["indicator_id"],
                label_fr=row["label_fr"] or row["indicator_id"],
                label_en=row["label_en"] or row["indicator_id"],
                kind=row["kind"] or "proportion",
                higher_is_better=row["higher_is_better"],
                pillar=row["pillar"] or "none",
                theme=row["theme"] or "other",
                fiche_block=row["fiche_block"] or "",
                short_label_fr=row["short_label_fr"] or "",
                short_label_en=row["short_label_en"] or "",
            )
            for row in self.indicators.iter_rows(named=True)
        }

    def indicator(self, indicator_id: str) -> IndicatorInfo:
        """Catalogue entry of an indicator (its id as label when the catalogue lacks it)."""
        return self._indicators.get(indicator_id) or IndicatorInfo(indicator_id, indicator_id, indicator_id)

    def indicator_ids(self, *, theme: str | None = None, block: str | None = None) -> tuple[str, ...]:
        """Catalogue ids (in catalogue order) with that theme and/or fiche block, that have estimates."""
        estimated = self._estimated_ids
        return tuple(
            i
            for i, info in self._indicators.items()
            if (theme is None or info.theme == theme)
            and (block is None or info.fiche_block == block)
            and i in estimated
        )

    def compared_groups(self) -> tuple[Group, ...]:
        """The catalogue's groups that compare two of their levels (`compare`), in catalogue order."""
        return tuple(group for group in self.groups if group.compare is not None)

    # --- estimates --------------------------------------------------------------------------------

    @cached_property
    def _estimated_ids(self) -> frozenset[str]:
        if self.estimates.is_empty():
            return frozenset()
        return frozenset(self.estimates["indicator_id"].unique().to_list())

    @cached_property
    def _cells(self) -> dict[tuple[str, str, str, str], Cell]:
        if self.estimates.is_empty():
            return {}
        return {
            (row["community_id"], row["group_dimension"], row["group"], row["indicator_id"]): _cell(row)
            for row in self.estimates.iter_rows(named=True)
        }

    def cell(
        self, community_id: str, indicator_id: str, group_dimension: str = ALL, group: str = ALL
    ) -> Cell:
        """The stored estimate of a community (or `all`) and group; MISSING when not stored."""
        return self._cells.get((community_id, group_dimension, group, indicator_id), MISSING)

    def sample_mean(self, indicator_id: str) -> Cell:
        """The whole-sample estimate (`community_id == "all"`)."""
        return self.cell(ALL, indicator_id)

    def sample_size(self, community_id: str) -> int | None:
        """Respondents of a community (or `all`): the largest stored `n` of its whole-group estimates."""
        if self.estimates.is_empty():
            return None
        rows = self.estimates.filter((pl.col("community_id") == community_id) & (pl.col("group") == ALL))
        return None if rows.is_empty() else int(rows["n"].max())

    # --- index, gaps and needs ----------------------------------------------------------------------

    @cached_property
    def _scores(self) -> dict[tuple[str, str], dict[str, Any]]:
        if self.index_scores.is_empty():
            return {}
        return {(row["community_id"], row["pillar"]): row for row in self.index_scores.iter_rows(named=True)}

    def score(self, community_id: str, pillar: str) -> dict[str, Any] | None:
        """Stored score, rank and their intervals of a community and pillar (None if not stored)."""
        return self._scores.get((community_id, pillar))

    def ranked_communities(self) -> tuple[str, ...]:
        """Community ids by composite rank (register order when there is no index)."""
        ids = [c.id for c in self.communities]
        if not self._scores:
            return tuple(ids)

        def rank(community_id: str) -> float:
            found = self.score(community_id, "composite")
            return float(found["rank"]) if found and found.get("rank") is not None else float("inf")

        return tuple(sorted(ids, key=rank))

    def need(self, community_id: str, issue_id: str) -> dict[str, Any] | None:
        if self.needs.is_empty():
            return None
        rows = self.needs.filter((pl.col("community_id") == community_id) & (pl.col("issue_id") == issue_id))
        return rows.row(0, named=True) if rows.height else None
