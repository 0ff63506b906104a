"""Individual reintegration scores: recodes, weights, the missing-answer rule, flags, case histories and
the programme summary, checked against numbers worked out by hand."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retour.cli import main
from retour.config import DesignSettings, load_settings
from retour.errors import ConfigError, SpecError
from retour.estimate import EstimationSpec
from retour.indicators import load_catalogue
from retour.schema import Question, load_instrument
from retour.score import SCORES, ScoreRules, recode, score, score_visits, summarise
from retour.score_spec import DIMENSIONS, check_score_spec, load_score_spec
from score_exports import RETURNEE, RETURNEE_SCORES, visit, write_export

EXAMPLE = Path(__file__).parent.parent / "src" / "retour" / "examples" / "mali-2018"
ROUNDS = ("baseline", "midterm", "final")
EMOTIONS = ("emo_anger", "emo_fear", "emo_loneliness", "emo_low_self_esteem", "emo_sadness")


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(EXAMPLE / "indicators.toml", load_instrument(EXAMPLE / "instrument.xlsx"))


@pytest.fixture(scope="module")
def spec(catalogue):
    return load_score_spec(EXAMPLE / "score_weights.toml", catalogue)


FIELDS = load_instrument(EXAMPLE / "instrument.xlsx").names


def submissions(*visits: dict[str, str], round_name: str = "baseline") -> pl.DataFrame:
    """A frame shaped like stored submissions: `round`, one Utf8 column per question (null when not
    answered), a typed interview date and submission time."""
    frame = pl.DataFrame([{"round": round_name, **v} for v in visits])
    return frame.with_columns(
        *(pl.lit(None, pl.Utf8).alias(name) for name in FIELDS if name not in frame.columns),
        pl.col("interview_date").str.to_date(),
        pl.lit(None, pl.Datetime).alias("_submission_time"),
    )


# the example study's rules: returnees are `${lived_abroad_3m} = 'yes'`, dated by interview_date, with consent
RULES = ScoreRules.from_settings(load_settings(EXAMPLE / "retour.toml"))


def scores_of(frame: pl.DataFrame, spec, rules: ScoreRules = RULES, **kwargs) -> pl.DataFrame:
    return score_visits(frame, spec, DesignSettings(), ROUNDS, rules=rules, **kwargs)


# --- recodes ---------------------------------------------------------------------------------------


def test_recodes_follow_the_scales_and_directions_of_the_weights_file(spec):
    levels = ["very_dissatisfied", "dissatisfied", "neutral", "satisfied", "very_satisfied"]
    emotions = ["never", "rarely", "sometimes", "often", "always"]
    frame = submissions(
        *(
            visit(
                f"u{i}",
                sat_education=levels[i],
                emo_anger=emotions[i],
                seeking_job="yes" if i % 2 else "no",
                feels_discriminated="yes" if i < 2 else "no",
            )
            for i in range(5)
        )
    )
    values = recode(frame, spec)
    assert values["education"].to_list() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert values["anger"].to_list() == [
        1.0,
        0.75,
        0.5,
        0.25,
        0.0,
    ]  # frequency of a negative emotion, reversed
    assert values["not_seeking_job"].to_list() == [1.0, 0.0, 1.0, 0.0, 1.0]  # higher_is_better = false
    assert values["not_discriminated"].to_list() == [0.0, 0.0, 1.0, 1.0, 1.0]
    assert values["friends"].to_list() == [1.0] * 5  # has_friends = yes, higher is better


def test_a_question_and_its_follow_up_are_recoded_together(spec):
    frame = submissions(
        visit("a", has_debt="no"),
        visit("b", has_debt="yes", debt_level="below"),
        visit("c", has_debt="yes", debt_level="above"),
        visit("d", has_debt="yes"),
        visit("e", has_debt=None),
    )
    assert recode(frame, spec)["debt"].to_list() == [1.0, 0.667, 0.0, None, None]


def test_a_missing_answer_stays_missing(spec):
    frame = submissions(visit("a", sat_housing=None, paid_job=None, income_activity=None))
    values = recode(frame, spec)
    assert values["housing"][0] is None and values["works"][0] is None


# --- scores ----------------------------------------------------------------------------------------


def test_equal_weights_give_the_mean_of_each_dimension(spec):
    result = score(recode(submissions(visit("a")), spec), spec)
    for name, expected in RETURNEE_SCORES.items():
        assert result[name][0] == pytest.approx(expected, abs=1e-12)
    assert result["reason_en"][0] is None


def test_every_visit_carries_the_name_and_hash_of_its_weights(spec):
    scored = scores_of(submissions(visit("a")), spec)
    digest = hashlib.sha256((EXAMPLE / "score_weights.toml").read_bytes()).hexdigest()[:12]
    assert scored["weights"].to_list() == ["equal"] and scored["weights_hash"].to_list() == [digest]
    assert spec.label == f"equal ({digest})"


def test_another_weight_set_changes_the_scores_as_computed_by_hand(catalogue, spec, tmp_path):
    weights = tmp_path / "economy-first.toml"
    weights.write_text(
        'name = "economy_first"\n[dimensions]\neconomic = 2\n'
        "[weights]\nworks = 3\nhas_skills = 2\nanger = 0\n",
        encoding="utf-8",
    )
    other = load_score_spec(EXAMPLE / "score_weights.toml", catalogue, weights)
    result = score(recode(submissions(visit("a")), other), other)
    # economic: works 0 (weight 3), not seeking 1, can't borrow 0, no debt 1, ate enough 1, skill 1 (weight 2)
    economic = (0 * 3 + 1 + 0 + 1 + 1 + 1 * 2) / (3 + 1 + 1 + 1 + 1 + 2)
    # psychosocial without anger (weight 0): four emotions 0.5, five 1s, 0.667 twice
    psychosocial = (4 * 0.5 + 5 + 2 * 0.667) / 11
    assert result["economic"][0] == pytest.approx(economic)
    assert result["social"][0] == pytest.approx(5 / 8)
    assert result["psychosocial"][0] == pytest.approx(psychosocial)
    assert result["overall"][0] == pytest.approx((2 * economic + 5 / 8 + psychosocial) / 4)
    assert result["overall"][0] != pytest.approx(
        score(recode(submissions(visit("a")), spec), spec)["overall"][0]
    )
    assert other.name == "economy_first"
    both = hashlib.sha256((EXAMPLE / "score_weights.toml").read_bytes() + weights.read_bytes())
    assert other.weights_hash == both.hexdigest()[:12] != spec.weights_hash


def test_a_weight_set_without_a_name_is_named_after_its_file(catalogue, tmp_path):
    weights = tmp_path / "social-heavy.toml"
    weights.write_text("[dimensions]\nsocial = 3\n", encoding="utf-8")
    assert load_score_spec(EXAMPLE / "score_weights.toml", catalogue, weights).name == "social-heavy"


def test_a_dimension_is_reweighted_over_the_answered_sub_indicators(spec):
    # psychosocial has 12 sub-indicators of weight 1; 4 unanswered leaves 8/12 = 67% >= 60%
    frame = submissions(visit("a", **{name: None for name in EMOTIONS[:4]}))
    result = score(recode(frame, spec), spec)
    assert result["answered_psychosocial"][0] == pytest.approx(8 / 12)
    assert result["psychosocial"][0] == pytest.approx((0.5 + 5 + 2 * 0.667) / 8)
    assert result["overall"][0] == pytest.approx((4 / 6 + 5 / 8 + (0.5 + 5 + 2 * 0.667) / 8) / 3)


def test_too_few_answers_give_no_score_and_a_reason(spec):
    frame = submissions(visit("a", **{name: None for name in EMOTIONS}))  # 7/12 = 58% < 60%
    result = score(recode(frame, spec), spec)
    assert result["psychosocial"][0] is None and result["overall"][0] is None
    assert result["economic"][0] == pytest.approx(4 / 6)
    assert result["reason_en"][0] == (
        "psychosocial: 58% of the weight answered, 60% needed; "
        "overall: not computed without all three dimensions"
    )
    assert result["reason_fr"][0] == (
        "psychosocial : 58 % du poids renseigné, 60 % requis; global : non calculé sans les trois dimensions"
    )


def test_the_answered_share_is_a_share_of_weight(catalogue, tmp_path):
    weights = tmp_path / "emotions-heavy.toml"
    weights.write_text(
        "[weights]\n"
        + "".join(f"{name} = 3\n" for name in ("anger", "fear", "loneliness", "low_self_esteem", "sadness")),
        encoding="utf-8",
    )
    heavy = load_score_spec(EXAMPLE / "score_weights.toml", catalogue, weights, min_answered_share=0.6)
    frame = submissions(visit("a", **{name: None for name in EMOTIONS[:4]}))  # 4 x 3 of 22 unanswered
    result = score(recode(frame, heavy), heavy)
    assert result["answered_psychosocial"][0] == pytest.approx(10 / 22)
    assert result["psychosocial"][0] is None


# --- who is scored, flags and previous visits --------------------------------------------------------


def test_a_survey_round_scores_return_migrants_and_a_monitoring_round_everyone(spec):
    not_returnee = visit("b", case_id="ML-0002", lived_abroad_3m="no")
    survey = scores_of(submissions(visit("a"), not_returnee), spec)
    assert survey["_uuid"].to_list() == ["a"]
    monitoring = scores_of(
        submissions(visit("a"), not_returnee, round_name="midterm"), spec, monitoring_rounds=["midterm"]
    )
    assert monitoring["_uuid"].to_list() == ["a", "b"]


@pytest.fixture(scope="module")
def months_spec():
    """The example weight set read against the questionnaire with one more question, `months_abroad`."""
    from dataclasses import replace

    instrument = load_instrument(EXAMPLE / "instrument.xlsx")
    months = Question(name="months_abroad", type="integer", labels={"en": "Months abroad"})
    longer = replace(instrument, questions=(*instrument.questions, months))
    catalogue = load_catalogue(EXAMPLE / "indicators.toml", longer)
    return load_score_spec(EXAMPLE / "score_weights.toml", catalogue)


def test_a_survey_round_scores_whom_the_returnee_rule_of_the_settings_names(months_spec):
    frame = submissions(
        visit("a", months_abroad="12", lived_abroad_3m="no"),
        visit("b", case_id="ML-0002", months_abroad="2", lived_abroad_3m="yes"),
        visit("c", case_id="ML-0003", months_abroad=None),
    ).with_columns(pl.col("months_abroad").cast(pl.Int64))
    rules = ScoreRules(returnee_rule="${months_abroad} > 6")
    assert scores_of(frame, months_spec, rules)["_uuid"].to_list() == ["a"]
    assert scores_of(frame, months_spec, ScoreRules())["_uuid"].to_list() == []  # no rule: no returnee
    assert scores_of(frame, months_spec, ScoreRules(), monitoring_rounds=["baseline"]).height == 3


def test_visits_without_consent_are_not_scored(spec):
    frame = submissions(visit("a"), visit("b", case_id="ML-0002", consent="no"),
                        visit("c", case_id="ML-0003", consent=None))
    assert scores_of(frame, spec)["_uuid"].to_list() == ["a"]
    unchecked = ScoreRules(returnee_rule=RULES.returnee_rule)  # no consent field: no consent check
    assert scores_of(frame, spec, unchecked)["_uuid"].to_list() == ["a", "b", "c"]


def test_without_a_date_field_a_visit_is_dated_by_its_submission_time(spec):
    import datetime as dt

    frame = submissions(visit("a", interview_date="2018-03-05")).with_columns(
        pl.lit(dt.datetime(2018, 3, 9, 17, 45)).alias("_submission_time"))
    assert scores_of(frame, spec)["interview_date"].to_list() == [dt.date(2018, 3, 5)]
    undated = ScoreRules(returnee_rule=RULES.returnee_rule)
    assert scores_of(frame, spec, undated)["interview_date"].to_list() == [dt.date(2018, 3, 9)]


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (ScoreRules(returnee_rule="${months_away} > 6"),
         "retour.toml: population.returnee_rule names ${months_away}, field(s) instrument.xlsx lacks."),
        (ScoreRules(returnee_rule="${age} + 1"),
         "retour.toml: population.returnee_rule '${age} + 1' gives a number, not a condition."),
        (ScoreRules(interview_date_field="visit_day"),
         "retour.toml: scoring.interview_date_field names 'visit_day', a field instrument.xlsx lacks."),
        (ScoreRules(consent_field="agrees"),
         "retour.toml: scoring.consent_field names 'agrees', a field instrument.xlsx lacks."),
    ],
)
def test_a_setting_naming_a_field_the_questionnaire_lacks_is_named(spec, rules, message):
    with pytest.raises(ConfigError) as raised:
        scores_of(submissions(visit("a")), spec, rules)
    assert raised.value.message == message
    assert "\n" not in str(raised.value)


def test_visits_below_the_threshold_are_flagged(spec):
    poor = {
        f"sat_{s}": "dissatisfied"
        for s in ("education", "id_papers", "housing", "healthcare", "drinking_water", "justice_police")
    }
    scored = scores_of(
        submissions(visit("a"), visit("b", case_id="ML-0002", has_id_document="no", **poor)), spec
    )
    # b: social = (6 x 0.25 + 0 + 1) / 8 = 0.3125 < 0.5
    assert scored["social"][1] == pytest.approx(0.3125)
    assert scored["below_threshold"].to_list() == ["", "social"]
    assert scored["flagged"].to_list() == [False, True]


def test_a_score_lower_than_at_the_previous_visit_is_flagged(spec):
    first = submissions(visit("a", interview_date="2018-03-05"), round_name="baseline")
    second = submissions(visit("b", interview_date="2020-03-02", emo_anger="always"), round_name="midterm")
    scored = scores_of(pl.concat([second, first], how="diagonal_relaxed"), spec)
    later = scored.filter(pl.col("_uuid") == "b").row(0, named=True)
    assert later["previous_round"] == "baseline"
    assert later["previous_psychosocial"] == pytest.approx(RETURNEE_SCORES["psychosocial"])
    assert later["psychosocial"] == pytest.approx((8.834 - 0.5) / 12)
    assert later["dropped"] == "psychosocial overall" and later["flagged"]
    earlier = scored.filter(pl.col("_uuid") == "a").row(0, named=True)
    assert earlier["previous_round"] is None and earlier["dropped"] == ""


def test_visits_of_one_round_follow_each_other_by_visit(spec):
    frame = submissions(
        visit("c", visit="12m", emo_fear="never"),
        visit("a", visit="3m"),
        visit("b", visit="6m", emo_fear="always"),
        round_name="midterm",
    )
    scored = scores_of(frame, spec, monitoring_rounds=["midterm"]).sort("_uuid")
    assert scored["previous_visit"].to_list() == [None, "3m", "6m"]
    assert scored["dropped"].to_list() == ["", "psychosocial overall", ""]
    assert scored["last_of_round"].to_list() == [False, False, True]


def test_visits_without_a_case_id_are_never_compared(spec):
    scored = scores_of(
        submissions(visit("a", case_id=None), visit("b", case_id=None, emo_fear="always")), spec
    )
    assert scored["previous_overall"].to_list() == [None, None]
    assert scored["dropped"].to_list() == ["", ""]


# --- the weights file is checked ---------------------------------------------------------------------


def test_every_problem_of_a_weights_file_is_listed(catalogue, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'name = "bad"\ncolour = "red"\n[dimensions]\neconomic = -1\n'
        '[[sub_indicators]]\nid = "a"\ndimension = "economic"\nfield = "sat_education"\n'
        "recode = { very_dissatisfied = 0, dissatisfied = 2 }\n"
        '[[sub_indicators]]\nid = "b"\ndimension = "wealth"\nindicator = "no_such_indicator"\n'
        '[[sub_indicators]]\nid = "c"\ndimension = "social"\nfield = "age"\nrecode = "nothing"\n',
        encoding="utf-8",
    )
    with pytest.raises(SpecError) as raised:
        load_score_spec(bad, catalogue)
    text = str(raised.value)
    for expected in (
        "unknown key 'colour'",
        "dimensions.economic",
        "a recoded value must be a number from 0 to 1",
        "no value for choice(s) dissatisfied, neutral, satisfied, very_satisfied",
        "dimension 'wealth' is unknown",
        "no indicator 'no_such_indicator'",
        "no recode called 'nothing'",
        "the psychosocial dimension has no sub-indicator",
    ):
        assert expected in text, expected


def test_weights_for_unknown_sub_indicators_are_refused(catalogue, tmp_path):
    weights = tmp_path / "typo.toml"
    weights.write_text("[weights]\nwork = 2\n", encoding="utf-8")
    with pytest.raises(SpecError, match="'work' is not a sub-indicator"):
        load_score_spec(EXAMPLE / "score_weights.toml", catalogue, weights)


def test_an_indicator_reading_questions_the_form_lacks_is_refused(catalogue):
    raw = {"sub_indicators": [{"id": "x", "dimension": "economic", "indicator": "paid_job_or_iga"}]}
    short = type(catalogue.instrument)(
        **{
            **catalogue.instrument.__dict__,
            "questions": tuple(q for q in catalogue.instrument.questions if q.name != "income_activity"),
        }
    )
    _, problems = check_score_spec(raw, type(catalogue)(**{**catalogue.__dict__, "instrument": short}))
    assert any("reads income_activity, which the questionnaire lacks" in p.message for p in problems)


# --- properties -----------------------------------------------------------------------------------------

ANSWER = st.sampled_from(
    ["very_dissatisfied", "dissatisfied", "neutral", "satisfied", "very_satisfied", None]
)


@settings(max_examples=25, deadline=None)
@given(
    answers=st.lists(st.tuples(ANSWER, ANSWER, ANSWER), min_size=1, max_size=8),
    factor=st.floats(min_value=0.1, max_value=50),
)
def test_scores_stay_within_0_and_1_and_ignore_the_scale_of_weights(
    spec, catalogue, tmp_path_factory, answers, factor
):
    frame = submissions(
        *(
            visit(f"u{i}", sat_education=a, sat_housing=b, sat_healthcare=c)
            for i, (a, b, c) in enumerate(answers)
        )
    )
    base = score(recode(frame, spec), spec)
    for name in SCORES:
        values = base[name].drop_nulls()
        assert ((values >= 0) & (values <= 1)).all()
    folder = tmp_path_factory.mktemp("weights")
    scaled_file = folder / "scaled.toml"
    names = [sub.id for sub in spec.sub_indicators]
    scaled_file.write_text(
        "[dimensions]\n"
        + "".join(f"{d} = {factor}\n" for d in DIMENSIONS)
        + "[weights]\n"
        + "".join(f"{n} = {factor}\n" for n in names),
        encoding="utf-8",
    )
    scaled = load_score_spec(EXAMPLE / "score_weights.toml", catalogue, scaled_file)
    again = score(recode(frame, scaled), scaled)
    for name in SCORES:
        assert again[name].to_list() == pytest.approx(base[name].to_list(), nan_ok=True)


# --- the programme summary ---------------------------------------------------------------------------


def test_the_summary_estimates_the_share_above_the_threshold_per_community(spec):
    low = {name: "always" for name in EMOTIONS} | {
        "has_friends": "no",
        "has_support_network": "no",
        "community_participation": "no",
        "feels_safe": "very_unsafe",
    }
    frame = submissions(
        visit("a", weight="1.0"),
        visit("b", case_id="ML-0002", weight="3.0", **low),
        visit("c", case_id="ML-0003", community="kati", weight="2.0"),
    )
    scored = scores_of(frame.with_columns(pl.col("weight").cast(pl.Float64)), spec)
    assert scored["psychosocial"][1] < 0.5
    summary = summarise(scored, spec, EstimationSpec(min_cell=1))
    kayes = summary.filter((pl.col("community_id") == "kayes") & (pl.col("dimension") == "psychosocial"))
    assert kayes["estimate"][0] == pytest.approx(1.0 / 4.0)  # weighted: a (1) above, b (3) below
    assert kayes["n"][0] == 2
    everyone = summary.filter((pl.col("community_id") == "all") & (pl.col("dimension") == "economic"))
    assert everyone["estimate"][0] == pytest.approx(1.0)
    assert set(summary["indicator_id"]) == {f"above_threshold_{s}" for s in SCORES}
    assert set(summary["weights"]) == {"equal"}


# --- through the study and the command line -----------------------------------------------------------


@pytest.fixture
def scored_study(study_dir, tmp_path):
    """The example study with a baseline (two returnees, one non-migrant) and a mid-term visit of ML-0001."""
    from retour.study import ingest_export

    instrument = load_instrument(study_dir / "instrument.xlsx")
    poor = {
        f"sat_{s}": "very_dissatisfied"
        for s in ("education", "id_papers", "housing", "healthcare", "drinking_water", "justice_police")
    }
    baseline = write_export(
        tmp_path / "baseline.csv",
        instrument,
        [
            visit("u1"),
            visit(
                "u2",
                case_id="ML-0002",
                lived_abroad_3m="no",
                countries_lived="",
                reasons_left="",
                return_year="",
                return_assisted_iom="",
                return_voluntary="",
                return_reasons="",
            ),
            visit(
                "u3",
                case_id="ML-0003",
                community="kati",
                stratum="kati",
                has_id_document="no",
                could_turn_to_justice="no",
                **poor,
            ),
        ],
    )
    midterm = write_export(
        tmp_path / "midterm.csv",
        instrument,
        [
            visit("u4", interview_date="2020-03-02", **{name: "always" for name in EMOTIONS}),
        ],
    )
    from retour.config import load_project

    project = load_project(study_dir)
    assert ingest_export(project, baseline, "baseline").accepted == 3
    assert ingest_export(project, midterm, "midterm").accepted == 1
    return study_dir


def _json(capsys) -> list[dict]:
    return json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_retour_score_prints_and_stores_every_returnee_with_its_weights(scored_study, capsys):
    from retour import store

    main(["score", str(scored_study), "--round", "baseline", "--format", "json"])
    rows = _json(capsys)
    assert [row["_uuid"] for row in rows] == ["u1", "u3"]
    assert rows[0]["overall"] == pytest.approx(RETURNEE_SCORES["overall"])
    assert rows[1]["social"] == 0.0 and rows[1]["below_threshold"] == "social" and rows[1]["flagged"]
    digest = hashlib.sha256((scored_study / "score_weights.toml").read_bytes()).hexdigest()[:12]
    assert {(row["weights"], row["weights_hash"]) for row in rows} == {("equal", digest)}
    assert RETURNEE["case_id"] not in json.dumps(rows)  # only the hashed case id leaves the store
    con = store.connect(scored_study / "retour.duckdb")
    try:
        assert store.read_results(con, "scores", "baseline")["_uuid"].to_list() == ["u1", "u3"]
        assert store.latest_run(con, "score", "baseline") is not None
    finally:
        con.close()


@pytest.mark.slow
def test_retour_score_case_prints_the_history_of_a_case_typed_in_clear(scored_study, capsys):
    main(["score", str(scored_study), "--case", "ml-0001 ", "--format", "json"])
    rows = _json(capsys)
    assert [(row["round"], row["_uuid"]) for row in rows] == [("baseline", "u1"), ("midterm", "u4")]
    assert rows[1]["previous_psychosocial"] == pytest.approx(RETURNEE_SCORES["psychosocial"])
    assert rows[1]["psychosocial"] == pytest.approx((8.834 - 2.5) / 12)
    assert rows[1]["dropped"] == "psychosocial overall"
    with pytest.raises(SystemExit) as exited:
        main(["score", str(scored_study), "--case", "ML-9999"])
    assert exited.value.code == 1
    assert "Error: No scored visit of case 'ML-9999'." in capsys.readouterr().err


@pytest.mark.slow
def test_retour_score_weights_changes_the_printed_scores(scored_study, tmp_path, capsys):
    weights = tmp_path / "economy-first.toml"
    weights.write_text('name = "economy_first"\n[dimensions]\neconomic = 2\n', encoding="utf-8")
    main(["score", str(scored_study), "--round", "baseline", "--weights", str(weights), "--format", "csv"])
    lines = capsys.readouterr().out.splitlines()
    header = lines[0].split(",")
    first = dict(zip(header, lines[1].split(","), strict=True))
    expected = (
        2 * RETURNEE_SCORES["economic"] + RETURNEE_SCORES["social"] + RETURNEE_SCORES["psychosocial"]
    ) / 4
    assert float(first["overall"]) == pytest.approx(expected)
    assert first["weights"] == "economy_first"


@pytest.mark.slow
def test_retour_score_summary_and_table(scored_study, capsys):
    main(["score", str(scored_study), "--round", "baseline", "--summary", "--format", "json"])
    rows = _json(capsys)
    kati = [row for row in rows if row["community_id"] == "kati" and row["dimension"] == "social"]
    assert kati and kati[0]["n"] == 1 and kati[0]["suppressed"] and kati[0]["estimate"] is None
    main(["score", str(scored_study), "--round", "baseline", "--flagged"])
    captured = capsys.readouterr()
    assert "equal (" in captured.out and "2 visit(s) scored, 1 flagged" in captured.err


def _set(study, old: str, new: str) -> None:
    settings = study / "retour.toml"
    text = settings.read_text(encoding="utf-8")
    assert old in text
    settings.write_text(text.replace(old, new), encoding="utf-8")


@pytest.mark.slow
def test_retour_score_takes_the_returnee_rule_from_the_settings(scored_study, capsys):
    _set(scored_study, "returnee_rule = \"${lived_abroad_3m} = 'yes'\"",
         "returnee_rule = \"${lived_abroad_3m} = 'yes' and ${community} = 'kati'\"")
    main(["score", str(scored_study), "--round", "baseline", "--format", "json"])
    assert [row["_uuid"] for row in _json(capsys)] == ["u3"]


@pytest.mark.slow
def test_retour_score_on_a_survey_round_without_a_returnee_rule_names_the_setting(scored_study, capsys):
    _set(scored_study, "returnee_rule = \"${lived_abroad_3m} = 'yes'\"", 'returnee_rule = ""')
    with pytest.raises(SystemExit) as exited:
        main(["score", str(scored_study), "--round", "baseline"])
    assert exited.value.code == 1
    error = capsys.readouterr().err
    assert error == (
        "Error: Round 'baseline' is a survey round, whose return migrants are scored, and "
        f"population.returnee_rule is empty in {scored_study.resolve() / 'retour.toml'}. Set it to the "
        "condition true for a return migrant, e.g. [population] returnee_rule = \"${lived_abroad} = 'yes'\"; "
        'if the round holds follow-up visits, set kind = "monitoring" for it instead.\n'
    )


@pytest.mark.slow
def test_retour_score_with_a_setting_naming_an_absent_field_names_it(scored_study, capsys):
    _set(scored_study, 'consent_field = "consent"', 'consent_field = "agreed"')
    with pytest.raises(SystemExit):
        main(["score", str(scored_study), "--round", "baseline"])
    error = capsys.readouterr().err
    assert error.startswith("Error: retour.toml: scoring.consent_field names 'agreed', a field "
                            "instrument.xlsx lacks. Set scoring.consent_field to a field of the survey sheet")
    assert error.count("\n") == 1


@pytest.mark.slow
def test_scoring_a_round_without_submissions_says_how_to_ingest(study_dir, capsys):
    with pytest.raises(SystemExit):
        main(["score", str(study_dir), "--round", "midterm"])
    assert "No accepted submissions in round 'midterm'" in capsys.readouterr().err


def test_weighted_sums_give_the_arithmetic_aggregation_of_the_index():
    import numpy as np

    from retour.index.aggregate import arithmetic
    from retour.score import weighted_sums

    rng = np.random.default_rng(20180305)
    values = rng.random((200, 5))
    values[rng.random((200, 5)) < 0.3] = np.nan
    values[0] = np.nan  # nothing answered: no mean
    weights = np.array([1.0, 0.5, 2.0, 3.0, 0.25])
    frame = pl.DataFrame(values, schema=list("abcde")).fill_nan(None)
    weighted, present = weighted_sums(list("abcde"), list(weights))
    mean = frame.select(pl.when(present > 0).then(weighted / present)).to_series().to_numpy()
    expected = arithmetic(values, weights)
    assert np.allclose(mean, expected, equal_nan=True)
    assert np.isnan(mean[0])
