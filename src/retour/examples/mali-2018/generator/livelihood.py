"""Answers about the person and their livelihood: profile, education, work, income, borrowing, food.

Calibrated indicators get exact counts from `Assigner.binary`; other answers are drawn from
probabilities marked ASSUMED. Fields that are not asked stay null. Vectorised over respondents.
"""

from __future__ import annotations

import numpy as np

from retour.schema import Instrument

from . import calibrate
from .answers import (
    URBAN,
    Answers,
    choice_probabilities,
    choices_of,
)
from .population import Assigner


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
    choices = choices_of(instrument, "dropout_reasons")
    # ASSUMED: reasons other than work
    probabilities = choice_probabilities(
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
    choices = choices_of(instrument, "job_search_methods")
    education = people.latent[:, 3]
    answers.tick(
        "job_search_methods",
        choices,
        a.tick(
            choice_probabilities(
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
    skills = choices_of(instrument, "skills_held")
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
    held = a.tick(choice_probabilities(a, typed, skills), ~none)
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
    wanted = a.tick(choice_probabilities(a, wished, skills), ~wants_none)
    wanted[:, skills.index("none")] = wants_none
    answers.tick("skills_wanted", skills, wanted)
    interested = a.binary("interested_in_own_business", a.score({"economic": 0.2, "mobility": 0.2}))
    answers.yes_no("interested_in_business", interested)
    answers.yes_no("owns_business", owner)
    obstacles = choices_of(instrument, "business_obstacles")
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
    domains = choices_of(instrument, "activity_domain")
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
    choices = choices_of(instrument, "borrow_sources")
    answers.tick(
        "borrow_sources",
        choices,
        a.tick(
            choice_probabilities(
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
