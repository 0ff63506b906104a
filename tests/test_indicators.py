"""The indicator catalogue (indicators.toml) and respondent-level variables derived from it."""

from __future__ import annotations

import tomllib
from pathlib import Path

import polars as pl
import pytest
import yaml

import dashboard_fixtures
from retour.config import DesignSettings
from retour.errors import EstimationError, SpecError
from retour.indicators import (
    PILLARS,
    area_types_from_register,
    check_catalogue,
    derive,
    load_catalogue,
)
from retour.schema import load_instrument

EXAMPLE = Path(__file__).parent.parent / "src" / "retour" / "examples" / "mali-2018"
FICHE, SATISFACTION = dashboard_fixtures.FICHE, dashboard_fixtures.SERVICES  # the contract's ids


@pytest.fixture(scope="module")
def instrument():
    return load_instrument(EXAMPLE / "instrument.xlsx")


@pytest.fixture(scope="module")
def catalogue(instrument):
    return load_catalogue(EXAMPLE / "indicators.toml", instrument)


# --- the shipped catalogue ---------------------------------------------------------------------------


def test_fiche_and_satisfaction_indicators_are_all_there(catalogue):
    assert set(FICHE) <= set(catalogue.ids)
    assert set(SATISFACTION) <= set(catalogue.ids)
    on_fiche = {
        indicator.id
        for indicator in catalogue.indicators
        if indicator.fiche_block
        and indicator.theme
        not in (
            "activity_domains",
            "business_obstacles",
            "desire_to_leave",
            "reasons_left",
            "perception_returnees",
        )
    }
    assert on_fiche == set(FICHE) | set(SATISFACTION)


def test_descriptive_items_of_the_study_are_there(catalogue):
    wanted = {
        "debt_above_monthly_income",
        "off_grid",
        "no_skills",
        "social_media_user",
        "platform_whatsapp",
        "platform_facebook",
        "platform_viber",
        "consults_family",
        "consults_friends",
        "consults_religious_leaders",
        "knows_legal_routes",
        "left_school_to_work",
        "frequent_anger",
        "frequent_sadness",
        "participates_community_life",
        "feels_safe",
        "trusts_community",
        "desire_to_leave_stay",
        "desire_to_leave_unsure",
        "desire_to_leave_leave",
        "perception_returnees_positive",
        "perception_returnees_neutral",
        "perception_returnees_negative",
        "activity_domain_petty_trade",
        "business_obstacle_lack_capital",
        "reason_left_economic",
    }
    assert wanted <= set(catalogue.ids)
    assert (
        catalogue.indicator("activity_domain_petty_trade").label_fr == "Domaine d'activité : Petit commerce"
    )
    assert catalogue.indicator("platform_viber").universe == "${uses_social_media} = 'yes'"


def test_each_pillar_mixes_fiche_and_unpublished_indicators(catalogue):
    for pillar in PILLARS:
        members = catalogue.pillar(pillar)
        assert len(members) >= 4, pillar
        assert any(m.id in FICHE + SATISFACTION for m in members), pillar
        assert any(m.id not in FICHE + SATISFACTION for m in members), pillar
        assert all(m.higher_is_better is not None for m in members)
    assert {m.id for m in catalogue.pillar("social")} >= set(SATISFACTION) | {"off_grid"}
    assert catalogue.indicator("seeking_job").higher_is_better is False
    # equal weights: each emotion is its own indicator (issue 3, Tableau 1 calibration)
    assert catalogue.indicator("frequent_fear").weight == pytest.approx(1.0)


def test_ids_are_unique_and_labels_bilingual(catalogue):
    assert len(set(catalogue.ids)) == len(catalogue.ids)
    assert all(indicator.label_fr and indicator.label_en for indicator in catalogue.indicators)


