"""Orchestrate retour's stages over a study folder for the CLI and the dashboard.

Each stage function opens the store, reads what it needs, calls pure functions from the statistics
modules, writes their results with a stamp, and returns them. The CLI and the dashboard both call these
functions, so neither orchestrates on its own. One submodule per stage: `ingest`, `index` (estimates
and the index), `scores`, `needs` (with the actors), `reports`, `rounds`, `synth` and `dashboard`
(serving it and its users); this module holds what they share (the stamp, the study's communities,
catalogue and area types, the shipped examples) and re-exports every stage function, so callers
import from `retour.study` only. It must not compute statistics itself.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from fnmatch import fnmatch
from importlib import resources
from pathlib import Path
from typing import Any

from retour import __version__
from retour.config import Project, load_project
from retour.errors import ConfigError

INSTRUMENT_FILE = "instrument.xlsx"

def synthetic_notes(project: Project) -> dict[str, str]:
    """The synthetic-data notice in each of the study's languages (`study.synthetic_note`, else the
    reports' words for "Synthetic data"); empty for real data."""
    from retour.config import pick_text
    from retour.report.i18n import translations

    study = project.settings.study
    if not study.synthetic:
        return {}
    notes = {}
    for language in study.languages:
        words = pick_text(dict(study.synthetic_note), language)
        note = words or translations(language).gettext("Synthetic data")
        notes[language] = note[:1].upper() + note[1:]
    return notes


def example_names() -> tuple[str, ...]:
    """Names of the example studies shipped inside the package (`examples/` folders with a retour.toml)."""
    folder = Path(str(resources.files("retour") / "examples"))
    return tuple(sorted(path.name for path in folder.iterdir() if (path / "retour.toml").is_file()))


# The example study `retour init` and `retour demo` use unless told otherwise: named in examples/DEFAULT.
DEFAULT_EXAMPLE = (Path(str(resources.files("retour") / "examples")) / "DEFAULT").read_text().strip()


def example_study_path(name: str = DEFAULT_EXAMPLE) -> Path:
    """Folder of a study shipped inside the package; a ConfigError listing the shipped ones if unknown."""
    if name not in example_names():
        raise ConfigError(f"No example study called '{name}'.",
                          f"Shipped examples: {', '.join(example_names())}.")
    return Path(str(resources.files("retour") / "examples" / name))


_NOT_COPIED = ("__pycache__", "*.duckdb", "out")  # never written by `retour init`


@dataclass(frozen=True)
class NewStudy:
    """What `create_study` did: the study, the files it wrote, and the existing files it left alone."""

    project: Project
    written: tuple[Path, ...]
    kept: tuple[Path, ...]


def check_target(target: Path, force: bool, overwrite: bool) -> None:
    """A ConfigError unless `target` may receive a new study: missing, empty, or `force`/`overwrite`."""
    if target.exists() and not target.is_dir():
        raise ConfigError(f"{target} is a file, not a folder.", "Give a folder for the study.")
    if target.exists() and any(target.iterdir()) and not (force or overwrite):
        raise ConfigError(f"{target} exists and is not empty.",
                          "Choose a new folder, or pass --force to add only the files that are missing.")


def create_study(target: Path, template: str = DEFAULT_EXAMPLE, force: bool = False,
                 overwrite: bool = False) -> NewStudy:
    """Copy a shipped example study into `target`.

    A folder that is not empty needs `force`, which only adds the example's files that are missing and
    keeps every existing file as it is; `overwrite` also replaces existing files with the example's (the
    user's edits are lost). The store, the secret and out/ are never written; an example's shipped
    exports (data/) are copied like its other files.
    """
    target = Path(target)
    check_target(target, force, overwrite)
    source = example_study_path(template)
    written: list[Path] = []
    kept: list[Path] = []
    for file in sorted(source.rglob("*")):
        relative = file.relative_to(source)
        if file.is_dir() or any(fnmatch(part, pattern) for part in relative.parts for pattern in _NOT_COPIED):
            continue
        destination = target / relative
        if destination.exists() and (destination.is_dir() or not overwrite):
            kept.append(destination)
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(file, destination)
        written.append(destination)
    return NewStudy(project=load_project(target), written=tuple(written), kept=tuple(kept))


