"""A results bundle for report tests, in the stored-table shapes of contracts 4-6, built without the pipeline.

Community values and sample means are the 2018 Mali fact-sheet figures (percentages) and Tableau 1
scores; standard errors, intervals, group splits and answer shares are made up (seeded), plausible but
not estimates. Themes, fact-sheet blocks, short labels and groups are the example study's catalogue.
Actors and recommendations are the example study's registers (the longest narrative a
fact sheet must fit), plus one actor with contacts that must never be printed. Two cells are
deliberately small and suppressed: Kirané's access to psychosocial services and Kirané's reasons for
having left, so suppression is exercised everywhere.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from functools import cache

import numpy as np
import polars as pl

from conftest import EXAMPLE
from retour.actors import Actor, Recommendation
from retour.config import Settings, load_settings
from retour.errors import Problem
from retour.indicators import Catalogue, FicheBlock, Group, Indicator, load_catalogue, parse_fiche_blocks
from retour.report import ReportData, indicator_frame, load_communities, parse_communities
from retour.schema import load_instrument

COMMUNITIES = ("bafoulabe", "bamako_commune_iv", "kati", "kayes", "kita", "sikasso", "kirane")
FICHE = {  # indicator: (sample mean, values in COMMUNITIES order), percent
    "paid_job_or_iga": (48, (40, 60, 47, 45, 39, 39, 37)),
    "can_borrow_money": (53, (55, 46, 60, 58, 48, 49, 60)),
    "reduced_food_consumption": (26, (41, 5, 24, 44, 24, 24, 30)),
    "has_friends_group": (80, (82, 79, 86, 76, 86, 71, 91)),
    "reached_high_school_or_more": (33, (55, 45, 35, 28, 25, 28, 22)),
    "left_school_early": (52, (44, 51, 41, 46, 63, 54, 70)),
    "seeking_job": (19, (19, 11, 26, 18, 30, 18, 5)),
    "has_support_network": (40, (33, 50, 29, 24, 29, 45, 55)),
    "interested_in_own_business": (83, (81, 85, 87, 88, 91, 91, 57)),
    "illness_or_accident_last_year": (47, (68, 68, 44, 22, 33, 60, 28)),
    "wants_psych_services": (47, (85, 33, 28, 60, 33, 35, 68)),
    "born_in_other_community": (40, (37, 32, 43, 51, 70, 21, 17)),
    "receives_remittances": (21, (33, 22, 10, 13, 6, 17, 53)),
    "family_or_friends_abroad": (81, (90, 80, 70, 80, 81, 77, 94)),
    "return_migrants_share": (29, (22, 29, 29, 34, 26, 35, 25)),
    "access_psychosocial_services": (56, (36, 74, 69, 82, 49, 71, 5)),
    "feels_discriminated": (16, (22, 4, 7, 17, 34, 14, 17)),
}
SERVICES = {  # indicator: (sample mean, gaps in points)
    "satisfied_education": (32, (9, -7, 2, 10, 2, -18, 7)),
    "satisfied_id_papers": (28, (8, 4, 5, -4, 11, -12, -20)),
    "satisfied_housing": (59, (-10, -22, 20, -1, 27, -14, -3)),
    "satisfied_healthcare": (39, (3, -12, 28, 14, 3, -26, -5)),
    "satisfied_drinking_water": (46, (-11, -4, 1, 30, 0, -11, -4)),
    "satisfied_justice_police": (28, (54, -9, -8, -9, 13, -22, -18)),
}
TABLEAU_1 = {  # community: (economic, social, psychosocial, composite) scores and ranks
    "bafoulabe": ((0.43, 6), (0.42, 5), (0.05, 7), (0.30, 7)),
    "bamako_commune_iv": ((0.77, 1), (0.73, 1), (0.92, 1), (0.81, 1)),
    "kati": ((0.55, 3), (0.35, 6), (0.64, 4), (0.51, 4)),
    "kayes": ((0.50, 4), (0.19, 7), (0.47, 5), (0.39, 5)),
    "kita": ((0.44, 5), (0.59, 2), (0.87, 2), (0.63, 3)),
    "sikasso": ((0.72, 2), (0.43, 4), (0.86, 3), (0.67, 2)),
    "kirane": ((0.25, 7), (0.55, 3), (0.16, 6), (0.32, 6)),
}
FAMILIES = {  # theme: (id prefix, {choice: (label_fr, label_en)}, higher_is_better)
    "activity_domains": (
        "activity_domain_",
        {
            "petty_trade": ("Petit commerce", "Petty trade"),
            "import_export": ("Import/export", "Import/export"),
            "agriculture": ("Agriculture", "Farming"),
            "livestock": ("Élevage", "Livestock"),
            "construction": ("Construction", "Construction"),
            "catering": ("Restauration", "Catering"),
        },
    ),
    "business_obstacles": (
        "business_obstacle_",
        {
            "lack_capital": ("Manque de capital", "Lack of capital"),
            "lack_skills": ("Manque de qualifications", "Lack of qualifications"),
            "lack_connections": ("Manque de relations", "Lack of connections"),
            "lack_ideas": ("Manque d'idées", "Lack of ideas"),
        },
    ),
    "reasons_left": (
        "reason_left_",
        {
            "economic": ("Raisons économiques", "Economic reasons"),
            "family": ("Raisons familiales", "Family reasons"),
            "climate": ("Changement climatique", "Climate change"),
            "education": ("Études", "Education"),
        },
    ),
    "desire_to_leave": (
        "desire_to_leave_",
        {"stay": ("Rester", "Stay"), "unsure": ("Ne sait pas", "Unsure"), "leave": ("Partir", "Leave")},
    ),
    "perception_returnees": (
        "perception_returnees_",
        {
            "positive": ("Plutôt positivement", "Mostly positively"),
            "neutral": ("Ni positivement ni négativement", "Neither"),
            "negative": ("Plutôt négativement", "Mostly negatively"),
        },
    ),
}
C4D_TITLES = {  # prefix: (question in French, in English), as the labels of choice shares start
    "consults_": ("Consultent avant de décider", "Consult before deciding"),
    "info_source_": ("S'informent par", "Get information from"),
    "platform_": ("Réseau social utilisé", "Social media platform used"),
}
C4D = {
    "consults_": {
        "family": ("La famille", "Family", 0.91),
        "friends": ("Les amis", "Friends", 0.80),
        "religious_leaders": ("Les leaders religieux", "Religious leaders", 0.70),
    },
    "info_source_": {
        "radio": ("Radio", "Radio", 0.62),
        "television": ("Télévision", "Television", 0.55),
        "social_media": ("Réseaux sociaux", "Social media", 0.51),
    },
    "platform_": {
        "whatsapp": ("WhatsApp", "WhatsApp", 0.90),
        "facebook": ("Facebook", "Facebook", 0.89),
        "viber": ("Viber", "Viber", 0.75),
    },
}
SAMPLE_SIZE = 86
SMALL = {("kirane", "access_psychosocial_services"): 7}


def _row(
    community_id: str, indicator_id: str, value: float, n: int, dimension: str = "all", group: str = "all"
) -> dict[str, object]:
    se = math.sqrt(max(value * (1 - value), 0.01) / max(n, 1)) * 1.25
    return {
        "community_id": community_id,
        "group_dimension": dimension,
        "group": group,
        "indicator_id": indicator_id,
        "estimate": value,
        "se": se,
        "ci_low": max(value - 1.96 * se, 0.0),
        "ci_high": min(value + 1.96 * se, 1.0),
        "n": n,
        "weighted_n": float(n),
        "deff": 1.5,
        "n_missing": 0,
        "suppressed": n < 10,
    }


@cache
def example_catalogue() -> Catalogue:
    """The example study's indicator catalogue, checked against its questionnaire."""
    return load_catalogue(EXAMPLE / "indicators.toml", load_instrument(EXAMPLE / "instrument.xlsx"))


