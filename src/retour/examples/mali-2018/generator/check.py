"""Compare synthetic data with every calibration target: one row per target with its gap and verdict.

The data go through the real indicator derivation (`retour.indicators.derive`), so a target holds only
if the questionnaire's formulas give it back. Tolerances: one respondent (1/n) for community figures,
two points for sample-wide findings and gaps, 0.03 and the same rank for Tableau 1 scores. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from retour.indicators import PILLARS, Catalogue, derive

from .calibrate import index_scores
from .targets import SERVICES, SynthTargets

SAMPLE_TOLERANCE = 0.02
INDEX_TOLERANCE = 0.03


@dataclass(frozen=True)
class CheckRow:
    """One calibration target: what was asked, what the data give, and whether that is close enough."""

    target: str
    scope: str  # a community id, or "all"
    expected: float
    achieved: float
    tolerance: float
    source: str  # fiche | services | finding | gap | tableau_1 | plan | did

    @property
    def gap(self) -> float:
        return self.achieved - self.expected

    @property
    def ok(self) -> bool:
        return bool(np.isfinite(self.achieved)) and abs(self.gap) <= self.tolerance + 1e-9

    def as_record(self) -> dict[str, object]:
        return {
            "target": self.target,
            "scope": self.scope,
            "source": self.source,
            "expected": self.expected,
            "achieved": self.achieved,
            "gap": self.gap,
            "tolerance": self.tolerance,
            "ok": self.ok,
        }


def _means(frame: pl.DataFrame, columns: Sequence[str], by: str | None = None) -> pl.DataFrame:
    """Weighted means over respondents with an answer: sum(w x) / sum(w)."""
    weight = pl.col("weight")
    aggregations = [
        ((pl.col(c) * weight).sum() / weight.filter(pl.col(c).is_not_null()).sum()).alias(c) for c in columns
    ]
    if by is None:
        return frame.select(aggregations)
    return frame.group_by(by, maintain_order=True).agg(aggregations)


def _share(frame: pl.DataFrame, column: str, where: pl.Expr | None = None) -> float:
    data = frame if where is None else frame.filter(where)
    value = _means(data, [column]).item()
    return float("nan") if value is None else float(value)


def community_values(
    derived: pl.DataFrame, communities: Sequence[str], columns: Sequence[str]
) -> dict[str, np.ndarray]:
    """Community estimates (weighted means) of `columns`, in `communities` order."""
    table = _means(derived, columns, by="community_id")
    order = {c: i for i, c in enumerate(table.get_column("community_id").to_list())}
    rows = [order[c] for c in communities]
    return {c: table.get_column(c).to_numpy()[rows].astype(float) for c in columns}


def tableau_scores(
    derived: pl.DataFrame, catalogue: Catalogue, communities: Sequence[str]
) -> dict[str, np.ndarray]:
    """Pillar and composite scores of the replica index (design.md section 5) on the data."""
    members = [m for pillar in PILLARS for m in catalogue.pillar(pillar)]
    values = community_values(derived, communities, [m.id for m in members])
    return index_scores(
        np.array([values[m.id] for m in members]),
        np.array([bool(m.higher_is_better) for m in members]),
        [m.pillar for m in members],
        np.array([m.weight for m in members]),
    )


def _ranks(scores: np.ndarray) -> np.ndarray:
    """Rank 1 = highest score (ties share the better rank)."""
    return np.array([1 + int((scores > value + 1e-12).sum()) for value in scores])


def _fiche_rows(targets: SynthTargets, derived: pl.DataFrame) -> list[CheckRow]:
    rows = []
    sizes = dict(zip(targets.communities, targets.sizes, strict=True))
    ids = list(targets.fiche_ids)
    values = community_values(derived, targets.communities, ids)
    counts = derived.group_by("community_id").len()
    actual = dict(
        zip(counts.get_column("community_id").to_list(), counts.get_column("len").to_list(), strict=True)
    )
    for community in targets.communities:
        rows.append(
            CheckRow("respondents", community, sizes[community], actual.get(community, 0), 0, "design")
        )
    for indicator in ids:
        source = "services" if indicator.startswith("satisfied_") and indicator[10:] in SERVICES else "fiche"
        for i, community in enumerate(targets.communities):
            rows.append(
                CheckRow(
                    indicator,
                    community,
                    targets.fiche(indicator)[i],
                    values[indicator][i],
                    1.0 / sizes[community],
                    source,
                )
            )
    return rows


def _domain_rows(targets: SynthTargets, derived: pl.DataFrame) -> list[CheckRow]:
    rows = []
    for community in targets.communities:
        local = derived.filter(pl.col("community_id") == community)
        workers = int(local.get_column("paid_job_or_iga").sum())
        for domain, share in targets.by_community[community].activity_domains.items():
            rows.append(
                CheckRow(
                    f"activity_domain_{domain}",
                    community,
                    share,
                    _share(local, f"activity_domain_{domain}"),
                    1.0 / max(workers, 1),
                    "fiche",
                )
            )
    return rows


def _finding_rows(targets: SynthTargets, derived: pl.DataFrame) -> list[CheckRow]:
    f = targets.findings
    n = derived.height
    tolerance = SAMPLE_TOLERANCE
    returnee = pl.col("migration_status") == "returnee"
    rows = [
        CheckRow(
            "returnees",
            "all",
            f["returnees"] / n,
            _share(derived, "return_migrants_share"),
            tolerance,
            "finding",
        ),
        CheckRow(
            "men among returnees",
            "all",
            f["returnee_men"],
            derived.filter(returnee).select((pl.col("sex") == "men").mean()).item(),
            tolerance,
            "finding",
        ),
        CheckRow(
            "involuntary_return",
            "all",
            f["involuntary_returns"],
            _share(derived, "involuntary_return"),
            tolerance,
            "finding",
        ),
        CheckRow(
            "returned_with_iom (people)",
            "all",
            f["assisted_returnees"],
            float(derived.get_column("returned_with_iom").sum()),
            0,
            "finding",
        ),
        CheckRow(
            "no_formal_education",
            "all",
            f["never_attended_school"],
            _share(derived, "no_formal_education"),
            tolerance,
            "finding",
        ),
        CheckRow(
            "social_media_user (people)",
            "all",
            f["social_media_users"],
            float(derived.get_column("social_media_user").sum()),
            0,
            "finding",
        ),
        CheckRow(
            "knows_legal_routes",
            "all",
            f["knows_legal_routes"],
            _share(derived, "knows_legal_routes"),
            tolerance,
            "finding",
        ),
        CheckRow(
            "perception_returnees_negative",
            "all",
            f["perception_returnees_negative"],
            _share(derived, "perception_returnees_negative"),
            tolerance,
            "finding",
        ),
    ]
    for group, share in f["left_school_to_work"].items():
        rows.append(
            CheckRow(
                f"left_school_to_work ({group})",
                "all",
                share,
                _share(derived, "left_school_to_work", pl.col("migration_status") == group),
                tolerance,
                "finding",
            )
        )
    for choice, share in f["desire_to_leave"].items():
        rows.append(
            CheckRow(
                f"desire_to_leave_{choice}",
                "all",
                share,
                _share(derived, f"desire_to_leave_{choice}"),
                tolerance,
                "finding",
            )
        )
    for sex, key in (("men", "leave_men"), ("women", "leave_women")):
        rows.append(
            CheckRow(
                f"desire_to_leave_leave ({sex})",
                "all",
                f[key],
                _share(derived, "desire_to_leave_leave", pl.col("sex") == sex),
                tolerance,
                "finding",
            )
        )
    for prefix, key in (
        ("platform_", "platforms"),
        ("consults_", "decision_makers"),
        ("social_media_for_", "social_media_purposes"),
        ("reason_to_stay_", "reasons_to_stay"),
    ):
        for choice, share in f[key].items():
            column = f"{prefix}{choice}"
            # reasons to stay are published as shares of all respondents, not of those asked
            value = (
                float(derived.get_column(column).fill_null(0).mean())
                if key == "reasons_to_stay"
                else _share(derived, column)
            )
            rows.append(CheckRow(column, "all", share, value, tolerance, "finding"))
    for community, share in f.get("reasons_to_stay_communities", {}).items():
        local = derived.filter(pl.col("community_id") == community)
        rows.append(
            CheckRow(
                "reason_to_stay_risks_known",
                community,
                share,
                float(local.get_column("reason_to_stay_risks_known").fill_null(0).mean()),
                1.0 / local.height,
                "finding",
            )
        )
    for spec in targets.free:
        if spec.sample_share is not None:
            rows.append(
                CheckRow(
                    spec.indicator,
                    "all",
                    spec.sample_share,
                    _share(derived, spec.indicator),
                    tolerance,
                    "finding",
                )
            )
        for community, share in spec.anchors.items():
            local = derived.filter(pl.col("community_id") == community)
            rows.append(
                CheckRow(
                    spec.indicator,
                    community,
                    share,
                    _share(local, spec.indicator),
                    1.0 / local.height,
                    "finding",
                )
            )
    for gap in targets.gaps:
        column = "migration_status" if gap.group == "migration_status" else "sex"
        a, b = ("returnee", "non_migrant") if gap.group == "migration_status" else ("women", "men")
        achieved = _share(derived, gap.indicator, pl.col(column) == a) - _share(
            derived, gap.indicator, pl.col(column) == b
        )
        label = f"{gap.indicator} ({a} - {b}{', assumed' if gap.assumed else ''})"
        rows.append(CheckRow(label, "all", gap.difference, achieved, tolerance, "gap"))
    return rows


def _tableau_rows(targets: SynthTargets, catalogue: Catalogue, derived: pl.DataFrame) -> list[CheckRow]:
    scores = tableau_scores(derived, catalogue, targets.communities)
    rows = []
    for pillar in (*PILLARS, "composite"):
        expected = np.array(targets.tableau(pillar))
        expected_ranks, achieved_ranks = _ranks(expected), _ranks(scores[pillar])
        for i, community in enumerate(targets.communities):
            rows.append(
                CheckRow(
                    f"tableau_1 {pillar} score",
                    community,
                    float(expected[i]),
                    float(scores[pillar][i]),
                    INDEX_TOLERANCE,
                    "tableau_1",
                )
            )
            rows.append(
                CheckRow(
                    f"tableau_1 {pillar} rank",
                    community,
                    float(expected_ranks[i]),
                    float(achieved_ranks[i]),
                    0,
                    "tableau_1",
                )
            )
    return rows


def _plan_rows(
    values: Mapping[str, np.ndarray], targets: SynthTargets, derived: pl.DataFrame, continuous: frozenset[str]
) -> list[CheckRow]:
    achieved = community_values(derived, targets.communities, list(values))
    counts = derived.group_by("community_id").len()
    sizes = dict(
        zip(counts.get_column("community_id").to_list(), counts.get_column("len").to_list(), strict=True)
    )
    rows = []
    for indicator, row in values.items():
        for i, community in enumerate(targets.communities):
            tolerance = 1.0 if indicator in continuous else 1.0 / sizes.get(community, 1)
            rows.append(
                CheckRow(
                    indicator, community, float(row[i]), float(achieved[indicator][i]), tolerance, "plan"
                )
            )
    return rows


def check_calibration(
    frame: pl.DataFrame,
    catalogue: Catalogue,
    targets: SynthTargets,
    planned: Mapping[str, np.ndarray] | None = None,
    beneficiary_gaps: Mapping[str, float] | None = None,
    continuous: frozenset[str] = frozenset(),
) -> list[CheckRow]:
    """Every calibration target of a round with the value the data give.

    Baseline: the published figures (fiche, services, activity fields, sample-wide findings and gaps)
    and Tableau 1. A later round: the planned community values (`planned`: baseline plus stated changes)
    and the planned beneficiary gaps (`beneficiary_gaps`: baseline gap plus effect), so the
    difference-in-differences equals the stated effect.
    """
    derived = derive(frame, catalogue)
    if planned is not None:
        rows = _plan_rows(planned, targets, derived, continuous)
        programme = frame.select(pl.col("beneficiary") == "yes").to_series().to_numpy()
        for indicator, gap in (beneficiary_gaps or {}).items():
            values = derived.get_column(indicator).to_numpy().astype(float)
            achieved = float(np.nanmean(values[programme]) - np.nanmean(values[~programme]))
            rows.append(
                CheckRow(
                    f"{indicator} (beneficiaries - others)", "all", gap, achieved, SAMPLE_TOLERANCE, "did"
                )
            )
        return rows
    return [
        *_fiche_rows(targets, derived),
        *_domain_rows(targets, derived),
        *_finding_rows(targets, derived),
        *_tableau_rows(targets, catalogue, derived),
    ]
