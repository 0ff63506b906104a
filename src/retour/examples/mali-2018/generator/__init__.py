"""The mali-2018 example's synthetic data, calibrated to the published aggregates of the 2018 study.

This package belongs to the example study, not to retour: its settings name it (`[synth] generator =
"generator"` in retour.toml) and `retour synth` loads it by path (see `retour.synth.plugin`), calling
`synthesise(request)`. `generate` draws one round of respondents for the questionnaire and returns them
as stored submissions would look (one typed column per field); `check` compares the data with every
target. The targets come from the study's `synth_targets.toml` (`load_targets`), later rounds' stated
changes from a shifts file (`load_shifts`). Writing the export is `retour.synth.export`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import polars as pl

from retour.errors import ConfigError, SpecError
from retour.indicators import Catalogue, load_catalogue
from retour.schema import Instrument
from retour.synth import Generated, SynthRequest, draw_uuids

from .answers import Answers, design_fields
from .check import CheckRow, check_calibration
from .livelihood import education, finance, profile, work
from .population import Assigner, People, Plan, age_people, draw_people, make_plan, shift_plan
from .society import communication, health, migration, services, wellbeing
from .targets import Shifts, SynthTargets, check_shift_ids, load_shifts, load_targets

__all__ = [
    "CheckRow",
    "Synthetic",
    "check",
    "check_calibration",
    "check_shift_ids",
    "generate",
    "load_shifts",
    "load_targets",
    "synthesise",
]

TARGETS_FILE = "synth_targets.toml"
NOTE = {
    "fr": "Données synthétiques calibrées sur des agrégats publiés",
    "en": "Synthetic data calibrated to published aggregates",
}


@dataclass(frozen=True)
class Synthetic:
    """One generated round: the submissions frame, the plan it was calibrated to, and per-respondent
    flags of every calibrated indicator (used by the check and by later rounds)."""

    round_name: str
    seed: int
    frame: pl.DataFrame
    plan: Plan
    people: People
    flags: Mapping[str, np.ndarray]
    panel: bool = False


def _answer(a: Assigner, instrument: Instrument) -> Answers:
    """Every field of the questionnaire for one round's respondents; SpecError for a required field
    the generator does not know."""
    answers = Answers(size=a.people.size)
    design_fields(a, answers)
    profile(a, answers)
    education(a, answers, instrument)
    work(a, answers, instrument)
    finance(a, answers, instrument)
    services(a, answers)
    health(a, answers)
    wellbeing(a, answers, instrument)
    migration(a, answers, instrument, a.plan.fieldwork[0].year)
    communication(a, answers, instrument)
    known = answers.single.keys() | answers.multiple.keys()
    missing = [q.name for q in instrument.questions if q.required and q.name not in known]
    if missing:
        raise SpecError(
            f"The synthetic generator has no answers for required field(s) {', '.join(missing)}.",
            "Extend the study's generator (livelihood.py or society.py) for the new questions.",
        )
    return answers


def _round(
    targets: SynthTargets,
    catalogue: Catalogue,
    plan: Plan,
    people: People,
    seed: int,
    rng: np.random.Generator,
) -> Synthetic:
    assigner = Assigner(people=people, plan=plan, rng=rng)
    answers = _answer(assigner, catalogue.instrument)
    fields = answers.frame(catalogue.instrument)
    start = np.datetime64(dt.datetime.combine(plan.fieldwork[0], dt.time(8, 0)), "s")
    seconds = people.day * 86_400 + rng.integers(0, 10 * 3600, people.size)
    times = pl.Series("_submission_time", (start + seconds.astype("timedelta64[s]")).astype("datetime64[us]"))
    frame = pl.concat([pl.DataFrame([draw_uuids(rng, people.size), times]), fields], how="horizontal")
    return Synthetic(
        round_name=plan.round_name,
        seed=seed,
        frame=frame,
        plan=plan,
        people=people,
        flags=dict(assigner.flags),
    )


def _gap(flags: Mapping[str, np.ndarray], people: People, indicator: str) -> float:
    values = flags[indicator].astype(float)
    group = people.beneficiary
    if not group.any() or group.all():
        return 0.0
    return float(values[group].mean() - values[~group].mean())


def generate(
    targets: SynthTargets,
    catalogue: Catalogue,
    seed: int,
    round_name: str = "baseline",
    shifts: Shifts | None = None,
    panel: bool = False,
) -> Synthetic:
    """One round of synthetic respondents, deterministic for `seed`.

    The baseline is drawn from `seed`. A later round (`shifts` given) moves every planned community
    value by its stated change and gives programme beneficiaries the stated effect on top (difference
    in differences against the baseline drawn from the same seed); its respondents are a fresh sample,
    or with `panel` the baseline respondents again (same case ids, older, without those who have aged
    out of the survey's age range).
    """
    plan = make_plan(targets, catalogue)
    baseline = _round(
        targets,
        catalogue,
        plan,
        draw_people(targets, plan, np.random.default_rng(seed)),
        seed,
        np.random.default_rng([seed, 1]),
    )
    if shifts is None:
        if round_name != "baseline":
            raise SpecError(
                f"Round '{round_name}' needs stated changes.", "Pass --shift FILE (e.g. shifts_midterm.toml)."
            )
        return baseline
    check_shift_ids(shifts, plan.values)
    for indicator in shifts.effects:
        if indicator in plan.continuous or indicator not in baseline.flags:
            raise SpecError(
                f"{shifts.path}: a programme effect on '{indicator}' cannot be calibrated.",
                "Name a yes/no indicator of the fact sheets or of the pillars.",
            )
    years = shifts.years
    rng = np.random.default_rng([seed, 2])
    rows = np.arange(baseline.people.size)
    if panel:
        people, rows = age_people(baseline.people, years, rng, targets.ages[1])
    # the baseline gap among the respondents the later round compares with
    flags = {name: values[rows] for name, values in baseline.flags.items()}
    gaps = {indicator: _gap(flags, baseline.people.take(rows), indicator) for indicator in shifts.effects}
    fieldwork = (
        targets.fieldwork[0].replace(year=targets.fieldwork[0].year + years),
        targets.fieldwork[1].replace(year=targets.fieldwork[1].year + years),
    )
    later = replace(shift_plan(plan, shifts, gaps, shifts.fieldwork or fieldwork), round_name=round_name)
    if not panel:
        people = draw_people(targets, later, rng)
    result = _round(targets, catalogue, later, people, seed, np.random.default_rng([seed, 3]))
    return replace(result, panel=panel)


def check(synthetic: Synthetic, catalogue: Catalogue, targets: SynthTargets) -> list[CheckRow]:
    """Calibration rows of a generated round: the published targets for the baseline, the planned
    values and beneficiary gaps (difference in differences) for a later round."""
    if synthetic.round_name == "baseline" and not any(
        g == "beneficiary" for _, g, _ in synthetic.plan.gap_specs
    ):
        return check_calibration(synthetic.frame, catalogue, targets)
    gaps = {
        name: difference for name, group, difference in synthetic.plan.gap_specs if group == "beneficiary"
    }
    planned = dict(synthetic.plan.values)
    if synthetic.panel:  # a panel keeps its people: migration status is theirs, not planned
        planned.pop("return_migrants_share", None)
    return check_calibration(
        synthetic.frame,
        catalogue,
        targets,
        planned=planned,
        beneficiary_gaps=gaps,
        continuous=synthetic.plan.continuous,
    )


def synthesise(request: SynthRequest) -> Generated:
    """The round `retour synth` asks for, calibrated to the study's synth_targets.toml (the contract of
    `retour.synth.plugin`).

    A later round needs `request.shift` (stated changes per community and the programme's effect); its
    fieldwork starts on the round's date in retour.toml unless the shifts file gives one. The sample size
    is the targets' own: asking for a number of rows is refused.
    """
    project = request.project
    targets_path = project.path(TARGETS_FILE)
    if not targets_path.exists():
        raise ConfigError(f"{targets_path} not found: this study has no calibration targets.",
                          "Only studies made from the example (`retour init`) can be synthesised with its "
                          "generator; set [synth] generator = \"\" for data from the questionnaire alone.")
    if request.rows is not None:
        raise ConfigError(f"The number of respondents is set by {targets_path.name}, not by --rows.",
                          "Leave out --rows for this study.")
    catalogue = load_catalogue(project.path("indicators.toml"), request.instrument)
    targets = load_targets(targets_path)
    shifts = None
    if request.shift is not None:
        shifts = load_shifts(Path(request.shift), request.round_name)
        date = project.settings.round(request.round_name).date
        if shifts.fieldwork is None and date is not None:
            shifts = replace(shifts, fieldwork=(date, date + dt.timedelta(days=14)))
    elif request.round_name != "baseline":
        raise ConfigError(f"Round '{request.round_name}' needs stated changes.",
                          f"Pass --shift FILE, e.g. --shift {project.path('shifts_midterm.toml')}.")
    data = generate(targets, catalogue, request.seed, round_name=request.round_name, shifts=shifts,
                    panel=request.panel)
    checks = tuple(check(data, catalogue, targets)) if request.check else ()
    return Generated(frame=data.frame, checks=checks, note=NOTE)
