"""Build the senegal-2025 example study's questionnaire (XLSForm) and its synthetic exports.

The second shipped example differs from mali-2018 in every setting a study decides: four communes of the
Tambacounda and Kolda regions, adults aged 18-45, returnees = "lived abroad for more than six months",
its own question names, groups and fact-sheet blocks, no strata. Its data are synthetic and made here
with a seeded numpy generator (not `retour synth`): every row follows the questionnaire's relevance,
required answers and constraints, and the midterm round moves a few figures plausibly.

    .venv/bin/python scripts/build_example_senegal.py          # writes instrument.xlsx and data/*.csv
    .venv/bin/python scripts/build_example_senegal.py OUTDIR   # writes them into OUTDIR instead

`tests/test_example_senegal.py` checks that the committed workbook and exports are what this script
writes, so edit the tables here and re-run; never edit the workbook or the CSV files by hand.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import sys
from pathlib import Path

import numpy as np
import openpyxl
from openpyxl.styles import Font

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "src" / "retour" / "examples" / "senegal-2025"
INSTRUMENT = "instrument.xlsx"
SEED = 20250210

FR = "Français (fr)"
EN = "English (en)"
SURVEY_COLUMNS = (
    "type",
    "name",
    f"label::{FR}",
    f"label::{EN}",
    f"hint::{FR}",
    f"hint::{EN}",
    "required",
    "relevant",
    "constraint",
    f"constraint_message::{FR}",
    f"constraint_message::{EN}",
    "appearance",
    "retour_identifying",
)
CHOICE_COLUMNS = ("list_name", "name", f"label::{FR}", f"label::{EN}")
SETTINGS = {
    "form_title": "Retour et vie locale – Tambacounda et Kolda 2025 / Return and local life – Tambacounda "
    "and Kolda 2025",
    "form_id": "retour_senegal_2025",
    "version": "2025021001",
    "default_language": FR,
}

ABROAD = "${mois_etranger} >= 6"
WORKS = "${travail_remunere} = 'yes'"


def q(
    type_: str,
    name: str,
    fr: str,
    en: str,
    *,
    hint: tuple[str, str] | None = None,
    required: bool = True,
    relevant: str = "",
    constraint: str = "",
    message: tuple[str, str] | None = None,
    appearance: str = "",
    identifying: str = "",
) -> dict[str, str]:
    """One survey row; questions are required unless `required=False`."""
    return {
        "type": type_,
        "name": name,
        f"label::{FR}": fr,
        f"label::{EN}": en,
        f"hint::{FR}": hint[0] if hint else "",
        f"hint::{EN}": hint[1] if hint else "",
        "required": "yes" if required and not type_.startswith("note") else "",
        "relevant": relevant,
        "constraint": constraint,
        f"constraint_message::{FR}": message[0] if message else "",
        f"constraint_message::{EN}": message[1] if message else "",
        "appearance": appearance,
        "retour_identifying": identifying,
    }


def group(name: str, fr: str, en: str, rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """A `begin group` ... `end group` block: exports name its fields `group/question`."""
    return [
        {"type": "begin group", "name": name, f"label::{FR}": fr, f"label::{EN}": en},
        *rows,
        {"type": "end group", "name": name},
    ]


def rating(name: str, fr: str, en: str) -> dict[str, str]:
    return q(
        "select_one echelle",
        name,
        f"Quelle note donnez-vous {fr} dans votre commune ?",
        f"How do you rate {en} in your municipality?",
    )


def how_often(name: str, fr: str, en: str) -> dict[str, str]:
    return q(
        "select_one frequence", name, f"Ces deux dernières semaines, {fr}", f"In the past two weeks, {en}"
    )


SURVEY: list[dict[str, str]] = [
    *group(
        "identification",
        "Identification de l'entretien",
        "Interview identification",
        [
            q("date", "date_entretien", "Date de l'entretien", "Interview date"),
            q("select_one communes", "commune", "Commune", "Municipality"),
            q("text", "grappe", "Code du district de recensement (grappe)", "Census district code (cluster)"),
            q(
                "decimal",
                "poids",
                "Poids de sondage",
                "Sampling weight",
                constraint=". > 0",
                message=("Le poids doit être positif.", "The weight must be positive."),
            ),
            q("text", "code_dossier", "Numéro de dossier", "Case number", identifying="hash"),
            q(
                "text",
                "nom_repondant",
                "Nom de la personne",
                "Respondent's name",
                required=False,
                identifying="drop",
            ),
            q(
                "text",
                "telephone",
                "Téléphone",
                "Phone number",
                required=False,
                appearance="numbers",
                identifying="drop",
            ),
            q(
                "select_one yes_no",
                "accord",
                "La personne accepte-t-elle l'entretien après la lecture du consentement ?",
                "Does the person agree to the interview after hearing the consent statement?",
                constraint=". = 'yes'",
                message=(
                    "Sans accord, l'entretien s'arrête ici.",
                    "Without agreement, the interview stops here.",
                ),
            ),
            q(
                "select_one yes_no",
                "beneficiaire",
                "La personne est-elle inscrite au programme d'appui ?",
                "Is the person enrolled in the support programme?",
            ),
        ],
    ),
    *group(
        "profil",
        "Profil",
        "Profile",
        [
            q("select_one genre", "genre", "Genre", "Gender"),
            q(
                "integer",
                "age_ans",
                "Âge en années révolues",
                "Age in completed years",
                constraint=". >= 18 and . <= 45",
                message=("L'enquête concerne les 18-45 ans.", "The survey covers people aged 18 to 45."),
            ),
            q(
                "select_one yes_no",
                "chef_menage",
                "Êtes-vous le ou la chef de votre ménage ?",
                "Are you the head of your household?",
            ),
            q(
                "integer",
                "taille_menage",
                "Combien de personnes vivent dans votre ménage ?",
                "How many people live in your household?",
                constraint=". >= 1 and . <= 60",
                message=("Entre 1 et 60 personnes.", "Between 1 and 60 people."),
            ),
        ],
    ),
    *group(
        "parcours",
        "Parcours migratoire",
        "Migration history",
        [
            q(
                "integer",
                "mois_etranger",
                "Au total, combien de mois avez-vous vécu hors du Sénégal ?",
                "In total, how many months have you lived outside Senegal?",
                hint=("0 si jamais.", "0 if never."),
                constraint=". >= 0 and . <= 360",
                message=("Entre 0 et 360 mois.", "Between 0 and 360 months."),
            ),
            q(
                "select_one pays",
                "pays_sejour",
                "Dans quel pays avez-vous vécu le plus longtemps ?",
                "In which country did you live longest?",
                relevant="${mois_etranger} > 0",
            ),
            q(
                "integer",
                "annee_retour",
                "En quelle année êtes-vous revenu(e) ?",
                "In which year did you come back?",
                relevant=ABROAD,
                constraint=". >= 1990 and . <= 2026",
                message=("Une année entre 1990 et 2026.", "A year between 1990 and 2026."),
            ),
            q(
                "select_one yes_no",
                "retour_choisi",
                "Ce retour était-il votre choix ?",
                "Was coming back your choice?",
                relevant=ABROAD,
            ),
            q(
                "select_one yes_no",
                "stigmatisation",
                "Depuis votre retour, vous a-t-on reproché votre retour ?",
                "Since you came back, have people held your return against you?",
                relevant=ABROAD,
            ),
        ],
    ),
    *group(
        "emploi",
        "Travail et revenus",
        "Work and income",
        [
            q(
                "select_one yes_no",
                "travail_remunere",
                "Ces 7 derniers jours, avez-vous travaillé contre un revenu ?",
                "In the past 7 days, did you work for an income?",
            ),
            q(
                "select_one secteurs",
                "secteur_activite",
                "Dans quel secteur ?",
                "In which sector?",
                relevant=WORKS,
            ),
            q(
                "integer",
                "revenu_mensuel_fcfa",
                "Combien gagnez-vous par mois (francs CFA) ?",
                "How much do you earn per month (CFA francs)?",
                relevant=WORKS,
                constraint=". >= 0 and . <= 2000000",
                message=("Entre 0 et 2 000 000 FCFA.", "Between 0 and 2,000,000 CFA francs."),
            ),
            q(
                "select_one yes_no",
                "formation_pro",
                "Avez-vous suivi une formation professionnelle ?",
                "Have you had vocational training?",
            ),
            q(
                "select_one yes_no",
                "epargne_tontine",
                "Épargnez-vous dans une tontine ou une mutuelle ?",
                "Do you save in a tontine or a savings cooperative?",
            ),
            q(
                "select_one yes_no",
                "acces_credit",
                "Pourriez-vous obtenir un crédit pour une activité ?",
                "Could you get credit for an activity?",
            ),
            q(
                "select_one repas",
                "repas_reduits",
                "Ce dernier mois, votre ménage a-t-il dû sauter des repas ?",
                "In the past month, did your household have to skip meals?",
            ),
            q(
                "select_one yes_no",
                "transferts_recus",
                "Votre ménage reçoit-il de l'argent de l'étranger ?",
                "Does your household receive money from abroad?",
            ),
        ],
    ),
    *group(
        "services",
        "Services de la commune",
        "Municipal services",
        [
            rating("note_eau", "à l'accès à l'eau potable", "access to drinking water"),
            rating("note_sante", "au poste ou centre de santé", "the health post or centre"),
            rating("note_ecole", "aux écoles", "the schools"),
            rating("note_etat_civil", "à l'état civil", "the civil registry"),
            q(
                "select_one yes_no",
                "piece_identite",
                "Avez-vous une carte nationale d'identité valide ?",
                "Do you hold a valid national identity card?",
            ),
        ],
    ),
    *group(
        "liens_sociaux",
        "Liens sociaux",
        "Social ties",
        [
            q(
                "select_one yes_no",
                "membre_association",
                "Êtes-vous membre d'une association, d'un GIE ou d'un groupement ?",
                "Are you a member of an association, an economic interest group or a collective?",
            ),
            q(
                "select_one yes_no",
                "aide_voisins",
                "En cas de coup dur, pourriez-vous compter sur vos voisins ?",
                "If things went wrong, could you count on your neighbours?",
            ),
            q(
                "select_one yes_no",
                "conflit_famille",
                "Cette année, y a-t-il eu des tensions graves dans votre famille ?",
                "This year, has there been serious tension in your family?",
            ),
            q(
                "select_one accord",
                "se_sent_accepte",
                "Vous sentez-vous accepté(e) dans votre commune ?",
                "Do you feel accepted in your municipality?",
            ),
        ],
    ),
    *group(
        "bien_etre",
        "Bien-être",
        "Well-being",
        [
            how_often(
                "sommeil_trouble",
                "avez-vous mal dormi à cause de vos soucis ?",
                "how often did worries keep you from sleeping?",
            ),
            how_often("sentiment_utile", "vous êtes-vous senti(e) utile ?", "how often did you feel useful?"),
            q(
                "select_one projet_depart",
                "souhaite_repartir",
                "Pensez-vous partir vivre à l'étranger ?",
                "Are you thinking of going to live abroad?",
            ),
        ],
    ),
    *group(
        "information",
        "Information",
        "Information",
        [
            q(
                "select_multiple canaux",
                "canaux_info",
                "Par quels moyens recevez-vous les nouvelles ?",
                "Through which channels do you get news?",
            ),
        ],
    ),
]

YES_NO = [("yes", "Oui", "Yes"), ("no", "Non", "No")]
CHOICES: dict[str, list[tuple[str, str, str]]] = {
    "yes_no": YES_NO,
    "communes": [
        ("goudiry", "Goudiry", "Goudiry"),
        ("bakel", "Bakel", "Bakel"),
        ("kounkane", "Kounkané", "Kounkané"),
        ("velingara", "Vélingara", "Vélingara"),
    ],
    "genre": [("f", "Femme", "Woman"), ("m", "Homme", "Man")],
    "pays": [
        ("mauritanie", "Mauritanie", "Mauritania"),
        ("gambie", "Gambie", "The Gambia"),
        ("afrique_ouest", "Autre pays d'Afrique de l'Ouest", "Another West African country"),
        ("cote_divoire", "Côte d'Ivoire", "Côte d'Ivoire"),
        ("gabon", "Gabon", "Gabon"),
        ("maroc", "Maroc", "Morocco"),
        ("libye", "Libye", "Libya"),
        ("espagne", "Espagne", "Spain"),
        ("france", "France", "France"),
        ("italie", "Italie", "Italy"),
        ("autre", "Autre", "Other"),
    ],
    "secteurs": [
        ("agriculture", "Agriculture", "Farming"),
        ("elevage", "Élevage", "Livestock"),
        ("commerce", "Commerce", "Trade"),
        ("artisanat", "Artisanat", "Crafts"),
        ("transport", "Transport", "Transport"),
        ("services", "Services", "Services"),
        ("orpaillage", "Orpaillage", "Gold panning"),
    ],
    "repas": [
        ("jamais", "Jamais", "Never"),
        ("parfois", "Parfois", "Sometimes"),
        ("souvent", "Souvent", "Often"),
    ],
    "echelle": [
        ("tres_mauvais", "Très mauvais", "Very poor"),
        ("mauvais", "Mauvais", "Poor"),
        ("moyen", "Moyen", "Fair"),
        ("bon", "Bon", "Good"),
        ("tres_bon", "Très bon", "Very good"),
    ],
    "accord": [
        ("pas_du_tout", "Pas du tout", "Not at all"),
        ("plutot_non", "Plutôt non", "Rather not"),
        ("plutot_oui", "Plutôt oui", "Rather yes"),
        ("tout_a_fait", "Tout à fait", "Completely"),
    ],
    "frequence": [
        ("jamais", "Jamais", "Never"),
        ("parfois", "Parfois", "Sometimes"),
        ("souvent", "Souvent", "Often"),
        ("toujours", "Tout le temps", "All the time"),
    ],
    "projet_depart": [("non", "Non", "No"), ("peut_etre", "Peut-être", "Maybe"), ("oui", "Oui", "Yes")],
    "canaux": [
        ("radio", "Radio communautaire", "Community radio"),
        ("television", "Télévision", "Television"),
        ("whatsapp", "WhatsApp", "WhatsApp"),
        ("facebook", "Facebook", "Facebook"),
        ("mosquee", "Mosquée ou église", "Mosque or church"),
        ("marche", "Marché hebdomadaire", "Weekly market"),
        ("famille", "Famille et voisins", "Family and neighbours"),
    ],
}


def workbook_rows() -> dict[str, list[list[str]]]:
    """Every sheet as a header row followed by data rows (empty cells as '')."""
    survey = [list(SURVEY_COLUMNS)] + [[row.get(column, "") for column in SURVEY_COLUMNS] for row in SURVEY]
    choices = [list(CHOICE_COLUMNS)] + [
        [list_name, name, fr, en] for list_name, options in CHOICES.items() for name, fr, en in options
    ]
    return {"survey": survey, "choices": choices, "settings": [list(SETTINGS), list(SETTINGS.values())]}


def write_workbook(path: Path) -> Path:
    """Write the questionnaire to `path` as an XLSX workbook."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in workbook_rows().items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append([value if value != "" else None for value in row])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path


