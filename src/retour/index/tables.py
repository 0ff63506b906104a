"""The stored shape of an index (contract 5): scores with intervals, contributions, rank probabilities.

`index_tables` joins a built index with its sampling and method uncertainty into the frames the store
keeps and reports read; `tableau_1` orders the scores as the study's Tableau 1. Pure reshaping: no
statistics beyond what the build and the uncertainty analysis returned, and no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from retour.index import COMPOSITE, IndexResult
from retour.index.uncertainty import Uncertainty

SCORE_COLUMNS = ("community_id", "pillar", "score", "rank", "score_low", "score_high", "rank_low",
                 "rank_high", "method_score_low", "method_score_high", "method_rank_low", "method_rank_high")
CONTRIBUTION_COLUMNS = ("community_id", "pillar", "component", "value", "normalised", "weight",
                        "contribution")


@dataclass(frozen=True)
class IndexTables:
    """One round's index as stored: a frame per table of contract 5, and the spec as JSON text.

    index_scores: community_id, pillar, score, rank, score_low, score_high, rank_low, rank_high (survey
    bootstrap), method_score_low, method_score_high, method_rank_low, method_rank_high (method analysis).
    index_rank_probabilities (bootstrap) and index_method_rank_probabilities: community_id, pillar, rank,
    probability. index_contributions: community_id, pillar, component, value, normalised, weight,
    contribution. index_goalposts: indicator_id, low, high, direction. index_specs: spec.
    """

    index_scores: pl.DataFrame
    index_contributions: pl.DataFrame
    index_rank_probabilities: pl.DataFrame
    index_method_rank_probabilities: pl.DataFrame
    index_goalposts: pl.DataFrame
    index_specs: pl.DataFrame

    def frames(self) -> dict[str, pl.DataFrame]:
        """Table name -> frame, in the order they are written."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def index_tables(result: IndexResult, sampling: Uncertainty, method: Uncertainty) -> IndexTables:
    """The frames of contract 5 for one built index and its two uncertainty analyses."""
    keys = ["community_id", "pillar"]
    method_intervals = method.intervals.rename({c: f"method_{c}" for c in method.intervals.columns
                                                if c not in keys})
    scores = (result.scores()
              .join(sampling.intervals, on=keys, how="left", maintain_order="left")
              .join(method_intervals, on=keys, how="left", maintain_order="left")
              .select(SCORE_COLUMNS))
    return IndexTables(
        index_scores=scores,
        index_contributions=result.contributions.select(CONTRIBUTION_COLUMNS),
        index_rank_probabilities=sampling.rank_probabilities,
        index_method_rank_probabilities=method.rank_probabilities,
        index_goalposts=result.goalposts,
        index_specs=pl.DataFrame({"spec": [result.spec.to_json()]}),
    )


def tableau_1(scores: pl.DataFrame, pillars: tuple[str, ...]) -> pl.DataFrame:
    """Scores as the study's Tableau 1: pillar by pillar (composite last), communities by rank."""
    order = list(dict.fromkeys([*pillars, COMPOSITE]))
    present = [p for p in order if p in set(scores["pillar"].to_list())]
    position = pl.col("pillar").replace_strict(present, list(range(len(present))), default=len(present))
    columns = ["pillar", "rank", "community_id", "score", "score_low", "score_high", "rank_low", "rank_high"]
    return scores.sort(position, "rank", "community_id").select(
        [c for c in columns if c in scores.columns])


def rank_probability_table(probabilities: pl.DataFrame, scores: pl.DataFrame,
                           pillars: tuple[str, ...]) -> pl.DataFrame:
    """Rank probabilities ordered as Tableau 1, one row per pillar and community: its rank and the share
    of draws in which it took each rank r = 1..C (columns `p_rank_<r>`, adding up to 1 across a row).
    """
    keys = ["community_id", "pillar"]
    possible = sorted(set(probabilities["rank"].to_list()))
    wide = probabilities.select(*keys, pl.col("rank").cast(pl.Utf8), "probability").pivot(
        on="rank", index=keys, values="probability")
    columns = [pl.col(str(r)).alias(f"p_rank_{r}") for r in possible]
    ranked = tableau_1(scores, pillars).select("pillar", "rank", "community_id")
    return ranked.join(wide.select(*keys, *columns), on=keys, how="left", maintain_order="left")
