"""Run the whole pipeline on the shipped example study: the one function behind `retour demo`.

It creates the study folder if needed, generates the synthetic baseline, then runs ingest, estimate,
index, needs and report exactly as a user would with the separate commands. It computes nothing itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from retour import study
from retour.config import SETTINGS_FILE, Project, load_project
from retour.errors import ConfigError

Progress = Callable[[str, float], None]

# Share of the demo's time each stage takes (measured on the example study), for one progress bar.
STAGES = (("init", 0.01), ("synth", 0.04), ("ingest", 0.04), ("estimate", 0.10), ("index", 0.06),
          ("needs", 0.03), ("report", 0.72))


@dataclass(frozen=True)
class DemoRun:
    """What the demo made: the study, Tableau 1, the files written and the seconds each stage took."""

    project: Project
    tableau_1: pl.DataFrame
    outputs: tuple[Any, ...]
    rows_ingested: int
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def output_dir(self) -> Path:
        return self.project.output_dir


def _open_or_create(target: Path) -> Project:
    if (target / SETTINGS_FILE).exists():
        return load_project(target)
    if target.exists() and any(target.iterdir()):
        raise ConfigError(f"{target} exists, is not empty and is not a retour study.",
                          "Choose another folder: retour demo DIR")
    return study.init_study(target)


def run_demo(target: Path, languages: tuple[str, ...] = ("fr", "en"),
             formats: tuple[str, ...] = ("html", "pdf"), progress: Progress | None = None) -> DemoRun:
    """Create (or reuse) the example study in `target` and run every stage on its synthetic baseline."""
    report_progress = progress or (lambda _stage, _share: None)
    done = 0.0
    seconds: dict[str, float] = {}
    shares = dict(STAGES)

    def stage(name: str, action: Callable[[], Any]) -> Any:
        nonlocal done
        report_progress(name, done)
        started = time.perf_counter()
        result = action()
        seconds[name] = time.perf_counter() - started
        done += shares[name]
        report_progress(name, min(done, 1.0))
        return result

    target = Path(target)
    project = stage("init", lambda: _open_or_create(target))
    round_name = project.settings.index.reference_round
    synthetic = stage("synth", lambda: study.synthesise(project, round_name))
    export = next(path for path in synthetic.paths if path.suffix == ".csv")
    summary = stage("ingest", lambda: study.ingest_export(project, export, round_name))
    stage("estimate", lambda: study.estimate_round(project, round_name))
    tables = stage("index", lambda: study.build_index(project, round_name))
    stage("needs", lambda: study.compute_needs(project, round_name))
    outputs = stage("report", lambda: study.write_report(project, round_name, languages, formats))
    from retour.index.tables import tableau_1

    pillars = ("economic", "social", "psychosocial")
    return DemoRun(project=project, tableau_1=tableau_1(tables.index_scores, pillars),
                   outputs=tuple(outputs), rows_ingested=summary.accepted, seconds=seconds)