def test_area_types_agree_with_the_community_register(catalogue):
    register = yaml.safe_load((EXAMPLE / "communities.yaml").read_text(encoding="utf-8"))
    assert area_types_from_register(register, catalogue) == dict(catalogue.area_types)
    assert area_types_from_register(None, catalogue)["kirane"] == "rural"


# --- checking a catalogue ------------------------------------------------------------------------------


def _catalogue_toml(extra: str = "", drop_social: int = 0) -> str:
    """A valid catalogue with four indicators per pillar (minus `drop_social` social ones), plus `extra`."""
    formulas = {
        "economic": [
            "${paid_job} = 'yes'",
            "${can_borrow} = 'yes'",
            "${seeking_job} = 'yes'",
            "${reduced_food} = 'yes'",
        ],
        "social": [
            "${has_id_document} = 'yes'",
            "${sat_housing} = 'satisfied'",
            "${sat_education} = 'satisfied'",
            "${electricity_source} = 'national_grid'",
        ],
        "psychosocial": [
            "${has_friends} = 'yes'",
            "${feels_discriminated} = 'no'",
            "${feels_safe} = 'safe'",
            "${has_support_network} = 'yes'",
        ],
    }
    blocks = []
    for pillar, items in formulas.items():
        keep = items[: len(items) - drop_social] if pillar == "social" else items
        for number, formula in enumerate(keep):
            blocks.append(
                f'[[indicators]]\nid = "{pillar}_{number}"\nlabel_fr = "fr"\nlabel_en = "en"\n'
                f'formula = "{formula}"\nhigher_is_better = true\npillar = "{pillar}"\n'
            )
    return "\n".join(blocks) + extra


def _indicator(identifier: str, formula: str, pillar: str = "none") -> str:
    return (
        f'\n[[indicators]]\nid = "{identifier}"\nlabel_fr = "fr"\nlabel_en = "en"\nformula = "{formula}"\n'
        f'higher_is_better = true\npillar = "{pillar}"\n'
    )


def test_a_valid_catalogue_has_no_problems(instrument):
    catalogue, problems = check_catalogue(tomllib.loads(_catalogue_toml()), instrument)
    assert problems == []
    assert len(catalogue.indicators) == 12


def test_a_pillar_of_few_indicators_is_no_problem_of_the_catalogue(instrument):
    # the index warns about it (index.toml min_indicators_per_pillar): tests/test_index.py
    catalogue, problems = check_catalogue(tomllib.loads(_catalogue_toml(drop_social=3)), instrument)
    assert problems == [] and [i.id for i in catalogue.pillar("social")] == ["social_0"]


@pytest.mark.parametrize(
    ("extra", "drop_social", "code", "text"),
    [
        (_indicator("bad_field", "${paid_jbo} = 'yes'"), 0, "unknown_field", "names ${paid_jbo}"),
        (
            _indicator("bad_choice", "${paid_job} = 'oui'"),
            0,
            "unknown_choice",
            "tests choice 'oui' of ${paid_job}",
        ),
        (
            _indicator("bad_selected", "selected(${platforms}, 'tiktok')"),
            0,
            "unknown_choice",
            "choice 'tiktok'",
        ),
        (_indicator("economic_0", "${paid_job} = 'no'"), 0, "duplicate_id", "'economic_0' is used 2 times"),
        (
            _indicator("odd", "${paid_job} = 'no'", pillar="cultural"),
            0,
            "unknown_pillar",
            "pillar 'cultural'",
        ),
        (_indicator("syntax", "${paid_job} = "), 0, "bad_expression", "expected a value"),
        (_indicator("number", "${age} + 1"), 0, "wrong_type", "gives a number"),
        (
            '\n[[indicators]]\nid = "undirected"\nlabel_fr = "fr"\nlabel_en = "en"\n'
            'formula = "${paid_job} = \'yes\'"\npillar = "economic"\n',
            0,
            "missing_direction",
            "feeds the economic pillar but has no direction",
        ),
    ],
)
def test_catalogue_problems_are_found(instrument, extra, drop_social, code, text):
    _, problems = check_catalogue(tomllib.loads(_catalogue_toml(extra, drop_social)), instrument)
    assert [problem.code for problem in problems] == [code]
    assert text in problems[0].message


