"""Synth stage: a synthetic round written into the study's data/ as an export (issues 3 and 16).

The round comes from the study's own generator package when `[synth] generator` names one (see
`retour.synth.plugin`), else from the questionnaire alone (`retour.synth.draw_submissions`). Either way
it is written by `retour.synth.export`, in the Kobo or the ODK Central layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retour.config import Project, pick_text
from retour.errors import ConfigError

SYNTH_SEED = 20180305  # default seed of `retour synth`
DEFAULT_ROWS = 200  # respondents drawn from the questionnaire alone when --rows is not given
_DEFAULT_NOTE = "synthetic data"  # the note when neither the generator nor the settings give one


@dataclass(frozen=True)
class SynthRun:
    """What `synthesise` made: the files written (if any), the generator's check rows, the respondents,
    the synthetic-data note, and for a run that writes nothing, each export already in `data/` with
    whether this seed gives it."""

    round_name: str
    seed: int
    respondents: int
    paths: tuple[Path, ...]
    checks: tuple[Any, ...]
    existing: tuple[tuple[Path, bool], ...] = ()
    note: str = ""

    @property
    def missed(self) -> int:
        return sum(not row.ok for row in self.checks)


def synthesise(project: Project, round_name: str = "baseline", seed: int = SYNTH_SEED,
               shift: Path | str | None = None, panel: bool = False, check: bool = False,
               write: bool = True, rows: int | None = None, layout: str = "kobo") -> SynthRun:
    """Generate a synthetic round and write it into `data/` as an export (`<study>-<round>-synthetic`,
    XLSX and CSV in the Kobo layout, CSV in the ODK layout), ready for `retour ingest`.

    With a study generator, `shift`, `panel` and `check` are passed to it (a later round's stated
    changes, re-interviewing the baseline respondents, its calibration rows). Without one, `rows`
    respondents (default DEFAULT_ROWS) are drawn from the questionnaire. Without `write`, nothing is
    written: the data stay in memory and the exports already in `data/` are compared, byte for byte,
    with what this seed gives.
    """
    from retour import synth
    from retour.schema import load_instrument

    settings = project.settings
    settings.round(round_name)
    if layout not in synth.LAYOUTS:
        raise ConfigError(f"Unknown export layout '{layout}'.", f"Use one of: {', '.join(synth.LAYOUTS)}.")
    if rows is not None and rows < 1:
        raise ConfigError(f"--rows {rows}: a round needs at least one respondent.", "Pass --rows 1 or more.")
    instrument = load_instrument(project.path("instrument.xlsx"))
    request = synth.SynthRequest(project=project, instrument=instrument, round_name=round_name, seed=seed,
                                 rows=rows, shift=Path(shift) if shift is not None else None, panel=panel,
                                 check=check)
    if settings.synth.generator:
        generated = synth.run_generator(project.path(settings.synth.generator), request)
    else:
        generated = _from_form(project, request)
    texts = dict(generated.note) or dict(settings.study.synthetic_note)
    words = " / ".join(dict.fromkeys(pick_text(texts, language, _DEFAULT_NOTE)
                                     for language in settings.study.languages))
    note = f"{words} (seed {seed})"
    stem = f"{settings.study.id}-{round_name}" + ("-panel" if panel else "")
    paths: tuple[Path, ...] = ()
    existing: tuple[tuple[Path, bool], ...] = ()
    if write:
        paths = tuple(synth.write_export(generated.frame, instrument, project.root / "data", stem, note,
                                         layout))
    else:
        existing = tuple(
            (path, path.read_bytes() == content)
            for name, content in synth.export_files(generated.frame, instrument, stem, note, layout).items()
            if (path := project.root / "data" / name).is_file()
        )
    return SynthRun(round_name=round_name, seed=seed, respondents=generated.frame.height, paths=paths,
                    checks=tuple(generated.checks), existing=existing, note=words)


def _from_form(project: Project, request: Any) -> Any:
    """A round drawn from the questionnaire alone, with the study's design fields and communities."""
    from retour import synth

    if request.shift is not None or request.panel:
        raise ConfigError("--shift and --panel need a study generator; this study has none "
                          "([synth] generator is empty in retour.toml).",
                          "Leave them out: every round is then drawn afresh from the questionnaire.")
    design = project.settings.design
    plan = synth.FormPlan(
        rows=request.rows or DEFAULT_ROWS,
        date=project.settings.round(request.round_name).date,
        community=design.community, stratum=design.stratum, psu=design.psu, weight=design.weight,
        fpc=design.fpc, case_id=design.case_id, communities=_communities(project),
    )
    return synth.Generated(frame=synth.draw_submissions(request.instrument, plan, request.seed))


def _communities(project: Project) -> tuple[str, ...]:
    """Community ids of communities.yaml, or none (the questionnaire's choices are used then)."""
    from retour.registers import community_ids, read_yaml

    path = project.path("communities.yaml")
    if not path.exists():
        return ()
    return tuple(community_ids(read_yaml(path)))