def _as_in_the_example(record: dict[str, object]) -> dict[str, object]:
    """The record with the example catalogue's theme, fiche block and short labels (an answer share the
    catalogue lacks takes the block of its theme)."""
    catalogue = example_catalogue()
    known = {i.id: i for i in catalogue.indicators}
    found = known.get(str(record["id"]))
    if found is not None:
        return record | {"theme": found.theme, "fiche_block": found.fiche_block,
                         "short_label_fr": found.short_label_fr, "short_label_en": found.short_label_en}
    block = next((i.fiche_block for i in catalogue.indicators
                  if i.theme == record["theme"] and i.fiche_block), "")
    return record | {"fiche_block": block}


def _catalogue() -> list[dict[str, object]]:
    directions = {
        "paid_job_or_iga": True,
        "can_borrow_money": True,
        "reduced_food_consumption": False,
        "has_friends_group": True,
        "reached_high_school_or_more": True,
        "left_school_early": False,
        "seeking_job": False,
        "has_support_network": True,
        "illness_or_accident_last_year": False,
        "wants_psych_services": False,
        "access_psychosocial_services": True,
        "feels_discriminated": False,
    }
    records: list[dict[str, object]] = [
        {
            "id": i,
            "label_fr": f"Indicateur {i}",
            "label_en": f"Indicator {i}",
            "kind": "proportion",
            "higher_is_better": directions.get(i),
            "theme": "fiche",
        }
        for i in FICHE
    ]
    records[0].update(
        label_fr="Ont un emploi rémunéré ou une activité génératrice de revenus",
        label_en="Have a paid job or an income-generating activity",
    )
    records += [
        {"id": i, "label_fr": i, "label_en": i, "higher_is_better": True, "theme": "services"}
        for i in SERVICES
    ]
    for theme, (prefix, choices) in FAMILIES.items():
        records += [
            {"id": prefix + c, "label_fr": f"Famille : {fr}", "label_en": f"Family: {en}", "theme": theme}
            for c, (fr, en) in choices.items()
        ]
    for prefix, choices in C4D.items():
        title_fr, title_en = C4D_TITLES[prefix]
        records += [
            {"id": prefix + c, "label_fr": f"{title_fr} : {fr}", "label_en": f"{title_en}: {en}",
             "theme": "c4d"}
            for c, (fr, en, _) in choices.items()
        ]
    records.append(
        {
            "id": "knows_legal_routes",
            "label_fr": "Connaissent les voies légales",
            "label_en": "Know the legal routes",
            "theme": "c4d",
        }
    )
    return [_as_in_the_example(record) for record in records]