def test_load_catalogue_lists_every_problem_in_one_error(instrument, tmp_path):
    path = tmp_path / "indicators.toml"
    extra = _indicator("bad_field", "${paid_jbo} = 'yes'") + _indicator("bad_choice", "${paid_job} = 'oui'")
    path.write_text(_catalogue_toml(extra, drop_social=1), encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_catalogue(path, instrument)
    message = str(caught.value)
    assert "2 problem(s)" in message
    assert "${paid_jbo}" in message and "'oui'" in message and "pillar" not in message


# --- deriving respondent-level variables -------------------------------------------------------------------


def _submissions(instrument, rows: dict[str, list]) -> pl.DataFrame:
    """Four respondents: every questionnaire field null unless given, with the store's dtypes."""
    dtypes = {"integer": pl.Int64, "decimal": pl.Float64, "date": pl.Date, "today": pl.Date}
    columns = {"_uuid": pl.Series("_uuid", ["r1", "r2", "r3", "r4"])}
    for question in instrument.questions:
        dtype = dtypes.get(question.type, pl.Utf8)
        columns[question.name] = pl.Series(question.name, rows.get(question.name, [None] * 4), dtype=dtype)
    return pl.DataFrame(list(columns.values()))


@pytest.fixture(scope="module")
def derived(instrument, catalogue):
    never = ["never", "always", "sometimes", None]
    frame = _submissions(
        instrument,
        {
            "community": ["kati", "kirane", "kayes", "bamako_commune_iv"],
            "stratum": ["kati", "kirane", "kayes", "bamako_commune_iv"],
            "cluster": ["c1", "c2", "c3", "c4"],
            "weight": [1.5, 2.0, 1.0, 0.5],
            "sex": ["female", "male", "male", None],
            "age": [19, 30, 25, 34],
            "lived_abroad_3m": ["no", "yes", "no", None],
            "return_assisted_iom": [None, "yes", None, None],
            "paid_job": ["yes", "no", "no", None],
            "income_activity": ["no", "no", "yes", None],
            "monthly_income": [50000, None, 80000, None],
            "has_debt": ["yes", "no", "yes", None],
            "debt_level": ["above", None, None, None],
            "school_status": ["left_early", "never_attended", "completed", None],
            "education_level": ["primary", None, "higher", None],
            "dropout_reasons": ["work cost", None, None, None],
            "sat_housing": ["very_satisfied", "neutral", None, None],
            "electricity_source": ["national_grid", "solar", None, None],
            "uses_social_media": ["yes", "no", "yes", None],
            "platforms": ["whatsapp viber", None, "facebook", None],
            "emo_anger": ["often", "always", "sometimes", None],
            "emo_fear": never,
            "emo_loneliness": never,
            "emo_low_self_esteem": never,
            "emo_sadness": never,
        },
    )
    return derive(frame, catalogue)


@pytest.mark.parametrize(
    ("indicator_id", "expected"),
    [
        ("paid_job_or_iga", [1.0, 0.0, 1.0, None]),
        ("debt_above_monthly_income", [1.0, 0.0, None, None]),  # r3 has debts of unknown size: missing
        ("left_school_early", [1.0, 0.0, 0.0, None]),
        ("left_school_to_work", [1.0, 0.0, 0.0, 0.0]),  # r4 gave no reason 'work': selected() is false
        ("reached_high_school_or_more", [0.0, 0.0, 1.0, None]),  # r2 never went to school: 0, not missing
        ("satisfied_housing", [1.0, 0.0, None, None]),
        ("off_grid", [0.0, 1.0, None, None]),
        ("social_media_user", [1.0, 0.0, 1.0, None]),
        ("platform_whatsapp", [1.0, None, 0.0, None]),  # r2 uses no social media: outside the universe
        ("frequent_anger", [1.0, 1.0, 0.0, None]),
        ("negative_emotions_count", [1.0, 5.0, 0.0, None]),
        ("monthly_income", [50000.0, None, 80000.0, None]),
        ("return_migrants_share", [0.0, 1.0, 0.0, None]),
        ("returned_with_iom", [None, 1.0, None, None]),
    ],
)
def test_derive_gives_hand_computed_values(derived, indicator_id, expected):
    assert derived[indicator_id].dtype == pl.Float64
    assert derived[indicator_id].to_list() == expected


def test_derive_gives_design_and_group_columns(derived, catalogue):
    assert derived.columns[:9] == [
        "_uuid",
        "community_id",
        "stratum",
        "psu",
        "weight",
        "migration_status",
        "sex",
        "age_band",
        "area_type",
    ]
    assert derived.columns[9:] == list(catalogue.ids)
    assert derived["psu"].to_list() == ["c1", "c2", "c3", "c4"]
    assert derived["weight"].to_list() == [1.5, 2.0, 1.0, 0.5]
    assert derived["migration_status"].to_list() == ["non_migrant", "returnee", "non_migrant", None]
    assert derived["sex"].to_list() == ["women", "men", "men", None]
    assert derived["age_band"].to_list() == ["15_24", "25_34", "25_34", "25_34"]
    assert derived["area_type"].to_list() == ["urban", "rural", "urban", "urban"]


def test_derive_without_design_columns_uses_survey_defaults(instrument, catalogue):
    frame = _submissions(instrument, {"community": ["kati", "kati", "kita", "kita"]})
    design = DesignSettings(stratum="", psu="", weight="")
    result = derive(frame, catalogue, design=design)
    assert result["stratum"].to_list() == ["all"] * 4
    assert result["psu"].to_list() == ["r1", "r2", "r3", "r4"]
    assert result["weight"].to_list() == [1.0] * 4


def test_derive_takes_area_types_from_the_register_mapping(instrument, catalogue):
    frame = _submissions(instrument, {"community": ["kati", "kati", "kita", "kita"]})
    result = derive(frame, catalogue, {"kati": "rural", "kita": "urban"})
    assert result["area_type"].to_list() == ["rural", "rural", "urban", "urban"]


def test_derive_refuses_a_community_without_area_type(instrument, catalogue):
    frame = _submissions(instrument, {"community": ["kati", "kati", "kita", "segou"]})
    with pytest.raises(SpecError, match="No area type .* for community segou"):
        derive(frame, catalogue)


def test_derive_refuses_submissions_missing_fields(instrument, catalogue):
    frame = _submissions(instrument, {"community": ["kati"] * 4}).drop("paid_job", "platforms")
    with pytest.raises(EstimationError, match="lack column\\(s\\) the catalogue needs: paid_job, platforms"):
        derive(frame, catalogue)


def test_derive_refuses_a_missing_design_column(instrument, catalogue):
    frame = _submissions(instrument, {"community": ["kati"] * 4}).drop("cluster")
    with pytest.raises(EstimationError, match=r"\[design\] section of retour.toml names field\(s\) the "
                                              "submissions do not have: cluster"):
        derive(frame, catalogue)
    frame = _submissions(instrument, {"community": ["kati"] * 4})
    with pytest.raises(EstimationError, match="do not have: population_size") as error:
        derive(frame, catalogue, design=DesignSettings(fpc="population_size"))
    assert "leave fpc empty" in error.value.hint


def test_derive_passes_the_fpc_through(instrument, catalogue):
    frame = _submissions(instrument, {"community": ["kati"] * 4}).with_columns(
        pl.lit(5000).alias("population")
    )
    result = derive(frame, catalogue, design=DesignSettings(fpc="population"))
    assert result.columns[5] == "fpc"
    assert result["fpc"].to_list() == [5000.0] * 4