def init_study(target: Path, template: str = DEFAULT_EXAMPLE, force: bool = False) -> Project:
    """Create a study folder from a shipped example study (see `create_study`); existing files are kept."""
    return create_study(target, template, force=force).project


def stamp(project: Project, data_hash: str, round_name: str | None = None) -> dict[str, str]:
    """What every output carries: retour version, config hash, data hash (and the round)."""
    result = {
        "retour_version": __version__,
        "config_hash": project.config_hash(),
        "data_hash": data_hash,
        "round": round_name or "",
    }
    for language, note in synthetic_notes(project).items():
        result[f"synthetic_note_{language}"] = note
    return result


def _community_ids(project: Project) -> tuple[str, ...]:
    """Community ids in register order: communities.yaml, else the questionnaire's `community` choices."""
    from retour.registers import community_ids, read_yaml

    if project.path("communities.yaml").exists():
        found = community_ids(read_yaml(project.path("communities.yaml")))
        if found:
            return found
    from retour.schema import load_instrument

    instrument = load_instrument(project.path("instrument.xlsx"))
    field = project.settings.design.community
    for question in instrument.questions:
        if question.name == field and question.choices:
            return tuple(choice.name for choice in question.choices)
    raise ConfigError("The study lists no communities.",
                      "Add communities.yaml (a list of entries with `id`) to the study folder.")


def _index_catalogue(project: Project) -> Any:
    from retour.indicators import load_catalogue
    from retour.schema import load_instrument

    instrument = load_instrument(project.path("instrument.xlsx"))
    return load_catalogue(project.path("indicators.toml"), instrument)


def _index_area_types(project: Project) -> dict[str, str] | None:
    """Urban or rural per community from communities.yaml (`type`); None to use the catalogue's."""
    from retour.registers import entries, read_yaml

    path = project.path("communities.yaml")
    if not path.exists():
        return None
    found = {str(entry["id"]): str(entry["type"]) for entry in entries(read_yaml(path), "communities")
             if isinstance(entry, dict) and entry.get("id") and entry.get("type")}
    return found or None


# The settings files each stored result is computed from: editing another one (an actor's description,
# the score weights) leaves the stage's results current.
_ESTIMATE_INPUTS = ("retour.toml", "instrument.xlsx", "indicators.toml", "communities.yaml")
STAGE_INPUTS: dict[str, tuple[str, ...]] = {
    "estimate": _ESTIMATE_INPUTS,
    "index": (*_ESTIMATE_INPUTS, "index.toml"),
    "needs": (*_ESTIMATE_INPUTS, "index.toml", "needs.toml"),
}


def stage_inputs_hash(project: Project, stage: str) -> str:
    """`config_hash` over the settings files the stage reads (STAGE_INPUTS)."""
    return project.config_hash(STAGE_INPUTS[stage])


def stage_input_hashes(project: Project, stage: str) -> dict[str, str]:
    """{file: `config_hash` of that file alone} over the settings files the stage reads (STAGE_INPUTS)."""
    return {name: project.config_hash((name,)) for name in STAGE_INPUTS[stage]}


def changed_inputs(project: Project, stage: str, details: dict[str, Any]) -> tuple[str, ...]:
    """The settings files of `stage` whose hash differs from the one its run recorded in `details`
    (`input_hashes`); all of STAGE_INPUTS when the run recorded none (runs before issue 16)."""
    recorded = details.get("input_hashes")
    if not isinstance(recorded, dict):
        return STAGE_INPUTS[stage]
    now = stage_input_hashes(project, stage)
    changed = tuple(name for name in STAGE_INPUTS[stage] if recorded.get(name) != now[name])
    return changed or STAGE_INPUTS[stage]