def estimates(rng: np.random.Generator) -> pl.DataFrame:
    rows = []
    for indicator_id, (mean, values) in FICHE.items():
        rows.append(_row("all", indicator_id, mean / 100, 604))
        for community_id, value in zip(COMMUNITIES, values, strict=True):
            rows.append(
                _row(
                    community_id,
                    indicator_id,
                    value / 100,
                    SMALL.get((community_id, indicator_id), SAMPLE_SIZE),
                )
            )
    for indicator_id, (mean, gaps) in SERVICES.items():
        rows.append(_row("all", indicator_id, mean / 100, 604))
        rows += [
            _row(c, indicator_id, (mean + gap) / 100, SAMPLE_SIZE)
            for c, gap in zip(COMMUNITIES, gaps, strict=True)
        ]
    for theme, (prefix, choices) in FAMILIES.items():
        exclusive = theme in ("desire_to_leave", "perception_returnees")
        for community_id in ("all", *COMMUNITIES):
            shares = (
                rng.dirichlet(np.ones(len(choices)) * 3)
                if exclusive
                else rng.uniform(0.05, 0.45, len(choices))
            )
            n = (
                604
                if community_id == "all"
                else (8 if (community_id, theme) == ("kirane", "reasons_left") else 40)
            )
            rows += [
                _row(community_id, prefix + c, float(s), n) for c, s in zip(choices, shares, strict=True)
            ]
    for prefix, choices in C4D.items():
        for choice, (_fr, _en, share) in choices.items():
            for community_id in ("all", *COMMUNITIES):
                value = float(np.clip(share + rng.normal(0, 0.06), 0.02, 0.98))
                rows.append(_row(community_id, prefix + choice, value, 604 if community_id == "all" else 80))
                for dimension, groups in (
                    ("migration_status", ("returnee", "non_migrant")),
                    ("sex", ("women", "men")),
                ):
                    rows += [
                        _row(
                            community_id,
                            prefix + choice,
                            float(np.clip(value + rng.normal(0, 0.05), 0, 1)),
                            170 if community_id == "all" else 25,
                            dimension,
                            g,
                        )
                        for g in groups
                    ]
    for community_id in ("all", *COMMUNITIES):
        rows.append(
            _row(
                community_id,
                "knows_legal_routes",
                0.44 if community_id == "all" else float(rng.uniform(0.3, 0.6)),
                604 if community_id == "all" else SAMPLE_SIZE,
            )
        )
        for dimension, groups in (
            ("migration_status", ("returnee", "non_migrant")),
            ("sex", ("women", "men")),
        ):
            rows += [
                _row(
                    community_id,
                    "knows_legal_routes",
                    float(rng.uniform(0.3, 0.6)),
                    170 if community_id == "all" else 25,
                    dimension,
                    g,
                )
                for g in groups
            ]
    return pl.DataFrame(rows)


