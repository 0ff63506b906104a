"""Benchmark the comparison of two rounds: indicator changes, score changes and the difference-in-differences.

    .venv/bin/python benchmarks/bench_rounds.py            # 604, 100,000 and 1,000,000 respondents a round
    .venv/bin/python benchmarks/bench_rounds.py --quick    # the smallest only

Each round has N respondents, 30 indicators (25 proportions, 5 means), 7 / 100 / 1,000 communities
(one stratum per community and area type, 10 clusters per stratum) and the four group dimensions. The
second round re-interviews 80% of the first (same case ids) and marks beneficiaries. It times, for both
pairings (independent samples, panel): linking and stacking with the linearisation of both rounds
(`rounds.linearise_rounds`), every change with its SE and test (`rounds.indicator_change`: every
community and the whole sample x 9 groups x 30 indicators), the pillar and composite score changes by
the delta method (`rounds.score_change`, 10 indicators per pillar) and the difference-in-differences
(`did.difference_in_differences`). It prints seconds and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from bench_estimate import GROUP_DIMENSIONS, design_columns  # noqa: E402  (the same design; run from benchmarks/)

from retour.did import difference_in_differences  # noqa: E402
from retour.estimate import Design, EstimationSpec  # noqa: E402
from retour.index import IndexIndicator, IndexSpec  # noqa: E402
from retour.rounds import TREATMENT, indicator_change, linearise_rounds, score_change  # noqa: E402

SIZES = ((604, 7), (100_000, 100), (1_000_000, 1_000))
N_INDICATORS = 30
N_MEANS = 5


def make_round(n: int, n_communities: int, rng: np.random.Generator, shift: float = 0.0) -> pl.DataFrame:
    """One round's respondent frame (the design of bench_estimate) with case ids and programme groups."""
    columns, cluster = design_columns(n, n_communities, rng)
    columns["case_id"] = pl.Series([f"case{i}" for i in range(n)])
    columns[TREATMENT] = pl.Series(["comparison", "beneficiary"]).gather(cluster % 2)
    for k in range(N_INDICATORS):
        if k < N_INDICATORS - N_MEANS:
            values = (rng.random(n) < 0.2 + 0.02 * (k % 20) + shift).astype(float)
        else:
            values = rng.poisson(6, n) + 1.0 + 10 * shift
        values[rng.random(n) < 0.05] = np.nan
        columns[f"i{k:02d}"] = values
    return pl.DataFrame(columns).with_columns([pl.col(f"i{k:02d}").fill_nan(None)
                                               for k in range(N_INDICATORS)])


def index_spec() -> IndexSpec:
    pillars = ("economic", "social", "psychosocial")
    return IndexSpec(indicators=tuple(IndexIndicator(f"i{k:02d}", pillars[k % 3], k % 4 != 0)
                                      for k in range(N_INDICATORS)))


def run(n: int, n_communities: int) -> None:
    rng = np.random.default_rng(11)
    first = make_round(n, n_communities, rng)
    again = make_round(n, n_communities, rng, shift=0.05)
    keep = pl.Series(rng.random(n) < 0.8)  # re-interviewed where they were: same community and cluster
    place = ["community_id", "stratum", "psu", "area_type", "case_id"]
    second = again.with_columns([pl.when(keep).then(first[c]).otherwise(pl.col(c)).alias(c) for c in place])
    second = second.with_columns(case_id=pl.when(keep).then(pl.col("case_id"))
                                 .otherwise(pl.format("new{}", pl.int_range(pl.len()))))
    indicators = [f"i{k:02d}" for k in range(N_INDICATORS)]
    kinds = {i: "mean" for i in indicators[-N_MEANS:]}
    spec = index_spec()
    for pairing in ("independent", "panel"):
        times = {}
        start = time.perf_counter()
        stacked = linearise_rounds(first, second, indicators, Design(), EstimationSpec(), GROUP_DIMENSIONS,
                                   kinds=kinds, pairing=pairing, treatment=TREATMENT)
        times["link+stack+linearise"] = time.perf_counter() - start
        steps = {"indicator changes": (indicator_change, ()), "score changes": (score_change, (spec,)),
                 "difference-in-differences": (difference_in_differences, ())}
        for name, (step, arguments) in steps.items():
            start = time.perf_counter()
            result = step(stacked, *arguments)
            times[name] = time.perf_counter() - start
            times[f"{name} rows"] = result.height
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        figures = ", ".join(f"{k} {v:.2f} s" if isinstance(v, float) else f"{k} {v:,}"
                            for k, v in times.items())
        print(f"N = {n:,} a round, {n_communities} communities, {pairing}: {figures}; "
              f"peak RSS {peak:,.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the smallest size")
    arguments = parser.parse_args()
    for n, n_communities in SIZES[:1] if arguments.quick else SIZES:
        run(n, n_communities)


if __name__ == "__main__":
    main()
