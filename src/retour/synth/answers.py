"""Questionnaire answers of synthetic respondents, from the plan's exact counts and latent scores.

Each section function fills the fields of one group of the questionnaire. Calibrated indicators get
their answers from `Assigner.binary` (exact counts per community and group cell); everything else is
drawn from probabilities that depend on the respondent (sex, age, status, latent levels) and are marked
ASSUMED where the report gives no figure. Answers respect the questionnaire's relevance rules: a field
that is not asked is null. Everything is vectorised over respondents.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from retour.errors import SpecError
from retour.schema import Instrument
from retour.synth import calibrate
from retour.synth.population import CODES, Assigner

URBAN = frozenset({"bamako_commune_iv", "kayes", "kita"})
SATISFIED = ("satisfied", "very_satisfied")
NOT_SATISFIED = ("very_dissatisfied", "dissatisfied", "neutral")
SERVICES = ("education", "id_papers", "housing", "healthcare", "drinking_water", "justice_police")
EMOTIONS = ("anger", "fear", "loneliness", "low_self_esteem", "sadness")
_DTYPES = {"integer": pl.Int64, "decimal": pl.Float64, "date": pl.Date, "today": pl.Date}


@dataclass
class Answers:
    """Answers per field: `single` holds one value per respondent (None when not asked); `multiple`
    holds the ticked choices of select_multiple fields as a boolean matrix."""

    size: int
    single: dict[str, np.ndarray] = field(default_factory=dict)
    multiple: dict[str, tuple[tuple[str, ...], np.ndarray]] = field(default_factory=dict)

    def put(self, name: str, values: np.ndarray, asked: np.ndarray | None = None) -> None:
        column = np.asarray(values, dtype=object).copy()
        if asked is not None:
            column[~asked] = None
        self.single[name] = column

    def yes_no(self, name: str, yes: np.ndarray, asked: np.ndarray | None = None) -> None:
        self.put(name, np.where(yes, "yes", "no"), asked)

    def choose(self, name: str, choices: Sequence[str], index: np.ndarray) -> None:
        """A select_one from category indices (-1 = not asked)."""
        names = np.array([*choices, ""], dtype=object)
        column = names[np.where(index < 0, len(choices), index)]
        column[index < 0] = None
        self.single[name] = column

    def tick(self, name: str, choices: Sequence[str], ticked: np.ndarray) -> None:
        self.multiple[name] = (tuple(choices), np.asarray(ticked, dtype=bool))

    def frame(self, instrument: Instrument) -> pl.DataFrame:
        """One column per questionnaire field in form order, typed as stored submissions are (select
        answers as text, select_multiple space-separated, integer Int64, decimal Float64, dates Date)."""
        columns: dict[str, pl.Series] = {}
        for question in instrument.questions:
            name = question.name
            if name in self.multiple:
                choices, ticked = self.multiple[name]
                joined = np.full(self.size, "", dtype=object)
                for i, choice in enumerate(choices):
                    joined = np.where(ticked[:, i], joined + " " + choice, joined)
                text = np.where(joined == "", None, joined)
                columns[name] = pl.Series(name, [v[1:] if v else None for v in text.tolist()], dtype=pl.Utf8)
                continue
            values = self.single.get(name, np.full(self.size, None, dtype=object))
            columns[name] = pl.Series(
                name, values.tolist(), dtype=_DTYPES.get(question.type, pl.Utf8), strict=False
            )
        return pl.DataFrame(columns)


def _levels(
    assigner: Assigner,
    yes: np.ndarray,
    high: Sequence[str],
    low: Sequence[str],
    high_weights: Sequence[float],
    low_weights: Sequence[float],
) -> np.ndarray:
    """Category index on a scale: a level among `high` for yes, among `low` otherwise."""
    n = assigner.people.size
    top = assigner.pick(np.tile(high_weights, (n, 1)), np.ones(n, dtype=bool))
    bottom = assigner.pick(np.tile(low_weights, (n, 1)), np.ones(n, dtype=bool))
    return np.where(yes, len(low) + top, bottom)


def _scale(
    answers: Answers,
    name: str,
    yes: np.ndarray,
    assigner: Assigner,
    high: Sequence[str],
    low: Sequence[str],
    high_weights: Sequence[float],
    low_weights: Sequence[float],
    order: Sequence[str],
) -> None:
    index = _levels(assigner, yes, high, low, high_weights, low_weights)
    names = [*low, *high]
    answers.choose(name, order, np.array([list(order).index(value) for value in names])[index])


def _matrix(
    assigner: Assigner, probabilities: Mapping[str, np.ndarray | float], choices: Sequence[str]
) -> np.ndarray:
    """(respondents, choices) probabilities from per-choice scalars or per-respondent arrays."""
    n = assigner.people.size
    return np.column_stack(
        [np.broadcast_to(np.asarray(probabilities.get(c, 0.0), dtype=float), (n,)) for c in choices]
    )


def _choices(instrument: Instrument, name: str) -> tuple[str, ...]:
    return instrument.question(name).choice_names


def profile(a: Assigner, answers: Answers) -> None:
    people = a.people
    answers.put("sex", np.where(people.woman, "female", "male"))
    answers.put("age", people.age)
    # ASSUMED: women marry earlier than men; a few are divorced or widowed.
    married = np.where(
        people.woman,
        1 / (1 + np.exp(-(people.age - 20) / 2.5)),
        0.85 / (1 + np.exp(-(people.age - 28) / 2.5)),
    )
    u = a.rng.random(people.size)
    answers.choose(
        "marital_status",
        ("single", "married", "divorced", "widowed"),
        np.where(u < married * 0.95, 1, np.where(u < married * 0.99, 2, np.where(u < married, 3, 0))),
    )
    rural = ~np.isin(np.array(a.plan.targets.communities)[people.community], list(URBAN))
    answers.put("household_size", np.clip(3 + a.rng.poisson(5 + 2 * rural), 1, 40).astype(np.int64))
    other = a.binary("born_in_other_community", a.score({"mobility": 0.5}))
    answers.yes_no("born_in_community", ~other)


def education(a: Assigner, answers: Answers, instrument: Instrument) -> None:
    people = a.people
    targets = a.plan.targets
    left = a.binary("left_school_early", a.score({"education": -1.0}))
    sizes = a.sizes
    stayed = np.bincount(people.community[~left], minlength=len(sizes))
    never_count = np.minimum(
        calibrate.exact_counts(np.full(len(sizes), targets.findings["never_attended_school"]), sizes),
        stayed - 2,
    )
    never = calibrate.assign_top(
        np.where(left, -np.inf, a.score({"education": -1.0})), people.community, never_count
    )
    never &= ~left
    attended = ~never
    high = a.binary("reached_high_school_or_more", a.score({"education": 1.2}), eligible=attended)
    in_school = (
        ~left & ~never & ((people.age <= 19) | ((people.age <= 23) & (a.rng.random(people.size) < 0.4)))
    )
    status = np.select([never, left, in_school], [0, 3, 1], default=2)
    answers.choose("school_status", ("never_attended", "in_school", "completed", "left_early"), status)
    upper = a.pick(np.tile([0.6, 0.15, 0.25], (people.size, 1)), attended)
    upper = np.where((upper == 2) & (people.age < 20), 0, upper)
    lower = a.pick(np.tile([0.15, 0.45, 0.40], (people.size, 1)), attended)
    level = np.where(high, 3 + upper, lower)
    answers.choose(
        "education_level",
        ("koranic", "primary", "lower_secondary", "upper_secondary", "technical", "higher"),
        np.where(attended, level, -1),
    )
    # left school to work: a share of each migration status (section II), among those who left early
    shares = targets.findings["left_school_to_work"]
    status_counts = np.bincount(people.returnee.astype(int), minlength=2)
    work_counts = calibrate.exact_counts(np.array([shares["non_migrant"], shares["returnee"]]), status_counts)
    to_work = (
        calibrate.assign_top(
            np.where(left, a.score({"economic": -0.6}), -np.inf), people.returnee.astype(int), work_counts
        )
        & left
    )
    a.flags["left_school_to_work"] = to_work
    choices = _choices(instrument, "dropout_reasons")
    # ASSUMED: reasons other than work
    probabilities = _matrix(
        a,
        {
            "cost": 0.35,
            "family_needs": 0.3,
            "marriage": np.where(people.woman, 0.35, 0.03),
            "distance": 0.1,
            "failed_exams": 0.25,
            "illness": 0.05,
            "insecurity": 0.03,
            "lost_interest": 0.15,
            "other": 0.04,
        },
        choices,
    )
    ticked = a.tick(probabilities, left & ~to_work)
    ticked |= a.tick(probabilities * 0.3, to_work, at_least_one=False)
    ticked[:, choices.index("work")] = to_work
    answers.tick("dropout_reasons", choices, ticked)


def _income(a: Assigner, works: np.ndarray) -> np.ndarray:
    """Monthly income of those working: log-normal around the economic level, scaled so each
    community's mean is the planned mean, in whole francs (the francs left by rounding go to the
    largest fractions, so the mean holds to the franc)."""
    people = a.people
    raw = np.exp(0.55 * (0.8 * people.latent[:, 0] + 0.6 * a.rng.standard_normal(people.size)))
    raw = np.where(works, raw, 0.0)
    communities = len(a.sizes)
    workers = np.bincount(people.community, weights=works, minlength=communities)
    sums = np.bincount(people.community, weights=raw, minlength=communities)
    wanted = a.plan.values["monthly_income"] * workers
    scaled = raw * (wanted / np.where(sums > 0, sums, 1))[people.community]
    whole = np.floor(scaled)
    missing = calibrate.round_half_up(wanted) - np.bincount(
        people.community, weights=whole, minlength=communities
    ).astype(np.int64)
    extra = calibrate.assign_top(np.where(works, scaled - whole, -np.inf), people.community, missing)
    return (whole + extra).astype(np.int64)


def work(a: Assigner, answers: Answers, instrument: Instrument) -> np.ndarray:
    people = a.people
    n = people.size
    works = a.binary("paid_job_or_iga", a.score({"economic": 1.0, "education": 0.2}))
    owner = a.binary("owns_business", a.score({"economic": 0.8}), eligible=works)
    u = a.rng.random(n)
    # ASSUMED: among those working without a business, 55 % paid job only, 30 % own activity only
    paid = np.where(owner, u < 0.15, works & ((u < 0.55) | (u >= 0.85)))
    activity = np.where(owner, True, works & (u >= 0.55))
    answers.yes_no("paid_job", paid)
    answers.yes_no("income_activity", activity)
    _activity_domain(a, answers, instrument, works)
    # ASSUMED: kinds of work (public, private, own account, family help, apprenticeship)
    employed = a.pick(np.tile([0.15, 0.6, 0.0, 0.1, 0.15], (n, 1)), works)
    own = a.pick(np.tile([0.0, 0.0, 0.75, 0.25, 0.0], (n, 1)), works)
    status = np.where(owner, 2, np.where(paid, employed, own))
    answers.choose(
        "work_status",
        ("public_employee", "private_employee", "own_account", "family_helper", "apprentice"),
        np.where(works, status, -1),
    )
    answers.put("monthly_income", _income(a, works), works)
    seeking = a.binary("seeking_job", a.score({"economic": -0.3, "mobility": 0.3}) + 1.2 * ~works)
    answers.yes_no("seeking_job", seeking)
    choices = _choices(instrument, "job_search_methods")
    education = people.latent[:, 3]
    answers.tick(
        "job_search_methods",
        choices,
        a.tick(
            _matrix(
                a,
                {
                    "family_friends": 0.7,
                    "employment_agency": 0.15,
                    "employers_direct": 0.45,
                    "media_ads": 0.15,
                    "internet": np.clip(0.15 + 0.1 * education, 0.02, 0.6),
                    "other": 0.05,
                },
                choices,
            ),
            seeking,
        ),
    )
    skills = _choices(instrument, "skills_held")
    none = a.binary("no_skills", a.score({"education": -0.8, "economic": -0.4}))
    woman = people.woman
    typed = {
        "business": 0.3,
        "teaching": np.clip(0.05 + 0.05 * education, 0, 1),
        "retail": 0.3,
        "hairdressing": np.where(woman, 0.25, 0.02),
        "sewing": np.where(woman, 0.3, 0.04),
        "agriculture": 0.25,
        "livestock": 0.15,
        "fishing": 0.03,
        "mechanics": np.where(woman, 0.01, 0.15),
        "construction": np.where(woman, 0.01, 0.15),
        "carpentry": np.where(woman, 0.0, 0.08),
        "crafts": 0.08,
        "computing": np.clip(0.06 + 0.06 * education, 0, 1),
        "driving": np.where(woman, 0.01, 0.12),
        "other": 0.03,
    }
    held = a.tick(_matrix(a, typed, skills), ~none)
    held[:, skills.index("none")] = none
    answers.tick("skills_held", skills, held)
    # ASSUMED: wished-for skills follow those already common (section II): business, teaching, retail,
    # hairdressing, sewing
    wished = {
        "business": 0.45,
        "teaching": 0.15,
        "retail": 0.3,
        "hairdressing": np.where(woman, 0.3, 0.05),
        "sewing": np.where(woman, 0.35, 0.05),
        "computing": 0.2,
        "mechanics": np.where(woman, 0.02, 0.12),
        "agriculture": 0.1,
        "livestock": 0.08,
        "driving": np.where(woman, 0.02, 0.1),
    }
    wants_none = a.rng.random(n) < 0.03
    wanted = a.tick(_matrix(a, wished, skills), ~wants_none)
    wanted[:, skills.index("none")] = wants_none
    answers.tick("skills_wanted", skills, wanted)
    interested = a.binary("interested_in_own_business", a.score({"economic": 0.2, "mobility": 0.2}))
    answers.yes_no("interested_in_business", interested)
    answers.yes_no("owns_business", owner)
    obstacles = _choices(instrument, "business_obstacles")
    ranked = [a.plan.targets.by_community[c].business_obstacles for c in a.plan.targets.communities]
    probabilities = np.full((len(ranked), len(obstacles)), 0.06)
    for c, items in enumerate(ranked):
        for rank, item in enumerate(items):
            probabilities[c, obstacles.index(item)] = (0.7, 0.4, 0.3)[min(rank, 2)]
    answers.tick("business_obstacles", obstacles, a.tick(probabilities[people.community], ~owner))
    return works


# ASSUMED: shares of the other fields of activity before the published ones are set (urban, rural)
DOMAIN_BASE = {
    "petty_trade": (20, 20),
    "import_export": (6, 3),
    "wholesale": (4, 2),
    "agriculture": (3, 14),
    "livestock": (2, 7),
    "fishing": (1, 3),
    "construction": (7, 6),
    "mechanics": (6, 3),
    "catering": (6, 3),
    "crafts": (4, 4),
    "hairdressing": (4, 3),
    "sewing": (5, 4),
    "transport": (5, 3),
    "teaching": (3, 2),
    "health": (2, 1),
    "public_service": (3, 2),
    "other": (3, 3),
}


def _activity_domain(a: Assigner, answers: Answers, instrument: Instrument, works: np.ndarray) -> None:
    """Fields of activity: the published top fields with their exact shares of those working; the rest
    spread over the other fields, each kept below the smallest published share."""
    people = a.people
    domains = _choices(instrument, "activity_domain")
    targets = a.plan.targets
    shares = np.zeros((len(targets.communities), len(domains)))
    for c, community in enumerate(targets.communities):
        published = targets.by_community[community].activity_domains
        base = np.array([DOMAIN_BASE.get(d, (2, 2))[community not in URBAN] for d in domains], dtype=float)
        base[[domains.index(d) for d in published]] = 0.0
        rest = max(0.0, 1.0 - sum(published.values()))
        cap = (min(published.values()) if published else 1.0) - 0.02
        spread = base / base.sum() * rest
        for _ in range(len(domains)):  # cap and pass the excess on to the uncapped fields
            over = spread > cap
            if not over.any():
                break
            excess = (spread[over] - cap).sum()
            spread[over] = cap
            room = (spread < cap) & (base > 0)
            spread[room] += excess * base[room] / base[room].sum()
        shares[c] = spread
        for d, value in published.items():
            shares[c, domains.index(d)] = value
    woman = people.woman[:, None]
    preference = np.zeros((people.size, len(domains)))
    for d in ("hairdressing", "sewing"):
        preference[:, domains.index(d)] = np.where(woman[:, 0], 2.0, -2.0)
    for d in ("mechanics", "construction", "transport"):
        preference[:, domains.index(d)] = np.where(woman[:, 0], -2.0, 1.0)
    for d in ("teaching", "health", "public_service"):
        preference[:, domains.index(d)] = people.latent[:, 3]
    scores = preference + a.rng.standard_normal(preference.shape)
    answers.choose("activity_domain", domains, a.exact_categories(shares, scores, works))


def finance(a: Assigner, answers: Answers, instrument: Instrument) -> None:
    people = a.people
    borrow = a.binary("can_borrow_money", a.score({"economic": 0.6, "social": 0.4}))
    answers.yes_no("can_borrow", borrow)
    choices = _choices(instrument, "borrow_sources")
    answers.tick(
        "borrow_sources",
        choices,
        a.tick(
            _matrix(
                a,
                {
                    "family": 0.7,
                    "friends": 0.45,
                    "tontine": 0.25,
                    "microfinance": 0.12,
                    "bank": np.clip(0.05 + 0.04 * people.latent[:, 3], 0, 1),
                    "moneylender": 0.07,
                    "employer": 0.05,
                    "other": 0.02,
                },
                choices,
            ),
            borrow,
        ),
    )
    above = a.binary("debt_above_monthly_income", a.score({"economic": -0.6}))
    # ASSUMED: three in ten of the others owe something smaller
    debt = above | (a.rng.random(people.size) < 0.3)
    answers.yes_no("has_debt", debt)
    level = np.where(above, 2, np.where(a.rng.random(people.size) < 0.6, 0, 1))
    answers.choose("debt_level", ("below", "equal", "above"), np.where(debt, level, -1))
    answers.yes_no("has_savings", a.binary("has_savings", a.score({"economic": 0.9})))
    food = a.binary("reduced_food_consumption", a.score({"economic": -1.0}))
    answers.yes_no("reduced_food", food)
    often = 1 / (1 + np.exp(0.8 * people.latent[:, 0]))
    answers.choose(
        "reduced_food_frequency",
        ("rarely", "sometimes", "often"),
        a.pick(np.column_stack([0.6 - 0.4 * often, np.full(people.size, 0.45), often]), food),
    )


def services(a: Assigner, answers: Answers) -> None:
    people = a.people
    order = (*NOT_SATISFIED, *SATISFIED)
    for service in SERVICES:
        yes = a.binary(f"satisfied_{service}", a.score({"social": 0.8}))
        _scale(
            answers,
            f"sat_{service}",
            yes,
            a,
            SATISFIED,
            NOT_SATISFIED,
            (0.75, 0.25),
            (0.2, 0.45, 0.35),
            order,
        )
    off_grid = a.binary("off_grid", a.score({"social": -0.7, "economic": -0.3}))
    source = a.pick(np.tile([0.0, 0.45, 0.10, 0.15, 0.30], (people.size, 1)), off_grid)
    answers.choose(
        "electricity_source",
        ("national_grid", "solar", "generator", "battery", "none"),
        np.where(off_grid, source, 0),
    )
    # ASSUMED: satisfaction with electricity follows the grid connection
    _scale(
        answers,
        "sat_electricity",
        a.rng.random(people.size) < np.where(off_grid, 0.12, 0.55),
        a,
        SATISFIED,
        NOT_SATISFIED,
        (0.75, 0.25),
        (0.2, 0.45, 0.35),
        order,
    )
    improved = a.binary("improved_water_source", a.score({"social": 0.7}))
    urban = np.isin(np.array(a.plan.targets.communities)[people.community], list(URBAN))
    improved_choice = a.pick(
        np.where(urban[:, None], [0.45, 0.35, 0.15, 0.05], [0.1, 0.25, 0.4, 0.25]), improved
    )
    unimproved_choice = 4 + a.pick(np.tile([0.5, 0.2, 0.3], (people.size, 1)), ~improved)
    answers.choose(
        "water_source",
        (
            "piped_home",
            "public_tap",
            "borehole",
            "protected_well",
            "unprotected_well",
            "surface_water",
            "vendor",
        ),
        np.where(improved, improved_choice, unimproved_choice),
    )
    owner = 1 / (1 + np.exp(-(people.age - 30) / 2))
    answers.choose(
        "housing_status",
        ("owner", "family_home", "tenant", "hosted", "precarious"),
        a.pick(
            np.column_stack(
                [
                    0.25 * owner + 0.03,
                    np.full(people.size, 0.55),
                    np.where(urban, 0.18, 0.06),
                    np.full(people.size, 0.07),
                    np.full(people.size, 0.03),
                ]
            ),
            np.ones(people.size, dtype=bool),
        ),
    )
    answers.yes_no("has_id_document", a.binary("has_id_document", a.score({"social": 0.5, "education": 0.4})))
    answers.yes_no(
        "could_turn_to_justice",
        a.binary("could_turn_to_justice", a.score({"social": 0.7, "psychosocial": 0.2})),
    )


def health(a: Assigner, answers: Answers) -> None:
    people = a.people
    ill = a.binary("illness_or_accident_last_year", a.score({"psychosocial": -0.4, "economic": -0.3}))
    answers.yes_no("illness_accident", ill)
    care = ill & (a.rng.random(people.size) < 0.75)
    answers.yes_no("sought_care", care, ill)
    # ASSUMED: paying for care is hard everywhere (section II), harder for the poorer
    poor = 1 / (1 + np.exp(people.latent[:, 0]))
    answers.choose(
        "care_cost",
        ("no_difficulty", "some_difficulty", "could_not_pay"),
        a.pick(np.column_stack([0.5 - 0.4 * poor, np.full(people.size, 0.45), 0.1 + 0.3 * poor]), care),
    )


def wellbeing(a: Assigner, answers: Answers, instrument: Instrument) -> None:
    people = a.people
    frequency = ("never", "rarely", "sometimes", "often", "always")
    for emotion in EMOTIONS:
        frequent = a.binary(f"frequent_{emotion}", a.score({"psychosocial": -1.0}, noise=0.8))
        _scale(
            answers,
            f"emo_{emotion}",
            frequent,
            a,
            ("often", "always"),
            ("never", "rarely", "sometimes"),
            (0.7, 0.3),
            (0.25, 0.35, 0.4),
            frequency,
        )
    answers.yes_no("wants_psych_support", a.binary("wants_psych_services", a.score({"psychosocial": -0.8})))
    answers.yes_no(
        "psych_support_access",
        a.binary("access_psychosocial_services", a.score({"social": 0.5, "psychosocial": 0.4})),
    )
    discriminated = a.binary("feels_discriminated", a.score({"psychosocial": -0.6}) + 0.5 * people.returnee)
    answers.yes_no("feels_discriminated", discriminated)
    choices = _choices(instrument, "discrimination_grounds")
    answers.tick(
        "discrimination_grounds",
        choices,
        a.tick(
            _matrix(
                a,
                {
                    "returnee_status": np.where(people.returnee, 0.55, 0.0),
                    "ethnicity": 0.2,
                    "sex": np.where(people.woman, 0.35, 0.05),
                    "age": 0.2,
                    "religion": 0.05,
                    "wealth": 0.3,
                    "disability": 0.03,
                    "other": 0.05,
                },
                choices,
            ),
            discriminated,
        ),
    )
    answers.yes_no(
        "has_friends", a.binary("has_friends_group", a.score({"psychosocial": 0.6, "social": 0.3}))
    )
    answers.yes_no(
        "has_support_network", a.binary("has_support_network", a.score({"psychosocial": 0.5, "social": 0.4}))
    )
    answers.yes_no(
        "community_participation",
        a.binary("participates_community_life", a.score({"social": 0.6, "psychosocial": 0.4})),
    )
    safe = a.binary("feels_safe", a.score({"psychosocial": 0.7}))
    _scale(
        answers,
        "feels_safe",
        safe,
        a,
        ("safe", "very_safe"),
        ("very_unsafe", "unsafe"),
        (0.7, 0.3),
        (0.3, 0.7),
        ("very_unsafe", "unsafe", "safe", "very_safe"),
    )
    trust = a.binary("trusts_community", a.score({"psychosocial": 0.5, "social": 0.5}))
    _scale(
        answers,
        "trust_community",
        trust,
        a,
        ("mostly", "completely"),
        ("not_at_all", "a_little"),
        (0.7, 0.3),
        (0.35, 0.65),
        ("not_at_all", "a_little", "mostly", "completely"),
    )
    # ASSUMED: optimism despite negative emotions (section II): 60 % better, 28 % same, 12 % worse
    outlook = a.score({"psychosocial": 0.6, "economic": 0.3})
    answers.choose(
        "future_outlook",
        ("better", "same", "worse"),
        a.exact_categories(
            np.array([[0.60, 0.28, 0.12]]),
            np.column_stack([outlook, np.zeros(people.size), -outlook]),
            np.ones(people.size, dtype=bool),
            by_community=False,
        ),
    )
    negative = a.plan.targets.findings["perception_returnees_negative"]
    # ASSUMED: the rest split two to one between positive and neutral ("globally positive")
    view = a.score({"social": 0.5, "psychosocial": 0.3}) - 0.5 * people.returnee
    shares = np.array([[(1 - negative) * 2 / 3, (1 - negative) / 3, negative]])
    answers.choose(
        "perception_returnees",
        ("positive", "neutral", "negative"),
        a.exact_categories(
            shares,
            np.column_stack([view, np.zeros(people.size), -view]),
            np.ones(people.size, dtype=bool),
            by_community=False,
        ),
    )


def migration(a: Assigner, answers: Answers, instrument: Instrument, round_year: int) -> None:
    people = a.people
    targets = a.plan.targets
    n = people.size
    abroad = a.binary("family_or_friends_abroad", a.score({"mobility": 0.7}))
    answers.yes_no("family_friends_abroad", abroad)
    answers.yes_no(
        "receives_remittances", a.binary("receives_remittances", a.score({"mobility": 0.4}) + 5.0 * abroad)
    )
    returnee = people.returnee
    a.flags["return_migrants_share"] = returnee
    answers.yes_no("lived_abroad_3m", returnee)
    countries = _choices(instrument, "countries_lived")
    answers.tick(
        "countries_lived",
        countries,
        a.tick(
            _matrix(
                a,
                {
                    "cote_divoire": 0.35,
                    "senegal": 0.1,
                    "guinea": 0.12,
                    "mauritania": 0.1,
                    "burkina_faso": 0.05,
                    "niger": 0.05,
                    "algeria": 0.25,
                    "libya": 0.2,
                    "morocco": 0.05,
                    "gabon": 0.08,
                    "congo": 0.05,
                    "equatorial_guinea": 0.05,
                    "france": 0.06,
                    "spain": 0.05,
                    "italy": 0.04,
                    "other_africa": 0.05,
                    "other_europe": 0.02,
                    "other": 0.01,
                },
                countries,
            ),
            returnee,
        ),
    )
    reasons = _choices(instrument, "reasons_left")
    ranked = np.full((len(targets.communities), len(reasons)), 0.05)
    for c, community in enumerate(targets.communities):
        for rank, item in enumerate(targets.by_community[community].reasons_left):
            ranked[c, reasons.index(item)] = (0.75, 0.4, 0.25)[min(rank, 2)]
    answers.tick("reasons_left", reasons, a.tick(ranked[people.community], returnee))
    back = np.minimum(np.floor(a.rng.gamma(1.5, 2.0, n)), 15).astype(np.int64)
    answers.put("return_year", round_year - back, returnee)
    returnees = int(returnee.sum())
    assisted = min(targets.findings["assisted_returnees"], returnees)
    iom = (
        calibrate.assign_top(
            np.where(returnee, a.score({"economic": -0.5}), -np.inf),
            np.zeros(n, dtype=np.int64),
            np.array([assisted]),
        )
        & returnee
    )
    answers.yes_no("return_assisted_iom", iom, returnee)
    forced_count = int(calibrate.round_half_up(targets.findings["involuntary_returns"] * returnees))
    forced = (
        calibrate.assign_top(
            np.where(returnee, a.score({"psychosocial": -0.5}), -np.inf),
            np.zeros(n, dtype=np.int64),
            np.array([forced_count]),
        )
        & returnee
    )
    a.flags["involuntary_return"] = forced
    answers.yes_no("return_voluntary", ~forced, returnee)
    why = _choices(instrument, "return_reasons")
    back_reasons = a.tick(
        _matrix(
            a,
            {
                "family": 0.45,
                "goal_reached": 0.25,
                "failed": 0.3,
                "insecurity": 0.15,
                "illness": 0.05,
                "documents": 0.1,
                "other": 0.03,
            },
            why,
        ),
        returnee & ~forced,
    )
    back_reasons |= a.tick(_matrix(a, {"documents": 0.3, "insecurity": 0.2}, why), forced, at_least_one=False)
    back_reasons[:, why.index("expelled")] |= forced
    answers.tick("return_reasons", why, back_reasons)
    _desire_to_leave(a, answers, instrument)


def _desire_to_leave(a: Assigner, answers: Answers, instrument: Instrument) -> None:
    """Stay / unsure / leave with exact sample-wide counts; leaving by sex gap; the more educated more
    likely to want to leave (section II)."""
    people = a.people
    targets = a.plan.targets
    n = people.size
    desire = targets.findings["desire_to_leave"]
    counts = calibrate.largest_remainder([desire["stay"], desire["unsure"], desire["leave"]], n)
    leave = a.binary(
        "desire_to_leave_leave",
        a.score({"mobility": 1.0, "education": 0.3}),
        totals=np.array([counts[2]]),
        by_community=False,
    )
    stay = (
        calibrate.assign_top(
            np.where(leave, -np.inf, a.score({"mobility": -0.8})),
            np.zeros(n, dtype=np.int64),
            np.array([counts[0]]),
        )
        & ~leave
    )
    a.flags["desire_to_leave_stay"] = stay
    answers.choose(
        "desire_to_leave", ("stay", "unsure", "leave"), np.select([stay, leave], [0, 2], default=1)
    )
    unsure = ~stay & ~leave
    reasons = _choices(instrument, "reasons_to_leave")
    harsh = np.isin(np.array(targets.communities)[people.community], ["kirane", "bafoulabe"])
    answers.tick(
        "reasons_to_leave",
        reasons,
        a.tick(
            _matrix(
                a,
                {
                    "economic": np.where(people.woman, 0.6, 0.85),
                    "family": np.where(people.woman, 0.5, 0.2),
                    "education": np.clip(0.1 + 0.05 * people.latent[:, 3], 0, 1),
                    "climate": np.where(harsh, 0.25, 0.05),
                    "conflict": 0.05,
                    "born_abroad": 0.02,
                    "adventure": np.where(people.woman, 0.03, 0.12),
                    "other": 0.03,
                },
                reasons,
            ),
            leave | unsure,
        ),
    )
    staying = stay | unsure
    choices = _choices(instrument, "reasons_to_stay")
    shares = targets.findings["reasons_to_stay"]
    special = targets.findings.get("reasons_to_stay_communities", {})
    sizes = a.sizes
    total = int(calibrate.round_half_up(shares["risks_known"] * n))
    fixed = {
        targets.communities.index(c): int(calibrate.round_half_up(v * sizes[targets.communities.index(c)]))
        for c, v in special.items()
    }
    others = [c for c in range(len(sizes)) if c not in fixed]
    rest = calibrate.largest_remainder(sizes[others], max(0, total - sum(fixed.values())))
    risk_counts = np.zeros(len(sizes), dtype=np.int64)
    risk_counts[others] = rest
    for c, count in fixed.items():
        risk_counts[c] = count
    risks = (
        calibrate.assign_top(
            np.where(staying, a.score({"education": 0.4}), -np.inf), people.community, risk_counts
        )
        & staying
    )
    no_route = (
        calibrate.assign_top(
            np.where(staying, a.score({"education": -0.4}), -np.inf),
            np.zeros(n, dtype=np.int64),
            np.array([calibrate.round_half_up(shares["no_legal_route"] * n)]),
        )
        & staying
    )
    a.flags["reason_to_stay_risks_known"] = risks
    a.flags["reason_to_stay_no_legal_route"] = no_route
    ticked = a.tick(
        _matrix(
            a, {"family": 0.6, "work_here": 0.3, "no_money": 0.3, "attachment": 0.35, "other": 0.04}, choices
        ),
        staying,
    )
    ticked[:, choices.index("risks_known")] = risks
    ticked[:, choices.index("no_legal_route")] = no_route
    answers.tick("reasons_to_stay", choices, ticked)


def _sample_exact(
    a: Assigner, name: str, share: float, score: np.ndarray, eligible: np.ndarray
) -> np.ndarray:
    """Exactly round(share * eligible) yes among the eligible, sample-wide."""
    count = calibrate.round_half_up(share * eligible.sum())
    chosen = (
        calibrate.assign_top(
            np.where(eligible, score, -np.inf), np.zeros(a.people.size, dtype=np.int64), np.array([count])
        )
        & eligible
    )
    a.flags[name] = chosen
    return chosen


def communication(a: Assigner, answers: Answers, instrument: Instrument) -> None:
    people = a.people
    findings = a.plan.targets.findings
    n = people.size
    everyone = np.ones(n, dtype=bool)
    choices = _choices(instrument, "decision_makers")
    ticked = a.tick(
        _matrix(
            a,
            {
                "traditional_leaders": 0.4,
                "teachers": 0.08,
                "associations": 0.12,
                "returnees": np.where(people.returnee, 0.3, 0.08),
            },
            choices,
        ),
        everyone,
        at_least_one=False,
    )
    for choice, share in findings["decision_makers"].items():
        ticked[:, choices.index(choice)] = _sample_exact(
            a, f"consults_{choice}", share, a.score({"social": 0.5}), everyone
        )
    ticked[:, choices.index("nobody")] = ~ticked.any(axis=1)
    answers.tick("decision_makers", choices, ticked)
    urban = np.isin(np.array(a.plan.targets.communities)[people.community], list(URBAN))
    users_count = findings["social_media_users"]
    users = _sample_exact(
        a,
        "social_media_user",
        users_count / n,
        a.score({"education": 0.8}) - 0.08 * (people.age - 24) + 0.6 * urban,
        everyone,
    )
    answers.yes_no("uses_social_media", users)
    sources = _choices(instrument, "info_sources")
    answers.tick(
        "info_sources",
        sources,
        a.tick(
            _matrix(
                a,
                {
                    "radio": 0.7,
                    "television": np.where(urban, 0.7, 0.4),
                    "family": 0.55,
                    "friends": 0.45,
                    "social_media": np.where(users, 0.85, 0.0),
                    "newspapers": np.clip(0.06 + 0.04 * people.latent[:, 3], 0, 1),
                    "leaders": 0.2,
                    "associations": 0.1,
                    "sms": 0.12,
                },
                sources,
            ),
            everyone,
        ),
    )
    platforms = _choices(instrument, "platforms")
    ticked = a.tick(
        _matrix(
            a, {"imo": 0.15, "youtube": 0.2, "instagram": 0.08, "twitter": 0.03, "other": 0.02}, platforms
        ),
        users,
        at_least_one=False,
    )
    for choice, share in findings["platforms"].items():
        ticked[:, platforms.index(choice)] = _sample_exact(
            a, f"platform_{choice}", share, a.score({"education": 0.3}), users
        )
    empty = users & ~ticked.any(axis=1)
    ticked[empty, platforms.index("whatsapp")] = True
    answers.tick("platforms", platforms, ticked)
    purposes = _choices(instrument, "social_media_purposes")
    ticked = a.tick(
        _matrix(a, {"news": 0.55, "keep_in_touch": 0.8, "entertainment": 0.45, "other": 0.04}, purposes),
        users,
    )
    for choice, share in findings["social_media_purposes"].items():
        ticked[:, purposes.index(choice)] = _sample_exact(
            a, f"social_media_for_{choice}", share, a.score({"mobility": 0.4}), users
        )
    answers.tick("social_media_purposes", purposes, ticked)
    answers.yes_no(
        "knows_legal_routes",
        _sample_exact(
            a,
            "knows_legal_routes",
            findings["knows_legal_routes"],
            a.score({"education": 0.6, "mobility": 0.3}),
            everyone,
        ),
    )
    institutions = _choices(instrument, "trusted_institutions")
    # ASSUMED: only traditional and religious leaders are widely trusted (section V)
    ticked = a.tick(
        _matrix(
            a,
            {
                "traditional_leaders": 0.72,
                "religious_leaders": 0.6,
                "ngos": 0.3,
                "local_authorities": 0.15,
                "police": 0.1,
                "judges": 0.08,
            },
            institutions,
        ),
        everyone,
        at_least_one=False,
    )
    ticked[:, institutions.index("none")] = ~ticked.any(axis=1)
    answers.tick("trusted_institutions", institutions, ticked)


def design(a: Assigner, answers: Answers, round_name: str) -> None:
    people = a.people
    targets = a.plan.targets
    communities = np.array(targets.communities, dtype=object)[people.community]
    codes = np.array([CODES.get(c, c[:3].upper()) for c in targets.communities], dtype=object)[
        people.community
    ]
    start = a.plan.fieldwork[0]
    answers.put(
        "interview_date",
        np.array([start + dt.timedelta(days=int(d)) for d in range(int(people.day.max()) + 1)], dtype=object)[
            people.day
        ],
    )
    answers.put("community", communities)
    answers.put("stratum", communities)
    cluster_numbers = np.char.zfill(people.cluster.astype(str), 2).astype(object)
    answers.put("cluster", communities + "-" + cluster_numbers)
    answers.put("weight", np.full(people.size, targets.weight))
    # the year a person was first interviewed: a panel keeps its case ids, a fresh sample gets new ones
    year = np.char.zfill((people.cohort % 100).astype(str), 2).astype(object)
    serial = np.char.zfill(people.serial.astype(str), 4).astype(object)
    answers.put("case_id", "ML" + year + "-" + codes + "-" + serial)
    answers.yes_no("consent", np.ones(people.size, dtype=bool))
    answers.yes_no("beneficiary", people.beneficiary)


def answer(a: Assigner, instrument: Instrument, round_name: str) -> Answers:
    """Every field of the questionnaire for one round's respondents."""
    answers = Answers(size=a.people.size)
    design(a, answers, round_name)
    profile(a, answers)
    education(a, answers, instrument)
    work(a, answers, instrument)
    finance(a, answers, instrument)
    services(a, answers)
    health(a, answers)
    wellbeing(a, answers, instrument)
    migration(a, answers, instrument, a.plan.fieldwork[0].year)
    communication(a, answers, instrument)
    missing = [
        q.name
        for q in instrument.questions
        if q.required and q.name not in answers.single and q.name not in answers.multiple
    ]
    if missing:
        raise SpecError(
            f"The synthetic generator has no answers for required field(s) {', '.join(missing)}.",
            "Extend retour.synth.answers for the new questions, or make them optional.",
        )
    return answers