def gaps(rng: np.random.Generator) -> pl.DataFrame:
    rows = []
    for dimension, (a, b) in (("migration_status", ("returnee", "non_migrant")), ("sex", ("women", "men"))):
        for position, indicator_id in enumerate(FICHE):
            difference = float(rng.normal(0, 0.08))
            se = 0.035
            p = float(min(1.0, math.erfc(abs(difference / se) / math.sqrt(2))))
            rows.append(
                {
                    "community_id": "all",
                    "group_dimension": dimension,
                    "group_a": a,
                    "group_b": b,
                    "indicator_id": indicator_id,
                    "difference": difference,
                    "se": se,
                    "ci_low": difference - 1.96 * se,
                    "ci_high": difference + 1.96 * se,
                    "statistic": difference / se,
                    "p_value": p,
                    "p_adjusted": min(1.0, p * 17 / (position + 1)),
                    "n_a": 171,
                    "n_b": 433,
                    "suppressed": False,
                }
            )
    frame = pl.DataFrame(rows)
    # One pinned gap the tests look for: women vs men in paid work, clearly significant.
    return frame.with_columns(
        pl.when((pl.col("group_dimension") == "sex") & (pl.col("indicator_id") == "paid_job_or_iga"))
        .then(pl.lit(-0.214))
        .otherwise(pl.col("difference"))
        .alias("difference"),
        pl.when((pl.col("group_dimension") == "sex") & (pl.col("indicator_id") == "paid_job_or_iga"))
        .then(pl.lit(0.0004))
        .otherwise(pl.col("p_adjusted"))
        .alias("p_adjusted"),
    )


def index_scores() -> pl.DataFrame:
    rows = []
    for community_id, pillars in TABLEAU_1.items():
        for pillar, (score, rank) in zip(
            ("economic", "social", "psychosocial", "composite"), pillars, strict=True
        ):
            rows.append(
                {
                    "community_id": community_id,
                    "pillar": pillar,
                    "score": score,
                    "rank": rank,
                    "score_low": max(score - 0.09, 0.0),
                    "score_high": min(score + 0.08, 1.0),
                    "rank_low": max(rank - 1, 1),
                    "rank_high": min(rank + 1, 7),
                }
            )
    return pl.DataFrame(rows)