# --- synthetic respondents -------------------------------------------------------------------------------

# Per commune: cluster code prefix, assumed population aged 18-45 (for the weights), share who lived abroad
# six months or more, and how each commune leans (logit shifts on a few answers). The figures are invented.
COMMUNES = {
    "goudiry": {
        "prefix": "GDY",
        "population": 3200,
        "abroad": 0.30,
        "lean": {
            "work": -0.3,
            "tontine": 0.4,
            "meals": 0.5,
            "services": -0.4,
            "id": -0.3,
            "association": 0.5,
            "sleep": 0.1,
            "accepted": 0.3,
        },
    },
    "bakel": {
        "prefix": "BKL",
        "population": 6100,
        "abroad": 0.46,
        "lean": {
            "work": 0.2,
            "tontine": 0.2,
            "meals": -0.3,
            "services": 0.3,
            "id": 0.4,
            "association": 0.3,
            "sleep": 0.4,
            "accepted": -0.2,
        },
    },
    "kounkane": {
        "prefix": "KKN",
        "population": 4800,
        "abroad": 0.24,
        "lean": {
            "work": 0.4,
            "tontine": -0.3,
            "meals": 0.2,
            "services": -0.6,
            "id": -0.6,
            "association": -0.2,
            "sleep": -0.2,
            "accepted": 0.4,
        },
    },
    "velingara": {
        "prefix": "VLG",
        "population": 11800,
        "abroad": 0.28,
        "lean": {
            "work": 0.0,
            "tontine": 0.0,
            "meals": 0.0,
            "services": 0.4,
            "id": 0.3,
            "association": -0.4,
            "sleep": 0.0,
            "accepted": 0.0,
        },
    },
}
CLUSTERS_PER_COMMUNE = 8
ROUNDS = {
    # round -> (first fieldwork day, respondents per commune, case-id letter, logit shifts by answer)
    "baseline": (dt.date(2025, 2, 10), 100, "B", {}),
    "midterm": (
        dt.date(2026, 2, 9),
        100,
        "M",
        {"work": 0.35, "tontine": 0.3, "sleep": -0.25, "id": 0.3, "programme": 0.5},
    ),
}
DESTINATIONS = {  # where those who lived abroad went, per region (weights over CHOICES["pays"])
    "tambacounda": [14, 3, 10, 6, 5, 4, 2, 16, 30, 6, 4],
    "kolda": [4, 30, 5, 5, 6, 6, 8, 18, 6, 10, 2],
}
REGION = {"goudiry": "tambacounda", "bakel": "tambacounda", "kounkane": "kolda", "velingara": "kolda"}


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _yes(rng: np.random.Generator, logit: np.ndarray) -> np.ndarray:
    return np.where(rng.random(logit.shape) < _expit(logit), "yes", "no")


