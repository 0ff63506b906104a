"""Time the synthetic data: the example's calibrated baseline (target under 2 s), a mid-term round, export
and check, and the same questionnaire answered from the form alone.

Loads the example study's questionnaire, catalogue, targets and generator package once, then times each
step over `--repeat` runs (seeds 1, 2, ...) and prints the fastest and the median run. "generate
baseline" is what the issue's 2-second target is about: the community plan (Tableau 1 solve) plus 604
respondents.

Run: .venv/bin/python benchmarks/bench_synth.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from retour.indicators import load_catalogue
from retour.schema import load_instrument
from retour.synth import FormPlan, draw_submissions, load_generator, write_export

EXAMPLE = Path(__file__).resolve().parent.parent / "src" / "retour" / "examples" / "mali-2018"
GENERATOR = load_generator(EXAMPLE / "generator")
check, generate, load_shifts, load_targets = (GENERATOR.check, GENERATOR.generate, GENERATOR.load_shifts,
                                              GENERATOR.load_targets)
make_plan = GENERATOR.population.make_plan


def timed(function, repeat: int) -> tuple[float, float, float, object]:
    """Fastest and median wall time of `repeat` calls (the call gets the run number as its seed), and
    the median processor time (which a busy machine does not inflate)."""
    times, cpu, result = [], [], None
    for run in range(1, repeat + 1):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = function(run)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(times), statistics.median(times), statistics.median(cpu), result


def show(label: str, fastest: float, median: float, cpu: float) -> None:
    print(f"{label:40s} {fastest:7.3f} s fastest, {median:7.3f} s median wall, {cpu:7.3f} s median CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat

    start = time.perf_counter()
    instrument = load_instrument(EXAMPLE / "instrument.xlsx")
    catalogue = load_catalogue(EXAMPLE / "indicators.toml", instrument)
    targets = load_targets(EXAMPLE / "synth_targets.toml")
    shifts = load_shifts(EXAMPLE / "shifts_midterm.toml")
    print(f"load questionnaire, catalogue, targets   {time.perf_counter() - start:7.3f} s (once)")

    rows = [
        ("community plan (Tableau 1 solve)", lambda seed: make_plan(targets, catalogue)),
        ("generate baseline (604 respondents)", lambda seed: generate(targets, catalogue, seed)),
        (
            "generate mid-term, fresh sample",
            lambda seed: generate(targets, catalogue, seed, round_name="midterm", shifts=shifts),
        ),
        (
            "generate mid-term, panel",
            lambda seed: generate(targets, catalogue, seed, round_name="midterm", shifts=shifts, panel=True),
        ),
    ]
    plan = FormPlan(rows=604, psu="cluster", weight="weight", stratum="stratum", case_id="case_id")
    rows.append(("questionnaire alone (604 respondents)",
                 lambda seed: draw_submissions(instrument, plan, seed)))
    baseline = None
    print(f"{repeat} runs each; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for label, function in rows:
        *figures, result = timed(function, repeat)
        baseline = result if label.startswith("generate baseline") else baseline
        show(label, *figures)
    with tempfile.TemporaryDirectory() as folder:
        *figures, _ = timed(
            lambda seed: write_export(baseline.frame, instrument, Path(folder) / str(seed), "bench", "note"),
            repeat,
        )
    show("write XLSX + CSV export", *figures)
    *figures, checks = timed(lambda seed: check(baseline, catalogue, targets), repeat)
    show("check every target", *figures)
    print(f"{len(checks)} calibration targets, {sum(not row.ok for row in checks)} missed")


if __name__ == "__main__":
    main()