ISSUES = (
    ("water", "Eau", "Water"),
    ("education", "Éducation", "Education"),
    ("energy", "Énergie", "Energy"),
    ("documentation", "Documentation", "Documentation"),
    ("psychosocial", "Psychosocial", "Psychosocial"),
)


def needs() -> pl.DataFrame:
    levels = ("priority", "important", "none")
    rows = []
    for i, community_id in enumerate(COMMUNITIES):
        for j, (issue_id, label_fr, label_en) in enumerate(ISSUES):
            level = "outside_reach" if issue_id == "documentation" else levels[(i + j) % 3]
            rows.append(
                {
                    "community_id": community_id,
                    "issue_id": issue_id,
                    "issue_label_fr": label_fr,
                    "issue_label_en": label_en,
                    "level": level,
                    "rule": "rule",
                    "evidence": "evidence",
                    "overridden": False,
                }
            )
    return pl.DataFrame(rows)


def registers() -> tuple[tuple[Actor, ...], tuple[Recommendation, ...]]:
    """The example study's actor register and recommendations, plus one actor with contacts (Bafoulabé)
    that fact sheets must never print."""
    from retour.config import load_project
    from retour.study import load_actor_register

    register = load_actor_register(load_project(EXAMPLE))
    contact = Actor(
        id="bafoulabe_contact_test",
        name="Association test des jeunes",
        kind="association",
        scope="community",
        communities=("bafoulabe",),
        dimensions=("economic", "c4d"),
        listed_in=("community_table",),
        description_fr="Association de jeunes : assainissement, sensibilisation.",
        description_en="Youth association: sanitation, awareness campaigns.",
        contact="+223 70 00 00 00, cafo@example.org",
    )
    return (contact, *register.actors), register.recommendations


def bundle(seed: int = 20180305) -> ReportData:
    """The full bundle: baseline round of the example study's settings and registers."""
    rng = np.random.default_rng(seed)
    actors, recommendations = registers()
    return ReportData(
        settings=load_settings(EXAMPLE / "retour.toml"),
        round_name="baseline",
        stamp={
            "retour_version": "0.1.0",
            "config_hash": "abcdef123456",
            "data_hash": "0123456789ab",
            "round": "baseline",
        },
        communities=load_communities(EXAMPLE),
        indicators=indicator_frame(_catalogue()),
        estimates=estimates(rng),
        gaps=gaps(rng),
        index_scores=index_scores(),
        index_spec={"normalisation": "minmax", "aggregation": "arithmetic", "composite": "arithmetic"},
        needs=needs(),
        actors=actors,
        recommendations=recommendations,
        generated_on=dt.date(2018, 4, 2),
        folder=EXAMPLE,
        groups=example_catalogue().groups,
        fiche_blocks=example_catalogue().fiche_blocks,
        themes=example_catalogue().themes,
    )


# --- a study retour was not written for -------------------------------------------------------------------
# Another country (Benin), other administrative levels (departement, region), other indicator ids, fact-sheet
# blocks and groups (gender female/male, household_head), adults aged 18-45, returnees after six months
# abroad, synthetic data without a note of its own. Values are made up (seeded).