def _ordinal(rng: np.random.Generator, names: list[str], score: np.ndarray, cuts: list[float]) -> np.ndarray:
    """One of `names` per respondent: a logistic latent score cut at `cuts` (len(names) - 1 of them)."""
    latent = score + rng.logistic(size=score.shape)
    return np.asarray(names)[np.searchsorted(np.asarray(cuts), latent)]


def _uuids(rng: np.random.Generator, n: int) -> list[str]:
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexes = [bytes(row).hex() for row in raw]
    return [f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}" for h in hexes]


def _commune_rows(rng: np.random.Generator, commune: str, round_name: str, first: int) -> list[dict]:
    start, size, letter, shift = ROUNDS[round_name]
    settings = COMMUNES[commune]
    lean = {
        **{
            key: 0.0
            for key in ("work", "tontine", "meals", "services", "id", "association", "sleep", "accepted")
        },
        **settings["lean"],
    }

    def push(key: str) -> float:  # this round's change for an answer, on top of the commune's lean
        return lean[key] + shift.get(key, 0.0)

    cluster = np.sort(rng.integers(0, CLUSTERS_PER_COMMUNE, size))
    cluster_effect = rng.normal(0.0, 0.25, CLUSTERS_PER_COMMUNE)[cluster]
    weight_factor = rng.uniform(0.8, 1.25, CLUSTERS_PER_COMMUNE)[cluster]
    woman = rng.random(size) < 0.53
    age = 18 + np.floor(28 * rng.beta(1.3, 1.7, size)).astype(int)
    head = rng.random(size) < _expit(-2.4 + 1.9 * ~woman + 0.09 * (age - 18))
    abroad = rng.random(size) < np.clip(settings["abroad"] * np.where(woman, 0.55, 1.45), 0, 0.9)
    short_stay = ~abroad & (rng.random(size) < 0.08)
    months = np.where(
        abroad, 6 + rng.geometric(1 / 30, size), np.where(short_stay, rng.integers(1, 6, size), 0)
    )
    months = np.minimum(months, 360)
    enrolled = rng.random(size) < np.where(abroad, 0.45, 0.15)
    programme = shift.get("programme", 0.0) * enrolled  # the programme's effect on those enrolled
    base = cluster_effect + programme

    works = _yes(rng, 0.1 + push("work") + 0.7 * ~woman + 0.4 * head - 0.3 * abroad + base)
    income = (
        np.round(np.exp(rng.normal(np.log(55_000) + 0.3 * ~woman + 0.25 * abroad, 0.6, size)) / 500) * 500
    )
    tontine = _yes(rng, -0.4 + push("tontine") + 0.9 * woman + base)
    meals = _ordinal(
        rng, ["jamais", "parfois", "souvent"], push("meals") - 0.3 * head - cluster_effect, [0.2, 1.9]
    )
    services = {
        name: _ordinal(
            rng,
            [c[0] for c in CHOICES["echelle"]],
            push("services") + offset + cluster_effect,
            [-2.2, -0.9, 0.4, 2.0],
        )
        for name, offset in (
            ("note_eau", -0.2),
            ("note_sante", 0.1),
            ("note_ecole", 0.5),
            ("note_etat_civil", -0.1),
        )
    }
    sleep = _ordinal(
        rng, [c[0] for c in CHOICES["frequence"]], push("sleep") + 0.6 * abroad - programme, [-0.3, 1.4, 2.8]
    )
    useful = _ordinal(
        rng, [c[0] for c in CHOICES["frequence"]], 0.5 * head - 0.3 * abroad + base, [-1.8, -0.2, 1.6]
    )
    accepted = _ordinal(
        rng, [c[0] for c in CHOICES["accord"]], push("accepted") - 0.5 * abroad + base, [-2.4, -1.0, 0.9]
    )
    leaving = _ordinal(
        rng,
        [c[0] for c in CHOICES["projet_depart"]],
        0.5 * abroad + 0.4 * ~woman - 0.03 * (age - 18) - 0.6 * programme,
        [0.4, 1.6],
    )
    channels = [c[0] for c in CHOICES["canaux"]]
    channel_share = np.array([0.7, 0.35, 0.55, 0.3, 0.25, 0.2, 0.6])
    ticked = rng.random((size, len(channels))) < channel_share
    ticked[~ticked.any(axis=1), 0] = True  # everyone hears the news somewhere: the radio at least
    region = REGION[commune]
    destinations = rng.choice(
        len(CHOICES["pays"]), size, p=np.array(DESTINATIONS[region]) / sum(DESTINATIONS[region])
    )
    sectors = rng.choice(len(CHOICES["secteurs"]), size, p=[0.34, 0.14, 0.22, 0.1, 0.07, 0.09, 0.04])
    answers = {
        "genre": np.where(woman, "f", "m"),
        "chef_menage": np.where(head, "yes", "no"),
        "taille_menage": np.clip(1 + rng.poisson(8, size), 1, 60),
        "retour_choisi": _yes(rng, np.full(size, 0.6)),
        "stigmatisation": _yes(rng, -1.2 - push("accepted") + cluster_effect),
        "formation_pro": _yes(rng, -1.1 + 0.4 * abroad + base),
        "acces_credit": _yes(rng, -0.9 + 0.4 * head + base),
        "transferts_recus": _yes(rng, -0.8 + 1.2 * (settings["abroad"] > 0.4) + 0.3 * abroad),
        "piece_identite": _yes(rng, 1.2 + push("id") + 0.4 * ~woman + 0.05 * (age - 18) + cluster_effect),
        "membre_association": _yes(rng, -0.5 + push("association") + 0.5 * woman + base),
        "aide_voisins": _yes(rng, 0.9 - 0.4 * abroad + base),
        "conflit_famille": _yes(rng, -1.6 + 0.5 * abroad - cluster_effect),
    }
    rows = []
    for i in range(size):
        number = first + i
        return_year = int(min(start.year, 2024 - rng.integers(0, 9) + (round_name == "midterm")))
        row = {
            "date_entretien": (
                start + dt.timedelta(days=int(cluster[i]) * 2 + int(rng.integers(0, 2)))
            ).isoformat(),
            "commune": commune,
            "grappe": f"{settings['prefix']}-{cluster[i] + 1:02d}",
            "poids": f"{settings['population'] / size * weight_factor[i]:.2f}",
            "code_dossier": f"SN25-{letter}-{number:04d}",
            "nom_repondant": "",
            "telephone": "",
            "accord": "yes",
            "beneficiaire": "yes" if enrolled[i] else "no",
            "genre": answers["genre"][i],
            "age_ans": str(age[i]),
            "chef_menage": answers["chef_menage"][i],
            "taille_menage": str(answers["taille_menage"][i]),
            "mois_etranger": str(months[i]),
            "pays_sejour": CHOICES["pays"][destinations[i]][0] if months[i] > 0 else "",
            "annee_retour": str(return_year) if abroad[i] else "",
            "retour_choisi": answers["retour_choisi"][i] if abroad[i] else "",
            "stigmatisation": answers["stigmatisation"][i] if abroad[i] else "",
            "travail_remunere": works[i],
            "secteur_activite": CHOICES["secteurs"][sectors[i]][0] if works[i] == "yes" else "",
            "revenu_mensuel_fcfa": str(int(min(income[i], 2_000_000))) if works[i] == "yes" else "",
            "formation_pro": answers["formation_pro"][i],
            "epargne_tontine": tontine[i],
            "acces_credit": answers["acces_credit"][i],
            "repas_reduits": meals[i],
            "transferts_recus": answers["transferts_recus"][i],
            **{name: values[i] for name, values in services.items()},
            "piece_identite": answers["piece_identite"][i],
            "membre_association": answers["membre_association"][i],
            "aide_voisins": answers["aide_voisins"][i],
            "conflit_famille": answers["conflit_famille"][i],
            "se_sent_accepte": accepted[i],
            "sommeil_trouble": sleep[i],
            "sentiment_utile": useful[i],
            "souhaite_repartir": leaving[i],
            "canaux_info": " ".join(name for name, tick in zip(channels, ticked[i], strict=True) if tick),
        }
        rows.append(row)
    return rows


