"""The example study's questionnaire: built by scripts/build_instrument.py, read by schema.load_instrument."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import openpyxl
import pytest

from retour.errors import SchemaError
from retour.expressions import referenced_fields
from retour.schema import load_instrument

REPO = Path(__file__).parent.parent
INSTRUMENT = REPO / "src" / "retour" / "examples" / "mali-2018" / "instrument.xlsx"
COMMUNITIES = ("bafoulabe", "bamako_commune_iv", "kati", "kayes", "kita", "sikasso", "kirane")


def _builder():
    spec = importlib.util.spec_from_file_location(
        "build_instrument", REPO / "scripts" / "build_instrument.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def instrument():
    return load_instrument(INSTRUMENT)


def test_committed_workbook_is_what_the_script_builds():
    expected = _builder().workbook_rows()
    workbook = openpyxl.load_workbook(INSTRUMENT, read_only=True)
    committed = {
        sheet: [
            ["" if value is None else str(value) for value in row]
            for row in workbook[sheet].iter_rows(values_only=True)
        ]
        for sheet in workbook.sheetnames
    }
    assert list(committed) == list(expected), "sheets differ: run scripts/build_instrument.py"
    for sheet, rows in expected.items():
        assert committed[sheet] == rows, f"sheet {sheet} is stale: run scripts/build_instrument.py"


def test_languages_and_every_label_in_french_and_english(instrument):
    assert instrument.languages == ("en", "fr")
    unlabelled = [q.name for q in instrument.questions if not (q.labels.get("fr") and q.labels.get("en"))]
    assert unlabelled == []
    for name, choices in instrument.choice_lists.items():
        assert all(choice.labels.get("fr") and choice.labels.get("en") for choice in choices), name


def test_design_fields_follow_the_contract(instrument):
    assert instrument.question("community").type == "select_one"
    assert instrument.question("community").choice_names == COMMUNITIES
    assert instrument.question("stratum").type == "calculate"
    assert instrument.question("stratum").calculation == "${community}"
    assert instrument.question("cluster").type == "text"
    assert instrument.question("weight").type == "decimal"
    assert instrument.question("case_id").type == "text"
    assert instrument.question("sex").choice_names == ("female", "male")
    assert instrument.question("age").type == "integer"
    assert instrument.question("lived_abroad_3m").choice_names == ("yes", "no")


def test_identifying_fields_are_marked(instrument):
    marked = {q.name: q.identifying for q in instrument.questions if q.identifying}
    assert marked == {"case_id": "hash", "respondent_name": "drop", "phone": "drop", "gps": "coarsen"}
    assert instrument.question("gps").type == "geopoint"


def test_age_is_limited_to_15_34_with_a_message_in_both_languages(instrument):
    age = instrument.question("age")
    assert age.constraint == ". >= 15 and . <= 34"
    assert "15" in age.constraint_messages["fr"] and "34" in age.constraint_messages["fr"]
    assert "15" in age.constraint_messages["en"] and "34" in age.constraint_messages["en"]


def test_groups_give_kobo_style_paths(instrument):
    assert instrument.question("age").path == "profile/age"
    assert instrument.question("sat_housing").path == "services/sat_housing"
    assert instrument.question("platforms").path == "communication/platforms"
    assert all(q.group_path for q in instrument.questions)


def test_relevance_skips_questions_that_do_not_apply(instrument):
    returnee_only = [
        "countries_lived",
        "reasons_left",
        "return_year",
        "return_assisted_iom",
        "return_voluntary",
        "return_reasons",
    ]
    for name in returnee_only:
        assert instrument.question(name).relevant == "${lived_abroad_3m} = 'yes'", name
    assert instrument.question("dropout_reasons").relevant == "${school_status} = 'left_early'"
    assert instrument.question("platforms").relevant == "${uses_social_media} = 'yes'"
    assert instrument.question("care_cost").relevant == "${sought_care} = 'yes'"


def test_every_expression_names_existing_fields(instrument):
    for question in instrument.questions:
        for expression in (question.relevant, question.constraint, question.calculation):
            if expression:
                assert referenced_fields(expression) <= set(instrument.names), (question.name, expression)


def test_satisfaction_items_use_a_five_point_scale(instrument):
    items = [q for q in instrument.questions if q.name.startswith("sat_")]
    assert {q.name for q in items} >= {
        "sat_education",
        "sat_id_papers",
        "sat_housing",
        "sat_healthcare",
        "sat_drinking_water",
        "sat_justice_police",
    }
    for question in items:
        assert question.choice_names == (
            "very_dissatisfied",
            "dissatisfied",
            "neutral",
            "satisfied",
            "very_satisfied",
        )


def test_study_topics_are_covered(instrument):
    needed = {
        "paid_job",
        "income_activity",
        "activity_domain",
        "seeking_job",
        "skills_held",
        "skills_wanted",
        "interested_in_business",
        "business_obstacles",
        "can_borrow",
        "has_debt",
        "debt_level",
        "reduced_food",
        "receives_remittances",
        "school_status",
        "education_level",
        "dropout_reasons",
        "electricity_source",
        "care_cost",
        "has_id_document",
        "illness_accident",
        "emo_anger",
        "emo_fear",
        "emo_loneliness",
        "emo_low_self_esteem",
        "emo_sadness",
        "wants_psych_support",
        "psych_support_access",
        "feels_discriminated",
        "has_friends",
        "has_support_network",
        "community_participation",
        "feels_safe",
        "trust_community",
        "countries_lived",
        "return_year",
        "return_assisted_iom",
        "return_voluntary",
        "reasons_left",
        "desire_to_leave",
        "perception_returnees",
        "decision_makers",
        "info_sources",
        "uses_social_media",
        "platforms",
        "knows_legal_routes",
    }
    assert needed <= set(instrument.names)
    assert instrument.question("desire_to_leave").choice_names == ("stay", "unsure", "leave")
    assert instrument.question("perception_returnees").choice_names == ("positive", "neutral", "negative")
    assert {"whatsapp", "facebook", "viber"} <= set(instrument.question("platforms").choice_names)
    assert {"family", "friends", "religious_leaders"} <= set(
        instrument.question("decision_makers").choice_names
    )
    assert "work" in instrument.question("dropout_reasons").choice_names
    assert "national_grid" in instrument.question("electricity_source").choice_names


def _workbook(path: Path, survey: list[list[str]], choices: list[list[str]]) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "survey"
    for row in survey:
        sheet.append(row)
    choice_sheet = workbook.create_sheet("choices")
    for row in choices:
        choice_sheet.append(row)
    workbook.save(path)
    return path


def test_a_select_question_without_its_list_is_an_error(tmp_path):
    path = _workbook(
        tmp_path / "form.xlsx",
        [["type", "name", "label"], ["select_one colours", "colour", "Colour"]],
        [["list_name", "name", "label"], ["yes_no", "yes", "Yes"]],
    )
    with pytest.raises(SchemaError, match="row 2, column type: choice list 'colours'"):
        load_instrument(path)


def test_an_unknown_identifying_action_is_an_error(tmp_path):
    path = _workbook(
        tmp_path / "form.xlsx",
        [["type", "name", "label", "retour_identifying"], ["text", "name", "Name", "erase"]],
        [["list_name", "name", "label"]],
    )
    with pytest.raises(SchemaError, match="retour_identifying: 'erase'"):
        load_instrument(path)