def _stage_details(project: Project, stage: str) -> str:
    """The `details` a stage's run records: the hash of the settings files it read, together and each."""
    import json

    return json.dumps({"inputs_hash": stage_inputs_hash(project, stage),
                       "input_hashes": stage_input_hashes(project, stage)})


def _stored_results(project: Project, round_name: str, *tables: str) -> list[Any]:
    """The round's rows of each stored results table (empty frames when none), the store opened briefly."""
    from retour import store

    con = store.connect(project.store_path)
    try:
        return [store.read_results(con, table, round_name) for table in tables]
    finally:
        con.close()


def _stored_estimates(project: Project, con: Any, round_name: str) -> Any:
    """The round's stored estimates; an EstimationError saying what to run when there are none."""
    from retour import store
    from retour.errors import EstimationError

    estimates = store.read_results(con, "estimates", round_name)
    if estimates.height == 0:
        raise EstimationError(f"No estimates for round '{round_name}'.",
                              f"Run `retour estimate {project.root} --round {round_name}` first.")
    return estimates


# The stages import the helpers above from this module, so they are imported after them.
from retour.study.dashboard import (  # noqa: E402
    add_dashboard_user,
    change_dashboard_password,
    list_dashboard_users,
    remove_dashboard_user,
    serve_dashboard,
)
from retour.study.index import (  # noqa: E402
    RoundEstimates,
    build_index,
    estimate_round,
    explain_index,
    load_index_spec,
    rank_probabilities,
)
from retour.study.ingest import (  # noqa: E402
    CLEANING_LOG_COLUMNS,
    IngestSummary,
    ingest_export,
    list_problems,
    write_cleaning_log,
)
from retour.study.needs import (  # noqa: E402
    actor_gaps,
    compute_needs,
    list_actors,
    list_value_chains,
    load_actor_register,
    load_needs_spec,
    set_need_override,
)
from retour.study.reports import (  # noqa: E402
    ResultsRecord,
    change_since_baseline,
    report_data,
    results_record,
    write_report,
)
from retour.study.rounds import (  # noqa: E402
    baseline_round,
    compare_rounds,
    comparison_inputs_hash,
    comparison_state,
    refresh_comparison,
)
from retour.study.scaffold import create_blank_study, create_study_from_form  # noqa: E402
from retour.study.scores import (  # noqa: E402
    MONITORING_XFORM,
    ScoredRound,
    case_history,
    load_score_weights,
    score_round,
    write_monitoring_form,
)
from retour.study.synth import SYNTH_SEED, SynthRun, synthesise  # noqa: E402

__all__ = [
    "INSTRUMENT_FILE", "NewStudy", "create_study", "example_names", "example_study_path",
    "init_study", "check_target", "create_blank_study", "create_study_from_form",
    "stamp", "changed_inputs",
    "synthetic_notes",
    # dashboard
    "add_dashboard_user", "change_dashboard_password", "list_dashboard_users", "remove_dashboard_user",
    "serve_dashboard",
    # index
    "RoundEstimates", "build_index", "estimate_round", "explain_index", "load_index_spec",
    "rank_probabilities",
    # ingest
    "CLEANING_LOG_COLUMNS", "IngestSummary", "ingest_export", "list_problems", "write_cleaning_log",
    # needs
    "actor_gaps", "compute_needs", "list_actors", "list_value_chains", "load_actor_register",
    "load_needs_spec", "set_need_override",
    # reports
    "ResultsRecord", "change_since_baseline", "report_data", "results_record", "write_report",
    # rounds
    "baseline_round", "compare_rounds", "comparison_inputs_hash", "comparison_state", "refresh_comparison",
    # scores
    "MONITORING_XFORM", "ScoredRound", "case_history", "load_score_weights", "score_round",
    "write_monitoring_form",
    # synth
    "SYNTH_SEED", "SynthRun", "synthesise",
]
