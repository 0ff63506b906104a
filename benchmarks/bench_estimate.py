"""Benchmark `retour.estimate.estimate` against svy on the same synthetic survey.

    .venv/bin/python benchmarks/bench_estimate.py            # the three sizes of issue 5
    .venv/bin/python benchmarks/bench_estimate.py --quick    # the smallest only

For N = 604 / 100,000 / 1,000,000 respondents, 30 indicators (25 proportions, 5 means) and
7 / 100 / 1,000 communities, it times every estimate with its SE (every community and the whole sample,
overall and by the four group dimensions: 9 groups) and prints the time of svy 0.35 on the same data:
`Sample.estimation.mean(y, by=..., where=..., drop_nulls=True)` per indicator and domain family (point,
SE, df, t interval). svy is run on every indicator where it finishes quickly; at larger sizes on the
first few indicators only, and its time for all 30 is extrapolated linearly (each indicator is a
separate svy call of the same cost); it is skipped at 1,000,000.

Times are the best of five runs, wall-clock and CPU (all threads: `estimate` uses every core, so CPU
can exceed wall); the machine's load average is printed, since other processes inflate both. Each size
runs in its own process so its memory is its own: the peak resident set size during `estimate` (the
input frame included; Linux's peak counter is reset just before the call) and tracemalloc's peak of
the allocations made by `estimate` itself (numpy's and Python's), from a separate run because tracing
slows the allocations down.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from retour.estimate import Design, EstimationSpec, estimate  # noqa: E402

GROUP_DIMENSIONS = ("migration_status", "sex", "age_band", "area_type")  # the group columns made below
SIZES = ((604, 7), (100_000, 100), (1_000_000, 1_000))
N_INDICATORS = 30
N_MEANS = 5
SVY_INDICATORS = {604: 30, 100_000: 3}  # indicators svy is timed on; skipped where absent


def design_columns(n: int, n_communities: int,
                   rng: np.random.Generator) -> tuple[dict[str, object], np.ndarray]:
    """Respondents' community, stratum (community x area type), PSU (10 clusters per stratum), weight and
    the four group columns; and each one's cluster number (0-9)."""
    community = rng.integers(0, n_communities, n)
    urban = rng.random(n) < 0.4
    cluster = rng.integers(0, 10, n)
    names = pl.Series([f"c{i:04d}" for i in range(n_communities)])
    columns: dict[str, object] = {
        "community_id": names.gather(community),
        "stratum": pl.Series([f"s{i}" for i in range(2 * n_communities)]).gather(2 * community + urban),
        "psu": pl.Series([f"p{i}" for i in range(20 * n_communities)]).gather(20 * community + 10 * urban
                                                                           + cluster),
        "weight": rng.uniform(0.5, 3.0, n) * np.where(urban, 1.0, 2.0),
        "migration_status": pl.Series(["returnee", "non_migrant"]).gather(rng.random(n) < 0.6),
        "sex": pl.Series(["women", "men"]).gather(rng.random(n) < 0.5),
        "age_band": pl.Series(["15_24", "25_34"]).gather(rng.random(n) < 0.5),
        "area_type": pl.Series(["rural", "urban"]).gather(urban),
    }
    return columns, cluster


def make_survey(n: int, n_communities: int, n_indicators: int = N_INDICATORS, seed: int = 5) -> pl.DataFrame:
    """A synthetic respondent frame: one stratum per community and area type, 10 clusters per stratum."""
    rng = np.random.default_rng(seed)
    columns, _ = design_columns(n, n_communities, rng)
    for k in range(n_indicators):
        mean = k >= n_indicators - N_MEANS
        values = rng.gamma(2.0, 3.0, n) if mean else (rng.random(n) < rng.uniform(0.1, 0.9)).astype(float)
        values[rng.random(n) < 0.1] = np.nan
        columns[f"indicator_{k:02d}"] = values
    frame = pl.DataFrame(columns)
    return frame.with_columns(pl.col(f"indicator_{k:02d}").fill_nan(None) for k in range(n_indicators))


def indicator_kinds(n_indicators: int = N_INDICATORS) -> dict[str, str]:
    return {f"indicator_{k:02d}": "mean" if k >= n_indicators - N_MEANS else "proportion"
            for k in range(n_indicators)}


