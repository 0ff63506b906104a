"""Time the index and its survey bootstrap: 1,000 replicates on 604 respondents, 7 communities, 30 indicators.

Run: .venv/bin/python benchmarks/bench_index.py [--replicates 1000] [--respondents 604]
Prints the best of 5 runs for each step and for the whole bootstrap (replicate weights, re-estimation of
every indicator per community, index rebuilt per replicate, intervals and rank probabilities).
Target: the whole bootstrap under 0.5 s.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import polars as pl

from retour.index import IndexIndicator, IndexSpec, build, build_arrays
from retour.index.replicates import rescaled_bootstrap
from retour.index.uncertainty import method_uncertainty, replicate_estimates, sampling_uncertainty, summarise

COMMUNITIES = ["bafoulabe", "bamako_commune_iv", "kati", "kayes", "kita", "sikasso", "kirane"]
PILLARS = ("economic", "social", "psychosocial")


def respondents(count: int, indicators: int, seed: int = 2018) -> pl.DataFrame:
    """Contract-3 respondent data: 2 strata per community, clusters of about 6, 0/1 indicators, 5% missing."""
    rng = np.random.default_rng(seed)
    community = rng.choice(COMMUNITIES, count)
    area = rng.choice(["urban", "rural"], count)
    cluster = rng.integers(0, 7, count)
    chance = np.array([rng.uniform(0.1, 0.9, indicators) for _ in COMMUNITIES])
    position = np.searchsorted(np.array(sorted(COMMUNITIES)), community)
    values = (rng.random((count, indicators)) < chance[position]).astype(float)
    values[rng.random((count, indicators)) < 0.05] = np.nan
    frame = pl.DataFrame({
        "_uuid": [f"uuid-{i}" for i in range(count)],
        "community_id": community,
        "stratum": [f"{c}:{a}" for c, a in zip(community, area, strict=True)],
        "psu": [f"{c}:{a}:{k}" for c, a, k in zip(community, area, cluster, strict=True)],
        "weight": rng.uniform(0.5, 2.0, count),
    })
    return frame.with_columns([pl.Series(f"indicator_{j:02d}", values[:, j]).fill_nan(None)
                               for j in range(indicators)])


def point_estimates(data: pl.DataFrame) -> pl.DataFrame:
    ids = [c for c in data.columns if c.startswith("indicator_")]
    long = data.unpivot(index=["community_id", "weight"], on=ids, variable_name="indicator_id",
                        value_name="value").drop_nulls("value")
    return (long.group_by("community_id", "indicator_id")
            .agg(estimate=(pl.col("value") * pl.col("weight")).sum() / pl.col("weight").sum())
            .with_columns(group_dimension=pl.lit("all"), group=pl.lit("all"), suppressed=pl.lit(False)))


def best_of(runs: int, function: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--respondents", type=int, default=604)
    parser.add_argument("--indicators", type=int, default=30)
    args = parser.parse_args()
    data = respondents(args.respondents, args.indicators)
    ids = [c for c in data.columns if c.startswith("indicator_")]
    spec = IndexSpec(indicators=tuple(IndexIndicator(i, PILLARS[j % 3], j % 4 != 3)
                                      for j, i in enumerate(ids)))
    result = build(point_estimates(data), spec)
    weights = rescaled_bootstrap(data, args.replicates, seed=1)
    values = replicate_estimates(data, result, weights)
    scores = build_arrays(values, spec).scores()
    print(f"index bootstrap: {args.respondents} respondents, {len(COMMUNITIES)} communities, "
          f"{len(ids)} indicators, {args.replicates} replicates (best of 5)")
    steps = {
        "point build (frames)": lambda: build(point_estimates(data), spec),
        "replicate weights (Rao-Wu)": lambda: rescaled_bootstrap(data, args.replicates, seed=1),
        "re-estimation (sparse product)": lambda: replicate_estimates(data, result, weights),
        "index rebuild on all replicates": lambda: build_arrays(values, spec),
        "intervals and rank probabilities": lambda: summarise(scores, scores, result, 0.9, "sampling"),
        "method analysis (16 variants)": lambda: method_uncertainty(result),
    }
    for name, step in steps.items():
        print(f"  {name:<36} {best_of(5, step) * 1000:8.1f} ms")
    total = best_of(5, lambda: sampling_uncertainty(data, result, args.replicates, seed=1))
    print(f"  {'whole survey bootstrap':<36} {total * 1000:8.1f} ms   (target < 500 ms)")


if __name__ == "__main__":
    main()
