"""Benchmark: individual scores of N monitoring visits (recode, weigh, compare with the previous visit,
flag), with the shipped equal weights.

Random answers to the monitoring form's questions (uniform over each question's choices, 3% left
empty) for N visits of N/3 cases at 3, 6 and 12 months; prints the time of `score_visits` (wall clock,
and the CPU time of this process, which other work on a busy machine does not inflate) and, apart, of
the programme summary (`summarise`, design-based estimates per community).

    .venv/bin/python benchmarks/bench_score.py [N ...]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

from retour.config import DesignSettings
from retour.estimate import EstimationSpec
from retour.indicators import load_catalogue
from retour.schema import Instrument, load_instrument
from retour.score import score_visits, summarise
from retour.score_spec import ScoreSpec, load_score_spec

EXAMPLE = Path(__file__).parent.parent / "src" / "retour" / "examples" / "mali-2018"
ROUND = "followup"


def random_visits(instrument: Instrument, spec: ScoreSpec, n: int, seed: int = 7) -> pl.DataFrame:
    """N visits: case ids repeating over 3m, 6m, 12m, a community, and a random answer per question."""
    rng = np.random.default_rng(seed)
    cases = np.arange(n) // 3
    communities = np.asarray(instrument.question("community").choice_names)
    columns: dict[str, object] = {
        "round": np.full(n, ROUND),
        "_uuid": np.char.add("v", np.arange(n).astype(str)),
        "case_id": np.char.add("case", cases.astype(str)),
        "visit": np.asarray(["3m", "6m", "12m"])[np.arange(n) % 3],
        "community": communities[cases % len(communities)],
    }
    frame = pl.DataFrame(columns)
    answers = []
    for name in spec.questions:
        choices = pl.Series(instrument.question(name).choice_names, dtype=pl.Utf8)
        drawn = choices.gather(rng.integers(0, len(choices), n))
        empty = pl.Series(rng.random(n) < 0.03)
        answers.append(pl.when(empty).then(None).otherwise(drawn).alias(name))
    return frame.with_columns(
        *answers,
        pl.lit(None, pl.Date).alias("interview_date"),
        pl.lit(None, pl.Datetime).alias("_submission_time"),
    )


def main(sizes: list[int]) -> None:
    instrument = load_instrument(EXAMPLE / "instrument.xlsx")
    spec = load_score_spec(
        EXAMPLE / "score_weights.toml", load_catalogue(EXAMPLE / "indicators.toml", instrument)
    )
    print(f"weights {spec.label}: {len(spec.sub_indicators)} sub-indicators, {len(spec.questions)} questions")
    for n in sizes:
        frame = random_visits(instrument, spec, n)
        start, cpu = time.perf_counter(), time.process_time()
        visits = score_visits(frame, spec, DesignSettings(stratum="", psu="", weight=""), [ROUND], [ROUND])
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        start = time.perf_counter()
        summary = summarise(visits, spec, EstimationSpec())
        summary_seconds = time.perf_counter() - start
        flagged = int(visits["flagged"].sum())
        print(
            f"score {n:>9,} visits: {seconds:6.3f} s wall, {cpu:6.3f} s CPU "
            f"({n / seconds / 1e6:5.2f} M visits/s), {flagged:,} flagged; "
            f"summary {summary_seconds:6.3f} s ({summary.height} estimates)"
        )
    print(f"({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} while running)")


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [1_000, 100_000, 1_000_000])