def export_rows(round_name: str) -> list[dict[str, str]]:
    """One round's synthetic submissions, keyed by export header (`group/question`, then Kobo metadata)."""
    rng = np.random.default_rng([SEED, list(ROUNDS).index(round_name)])
    answers: list[dict] = []
    for commune in COMMUNES:
        answers += _commune_rows(rng, commune, round_name, len(answers) + 1)
    paths = _field_paths()
    uuids = _uuids(rng, len(answers))
    rows = []
    for index, (row, uuid) in enumerate(zip(answers, uuids, strict=True), start=1):
        day = dt.date.fromisoformat(row["date_entretien"])
        submitted = dt.datetime.combine(day, dt.time(17, 0)) + dt.timedelta(minutes=int(rng.integers(0, 240)))
        record = {paths[name]: value for name, value in row.items()}
        record.update(
            {
                "_id": str(index),
                "_uuid": uuid,
                "_submission_time": submitted.isoformat(),
                "_index": str(index),
            }
        )
        rows.append(record)
    return rows


def _field_paths() -> dict[str, str]:
    """Question name -> export header (`group/question`)."""
    paths, groups = {}, []
    for row in SURVEY:
        if row["type"] == "begin group":
            groups.append(row["name"])
        elif row["type"] == "end group":
            groups.pop()
        elif not row["type"].startswith("note"):
            paths[row["name"]] = "/".join([*groups, row["name"]])
    return paths


def export_csv(round_name: str) -> str:
    """One round's export as Kobo CSV text (comma-separated, UTF-8)."""
    rows = export_rows(round_name)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def export_name(round_name: str) -> str:
    return f"{round_name}-synthetic.csv"


def write_all(target: Path) -> list[Path]:
    """Write the workbook and every round's export under `target`; return the files written."""
    written = [write_workbook(target / INSTRUMENT)]
    (target / "data").mkdir(parents=True, exist_ok=True)
    for round_name in ROUNDS:
        path = target / "data" / export_name(round_name)
        path.write_text(export_csv(round_name), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for written in write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else TARGET):
        print(f"wrote {written}")
