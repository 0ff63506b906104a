"""Answers about services, health, well-being, migration and information sources.

Calibrated indicators get exact counts from `Assigner.binary` (or sample-wide counts for findings
published only for the whole sample); other answers are drawn from probabilities marked ASSUMED.
Fields that are not asked stay null. Vectorised over respondents.
"""

from __future__ import annotations

import numpy as np

from retour.schema import Instrument

from . import calibrate
from .answers import (
    EMOTIONS,
    NOT_SATISFIED,
    SATISFIED,
    SERVICES,
    URBAN,
    Answers,
    choice_probabilities,
    choices_of,
    put_scale,
)
from .population import Assigner


def services(a: Assigner, answers: Answers) -> None:
    people = a.people
    order = (*NOT_SATISFIED, *SATISFIED)
    for service in SERVICES:
        yes = a.binary(f"satisfied_{service}", a.score({"social": 0.8}))
        put_scale(
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
    put_scale(
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
        put_scale(
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
    choices = choices_of(instrument, "discrimination_grounds")
    answers.tick(
        "discrimination_grounds",
        choices,
        a.tick(
            choice_probabilities(
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
    put_scale(
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
    put_scale(
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
    countries = choices_of(instrument, "countries_lived")
    answers.tick(
        "countries_lived",
        countries,
        a.tick(
            choice_probabilities(
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
    reasons = choices_of(instrument, "reasons_left")
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
    why = choices_of(instrument, "return_reasons")
    back_reasons = a.tick(
        choice_probabilities(
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
    back_reasons |= a.tick(
        choice_probabilities(a, {"documents": 0.3, "insecurity": 0.2}, why), forced, at_least_one=False
    )
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
    reasons = choices_of(instrument, "reasons_to_leave")
    harsh = np.isin(np.array(targets.communities)[people.community], ["kirane", "bafoulabe"])
    answers.tick(
        "reasons_to_leave",
        reasons,
        a.tick(
            choice_probabilities(
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
    choices = choices_of(instrument, "reasons_to_stay")
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
        choice_probabilities(
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
    choices = choices_of(instrument, "decision_makers")
    ticked = a.tick(
        choice_probabilities(
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
    sources = choices_of(instrument, "info_sources")
    answers.tick(
        "info_sources",
        sources,
        a.tick(
            choice_probabilities(
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
    platforms = choices_of(instrument, "platforms")
    ticked = a.tick(
        choice_probabilities(
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
    purposes = choices_of(instrument, "social_media_purposes")
    ticked = a.tick(
        choice_probabilities(
            a, {"news": 0.55, "keep_in_touch": 0.8, "entertainment": 0.45, "other": 0.04}, purposes
        ),
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
    institutions = choices_of(instrument, "trusted_institutions")
    # ASSUMED: only traditional and religious leaders are widely trusted (section V)
    ticked = a.tick(
        choice_probabilities(
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