def time_retour(frame: pl.DataFrame, runs: int = 5) -> dict[str, Any]:
    """Best wall and CPU seconds of `runs` calls, rows out, peak RSS and tracemalloc peak (MB)."""
    kinds = indicator_kinds()
    design, spec = Design("stratum", "psu", "weight"), EstimationSpec()
    best, best_cpu = np.inf, np.inf
    reset = _reset_peak_rss()
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = estimate(frame, list(kinds), design, spec, groups=GROUP_DIMENSIONS, kinds=kinds)
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
    peak_rss = _peak_rss_mb() if reset else None
    tracemalloc.start()
    estimate(frame, list(kinds), design, spec, groups=GROUP_DIMENSIONS, kinds=kinds)
    traced = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return {"retour_s": best, "retour_cpu_s": best_cpu, "rows": result.height, "peak_rss_mb": peak_rss,
            "tracemalloc_peak_mb": traced}


def _reset_peak_rss() -> bool:
    """Reset Linux's peak RSS counter (VmHWM) to the current RSS; False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float:
    """Peak resident set size since the last reset (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_svy(frame: pl.DataFrame, n_indicators: int) -> tuple[float, float]:
    """svy's wall and CPU seconds for every domain family of the first `n_indicators` indicators."""
    import svy

    sample = svy.Sample(frame, svy.Design(stratum="stratum", psu="psu", wgt="weight", singleton="center"))
    communities = frame["community_id"].unique().to_list()
    start, start_cpu = time.perf_counter(), time.process_time()
    for indicator in list(indicator_kinds())[:n_indicators]:
        for by in (None, *GROUP_DIMENSIONS):
            sample.estimation.mean(indicator, by=by, drop_nulls=True)  # whole sample
            both = "community_id" if by is None else ("community_id", by)
            try:
                sample.estimation.mean(indicator, by=both, drop_nulls=True)  # every community at once
            except Exception:  # a community x group with no answer: svy refuses, so estimate each community
                for community in communities:
                    sample.estimation.mean(indicator, by=by, drop_nulls=True,
                                           where=svy.col("community_id") == community)
    return time.perf_counter() - start, time.process_time() - start_cpu


def run_one(n: int, n_communities: int) -> dict[str, object]:
    frame = make_survey(n, n_communities)
    result: dict[str, object] = {"n": n, "communities": n_communities, **time_retour(frame)}
    svy_k = SVY_INDICATORS.get(n)
    if svy_k:
        svy_seconds, svy_cpu = time_svy(frame, svy_k)
        scale = N_INDICATORS / svy_k
        result.update(svy_indicators=svy_k, svy_all_s=svy_seconds * scale, svy_all_cpu_s=svy_cpu * scale)
    result["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the smallest size")
    parser.add_argument("--one", nargs=2, type=int, metavar=("N", "COMMUNITIES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(*args.one)))
        return
    print(f"retour.estimate vs svy 0.35: {N_INDICATORS} indicators, every community and the whole sample x "
          f"9 groups; seconds wall and CPU (best of 5 for retour), {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'N':>9} {'communities':>11} {'rows out':>9} {'retour wall':>11} {'retour cpu':>10} "
          f"{'svy wall':>10} {'svy cpu':>9} {'ratio wall':>10} {'ratio cpu':>9} {'svy measured on':>15} "
          f"{'peak RSS MB':>11} {'traced MB':>9}")
    for n, n_communities in SIZES[:1] if args.quick else SIZES:
        out = subprocess.run([sys.executable, __file__, "--one", str(n), str(n_communities)],
                             check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        if "svy_all_s" in r:
            ratio, ratio_cpu = r["svy_all_s"] / r["retour_s"], r["svy_all_cpu_s"] / r["retour_cpu_s"]
            measured = f"{r['svy_indicators']} indicators"
            svy = (f"{r['svy_all_s']:>10.2f} {r['svy_all_cpu_s']:>9.2f} {ratio:>9.0f}x {ratio_cpu:>8.0f}x "
                   f"{measured:>15}")
        else:
            svy = f"{'-':>10} {'-':>9} {'-':>10} {'-':>9} {'skipped':>15}"
        rss = r["peak_rss_mb"] if r["peak_rss_mb"] is not None else r["max_rss_mb"]
        print(f"{r['n']:>9,} {r['communities']:>11,} {r['rows']:>9,} {r['retour_s']:>11.3f} "
              f"{r['retour_cpu_s']:>10.3f} {svy} {rss:>11.0f} {r['tracemalloc_peak_mb']:>9.0f}")
    print("svy times for 30 indicators are extrapolated linearly from the indicators it was run on "
          "(one svy call per indicator and domain family). Peak RSS includes the input frame.")


if __name__ == "__main__":
    main()
