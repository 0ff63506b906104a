"""Run retour's stages over a study folder: read the store, call the pure steps, write results.

The CLI and the dashboard both call these functions, so neither orchestrates on its own. Each stage
function opens the store, reads what it needs, calls pure functions from the statistics modules, writes
their results with a stamp, and returns them.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from retour import __version__
from retour.config import Project, load_project
from retour.errors import ConfigError

SYNTHETIC_NOTE = {
    "fr": "Données synthétiques calibrées sur des agrégats publiés",
    "en": "Synthetic data calibrated to published aggregates",
}


def example_study_path(name: str = "mali-2018") -> Path:
    """Folder of a study shipped inside the package."""
    path = Path(str(resources.files("retour") / "examples" / name))
    if not path.is_dir():
        known = ", ".join(sorted(p.name for p in path.parent.iterdir() if p.is_dir()))
        raise ConfigError(f"No example study called '{name}'.", f"Shipped examples: {known}.")
    return path


def init_study(target: Path, template: str = "mali-2018", force: bool = False) -> Project:
    """Create a study folder from a shipped example study; refuse to overwrite unless `force`."""
    target = Path(target)
    if target.exists() and any(target.iterdir()) and not force:
        raise ConfigError(f"{target} exists and is not empty.", "Choose a new folder, or pass --force.")
    source = example_study_path(template)
    shutil.copytree(source, target, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.duckdb", "out", "data"))
    return load_project(target)


def stamp(project: Project, data_hash: str, round_name: str | None = None) -> dict[str, str]:
    """What every output carries: retour version, config hash, data hash (and the round)."""
    result = {
        "retour_version": __version__,
        "config_hash": project.config_hash(),
        "data_hash": data_hash,
        "round": round_name or "",
    }
    if project.settings.study.synthetic:
        result["synthetic_note_fr"] = SYNTHETIC_NOTE["fr"]
        result["synthetic_note_en"] = SYNTHETIC_NOTE["en"]
    return result
