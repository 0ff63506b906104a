"""Stored results in the contract shapes, for dashboard tests and its benchmark (no pipeline needed).

`write_results(store_path)` fills `estimates`, `gaps`, `index_scores`, `needs` and `runs` for the given
rounds with seeded values, for the communities, indicators, groups and issues of a `Shape` (by default
those of the example study mali-2018; `shape_of(folder)` reads another study's); `add_users` creates one
user per role with the password PASSWORD.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import yaml

from retour import store

COMMUNITIES = ("bafoulabe", "bamako_commune_iv", "kati", "kayes", "kita", "sikasso", "kirane")
FICHE = (
    "paid_job_or_iga",
    "can_borrow_money",
    "reduced_food_consumption",
    "has_friends_group",
    "reached_high_school_or_more",
    "left_school_early",
    "seeking_job",
    "has_support_network",
    "interested_in_own_business",
    "illness_or_accident_last_year",
    "wants_psych_services",
    "born_in_other_community",
    "receives_remittances",
    "family_or_friends_abroad",
    "return_migrants_share",
    "access_psychosocial_services",
    "feels_discriminated",
)
SERVICES = (
    "satisfied_education",
    "satisfied_id_papers",
    "satisfied_housing",
    "satisfied_healthcare",
    "satisfied_drinking_water",
    "satisfied_justice_police",
)
INDICATORS = FICHE + SERVICES
GROUPS = (
    ("all", "all"),
    ("migration_status", "returnee"),
    ("migration_status", "non_migrant"),
    ("sex", "women"),
    ("sex", "men"),
)
ISSUES = (
    "water",
    "education",
    "energy",
    "infrastructure",
    "agricultural_productivity",
    "environment",
    "training",
    "finance",
    "social_cohesion",
    "housing",
    "health",
    "psychosocial",
    "documentation",
    "justice_police",
)
PAIRS = (("migration_status", "returnee", "non_migrant"), ("sex", "women", "men"))
PILLARS = ("economic", "social", "psychosocial", "composite")
LEVELS = ("priority", "important", "outside_reach", "none")
PASSWORD = "correct horse battery"
USERS = {"vera": "viewer", "ana": "analyst", "adam": "admin"}


@dataclass(frozen=True)
class Shape:
    """What the stored results cover: communities, indicators, (group, level) breakdowns, the levels
    compared by gap tests, and needs issues."""

    communities: tuple[str, ...] = COMMUNITIES
    indicators: tuple[str, ...] = INDICATORS
    groups: tuple[tuple[str, str], ...] = GROUPS
    pairs: tuple[tuple[str, str, str], ...] = PAIRS
    issues: tuple[str, ...] = ISSUES


MALI = Shape()


def shape_of(root: Path) -> Shape:
    """The shape of a study folder's own files: its communities, its fact-sheet indicators, every level
    of its groups, the levels each group compares, and its needs issues."""
    catalogue = tomllib.loads((root / "indicators.toml").read_text(encoding="utf-8"))
    register = yaml.safe_load((root / "communities.yaml").read_text(encoding="utf-8"))
    needs = tomllib.loads((root / "needs.toml").read_text(encoding="utf-8"))
    groups = catalogue.get("groups", [])
    return Shape(
        communities=tuple(str(entry["id"]) for entry in register["communities"]),
        indicators=tuple(e["id"] for e in catalogue["indicators"] if e.get("fiche_block")),
        groups=(("all", "all"), *((g["id"], level) for g in groups for level in g["levels"])),
        pairs=tuple((g["id"], *g["compare"]) for g in groups if g.get("compare")),
        issues=tuple(issue["id"] for issue in needs["issues"]),
    )


def estimates_frame(rng: np.random.Generator, shape: Shape = MALI) -> pl.DataFrame:
    places = (*shape.communities, "all")
    keys = [(c, d, g, i) for c in places for d, g in shape.groups for i in shape.indicators]
    size = len(keys)
    estimate = rng.uniform(0.05, 0.95, size)
    se = rng.uniform(0.02, 0.06, size)
    n = rng.integers(4, 90, size)
    n[[k for k, key in enumerate(keys) if key[0] == "all"]] = 604
    return pl.DataFrame(
        {
            "community_id": [k[0] for k in keys],
            "group_dimension": [k[1] for k in keys],
            "group": [k[2] for k in keys],
            "indicator_id": [k[3] for k in keys],
            "estimate": estimate,
            "se": se,
            "ci_low": np.clip(estimate - 1.96 * se, 0, 1),
            "ci_high": np.clip(estimate + 1.96 * se, 0, 1),
            "n": n,
            "weighted_n": n * 1.7,
            "deff": rng.uniform(1, 2, size),
            "n_missing": rng.integers(0, 5, size),
            "suppressed": n < 10,
        }
    )


def gaps_frame(rng: np.random.Generator, shape: Shape = MALI) -> pl.DataFrame:
    places = (*shape.communities, "all")
    keys = [(c, d, a, b, i) for c in places for d, a, b in shape.pairs for i in shape.indicators]
    size = len(keys)
    difference = rng.normal(0, 0.1, size)
    se = rng.uniform(0.03, 0.08, size)
    p_value = rng.uniform(0, 1, size)
    return pl.DataFrame(
        {
            "community_id": [k[0] for k in keys],
            "group_dimension": [k[1] for k in keys],
            "group_a": [k[2] for k in keys],
            "group_b": [k[3] for k in keys],
            "indicator_id": [k[4] for k in keys],
            "difference": difference,
            "se": se,
            "ci_low": difference - 1.96 * se,
            "ci_high": difference + 1.96 * se,
            "statistic": difference / se,
            "p_value": p_value,
            "p_adjusted": np.minimum(1, p_value * 2),
            "n_a": rng.integers(10, 50, size),
            "n_b": rng.integers(10, 50, size),
            "suppressed": [False] * size,
        }
    )


def index_frame(rng: np.random.Generator, shape: Shape = MALI) -> pl.DataFrame:
    rows = []
    for pillar in PILLARS:
        scores = rng.uniform(0.05, 0.95, len(shape.communities))
        ranks = (-scores).argsort().argsort() + 1
        for community_id, score, rank in zip(shape.communities, scores, ranks, strict=True):
            rows.append(
                {
                    "community_id": community_id,
                    "pillar": pillar,
                    "score": float(score),
                    "rank": int(rank),
                    "score_low": float(score) - 0.08,
                    "score_high": float(score) + 0.07,
                    "rank_low": max(1, int(rank) - 1),
                    "rank_high": min(len(shape.communities), int(rank) + 1),
                }
            )
    return pl.DataFrame(rows)


def needs_frame(rng: np.random.Generator, shape: Shape = MALI) -> pl.DataFrame:
    keys = [(c, i) for c in shape.communities for i in shape.issues]
    levels = rng.choice(["priority", "important", "none", "none"], len(keys))
    levels = [
        ("outside_reach" if issue in ("documentation", "justice_police") else str(level))
        for (_, issue), level in zip(keys, levels, strict=True)
    ]
    return pl.DataFrame(
        {
            "community_id": [k[0] for k in keys],
            "issue_id": [k[1] for k in keys],
            "level": levels,
            "computed_level": levels,
            "rule": ["satisfied_drinking_water at least 10 points below the sample mean"] * len(keys),
            "rule_fr": ["satisfied_drinking_water au moins 10 points sous la moyenne"] * len(keys),
            "evidence": ["Drinking water: 31% (sample 45%)"] * len(keys),
            "evidence_fr": ["Eau potable : 31 % (échantillon 45 %)"] * len(keys),
            "overridden": [False] * len(keys),
            "override_by": [None] * len(keys),
            "override_why": [None] * len(keys),
            "override_at": pl.Series([None] * len(keys), dtype=pl.Datetime("us")),
        },
        schema_overrides={"override_by": pl.Utf8, "override_why": pl.Utf8},
    )


def changes_frame(rng: np.random.Generator, from_round: str, shape: Shape = MALI) -> pl.DataFrame:
    """The comparison stage's `changes` (overall rows) from `from_round` into the round written."""
    keys = [(c, i) for c in (*shape.communities, "all") for i in shape.indicators]
    size = len(keys)
    change = rng.normal(0, 0.08, size)
    p_value = rng.uniform(0, 1, size)
    return pl.DataFrame({
        "community_id": [k[0] for k in keys], "group_dimension": ["all"] * size, "group": ["all"] * size,
        "indicator_id": [k[1] for k in keys], "change": change, "se": np.full(size, 0.04),
        "p_value": p_value, "p_adjusted": np.minimum(1, p_value * 1.5), "suppressed": [False] * size,
        "from_round": [from_round] * size,
    })


