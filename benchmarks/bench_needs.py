"""Benchmark the needs matrix and the needs-actor matching on growing numbers of communities.

    .venv/bin/python benchmarks/bench_needs.py

The example study's rules (needs.toml: 14 issues, 28 indicators, pillar rules) and actor register
(189 actors) are applied to seeded random estimates for 7, 100 and 1,000 communities (the scale of a
national monitoring system by commune). Prints the time of `needs.classify`, `needs.apply_overrides`
(one override per community) and `actors.match_needs`, and the number of cells.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from retour import actors, needs  # noqa: E402
from retour.registers import read_toml  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "src" / "retour" / "examples" / "mali-2018"
SIZES = (7, 100, 1_000)


def frames(spec: needs.NeedsSpec, communities: list[str], seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Random estimates (every community and 'all') and index scores, like the stored tables."""
    rng = np.random.default_rng(seed)
    indicators = spec.indicator_ids()
    places = [*communities, "all"]
    estimates = pl.DataFrame({
        "community_id": np.repeat(places, len(indicators)),
        "group_dimension": "all", "group": "all",
        "indicator_id": np.tile(indicators, len(places)),
        "estimate": rng.uniform(0.05, 0.95, len(places) * len(indicators)),
        "n": rng.integers(5, 120, len(places) * len(indicators)),
    }).with_columns((pl.col("n") < 10).alias("suppressed"))
    scores = pl.concat([pl.DataFrame({"community_id": communities, "pillar": pillar,
                                      "score": rng.uniform(0, 1, len(communities))})
                        .with_columns(pl.col("score").rank("ordinal", descending=True).cast(pl.Int64)
                                      .alias("rank"))
                        for pillar in needs.PILLARS])
    return estimates, scores


def main() -> None:
    base = needs.parse_spec(read_toml(EXAMPLE / "needs.toml"))
    communities_7 = ["bafoulabe", "bamako_commune_iv", "kati", "kayes", "sikasso", "kirane", "kita"]
    register = actors.load_register(EXAMPLE, communities_7, base.issue_ids())
    print(f"{'communities':>12} {'cells':>7} {'classify s':>11} {'overrides s':>12} {'match s':>8}")
    for size in SIZES:
        communities = communities_7 if size == 7 else [f"area_{i:04d}" for i in range(size)]
        estimates, scores = frames(base, communities, seed=size)
        started = time.perf_counter()
        matrix = needs.classify(estimates, scores, base, "baseline", communities=communities)
        classified = time.perf_counter()
        overrides = pl.DataFrame({"community_id": communities, "issue_id": "water", "level": "priority",
                                  "why": "benchmark", "set_by": "bench",
                                  "set_at": dt.datetime(2024, 1, 1)})
        matrix = needs.apply_overrides(matrix, overrides)
        overridden = time.perf_counter()
        actors.match_needs(matrix, register, levels=("priority", "important"))
        matched = time.perf_counter()
        print(f"{size:>12} {matrix.height:>7} {classified - started:>11.3f} {overridden - classified:>12.3f} "
              f"{matched - overridden:>8.3f}")


if __name__ == "__main__":
    main()