OTHER_SETTINGS = {
    "study": {"id": "other", "name": "Other study", "name_fr": "Autre étude", "name_en": "Other study",
              "country": "BJ", "languages": ["fr", "en"], "synthetic": True},
    "population": {"description": {"fr": "adultes de 18 à 45 ans", "en": "adults aged 18 to 45"},
                   "age_min": 18, "age_max": 45, "returnee_rule": "${abroad_6m} = 'yes'",
                   "returnee_definition": {"fr": "ont vécu plus de six mois à l'étranger",
                                           "en": "lived abroad for more than six months"}},
    "places": {"unit": {"fr": "commune", "en": "municipality"},
               "admin_levels": [{"id": "departement", "label": {"fr": "Département", "en": "Department"}},
                                {"id": "region", "label": {"fr": "Région", "en": "Region"}}]},
    "rounds": [{"name": "baseline", "date": "2024-02-05", "label_fr": "Référence", "label_en": "Baseline"}],
}
OTHER_COMMUNITIES = {
    "types": {"urban": {"fr": "Commune à statut particulier", "en": "Special-status municipality"},
              "rural": {"fr": "Commune rurale", "en": "Rural municipality"}},
    "communities": [
        {"id": "djougou", "name": "Djougou", "departement": "Donga", "region": "Nord", "type": "urban",
         "coordinates": {"lat": 9.71, "lon": 1.67}},
        {"id": "parakou", "name": "Parakou", "departement": "Borgou", "region": "Nord", "type": "urban",
         "coordinates": {"lat": 9.34, "lon": 2.63}},
        {"id": "lokossa", "name": "Lokossa", "departement": "Mono", "region": "Sud", "type": "rural",
         "coordinates": {"lat": 6.64, "lon": 1.72}},
    ],
}
OTHER_INDICATORS = (  # id, label_fr, label_en, theme, fiche_block, higher_is_better
    ("earns_income", "Tirent un revenu de leur travail", "Earn an income from their work", "livelihood",
     "livelihoods", True),
    ("holds_land", "Disposent d'une terre", "Hold land", "livelihood", "livelihoods", True),
    ("in_cooperative", "Membres d'une coopérative", "Members of a cooperative", "livelihood", "livelihoods",
     True),
    ("access_clinic", "Accès : centre de santé", "Access: health centre", "access", "livelihoods", True),
    ("access_market", "Accès : marché", "Access: market", "access", "livelihoods", True),
    ("support_cash", "Appui reçu : argent", "Support received: cash", "support", "livelihoods", None),
    ("support_training", "Appui reçu : formation", "Support received: training", "support", "livelihoods",
     None),
    ("support_tools", "Appui reçu : outils", "Support received: tools", "support", "livelihoods", None),
    ("feels_welcome", "Se sentent bienvenus", "Feel welcome", "belonging", "belonging", True),
    ("plans_stay", "Projet : rester", "Plans: stay", "plans", "belonging", None),
    ("plans_move", "Projet : partir", "Plans: move on", "plans", "belonging", None),
    ("channel_radio", "Canal préféré : radio", "Preferred channel: radio", "c4d", "", None),
    ("channel_phone", "Canal préféré : téléphone", "Preferred channel: phone", "c4d", "", None),
)
OTHER_FICHE_BLOCKS = """
[[fiche_blocks]]
id = "livelihoods"
title = { fr = "Moyens d'existence", en = "Livelihoods" }
note = { fr = "Adultes de la commune.", en = "Adults of the municipality." }

[[fiche_blocks.panels]]
kind = "tiles"

[[fiche_blocks.panels]]
kind = "gap_bars"
theme = "access"
title = { fr = "Accès aux services de base", en = "Access to basic services" }

[[fiche_blocks.panels]]
kind = "top_shares"
theme = "support"
title = { fr = "Appuis les plus reçus", en = "Support most received" }

[[fiche_blocks]]
id = "belonging"
title = { fr = "Appartenance", en = "Belonging" }
panels = [
  { kind = "share_bars", theme = "plans", title = { fr = "Projets", en = "Plans" } },
  { kind = "tiles" },
]
"""
OTHER_GROUPS = (
    Group(id="gender", label_fr="Genre", label_en="Gender", levels=("female", "male"), expression="${gender}",
          compare=("female", "male"),
          level_labels={"female": {"fr": "Femmes", "en": "Female respondents"},
                        "male": {"fr": "Hommes", "en": "Male respondents"}}),
    Group(id="household_head", label_fr="Chef de ménage", label_en="Household head",
          levels=("head", "member"), expression="${head}", compare=("head", "member"),
          level_labels={"head": {"fr": "Chefs de ménage", "en": "Household heads"},
                        "member": {"fr": "Autres membres", "en": "Other members"}}),
)