def _config_hash(store_path: Path) -> str:
    """The config hash of the study whose store this is; a made-up one for a store outside a study."""
    from retour.config import load_project

    root = Path(store_path).parent
    return load_project(root).config_hash() if (root / "retour.toml").exists() else "abc123def456"


def write_results(
    store_path: Path, rounds: tuple[str, ...] = ("baseline",), seed: int = 11, shape: Shape = MALI
) -> None:
    """Fill the store with every result table the dashboard reads, for each round."""
    rng = np.random.default_rng(seed)
    con = store.connect(store_path)
    try:
        for round_name in rounds:
            store.write_results(con, "estimates", estimates_frame(rng, shape), round_name)
            store.write_results(con, "gaps", gaps_frame(rng, shape), round_name)
            store.write_results(con, "index_scores", index_frame(rng, shape), round_name)
            store.write_results(con, "needs", needs_frame(rng, shape), round_name)
            if round_name != rounds[0]:
                store.write_results(con, "changes", changes_frame(rng, rounds[0], shape), round_name)
            stamp = {  # the study's own config hash, as a stage would record (else its results are stale)
                "retour_version": "0.1.0",
                "config_hash": _config_hash(store_path),
                "data_hash": f"data{round_name}",
            }
            for stage in ("estimate", "index", "needs"):
                store.record_run(con, stage, round_name, stamp)
    finally:
        con.close()


def add_users(store_path: Path) -> None:
    """One user per role (vera: viewer, ana: analyst, adam: admin), all with PASSWORD."""
    from retour.dashboard.access import StoreAccess
    from retour.dashboard.users import add_user

    access = StoreAccess(store_path)
    for name, role in USERS.items():
        add_user(access, name, PASSWORD, role, language="fr")


def today() -> dt.date:
    return dt.date.today()
