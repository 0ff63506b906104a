"""Load a study's own synthetic-data generator: a Python package in the study folder, named in retour.toml.

A study whose synthetic data must follow more than its questionnaire (published aggregates to reproduce,
stated changes between rounds) ships a generator package and names its folder in `[synth] generator`.
The package exports one function, the contract of this module:

    def synthesise(request: SynthRequest) -> Generated

`request` says which round, seed, size and options `retour synth` was given; the result is the
submissions (one typed column per questionnaire field, plus `_uuid` and `_submission_time`), the
generator's own check rows (objects with `.ok` and `.as_record()`) and the words of the synthetic-data
note. Writing the export is not the generator's job: `retour.synth.export` writes every generator's data.

The folder's path need not be a Python name (study folders are named like `my-study`), so the package
is loaded by file path under a name made from its location. This module loads; it generates
nothing.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import polars as pl

from retour.config import Project
from retour.errors import ConfigError
from retour.schema import Instrument

ENTRY_POINT = "synthesise"
MODULE_PREFIX = "retour_study_generator_"


@dataclass(frozen=True)
class SynthRequest:
    """What `retour synth` asks a generator for: a round of `rows` respondents (None: the generator's
    own number) drawn from `seed`; `shift` and `panel` are a later round's stated changes and whether it
    re-interviews the baseline respondents; `check` asks for the generator's check rows."""

    project: Project
    instrument: Instrument
    round_name: str
    seed: int
    rows: int | None = None
    shift: Path | None = None
    panel: bool = False
    check: bool = False


@dataclass(frozen=True)
class Generated:
    """One generated round: the submissions, the generator's check rows and its synthetic-data note
    per language (empty: the study's `synthetic_note`)."""

    frame: pl.DataFrame
    checks: tuple[Any, ...] = ()
    note: Mapping[str, str] = field(default_factory=dict)


def module_name(folder: Path) -> str:
    """The name a generator package is registered under in `sys.modules` (one per folder)."""
    digest = hashlib.sha256(str(Path(folder).resolve()).encode("utf-8")).hexdigest()[:12]
    return f"{MODULE_PREFIX}{digest}"


def load_generator(folder: Path) -> ModuleType:
    """Import the generator package in `folder` (its `__init__.py`, with relative imports working);
    ConfigError when the folder has no package, it fails to import, or lacks `synthesise`."""
    folder = Path(folder).resolve()
    init = folder / "__init__.py"
    if not init.is_file():
        raise ConfigError(f"{folder} is not a generator package (no __init__.py).",
                          "Set [synth] generator in retour.toml to a folder of the study holding a Python "
                          "package, or to \"\" for synthetic data from the questionnaire alone.")
    name = module_name(folder)
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(folder)])
        if spec is None or spec.loader is None:
            raise ConfigError(f"{init} cannot be imported.", "Check the generator package's files.")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            for loaded in [key for key in sys.modules if key == name or key.startswith(f"{name}.")]:
                del sys.modules[loaded]
            raise ConfigError(f"The generator in {folder} failed to import: {type(error).__name__}: {error}",
                              "Fix the generator package, or run with --debug for the traceback.") from error
    if not callable(getattr(module, ENTRY_POINT, None)):
        raise ConfigError(f"The generator in {folder} has no function `{ENTRY_POINT}(request)`.",
                          f"Export `def {ENTRY_POINT}(request: SynthRequest) -> Generated` from its "
                          "__init__.py (see retour.synth.plugin).")
    return module


def run_generator(folder: Path, request: SynthRequest) -> Generated:
    """The round the generator package in `folder` makes for `request`."""
    generated = getattr(load_generator(folder), ENTRY_POINT)(request)
    if not isinstance(generated, Generated):
        raise ConfigError(f"The generator in {folder} returned {type(generated).__name__}, not Generated.",
                          "Return retour.synth.Generated(frame=..., checks=..., note=...).")
    return generated
