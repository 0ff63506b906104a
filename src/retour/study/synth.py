"""Synth stage: a synthetic round calibrated to the study's targets, written as an export (issue 3)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retour.config import Project
from retour.errors import ConfigError
from retour.study import SYNTHETIC_NOTE

SYNTH_SEED = 20180305  # default seed of `retour synth`: the first day of the 2018 fieldwork


@dataclass(frozen=True)
class SynthRun:
    """What `synthesise` made: the files written (if any), the calibration rows, the respondents, and
    for a run that writes nothing, each export already in `data/` with whether this seed gives it."""

    round_name: str
    seed: int
    respondents: int
    paths: tuple[Path, ...]
    checks: tuple[Any, ...]
    existing: tuple[tuple[Path, bool], ...] = ()

    @property
    def missed(self) -> int:
        return sum(not row.ok for row in self.checks)


def synthesise(project: Project, round_name: str = "baseline", seed: int = SYNTH_SEED,
               shift: Path | str | None = None, panel: bool = False, check: bool = False,
               write: bool = True) -> SynthRun:
    """Generate a synthetic round calibrated to the study's synth_targets.toml and write it into
    `data/` as a Kobo export (`<study>-<round>-synthetic.xlsx` and `.csv`), ready for `retour ingest`.

    A later round needs `shift` (stated changes per community and the programme's effect); its fieldwork
    starts on the round's date in retour.toml unless the shifts file gives one. `panel` re-interviews the
    baseline respondents. With `check`, every calibration target is compared with the data. Without
    `write`, nothing is written: the data stay in memory and the exports already in `data/` are compared,
    byte for byte, with what this seed gives.
    """
    import dataclasses
    import datetime as dt

    from retour import synth
    from retour.indicators import load_catalogue
    from retour.schema import load_instrument

    project.settings.round(round_name)
    targets_path = project.path("synth_targets.toml")
    if not targets_path.exists():
        raise ConfigError(f"{targets_path} not found: this study has no calibration targets.",
                          "Only studies made from the example (`retour init`) can be synthesised.")
    instrument = load_instrument(project.path("instrument.xlsx"))
    catalogue = load_catalogue(project.path("indicators.toml"), instrument)
    targets = synth.load_targets(targets_path)
    shifts = None
    if shift is not None:
        shifts = synth.load_shifts(Path(shift), round_name)
        date = project.settings.round(round_name).date
        if shifts.fieldwork is None and date is not None:
            shifts = dataclasses.replace(shifts, fieldwork=(date, date + dt.timedelta(days=14)))
    elif round_name != "baseline":
        raise ConfigError(f"Round '{round_name}' needs stated changes.",
                          f"Pass --shift FILE, e.g. --shift {project.path('shifts_midterm.toml')}.")
    data = synth.generate(targets, catalogue, seed, round_name=round_name, shifts=shifts, panel=panel)
    note = f"{SYNTHETIC_NOTE['fr']} / {SYNTHETIC_NOTE['en']} (seed {seed})"
    stem = f"{project.settings.study.id}-{round_name}" + ("-panel" if panel else "")
    paths: tuple[Path, ...] = ()
    existing: tuple[tuple[Path, bool], ...] = ()
    if write:
        paths = tuple(synth.write_export(data.frame, instrument, project.root / "data", stem, note))
    else:
        existing = tuple(
            (path, path.read_bytes() == content)
            for name, content in synth.export_files(data.frame, instrument, stem, note).items()
            if (path := project.root / "data" / name).is_file()
        )
    checks = tuple(synth.check(data, catalogue, targets)) if check else ()
    return SynthRun(round_name=round_name, seed=seed, respondents=data.frame.height, paths=paths,
                    checks=checks, existing=existing)
