"""Small Kobo-style exports for the scoring tests: answers written out by hand, one dict per visit.

`RETURNEE` answers every required question of the example questionnaire consistently (each gate
question is answered so that its follow-ups are not asked), so a row built from it is accepted by ingest.
Under the shipped equal weights its scores, worked out by hand, are `RETURNEE_SCORES`.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

from retour.schema import Instrument, Question

RETURNEE: dict[str, str] = {
    "interview_date": "2018-03-05",
    "community": "kayes",
    "stratum": "kayes",
    "cluster": "KY-01",
    "weight": "1.5",
    "case_id": "ML-0001",
    "consent": "yes",
    "sex": "female",
    "age": "25",
    "marital_status": "single",
    "household_size": "5",
    "born_in_community": "yes",
    "school_status": "never_attended",
    "paid_job": "no",
    "income_activity": "no",
    "seeking_job": "no",
    "skills_held": "business",
    "skills_wanted": "none",
    "interested_in_business": "no",
    "owns_business": "yes",
    "can_borrow": "no",
    "has_debt": "no",
    "reduced_food": "no",
    "sat_education": "neutral",
    "sat_id_papers": "neutral",
    "sat_housing": "neutral",
    "sat_healthcare": "neutral",
    "sat_drinking_water": "neutral",
    "sat_justice_police": "neutral",
    "sat_electricity": "neutral",
    "water_source": "piped_home",
    "electricity_source": "national_grid",
    "housing_status": "owner",
    "has_id_document": "yes",
    "could_turn_to_justice": "yes",
    "illness_accident": "no",
    "emo_anger": "sometimes",
    "emo_fear": "sometimes",
    "emo_loneliness": "sometimes",
    "emo_low_self_esteem": "sometimes",
    "emo_sadness": "sometimes",
    "wants_psych_support": "no",
    "psych_support_access": "yes",
    "feels_discriminated": "no",
    "has_friends": "yes",
    "has_support_network": "yes",
    "community_participation": "yes",
    "feels_safe": "safe",
    "trust_community": "mostly",
    "future_outlook": "same",
    "perception_returnees": "neutral",
    "family_friends_abroad": "no",
    "receives_remittances": "no",
    "lived_abroad_3m": "yes",
    "countries_lived": "libya",
    "reasons_left": "economic",
    "return_year": "2017",
    "return_assisted_iom": "yes",
    "return_voluntary": "yes",
    "return_reasons": "failed",
    "desire_to_leave": "stay",
    "reasons_to_stay": "family",
    "decision_makers": "family",
    "info_sources": "radio",
    "uses_social_media": "no",
    "knows_legal_routes": "no",
    "trusted_institutions": "none",
    "has_savings": "no",
    "beneficiary": "no",
}
# economic: works 0, not seeking a job 1, cannot borrow 0, no debt 1, ate enough 1, has a skill 1 -> 4/6
# social: six services 'neutral' (0.5 each), an id document 1, could turn to justice 1 -> 5/8
# psychosocial: five emotions 'sometimes' (0.5 each), not discriminated, friends, support network,
#   community life, no need for support (1 each), 'safe' 0.667, trust 'mostly' 0.667 -> 8.834/12
RETURNEE_SCORES = {"economic": 4 / 6, "social": 5 / 8, "psychosocial": 8.834 / 12}
RETURNEE_SCORES["overall"] = sum(RETURNEE_SCORES.values()) / 3


def visit(uuid: str, **answers: str) -> dict[str, str]:
    """The returnee's answers with some changed; `uuid` identifies the submission."""
    return {**RETURNEE, "_uuid": uuid, **answers}


def _filler(question: Question) -> str:
    """The answer given to a required select question that is always asked and that `RETURNEE` does not
    know of (the questionnaire grows): its last choice (for yes/no questions, 'no')."""
    always_asked = question.required and not question.relevant and question.type.startswith("select_")
    return question.choices[-1].name if always_asked and question.choices else ""


def write_export(path: Path, instrument: Instrument, visits: Sequence[Mapping[str, str]]) -> Path:
    """A Kobo CSV export of `visits`: `group/name` headers for every question of the questionnaire, then
    `_uuid` and `_submission_time`; a question a visit does not answer is left empty."""
    headers = [question.path for question in instrument.questions]
    names = [question.name for question in instrument.questions]
    fillers = {question.name: _filler(question) for question in instrument.questions}
    with Path(path).open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow([*headers, "_uuid", "_submission_time"])
        for number, answers in enumerate(visits, start=1):
            writer.writerow(
                [
                    *(answers.get(name, fillers[name]) for name in names),
                    answers["_uuid"],
                    answers.get("_submission_time", f"2018-03-05T18:{number % 60:02d}:00"),
                ]
            )
    return Path(path)
