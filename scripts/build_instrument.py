"""Build the example study's youth questionnaire (XLSForm) from the tables in this script.

The questionnaire of the mali-2018 example study is written here as Python data: one `q(...)` per
question, `group(...)` for XLSForm groups, and the choice lists in `CHOICES`. Running the script writes
`src/retour/examples/mali-2018/instrument.xlsx`; `tests/test_schema.py` checks that the committed workbook
is what this script produces, so edit the tables here and re-run, never the workbook by hand.

    .venv/bin/python scripts/build_instrument.py            # writes the workbook
    .venv/bin/python scripts/build_instrument.py OUT.xlsx   # writes it elsewhere

Respondents are young people aged 15-34 in seven return communities. The questions cover every indicator
of the study's community fact sheets and every input of the economic, social and psychosocial pillars.
"""

from __future__ import annotations

import sys
from pathlib import Path

import openpyxl
from openpyxl.styles import Font

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "src" / "retour" / "examples" / "mali-2018" / "instrument.xlsx"

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
    "calculation",
    "appearance",
    "retour_identifying",
)
CHOICE_COLUMNS = ("list_name", "name", f"label::{FR}", f"label::{EN}")
SETTINGS = {
    "form_title": "Jeunes et réintégration – Mali 2018 / Youth and reintegration – Mali 2018",
    "form_id": "retour_mali_2018_youth",
    "version": "2018030501",
    "default_language": FR,
}

WORKING = "${paid_job} = 'yes' or ${income_activity} = 'yes'"
RETURNEE = "${lived_abroad_3m} = 'yes'"
NOT_NONE_WITH_OTHERS = "not(selected(., 'none') and count-selected(.) > 1)"
NONE_ALONE = (
    "« Aucune » ne peut pas être cochée avec une autre réponse.",
    "'None' cannot be ticked together with another answer.",
)


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
    calculation: str = "",
    appearance: str = "",
    identifying: str = "",
) -> dict[str, str]:
    """One survey row. Questions are required unless `required=False`."""
    answers = not type_.startswith(("note", "calculate"))
    return {
        "type": type_,
        "name": name,
        f"label::{FR}": fr,
        f"label::{EN}": en,
        f"hint::{FR}": hint[0] if hint else "",
        f"hint::{EN}": hint[1] if hint else "",
        "required": "yes" if required and answers else "",
        "relevant": relevant,
        "constraint": constraint,
        f"constraint_message::{FR}": message[0] if message else "",
        f"constraint_message::{EN}": message[1] if message else "",
        "calculation": calculation,
        "appearance": appearance,
        "retour_identifying": identifying,
    }


