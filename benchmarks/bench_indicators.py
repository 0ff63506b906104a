"""Benchmark: derive() over the example catalogue (all indicators in one polars select).

Random answers (uniform over each question's choices, a few fields left empty) for N respondents;
prints the time to derive every indicator and the rate in respondent-indicators per second.

    .venv/bin/python benchmarks/bench_indicators.py [N ...]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

from retour.indicators import derive, load_catalogue
from retour.schema import Instrument, load_instrument

EXAMPLE = Path(__file__).parent.parent / "src" / "retour" / "examples" / "mali-2018"


def random_submissions(instrument: Instrument, n: int, seed: int = 1) -> pl.DataFrame:
    """One random answer per field and respondent; select_multiple answers pick two choices."""
    rng = np.random.default_rng(seed)
    columns: dict[str, pl.Series] = {"_uuid": pl.Series([f"u{i}" for i in range(n)])}
    for question in instrument.questions:
        if question.type == "select_one":
            values = np.asarray(question.choice_names)[rng.integers(0, len(question.choices), n)]
            columns[question.name] = pl.Series(values)
        elif question.type == "select_multiple":
            names = np.asarray(question.choice_names)
            first, second = rng.integers(0, len(names), n), rng.integers(0, len(names), n)
            columns[question.name] = pl.Series(np.char.add(np.char.add(names[first], " "), names[second]))
        elif question.type == "integer":
            columns[question.name] = pl.Series(rng.integers(15, 35, n), dtype=pl.Int64)
        elif question.type == "decimal":
            columns[question.name] = pl.Series(rng.random(n) + 0.5)
        else:
            columns[question.name] = pl.Series(np.char.add("c", (np.arange(n) % 50).astype(str)))
    columns["stratum"] = columns["community"]
    return pl.DataFrame(columns)


def main(sizes: list[int]) -> None:
    instrument = load_instrument(EXAMPLE / "instrument.xlsx")
    catalogue = load_catalogue(EXAMPLE / "indicators.toml", instrument)
    print(f"catalogue: {len(catalogue.indicators)} indicators, {len(catalogue.groups)} groups")
    for n in sizes:
        frame = random_submissions(instrument, n)
        start = time.perf_counter()
        result = derive(frame, catalogue)
        seconds = time.perf_counter() - start
        rate = n * len(catalogue.indicators) / seconds
        print(f"derive {n:>9,} respondents: {seconds:7.3f} s  ({rate / 1e6:6.1f} M respondent-indicators/s)"
              f"  -> {result.shape[0]:,} x {result.shape[1]}")


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [604, 100_000, 1_000_000])