def other_catalogue() -> tuple[list[dict[str, object]], tuple[FicheBlock, ...]]:
    """The other study's indicator records and its fact-sheet blocks, read by the catalogue's parser."""
    records = [{"id": i, "label_fr": fr, "label_en": en, "theme": theme, "fiche_block": block,
                "higher_is_better": better, "kind": "proportion"}
               for i, fr, en, theme, block, better in OTHER_INDICATORS]
    indicators = tuple(Indicator(id=str(r["id"]), label_fr=str(r["label_fr"]), label_en=str(r["label_en"]),
                                 formula="true()", theme=str(r["theme"]), fiche_block=str(r["fiche_block"]))
                       for r in records)
    problems: list[Problem] = []
    blocks = parse_fiche_blocks(tomllib.loads(OTHER_FICHE_BLOCKS)["fiche_blocks"], indicators, problems)
    assert problems == []
    return records, blocks


def other_bundle(seed: int = 7) -> ReportData:
    """A round of the other study: estimates for every community and group, gaps for both groups, scores."""
    rng = np.random.default_rng(seed)
    records, blocks = other_catalogue()
    ids = [str(r["id"]) for r in records]
    rows = []
    for community_id in ("all", "djougou", "parakou", "lokossa"):
        n = 300 if community_id == "all" else 100
        stay = float(rng.uniform(0.4, 0.8))
        for indicator_id in ids:
            shares = {"plans_stay": stay, "plans_move": 1 - stay}
            value = shares.get(indicator_id, float(rng.uniform(0.1, 0.9)))
            rows.append(_row(community_id, indicator_id, value, n))
            for group in OTHER_GROUPS:
                rows += [_row(community_id, indicator_id, float(rng.uniform(0.1, 0.9)), n // 2, group.id,
                              level) for level in group.levels]
    gap_rows = []
    for group in OTHER_GROUPS:
        a, b = group.compare
        for indicator_id in ids:
            difference = float(rng.normal(0, 0.1))
            gap_rows.append({"community_id": "all", "group_dimension": group.id, "group_a": a, "group_b": b,
                             "indicator_id": indicator_id, "difference": difference, "se": 0.04,
                             "ci_low": difference - 0.08, "ci_high": difference + 0.08,
                             "statistic": difference / 0.04,
                             "p_value": 0.2, "p_adjusted": 0.3, "n_a": 150, "n_b": 150, "suppressed": False})
    scores = [{"community_id": c, "pillar": pillar, "score": score, "rank": rank, "score_low": score - 0.1,
               "score_high": score + 0.1, "rank_low": max(rank - 1, 1), "rank_high": min(rank + 1, 3)}
              for c, score, rank in (("djougou", 0.7, 1), ("parakou", 0.5, 2), ("lokossa", 0.3, 3))
              for pillar in ("economic", "social", "psychosocial", "composite")]
    settings = Settings.model_validate(OTHER_SETTINGS)
    return ReportData(
        settings=settings,
        round_name="baseline",
        stamp={"retour_version": "0.1.0", "config_hash": "fedcba654321", "data_hash": "ba9876543210",
               "round": "baseline"},
        communities=parse_communities(OTHER_COMMUNITIES, levels=[x.id for x in settings.places.admin_levels]),
        indicators=indicator_frame(records),
        estimates=pl.DataFrame(rows),
        gaps=pl.DataFrame(gap_rows),
        index_scores=pl.DataFrame(scores),
        index_spec={"normalisation": "minmax", "aggregation": "arithmetic", "composite": "arithmetic"},
        generated_on=dt.date(2024, 3, 4),
        groups=OTHER_GROUPS,
        fiche_blocks=blocks,
    )
