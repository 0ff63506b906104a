"""Synthetic respondents: the sample design, latent levels per person, and exact-count assignment.

A `Plan` fixes every community-level value the data must hold (published fiche shares, service
satisfaction, and the Tableau 1 solve for unpublished pillar indicators); it does not depend on the seed.
`draw_people` then draws the respondents of one round from a seeded numpy Generator: community, cluster,
sex, age, migration status, programme status and five correlated latent levels (economic, social,
psychosocial, education, mobility). `Assigner.binary` gives exactly round(p * n) "yes" answers per
community (and per group cell when a gap is calibrated), to the respondents with the highest latent
score plus noise, which is what makes answers correlate. Everything is vectorised; nothing here loops
over respondents. Turning indicators into questionnaire answers is `answers.py`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from retour.errors import SpecError
from retour.indicators import PILLARS, Catalogue

from . import calibrate
from .targets import Shifts, SynthTargets

LATENTS = ("economic", "social", "psychosocial", "education", "mobility")
# Correlation of the latent levels between people (ASSUMED: moderate, positive except mobility).
CORRELATION = np.array(
    [
        [1.00, 0.30, 0.30, 0.35, -0.10],
        [0.30, 1.00, 0.40, 0.20, -0.10],
        [0.30, 0.40, 1.00, 0.10, -0.20],
        [0.35, 0.20, 0.10, 1.00, 0.25],
        [-0.10, -0.10, -0.20, 0.25, 1.00],
    ]
)
# Shifts of the latent means by group (ASSUMED), so unpublished answers differ plausibly between groups.
RETURNEE_SHIFT = np.array([0.1, 0.0, -0.3, 0.0, 0.8])
WOMAN_SHIFT = np.array([-0.3, 0.0, -0.1, -0.2, -0.6])
CLUSTER_EFFECT = 0.35
CODES = {
    "bafoulabe": "BAF",
    "bamako_commune_iv": "BKO",
    "kati": "KAT",
    "kayes": "KAY",
    "kita": "KIT",
    "sikasso": "SIK",
    "kirane": "KIR",
}
BIT = {"migration_status": 1, "sex": 2, "beneficiary": 4}


# ---------------------------------------------------------------------------------------------------
# The community-level plan


@dataclass(frozen=True)
class Plan:
    """Community values every round of synthetic data must hold, per indicator (shares or means).

    `values[id]` has one value per community (targets.communities order); `gap_specs` are the
    sample-wide gaps to hold, as (indicator, group, difference of shares); `continuous` names the
    indicators that are means rather than shares.
    """

    targets: SynthTargets
    values: Mapping[str, np.ndarray]
    gap_specs: tuple[tuple[str, str, float], ...] = ()  # (indicator, group, difference)
    continuous: frozenset[str] = frozenset()
    fieldwork: tuple[dt.date, dt.date] = (dt.date(2018, 3, 5), dt.date(2018, 3, 19))
    round_name: str = "baseline"

    def gaps_for(self, indicator: str) -> tuple[tuple[str, float], ...]:
        return tuple((group, difference) for name, group, difference in self.gap_specs if name == indicator)


def _prior(targets: SynthTargets, pillar: str, spec_prior: Mapping[str, float] | None) -> np.ndarray:
    if spec_prior is not None:
        return np.array([spec_prior.get(c, 0.5) for c in targets.communities])
    scores = np.array(targets.tableau(pillar))
    spread = scores.max() - scores.min()
    return (scores - scores.min()) / spread if spread > 0 else np.full(len(scores), 0.5)


def make_plan(targets: SynthTargets, catalogue: Catalogue) -> Plan:
    """Published community values, plus the Tableau 1 solve for every unpublished pillar indicator.

    Fixed indicators enter the solve with their realised shares round(p n) / n, so the index computed on
    the data is the one solved for.
    """
    sizes = np.array(targets.sizes)
    values: dict[str, np.ndarray] = {}
    for indicator in targets.fiche_ids:
        values[indicator] = calibrate.exact_counts(np.array(targets.fiche(indicator)), sizes) / sizes
    free_specs = {spec.indicator: spec for spec in targets.free}
    index = {c: i for i, c in enumerate(targets.communities)}
    for pillar in PILLARS:
        members = catalogue.pillar(pillar)
        fixed = [m for m in members if m.id in values]
        unknown = [m.id for m in members if m.id not in values and m.id not in free_specs]
        if unknown:
            raise SpecError(
                f"Pillar {pillar}: no published values and no [[free]] entry for {', '.join(unknown)}.",
                "Add a [[free]] entry to synth_targets.toml.",
            )
        weights = np.array([m.weight for m in fixed])
        normalised = calibrate.normalise_minmax(
            np.array([values[m.id] for m in fixed]), np.array([bool(m.higher_is_better) for m in fixed])
        )
        free = tuple(
            calibrate.FreeIndicator(
                indicator_id=m.id,
                higher_is_better=bool(m.higher_is_better),
                weight=m.weight,
                low=free_specs[m.id].low,
                high=free_specs[m.id].high,
                prior=_prior(targets, pillar, free_specs[m.id].prior),
                anchors={index[c]: v for c, v in free_specs[m.id].anchors.items()},
                sample_share=free_specs[m.id].sample_share,
                continuous=free_specs[m.id].continuous,
            )
            for m in members
            if m.id not in values
        )
        problem = calibrate.PillarProblem(
            pillar=pillar,
            targets=np.array(targets.tableau(pillar)),
            fixed_sum=(weights[:, None] * normalised).sum(axis=0),
            fixed_weight=float(weights.sum()),
            free=free,
            sizes=sizes,
        )
        solved = calibrate.solve_pillar(problem)
        for item, row in zip(free, solved, strict=True):
            values[item.indicator_id] = row
    continuous = frozenset(spec.indicator for spec in targets.free if spec.continuous)
    specs = tuple((gap.indicator, gap.group, gap.difference) for gap in targets.gaps)
    if "leave_men" in targets.findings and "leave_women" in targets.findings:
        specs += (
            ("desire_to_leave_leave", "sex", targets.findings["leave_women"] - targets.findings["leave_men"]),
        )
    return Plan(
        targets=targets, values=values, gap_specs=specs, continuous=continuous, fieldwork=targets.fieldwork
    )


def shift_plan(
    plan: Plan, shifts: Shifts, baseline_gaps: Mapping[str, float], fieldwork: tuple[dt.date, dt.date]
) -> Plan:
    """The plan of a later round: every community value moved by its stated change, and for each
    indicator with a programme effect, a beneficiary gap equal to the baseline gap plus the effect
    (so the difference-in-differences equals the effect)."""
    values = {}
    for indicator, row in plan.values.items():
        continuous = indicator in plan.continuous
        change = np.array([shifts.change(indicator, c, continuous) for c in plan.targets.communities])
        moved = row + change
        values[indicator] = moved if continuous else np.clip(moved, 0.0, 1.0)
    specs = list(plan.gap_specs)
    for indicator in shifts.effects:
        if indicator not in values:
            raise SpecError(
                f"{shifts.path}: programme effect on '{indicator}', which the synthetic data "
                "do not calibrate.",
                "Name a fiche indicator or a [[free]] indicator.",
            )
        continuous = indicator in plan.continuous
        specs.append(
            (
                indicator,
                "beneficiary",
                baseline_gaps.get(indicator, 0.0) + shifts.effect(indicator, continuous),
            )
        )
    return replace(
        plan, values=values, gap_specs=tuple(specs), fieldwork=fieldwork, round_name=shifts.round_name
    )


# ---------------------------------------------------------------------------------------------------
# People


@dataclass(frozen=True)
class People:
    """The respondents of one round, in file order (by community, then cluster)."""

    community: np.ndarray  # community index
    cluster: np.ndarray  # cluster number within the community (1-based)
    serial: np.ndarray  # respondent number within the community (1-based), fixed for a person
    returnee: np.ndarray
    woman: np.ndarray
    age: np.ndarray
    beneficiary: np.ndarray
    latent: np.ndarray  # (respondents, 5)
    day: np.ndarray  # fieldwork day offset
    cohort: np.ndarray  # year of the person's first interview (part of the case id)

    @property
    def size(self) -> int:
        return len(self.community)

    def take(self, rows: np.ndarray) -> People:
        return People(**{name: getattr(self, name)[rows] for name in self.__dataclass_fields__})


def _clusters(rng: np.random.Generator, sizes: np.ndarray, cluster_size: tuple[int, int]) -> np.ndarray:
    """Cluster number of each respondent: about ten per cluster, sizes within `cluster_size`."""
    middle = (cluster_size[0] + cluster_size[1]) / 2
    clusters = np.maximum(1, np.round(sizes / middle)).astype(int)
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
    position = np.arange(sizes.sum()) - starts
    per = np.repeat(sizes, sizes)
    count = np.repeat(clusters, sizes)
    return (position * count // per) + 1


def draw_people(targets: SynthTargets, plan: Plan, rng: np.random.Generator) -> People:
    """Respondents of a fresh sample: design, group membership with exact counts, ages, latent levels."""
    sizes = np.array(targets.sizes)
    n = int(sizes.sum())
    community = np.repeat(np.arange(len(sizes)), sizes)
    returnee = calibrate.assign_top(
        rng.random(n), community, calibrate.exact_counts(plan.values["return_migrants_share"], sizes)
    )
    returnees = np.bincount(community, weights=returnee, minlength=len(sizes))
    men = targets.findings["men"]
    returnee_men = int(calibrate.round_half_up(targets.findings["returnee_men"] * returnee.sum()))
    expected = np.column_stack(
        [
            returnees * returnee_men / max(returnees.sum(), 1),
            (sizes - returnees) * (men - returnee_men) / max(n - returnees.sum(), 1),
        ]
    )
    men_cells = calibrate.round_controlled(expected, None, np.array([returnee_men, men - returnee_men]))
    cell = community * 2 + (~returnee).astype(int)
    male = calibrate.assign_top(rng.random(n), cell, men_cells.ravel())
    low, high = targets.ages
    # ASSUMED: returnees are older (18-34, mean about 27); others spread over 15-34, mean about 23.
    age = np.where(
        returnee,
        18 + np.floor((high - 17) * rng.beta(2.2, 1.4, n)),
        low + np.floor((high - low + 1) * rng.beta(1.2, 1.5, n)),
    ).astype(np.int64)
    age = np.clip(age, low, high)
    woman = ~male
    cluster = _clusters(rng, sizes, targets.cluster_size)
    chol = np.linalg.cholesky(CORRELATION)
    latent = rng.standard_normal((n, len(LATENTS))) @ chol.T
    # ASSUMED: neighbours resemble each other (cluster effects), which gives design effects above one.
    cluster_key = community * 100 + cluster
    _, cluster_index = np.unique(cluster_key, return_inverse=True)
    latent += (
        CLUSTER_EFFECT * rng.standard_normal((int(cluster_index.max()) + 1, len(LATENTS)))[cluster_index]
    )
    latent += returnee[:, None] * RETURNEE_SHIFT + woman[:, None] * WOMAN_SHIFT
    latent[:, 0] += 0.04 * (age - 24)
    # programme selection: the economically weaker first (exact count per migration status)
    shares = np.array(
        [targets.beneficiaries.get("non_migrant", 0.0), targets.beneficiaries.get("returnee", 0.0)]
    )
    status = returnee.astype(int)
    chosen = calibrate.exact_counts(shares, np.bincount(status, minlength=2))
    beneficiary = calibrate.assign_top(-latent[:, 0] + rng.normal(0, 0.8, n), status, chosen)
    serial = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes) + 1
    days = (plan.fieldwork[1] - plan.fieldwork[0]).days + 1
    clusters_max = int(cluster.max())
    # one fieldwork day per cluster, spread over the fieldwork window
    day = np.minimum(days - 1, ((cluster - 1) * days) // clusters_max + community % 2)
    return People(
        community=community,
        cluster=cluster,
        serial=serial,
        returnee=returnee,
        woman=woman,
        age=age,
        beneficiary=beneficiary,
        latent=latent,
        day=day,
        cohort=np.full(n, plan.fieldwork[0].year, dtype=np.int64),
    )


def age_people(people: People, years: int, rng: np.random.Generator, upper: int) -> tuple[People, np.ndarray]:
    """The same respondents re-interviewed `years` later (a panel): older, latent levels persistent
    with some change; those who have aged out of the survey's range are not re-interviewed. Returns
    them and their rows in the earlier round."""
    kept = np.flatnonzero(people.age + years <= upper)
    later = people.take(kept)
    drift = rng.standard_normal(later.latent.shape) @ np.linalg.cholesky(CORRELATION).T
    return replace(later, age=later.age + years, latent=0.8 * later.latent + 0.6 * drift), kept


# ---------------------------------------------------------------------------------------------------
# Exact-count assignment


@dataclass
class Assigner:
    """Gives answers with exact counts to one round's respondents; remembers each calibrated indicator."""

    people: People
    plan: Plan
    rng: np.random.Generator
    flags: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def sizes(self) -> np.ndarray:
        return np.bincount(self.people.community, minlength=len(self.plan.targets.communities))

    def score(self, loadings: Mapping[str, float], noise: float = 1.0) -> np.ndarray:
        """Latent score plus noise: sum_l w_l * latent_l + noise * N(0, 1)."""
        weights = np.array([loadings.get(name, 0.0) for name in LATENTS])
        return self.people.latent @ weights + noise * self.rng.standard_normal(self.people.size)

    def _group_bits(self, groups: Sequence[str]) -> np.ndarray:
        people = self.people
        member = {"migration_status": people.returnee, "sex": people.woman, "beneficiary": people.beneficiary}
        bits = np.zeros(people.size, dtype=np.int64)
        for position, group in enumerate(groups):
            bits |= member[group].astype(np.int64) << position
        return bits

    def binary(
        self,
        indicator: str,
        score: np.ndarray,
        eligible: np.ndarray | None = None,
        totals: np.ndarray | None = None,
        by_community: bool = True,
    ) -> np.ndarray:
        """Exactly the planned number of "yes" per community (and group cell, for calibrated gaps).

        `totals` overrides the plan's community counts; with `by_community=False` the count is one
        sample-wide total. Among eligible respondents, the highest scores say yes.
        """
        people = self.people
        gaps = self.plan.gaps_for(indicator)
        groups = tuple(dict.fromkeys(group for group, _ in gaps))
        community = people.community if by_community else np.zeros(people.size, dtype=np.int64)
        communities = int(community.max()) + 1
        if totals is None:
            totals = calibrate.exact_counts(self.plan.values[indicator], self.sizes)
        eligible = np.ones(people.size, dtype=bool) if eligible is None else eligible
        score = np.where(eligible, score, -np.inf)
        cells = 1 << len(groups)
        cell = community * cells + self._group_bits(groups)
        if gaps:
            sizes = np.bincount(cell[eligible], minlength=communities * cells).reshape(communities, cells)
            everyone = np.bincount(cell, minlength=communities * cells).reshape(communities, cells)
            targets = [
                calibrate.GapTarget(
                    group_a=np.array([(g >> groups.index(group)) & 1 == 1 for g in range(cells)]),
                    group_b=np.array([(g >> groups.index(group)) & 1 == 0 for g in range(cells)]),
                    difference=difference,
                )
                for group, difference in gaps
            ]
            counts = calibrate.solve_cell_counts(np.asarray(totals), sizes, targets, everyone).ravel()
        else:
            counts = np.zeros(communities * cells, dtype=np.int64)
            counts[np.arange(communities) * cells] = np.asarray(totals)
        chosen = calibrate.assign_top(score, cell, counts)
        self.flags[indicator] = chosen
        return chosen

    def exact_categories(
        self, shares: np.ndarray, scores: np.ndarray, eligible: np.ndarray, by_community: bool = True
    ) -> np.ndarray:
        """One category per eligible respondent with exact counts (largest remainder per community).

        `shares` (communities or 1, categories); `scores` (respondents, categories): categories are
        filled in turn, each by the highest remaining scores. Returns the category index (-1 if not
        eligible).
        """
        people = self.people
        community = people.community if by_community else np.zeros(people.size, dtype=np.int64)
        communities = int(community.max()) + 1
        eligible_counts = np.bincount(community[eligible], minlength=communities)
        counts = np.array(
            [
                calibrate.largest_remainder(shares[min(c, len(shares) - 1)], int(eligible_counts[c]))
                for c in range(communities)
            ]
        )
        result = np.full(people.size, -1, dtype=np.int64)
        free = eligible.copy()
        for k in range(shares.shape[1]):
            chosen = calibrate.assign_top(np.where(free, scores[:, k], -np.inf), community, counts[:, k])
            chosen &= free
            result[chosen] = k
            free &= ~chosen
        return result

    def pick(self, probabilities: np.ndarray, eligible: np.ndarray) -> np.ndarray:
        """Draw one category per eligible respondent from per-respondent probabilities (rows sum to 1)."""
        cumulative = np.cumsum(probabilities, axis=1)
        cumulative /= cumulative[:, -1:]
        draw = self.rng.random(self.people.size)
        index = (draw[:, None] > cumulative).sum(axis=1)
        return np.where(eligible, np.minimum(index, probabilities.shape[1] - 1), -1)

    def tick(self, probabilities: np.ndarray, eligible: np.ndarray, at_least_one: bool = True) -> np.ndarray:
        """Independent yes/no per choice (select_multiple); at least one ticked when asked: the most
        likely choice of an empty row is ticked."""
        ticked = self.rng.random(probabilities.shape) < probabilities
        if at_least_one:
            empty = ~ticked.any(axis=1)
            best = np.argmax(probabilities + 1e-6 * self.rng.random(probabilities.shape), axis=1)
            ticked[np.flatnonzero(empty), best[empty]] = True
        return ticked & eligible[:, None]