def group(name: str, fr: str, en: str, rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """A `begin group` ... `end group` block, so exports name fields `group/question`."""
    begin = {"type": "begin group", "name": name, f"label::{FR}": fr, f"label::{EN}": en}
    return [begin, *rows, {"type": "end group", "name": name}]


def satisfaction(name: str, fr: str, en: str) -> dict[str, str]:
    return q(
        "select_one satisfaction",
        name,
        f"Êtes-vous satisfait(e) de l'accès {fr} dans votre communauté ?",
        f"How satisfied are you with access to {en} in your community?",
    )


def emotion(name: str, fr: str, en: str) -> dict[str, str]:
    return q(
        "select_one frequency",
        name,
        f"Au cours des deux dernières semaines, avez-vous ressenti {fr} ?",
        f"In the past two weeks, how often did you feel {en}?",
    )


SURVEY: list[dict[str, str]] = [
    *group(
        "design",
        "Identification de l'entretien",
        "Interview identification",
        [
            q("today", "interview_date", "Date de l'entretien", "Interview date", required=False),
            q("select_one community", "community", "Communauté", "Community"),
            q("calculate", "stratum", "Strate", "Stratum", calculation="${community}"),
            q(
                "text",
                "cluster",
                "Code de la grappe (zone de dénombrement)",
                "Cluster code (enumeration area)",
                hint=("Code donné par le plan de sondage.", "Code given by the sampling plan."),
            ),
            q(
                "decimal",
                "weight",
                "Poids de sondage",
                "Sampling weight",
                constraint=". > 0",
                message=("Le poids doit être strictement positif.", "The weight must be greater than zero."),
                hint=(
                    "Rempli par le superviseur à partir du plan de sondage.",
                    "Filled in by the supervisor from the sampling plan.",
                ),
            ),
            q(
                "text",
                "case_id",
                "Numéro de dossier du répondant",
                "Respondent case number",
                identifying="hash",
            ),
            q(
                "text",
                "respondent_name",
                "Nom du répondant",
                "Respondent's name",
                required=False,
                identifying="drop",
            ),
            q(
                "text",
                "phone",
                "Numéro de téléphone (pour un suivi éventuel)",
                "Phone number (for possible follow-up)",
                required=False,
                appearance="numbers",
                identifying="drop",
            ),
            q(
                "geopoint",
                "gps",
                "Position GPS de l'entretien",
                "GPS position of the interview",
                required=False,
                identifying="coarsen",
            ),
            q(
                "select_one yes_no",
                "consent",
                "La personne accepte-t-elle de répondre, après lecture de la note de consentement ?",
                "Does the person agree to take part, after hearing the consent statement?",
                constraint=". = 'yes'",
                message=(
                    "Sans consentement, remerciez la personne et n'envoyez pas ce formulaire.",
                    "Without consent, thank the person and do not submit this form.",
                ),
            ),
        ],
    ),
    *group(
        "profile",
        "Profil du répondant",
        "Respondent profile",
        [
            q("select_one sex", "sex", "Sexe", "Sex"),
            q(
                "integer",
                "age",
                "Âge (années révolues)",
                "Age (completed years)",
                constraint=". >= 15 and . <= 34",
                message=(
                    "L'enquête concerne les jeunes de 15 à 34 ans.",
                    "The survey covers young people aged 15 to 34.",
                ),
            ),
            q("select_one marital", "marital_status", "Situation matrimoniale", "Marital status"),
            q(
                "integer",
                "household_size",
                "Nombre de personnes dans le ménage",
                "Number of people in the household",
                constraint=". >= 1 and . <= 80",
                message=("Entre 1 et 80 personnes.", "Between 1 and 80 people."),
            ),
            q(
                "select_one yes_no",
                "born_in_community",
                "Êtes-vous né(e) dans cette communauté ?",
                "Were you born in this community?",
            ),
        ],
    ),
    *group(
        "education",
        "Éducation",
        "Education",
        [
            q(
                "select_one school_status",
                "school_status",
                "Quelle est votre situation scolaire ?",
                "What is your schooling situation?",
            ),
            q(
                "select_one education_level",
                "education_level",
                "Quel est le plus haut niveau que vous avez atteint ?",
                "What is the highest level you reached?",
                relevant="${school_status} != 'never_attended'",
            ),
            q(
                "select_multiple dropout_reasons",
                "dropout_reasons",
                "Pourquoi avez-vous quitté l'école ?",
                "Why did you leave school?",
                relevant="${school_status} = 'left_early'",
            ),
        ],
    ),
    *group(
        "work",
        "Emploi, revenus et compétences",
        "Work, income and skills",
        [
            q(
                "select_one yes_no",
                "paid_job",
                "Au cours des 30 derniers jours, avez-vous eu un emploi rémunéré ?",
                "In the past 30 days, did you have a paid job?",
            ),
            q(
                "select_one yes_no",
                "income_activity",
                "Au cours des 30 derniers jours, avez-vous mené à votre compte une activité "
                "qui rapporte un revenu ?",
                "In the past 30 days, did you run an income-generating activity of your own?",
                hint=(
                    "Commerce, agriculture, élevage, artisanat, services…",
                    "Trade, farming, livestock, crafts, services…",
                ),
            ),
            q(
                "select_one activity_domain",
                "activity_domain",
                "Dans quel domaine est votre activité principale ?",
                "In which field is your main activity?",
                relevant=WORKING,
            ),
            q(
                "select_one work_status",
                "work_status",
                "Dans cette activité principale, vous êtes…",
                "In this main activity, you are…",
                relevant=WORKING,
            ),
            q(
                "integer",
                "monthly_income",
                "Combien gagnez-vous par mois, en francs CFA ?",
                "How much do you earn per month, in CFA francs?",
                relevant=WORKING,
                constraint=". >= 0",
                message=("Le revenu ne peut pas être négatif.", "Income cannot be negative."),
            ),
            q(
                "select_one yes_no",
                "seeking_job",
                "Cherchez-vous actuellement un emploi ?",
                "Are you currently looking for a job?",
            ),
            q(
                "select_multiple job_search",
                "job_search_methods",
                "Comment cherchez-vous du travail ?",
                "How do you look for work?",
                relevant="${seeking_job} = 'yes'",
            ),
            q(
                "select_multiple skills",
                "skills_held",
                "Quelles compétences professionnelles avez-vous ?",
                "Which work skills do you have?",
                constraint=NOT_NONE_WITH_OTHERS,
                message=NONE_ALONE,
            ),
            q(
                "select_multiple skills",
                "skills_wanted",
                "Quelles compétences aimeriez-vous acquérir ?",
                "Which skills would you like to acquire?",
                constraint=NOT_NONE_WITH_OTHERS,
                message=NONE_ALONE,
            ),
            q(
                "select_one yes_no",
                "interested_in_business",
                "Aimeriez-vous créer votre propre entreprise ?",
                "Would you like to start your own business?",
            ),
            q(
                "select_one yes_no",
                "owns_business",
                "Avez-vous déjà votre propre entreprise ?",
                "Do you already have your own business?",
            ),
            q(
                "select_multiple business_obstacles",
                "business_obstacles",
                "Qu'est-ce qui vous a empêché de créer une entreprise ?",
                "What has kept you from starting a business?",
                relevant="${owns_business} = 'no'",
            ),
        ],
    ),
    *group(
        "finance",
        "Emprunt, dettes et alimentation",
        "Borrowing, debt and food",
        [
            q(
                "select_one yes_no",
                "can_borrow",
                "En cas de besoin, pourriez-vous emprunter de l'argent ?",
                "If you needed to, could you borrow money?",
            ),
            q(
                "select_multiple borrow_sources",
                "borrow_sources",
                "Auprès de qui pourriez-vous emprunter ?",
                "Who could you borrow from?",
                relevant="${can_borrow} = 'yes'",
            ),
            q(
                "select_one yes_no",
                "has_debt",
                "Avez-vous des dettes en ce moment ?",
                "Do you have debts at present?",
            ),
            q(
                "select_one debt_level",
                "debt_level",
                "Comparé au revenu mensuel total de votre ménage, le montant de vos dettes est…",
                "Compared with your household's total monthly income, your debts are…",
                relevant="${has_debt} = 'yes'",
            ),
            q(
                "select_one yes_no",
                "has_savings",
                "Avez-vous de l'argent mis de côté (épargne, tontine) ?",
                "Do you have money set aside (savings, a tontine)?",
            ),
            q(
                "select_one yes_no",
                "reduced_food",
                "Au cours des 12 derniers mois, votre ménage a-t-il dû manger moins faute de moyens ?",
                "In the past 12 months, did your household have to eat less for lack of means?",
            ),
            q(
                "select_one food_frequency",
                "reduced_food_frequency",
                "À quelle fréquence ?",
                "How often?",
                relevant="${reduced_food} = 'yes'",
            ),
        ],
    ),
    *group(
        "services",
        "Accès aux services de base",
        "Access to basic services",
        [
            satisfaction("sat_education", "à l'éducation", "education"),
            satisfaction("sat_id_papers", "aux papiers d'identité", "identity papers"),
            satisfaction("sat_housing", "au logement", "housing"),
            satisfaction("sat_healthcare", "aux soins de santé", "health care"),
            satisfaction("sat_drinking_water", "à l'eau potable", "drinking water"),
            satisfaction("sat_justice_police", "à la justice et à la police", "justice and the police"),
            satisfaction("sat_electricity", "à l'électricité", "electricity"),
            q(
                "select_one water_source",
                "water_source",
                "D'où vient l'eau que boit votre ménage ?",
                "Where does your household's drinking water come from?",
            ),
            q(
                "select_one electricity_source",
                "electricity_source",
                "Quelle est la principale source d'électricité de votre logement ?",
                "What is the main source of electricity in your home?",
            ),
            q(
                "select_one housing_status",
                "housing_status",
                "Quel est votre statut de logement ?",
                "What is your housing situation?",
            ),
            q(
                "select_one yes_no",
                "has_id_document",
                "Avez-vous une carte d'identité ou un acte de naissance ?",
                "Do you have an identity card or a birth certificate?",
            ),
            q(
                "select_one yes_no",
                "could_turn_to_justice",
                "En cas de litige, pourriez-vous vous adresser à la police ou à la justice ?",
                "If you had a dispute, could you turn to the police or the courts?",
            ),
        ],
    ),
    *group(
        "health",
        "Santé",
        "Health",
        [
            q(
                "select_one yes_no",
                "illness_accident",
                "Au cours des 12 derniers mois, avez-vous eu une maladie ou un accident ?",
                "In the past 12 months, did you have an illness or an accident?",
            ),
            q(
                "select_one yes_no",
                "sought_care",
                "Avez-vous reçu des soins ?",
                "Did you receive care?",
                relevant="${illness_accident} = 'yes'",
            ),
            q(
                "select_one care_cost",
                "care_cost",
                "Avez-vous pu payer ces soins ?",
                "Could you pay for this care?",
                relevant="${sought_care} = 'yes'",
            ),
        ],
    ),
    *group(
        "wellbeing",
        "Bien-être et vie sociale",
        "Well-being and social life",
        [
            q(
                "note",
                "emotions_note",
                "Les questions suivantes portent sur ce que vous avez ressenti récemment.",
                "The next questions are about how you have felt recently.",
            ),
            emotion("emo_anger", "de la colère", "angry"),
            emotion("emo_fear", "de la peur", "afraid"),
            emotion("emo_loneliness", "de la solitude", "lonely"),
            emotion("emo_low_self_esteem", "un manque de confiance en vous", "low self-esteem"),
            emotion("emo_sadness", "de la tristesse", "sad"),
            q(
                "select_one yes_no",
                "wants_psych_support",
                "Aimeriez-vous bénéficier d'un soutien psychologique ?",
                "Would you like psychological support?",
            ),
            q(
                "select_one yes_no",
                "psych_support_access",
                "Si vous en aviez besoin, pourriez-vous obtenir un soutien psychosocial ?",
                "If you needed it, could you get psychosocial support?",
                hint=(
                    "Agent de santé, association, leader religieux…",
                    "Health worker, association, religious leader…",
                ),
            ),
            q(
                "select_one yes_no",
                "feels_discriminated",
                "Vous sentez-vous discriminé(e) dans votre communauté ?",
                "Do you feel discriminated against in your community?",
            ),
            q(
                "select_multiple discrimination_grounds",
                "discrimination_grounds",
                "Pour quelle(s) raison(s) ?",
                "On what grounds?",
                relevant="${feels_discriminated} = 'yes'",
            ),
            q(
                "select_one yes_no",
                "has_friends",
                "Avez-vous un groupe d'amis ?",
                "Do you have a group of friends?",
            ),
            q(
                "select_one yes_no",
                "has_support_network",
                "Avez-vous un réseau (personnes, associations) sur lequel compter en cas de difficulté ?",
                "Do you have a network (people, associations) you can count on in hard times?",
            ),
            q(
                "select_one yes_no",
                "community_participation",
                "Au cours des 12 derniers mois, avez-vous participé à la vie de la communauté ?",
                "In the past 12 months, did you take part in community life?",
                hint=(
                    "Réunions, travaux collectifs, associations, fêtes…",
                    "Meetings, collective work, associations, festivities…",
                ),
            ),
            q(
                "select_one safety",
                "feels_safe",
                "Vous sentez-vous en sécurité dans votre communauté ?",
                "How safe do you feel in your community?",
            ),
            q(
                "select_one trust",
                "trust_community",
                "Faites-vous confiance aux membres de votre communauté ?",
                "How much do you trust the members of your community?",
            ),
            q(
                "select_one outlook",
                "future_outlook",
                "Dans un an, pensez-vous que votre situation sera…",
                "A year from now, do you think your situation will be…",
            ),
            q(
                "select_one perception",
                "perception_returnees",
                "Comment les migrants de retour sont-ils perçus dans votre communauté ?",
                "How are return migrants seen in your community?",
            ),
        ],
    ),
    *group(
        "migration",
        "Migration",
        "Migration",
        [
            q(
                "select_one yes_no",
                "family_friends_abroad",
                "Avez-vous de la famille ou des amis à l'étranger ?",
                "Do you have family or friends abroad?",
            ),
            q(
                "select_one yes_no",
                "receives_remittances",
                "Recevez-vous de l'argent envoyé de l'étranger ?",
                "Do you receive money sent from abroad?",
            ),
            q(
                "select_one yes_no",
                "lived_abroad_3m",
                "Avez-vous déjà vécu plus de trois mois à l'étranger ?",
                "Have you ever lived abroad for more than three months?",
            ),
            q(
                "select_multiple countries",
                "countries_lived",
                "Dans quel(s) pays avez-vous vécu ?",
                "Which countries did you live in?",
                relevant=RETURNEE,
            ),
            q(
                "select_multiple leave_reasons",
                "reasons_left",
                "Pourquoi étiez-vous parti(e) ?",
                "Why had you left?",
                relevant=RETURNEE,
            ),
            q(
                "integer",
                "return_year",
                "En quelle année êtes-vous revenu(e) ?",
                "In what year did you come back?",
                relevant=RETURNEE,
                constraint=". >= 1970 and . <= 2030",
                message=("Année entre 1970 et 2030.", "A year between 1970 and 2030."),
            ),
            q(
                "select_one yes_no",
                "return_assisted_iom",
                "Votre retour a-t-il été organisé avec l'aide de l'OIM ?",
                "Was your return organised with IOM's help?",
                relevant=RETURNEE,
            ),
            q(
                "select_one yes_no",
                "return_voluntary",
                "Êtes-vous revenu(e) de votre plein gré ?",
                "Did you come back of your own free will?",
                relevant=RETURNEE,
            ),
            q(
                "select_multiple return_reasons",
                "return_reasons",
                "Pourquoi êtes-vous revenu(e) ?",
                "Why did you come back?",
                relevant=RETURNEE,
            ),
            q(
                "select_one desire_to_leave",
                "desire_to_leave",
                "Aujourd'hui, souhaitez-vous rester dans votre communauté ou partir ?",
                "Today, would you rather stay in your community or leave?",
            ),
            q(
                "select_multiple leave_reasons",
                "reasons_to_leave",
                "Pour quelles raisons pourriez-vous partir ?",
                "For what reasons might you leave?",
                relevant="${desire_to_leave} = 'leave' or ${desire_to_leave} = 'unsure'",
            ),
            q(
                "select_multiple stay_reasons",
                "reasons_to_stay",
                "Qu'est-ce qui vous retient ici ?",
                "What keeps you here?",
                relevant="${desire_to_leave} = 'stay' or ${desire_to_leave} = 'unsure'",
            ),
        ],
    ),
    *group(
        "communication",
        "Décisions et information",
        "Decisions and information",
        [
            q(
                "select_multiple decision_makers",
                "decision_makers",
                "Avant une décision importante, qui consultez-vous ?",
                "Before an important decision, whom do you consult?",
                constraint="not(selected(., 'nobody') and count-selected(.) > 1)",
                message=(
                    "« Personne » ne peut pas être coché avec une autre réponse.",
                    "'Nobody' cannot be ticked together with another answer.",
                ),
            ),
            q(
                "select_multiple info_sources",
                "info_sources",
                "Par quels moyens vous informez-vous ?",
                "How do you get information?",
            ),
            q(
                "select_one yes_no",
                "uses_social_media",
                "Utilisez-vous les réseaux sociaux ?",
                "Do you use social media?",
            ),
            q(
                "select_multiple platforms",
                "platforms",
                "Lesquels ?",
                "Which ones?",
                relevant="${uses_social_media} = 'yes'",
            ),
            q(
                "select_multiple social_media_purposes",
                "social_media_purposes",
                "À quoi vous servent les réseaux sociaux ?",
                "What do you use social media for?",
                relevant="${uses_social_media} = 'yes'",
            ),
            q(
                "select_one yes_no",
                "knows_legal_routes",
                "Connaissez-vous les voies légales pour partir travailler ou étudier à l'étranger ?",
                "Do you know the legal ways to go abroad to work or study?",
            ),
            q(
                "select_multiple institutions",
                "trusted_institutions",
                "Lesquels de ces acteurs jugez-vous honnêtes ?",
                "Which of these do you consider honest?",
                constraint=NOT_NONE_WITH_OTHERS,
                message=NONE_ALONE,
            ),
        ],
    ),
    # Programme status, for difference-in-differences between beneficiaries and the others (issue 3).
    *group(
        "programme",
        "Programme de réintégration",
        "Reintegration programme",
        [
            q(
                "select_one yes_no",
                "beneficiary",
                "Êtes-vous inscrit(e) ou retenu(e) pour un programme d'aide à la réintégration "
                "(OIM ou partenaire) ?",
                "Are you enrolled in, or selected for, a reintegration support programme (IOM or a partner)?",
                hint=(
                    "Vérifié sur la liste des bénéficiaires du programme.",
                    "Checked against the programme's list of beneficiaries.",
                ),
            ),
        ],
    ),
]

YES_NO = [("yes", "Oui", "Yes"), ("no", "Non", "No")]
CHOICES: dict[str, list[tuple[str, str, str]]] = {
    "yes_no": YES_NO,
    "community": [
        ("bafoulabe", "Bafoulabé", "Bafoulabé"),
        ("bamako_commune_iv", "Bamako Commune IV", "Bamako Commune IV"),
        ("kati", "Kati", "Kati"),
        ("kayes", "Kayes", "Kayes"),
        ("kita", "Kita", "Kita"),
        ("sikasso", "Sikasso", "Sikasso"),
        ("kirane", "Kirané (Yélimané)", "Kirané (Yélimané)"),
    ],
    "sex": [("female", "Femme", "Female"), ("male", "Homme", "Male")],
    "marital": [
        ("single", "Célibataire", "Single"),
        ("married", "Marié(e)", "Married"),
        ("divorced", "Divorcé(e) ou séparé(e)", "Divorced or separated"),
        ("widowed", "Veuf ou veuve", "Widowed"),
    ],
    "school_status": [
        ("never_attended", "N'est jamais allé(e) à l'école", "Never went to school"),
        ("in_school", "Encore à l'école", "Still in school"),
        ("completed", "A terminé ses études", "Finished school"),
        ("left_early", "A quitté l'école avant la fin", "Left school before the end"),
    ],
    "education_level": [
        ("koranic", "École coranique", "Koranic school"),
        ("primary", "Premier cycle fondamental", "Primary"),
        ("lower_secondary", "Second cycle fondamental", "Lower secondary"),
        ("upper_secondary", "Lycée", "Upper secondary (lycée)"),
        ("technical", "Enseignement technique ou professionnel", "Technical or vocational"),
        ("higher", "Supérieur", "Higher education"),
    ],
    "dropout_reasons": [
        ("work", "Pour travailler", "To work"),
        ("cost", "Coût des études", "Cost of schooling"),
        ("family_needs", "Besoins de la famille", "Family needs"),
        ("marriage", "Mariage", "Marriage"),
        ("distance", "École trop loin", "School too far"),
        ("failed_exams", "Échec aux examens", "Failed exams"),
        ("illness", "Maladie", "Illness"),
        ("insecurity", "Insécurité", "Insecurity"),
        ("lost_interest", "Manque d'intérêt", "Lost interest"),
        ("other", "Autre", "Other"),
    ],
    "activity_domain": [
        ("petty_trade", "Petit commerce", "Petty trade"),
        ("import_export", "Import/export", "Import/export"),
        ("wholesale", "Vente en gros", "Wholesale"),
        ("agriculture", "Agriculture", "Farming"),
        ("livestock", "Élevage", "Livestock"),
        ("fishing", "Pêche et pisciculture", "Fishing and fish farming"),
        ("construction", "Construction", "Construction"),
        ("mechanics", "Mécanique", "Mechanics"),
        ("catering", "Restauration", "Catering"),
        ("crafts", "Artisanat", "Crafts"),
        ("hairdressing", "Coiffure", "Hairdressing"),
        ("sewing", "Couture", "Sewing"),
        ("transport", "Transport", "Transport"),
        ("teaching", "Enseignement", "Teaching"),
        ("health", "Santé", "Health"),
        ("public_service", "Administration", "Public service"),
        ("other", "Autre", "Other"),
    ],
    "work_status": [
        ("public_employee", "Salarié(e) du secteur public", "Public-sector employee"),
        ("private_employee", "Salarié(e) du secteur privé", "Private-sector employee"),
        ("own_account", "À votre compte", "Self-employed"),
        ("family_helper", "Aide familial(e)", "Helping in a family business"),
        ("apprentice", "Apprenti(e)", "Apprentice"),
    ],
    "job_search": [
        ("family_friends", "Famille et amis", "Family and friends"),
        ("employment_agency", "Agence pour l'emploi (ANPE, APEJ)", "Employment agency (ANPE, APEJ)"),
        ("employers_direct", "Auprès des employeurs", "Directly with employers"),
        ("media_ads", "Annonces à la radio ou dans les journaux", "Radio or newspaper adverts"),
        ("internet", "Internet", "Internet"),
        ("other", "Autre", "Other"),
    ],
    "skills": [
        ("none", "Aucune", "None"),
        ("business", "Gestion d'entreprise", "Running a business"),
        ("teaching", "Enseignement", "Teaching"),
        ("retail", "Commerce de détail", "Retail"),
        ("hairdressing", "Coiffure", "Hairdressing"),
        ("sewing", "Couture", "Sewing"),
        ("agriculture", "Agriculture", "Farming"),
        ("livestock", "Élevage", "Livestock"),
        ("fishing", "Pêche", "Fishing"),
        ("mechanics", "Mécanique", "Mechanics"),
        ("construction", "Maçonnerie et construction", "Building"),
        ("carpentry", "Menuiserie", "Carpentry"),
        ("crafts", "Artisanat", "Crafts"),
        ("computing", "Informatique", "Computing"),
        ("driving", "Conduite", "Driving"),
        ("other", "Autre", "Other"),
    ],
    "business_obstacles": [
        ("lack_capital", "Manque de capital", "Lack of capital"),
        ("lack_skills", "Manque de qualifications", "Lack of qualifications"),
        ("lack_connections", "Manque de relations", "Lack of connections"),
        ("lack_ideas", "Manque d'idées", "Lack of ideas"),
        ("lack_market", "Pas assez de clients", "Not enough customers"),
        ("paperwork", "Démarches administratives", "Paperwork"),
        ("insecurity", "Insécurité", "Insecurity"),
        ("other", "Autre", "Other"),
    ],
    "borrow_sources": [
        ("family", "Famille", "Family"),
        ("friends", "Amis", "Friends"),
        ("tontine", "Tontine", "Savings group"),
        ("microfinance", "Microfinance", "Microfinance"),
        ("bank", "Banque", "Bank"),
        ("moneylender", "Prêteur privé", "Moneylender"),
        ("employer", "Employeur", "Employer"),
        ("other", "Autre", "Other"),
    ],
    "debt_level": [
        ("below", "Inférieur à ce revenu mensuel", "Less than that monthly income"),
        ("equal", "À peu près égal", "About the same"),
        ("above", "Supérieur à ce revenu mensuel", "More than that monthly income"),
    ],
    "food_frequency": [
        ("rarely", "Rarement", "Rarely"),
        ("sometimes", "Parfois", "Sometimes"),
        ("often", "Souvent", "Often"),
    ],
    "satisfaction": [
        ("very_dissatisfied", "Très insatisfait(e)", "Very dissatisfied"),
        ("dissatisfied", "Insatisfait(e)", "Dissatisfied"),
        ("neutral", "Ni satisfait(e) ni insatisfait(e)", "Neither satisfied nor dissatisfied"),
        ("satisfied", "Satisfait(e)", "Satisfied"),
        ("very_satisfied", "Très satisfait(e)", "Very satisfied"),
    ],
    "water_source": [
        ("piped_home", "Robinet dans le logement ou la cour", "Tap in the home or yard"),
        ("public_tap", "Borne-fontaine", "Public tap"),
        ("borehole", "Forage", "Borehole"),
        ("protected_well", "Puits protégé", "Protected well"),
        ("unprotected_well", "Puits non protégé", "Unprotected well"),
        ("surface_water", "Fleuve, mare ou marigot", "River, pond or stream"),
        ("vendor", "Revendeur", "Water seller"),
    ],
    "electricity_source": [
        ("national_grid", "Réseau national (EDM)", "National grid (EDM)"),
        ("solar", "Panneau solaire", "Solar panel"),
        ("generator", "Groupe électrogène", "Generator"),
        ("battery", "Batterie", "Battery"),
        ("none", "Aucune", "None"),
    ],
    "housing_status": [
        ("owner", "Propriétaire", "Owner"),
        ("family_home", "Maison familiale", "Family home"),
        ("tenant", "Locataire", "Tenant"),
        ("hosted", "Hébergé(e) gratuitement", "Hosted free of charge"),
        ("precarious", "Abri précaire", "Makeshift shelter"),
    ],
    "care_cost": [
        ("no_difficulty", "Oui, sans difficulté", "Yes, without difficulty"),
        ("some_difficulty", "Oui, avec difficulté", "Yes, with difficulty"),
        ("could_not_pay", "Non", "No"),
    ],
    "frequency": [
        ("never", "Jamais", "Never"),
        ("rarely", "Rarement", "Rarely"),
        ("sometimes", "Parfois", "Sometimes"),
        ("often", "Souvent", "Often"),
        ("always", "Tout le temps", "All the time"),
    ],
    "discrimination_grounds": [
        ("returnee_status", "Parce que je suis migrant(e) de retour", "Being a return migrant"),
        ("ethnicity", "Ethnie", "Ethnicity"),
        ("sex", "Sexe", "Sex"),
        ("age", "Âge", "Age"),
        ("religion", "Religion", "Religion"),
        ("wealth", "Pauvreté", "Poverty"),
        ("disability", "Handicap", "Disability"),
        ("other", "Autre", "Other"),
    ],
    "safety": [
        ("very_unsafe", "Pas du tout en sécurité", "Very unsafe"),
        ("unsafe", "Peu en sécurité", "Unsafe"),
        ("safe", "En sécurité", "Safe"),
        ("very_safe", "Tout à fait en sécurité", "Very safe"),
    ],
    "trust": [
        ("not_at_all", "Pas du tout", "Not at all"),
        ("a_little", "Un peu", "A little"),
        ("mostly", "Plutôt", "Mostly"),
        ("completely", "Tout à fait", "Completely"),
    ],
    "outlook": [
        ("better", "Meilleure", "Better"),
        ("same", "Pareille", "The same"),
        ("worse", "Pire", "Worse"),
    ],
    "perception": [
        ("positive", "Plutôt positivement", "Mostly positively"),
        ("neutral", "Ni positivement ni négativement", "Neither positively nor negatively"),
        ("negative", "Plutôt négativement", "Mostly negatively"),
    ],
    "countries": [
        ("cote_divoire", "Côte d'Ivoire", "Côte d'Ivoire"),
        ("senegal", "Sénégal", "Senegal"),
        ("guinea", "Guinée", "Guinea"),
        ("mauritania", "Mauritanie", "Mauritania"),
        ("burkina_faso", "Burkina Faso", "Burkina Faso"),
        ("niger", "Niger", "Niger"),
        ("algeria", "Algérie", "Algeria"),
        ("libya", "Libye", "Libya"),
        ("morocco", "Maroc", "Morocco"),
        ("gabon", "Gabon", "Gabon"),
        ("congo", "Congo", "Congo"),
        ("equatorial_guinea", "Guinée équatoriale", "Equatorial Guinea"),
        ("france", "France", "France"),
        ("spain", "Espagne", "Spain"),
        ("italy", "Italie", "Italy"),
        ("other_africa", "Autre pays d'Afrique", "Other African country"),
        ("other_europe", "Autre pays d'Europe", "Other European country"),
        ("other", "Autre", "Other"),
    ],
    "leave_reasons": [
        ("economic", "Raisons économiques", "Economic reasons"),
        ("family", "Raisons familiales", "Family reasons"),
        ("education", "Études", "Education"),
        ("climate", "Changement climatique", "Climate change"),
        ("conflict", "Conflits", "Conflict"),
        ("born_abroad", "Né(e) à l'étranger", "Born abroad"),
        ("adventure", "Découvrir le monde", "To see the world"),
        ("other", "Autre", "Other"),
    ],
    "return_reasons": [
        ("expelled", "Expulsé(e)", "Expelled"),
        ("family", "Raisons familiales", "Family reasons"),
        ("goal_reached", "Objectif atteint", "Goal reached"),
        ("failed", "Projet non abouti", "Plans fell through"),
        ("insecurity", "Insécurité", "Insecurity"),
        ("illness", "Maladie", "Illness"),
        ("documents", "Pas de papiers", "No papers"),
        ("other", "Autre", "Other"),
    ],
    "desire_to_leave": [
        ("stay", "Rester", "Stay"),
        ("unsure", "Ne sait pas", "Unsure"),
        ("leave", "Partir", "Leave"),
    ],
    "stay_reasons": [
        ("family", "La famille", "Family"),
        ("work_here", "Un travail ici", "Work here"),
        ("risks_known", "Les risques de la migration irrégulière", "The risks of irregular migration"),
        ("no_legal_route", "Je ne connais pas de voie légale", "I know no legal route"),
        ("no_money", "Pas les moyens de partir", "Cannot afford to leave"),
        ("attachment", "Attachement à la communauté", "Attachment to the community"),
        ("other", "Autre", "Other"),
    ],
    "decision_makers": [
        ("family", "La famille", "Family"),
        ("friends", "Les amis", "Friends"),
        ("religious_leaders", "Les leaders religieux", "Religious leaders"),
        ("traditional_leaders", "Les chefs traditionnels", "Traditional leaders"),
        ("teachers", "Les enseignants", "Teachers"),
        ("associations", "Les associations", "Associations"),
        ("returnees", "Des migrants de retour", "Return migrants"),
        ("nobody", "Personne", "Nobody"),
    ],
    "info_sources": [
        ("radio", "Radio", "Radio"),
        ("television", "Télévision", "Television"),
        ("family", "Famille", "Family"),
        ("friends", "Amis", "Friends"),
        ("social_media", "Réseaux sociaux", "Social media"),
        ("newspapers", "Journaux", "Newspapers"),
        ("leaders", "Leaders communautaires", "Community leaders"),
        ("associations", "Associations", "Associations"),
        ("sms", "SMS", "Text messages"),
    ],
    "platforms": [
        ("whatsapp", "WhatsApp", "WhatsApp"),
        ("facebook", "Facebook", "Facebook"),
        ("viber", "Viber", "Viber"),
        ("imo", "imo", "imo"),
        ("youtube", "YouTube", "YouTube"),
        ("instagram", "Instagram", "Instagram"),
        ("twitter", "Twitter", "Twitter"),
        ("other", "Autre", "Other"),
    ],
    "social_media_purposes": [
        (
            "local_opportunities",
            "Opportunités ici (emploi, formation)",
            "Opportunities here (jobs, training)",
        ),
        ("migration_info", "Informations sur la migration", "Information about migration"),
        ("news", "Actualités", "News"),
        ("keep_in_touch", "Garder le contact", "Keeping in touch"),
        ("entertainment", "Loisirs", "Entertainment"),
        ("other", "Autre", "Other"),
    ],
    "institutions": [
        ("local_authorities", "Autorités locales", "Local authorities"),
        ("police", "Police", "Police"),
        ("judges", "Juges", "Judges"),
        ("traditional_leaders", "Chefs traditionnels", "Traditional leaders"),
        ("religious_leaders", "Leaders religieux", "Religious leaders"),
        ("ngos", "ONG", "NGOs"),
        ("none", "Aucun", "None of them"),
    ],
}


def workbook_rows() -> dict[str, list[list[str]]]:
    """Every sheet as a header row followed by data rows (empty cells as '')."""
    survey = [list(SURVEY_COLUMNS)] + [[row.get(column, "") for column in SURVEY_COLUMNS] for row in SURVEY]
    choices = [list(CHOICE_COLUMNS)] + [
        [list_name, name, fr, en] for list_name, options in CHOICES.items() for name, fr, en in options
    ]
    settings = [list(SETTINGS), list(SETTINGS.values())]
    return {"survey": survey, "choices": choices, "settings": settings}


def write_workbook(path: Path) -> Path:
    """Write the questionnaire to `path` as an XLSX workbook and return the path."""
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


if __name__ == "__main__":
    written = write_workbook(Path(sys.argv[1]) if len(sys.argv) > 1 else TARGET)
    print(f"wrote {written}")
