"""Needs matrix: rules over hand-made estimate frames, assessments, overrides, spec validation, CLI."""

from __future__ import annotations

import datetime as dt
import json
import tomllib

import polars as pl
import pytest

from retour import needs, store
from retour.errors import SpecError
from retour.needs import IndicatorLabel, classify, parse_spec

COMMUNITIES = ["bafoulabe", "bamako_commune_iv", "kati", "kayes", "sikasso", "kirane", "kita"]

# Published 2018 fact-sheet figures (percent) per community, and the printed sample mean. Service
# satisfaction is the sample mean plus the printed gap, as the fact sheets show it.
PUBLISHED = {
    "satisfied_drinking_water": ([35, 42, 47, 76, 35, 42, 46], 46),
    "satisfied_healthcare": ([42, 27, 67, 53, 13, 34, 42], 39),
    "satisfied_housing": ([49, 37, 79, 58, 45, 56, 86], 59),
    "satisfied_id_papers": ([36, 32, 33, 24, 16, 8, 39], 28),
    "wants_psych_services": ([85, 33, 28, 60, 35, 68, 33], 47),
    "access_psychosocial_services": ([36, 74, 69, 82, 71, 5, 49], 56),
    "feels_discriminated": ([22, 4, 7, 17, 14, 17, 34], 16),
}
PSYCHOSOCIAL_RANKS = {"bamako_commune_iv": 1, "kita": 2, "sikasso": 3, "kati": 4, "kayes": 5, "kirane": 6,
                      "bafoulabe": 7}
PSYCHOSOCIAL_SCORES = {"bamako_commune_iv": 0.92, "kita": 0.87, "sikasso": 0.86, "kati": 0.64, "kayes": 0.47,
                       "kirane": 0.16, "bafoulabe": 0.05}

SPEC_TOML = """
[[issues]]
id = "water"
label_fr = "Eau"
label_en = "Water"
dimension = "social"
indicators = ["satisfied_drinking_water"]

[[issues.rules]]
level = "priority"
conditions = [
  { indicator = "satisfied_drinking_water", below_mean_by = 10 },
  { indicator = "satisfied_drinking_water", below = 30 },
]

[[issues.rules]]
level = "important"
conditions = [{ indicator = "satisfied_drinking_water", below_mean_by = 3 }]

[[issues]]
id = "psychosocial"
label_fr = "Psychosocial"
label_en = "Psychosocial"
dimension = "psychosocial"
indicators = ["wants_psych_services", "access_psychosocial_services"]

[[issues.rules]]
level = "priority"
conditions = [
  { indicator = "access_psychosocial_services", below_mean_by = 25 },
  { pillar = "psychosocial", among_lowest = 1 },
]

[[issues.rules]]
level = "important"
match = "all"
conditions = [
  { indicator = "wants_psych_services", above_mean_by = 8 },
  { indicator = "access_psychosocial_services", above = 50 },
]

[[issues]]
id = "infrastructure"
label_fr = "Infrastructures"
label_en = "Infrastructure"
dimension = "economic"

[[issues]]
id = "documentation"
label_fr = "Documentation"
label_en = "Documentation"
dimension = "social"
indicators = ["satisfied_id_papers"]
outside_reach = true

[[assessed]]
community = "bafoulabe"
issue = "infrastructure"
level = "priority"
reason_fr = "Pas de pont."
reason_en = "No bridge."
source = "fiche Bafoulabé"
rounds = ["baseline"]
"""


def estimates_frame(published: dict = PUBLISHED,
                    suppressed: tuple[tuple[str, str], ...] = ()) -> pl.DataFrame:
    """Stored-estimates rows (0..1 scale) for each community and the whole sample ('all')."""
    rows = []
    for indicator_id, (values, mean) in published.items():
        for community_id, value in [*zip(COMMUNITIES, values, strict=True), ("all", mean)]:
            rows.append({"community_id": community_id, "group_dimension": "all", "group": "all",
                         "indicator_id": indicator_id, "estimate": value / 100, "se": 0.04,
                         "n": 5 if (community_id, indicator_id) in suppressed else 86,
                         "suppressed": (community_id, indicator_id) in suppressed})
            rows.append({"community_id": community_id, "group_dimension": "sex", "group": "women",
                         "indicator_id": indicator_id, "estimate": 0.0, "se": 0.04, "n": 40,
                         "suppressed": False})
    return pl.DataFrame(rows)


def index_frame() -> pl.DataFrame:
    return pl.DataFrame({"community_id": list(PSYCHOSOCIAL_RANKS), "pillar": "psychosocial",
                         "score": [PSYCHOSOCIAL_SCORES[c] for c in PSYCHOSOCIAL_RANKS],
                         "rank": list(PSYCHOSOCIAL_RANKS.values())})


@pytest.fixture
def spec() -> needs.NeedsSpec:
    return parse_spec(tomllib.loads(SPEC_TOML), community_ids=COMMUNITIES, round_names=["baseline", "final"],
                      indicator_ids=list(PUBLISHED))


LABELS = {"satisfied_drinking_water": IndicatorLabel("Satisfied with drinking water",
                                                     "Satisfaits de l'eau potable")}


def cell(matrix: pl.DataFrame, community_id: str, issue_id: str) -> dict:
    rows = matrix.filter((pl.col("community_id") == community_id) & (pl.col("issue_id") == issue_id))
    assert rows.height == 1
    return rows.row(0, named=True)


def test_levels_follow_the_rules_on_published_figures(spec):
    matrix = classify(estimates_frame(), index_frame(), spec, "baseline", labels=LABELS)
    assert matrix.height == 7 * 4
    levels = {c: cell(matrix, c, "water")["level"] for c in COMMUNITIES}
    # Bafoulabé and Sikasso are 11 points under the 46% mean; Bamako and Kirané 4 under; Kayes 30 above.
    assert levels == {"bafoulabe": "priority", "bamako_commune_iv": "important", "kati": "none",
                      "kayes": "none", "sikasso": "priority", "kirane": "important", "kita": "none"}
    assert {c: cell(matrix, c, "psychosocial")["level"] for c in COMMUNITIES} == {
        "bafoulabe": "priority", "bamako_commune_iv": "none", "kati": "none", "kayes": "important",
        "sikasso": "none", "kirane": "priority", "kita": "none"}


def test_each_cell_carries_its_numbers_and_rule_in_both_languages(spec):
    matrix = classify(estimates_frame(), index_frame(), spec, "baseline", labels=LABELS)
    water = cell(matrix, "bafoulabe", "water")
    assert water["evidence"].startswith(
        "Satisfied with drinking water: 35% (sample mean 46%, -11 pts, n=86).")
    assert water["rule"] == ("priority if Satisfied with drinking water 10+ pts below the sample mean or "
                             "Satisfied with drinking water under 30%")
    assert water["evidence_fr"].startswith(
        "Satisfaits de l'eau potable : 35 % (moyenne de l'échantillon 46 %, -11 pts, n=86).")
    assert water["rule_fr"].startswith(
        "prioritaire si Satisfaits de l'eau potable inférieur d'au moins 10 pts")
    assert water["basis"] == "computed" and water["overridden"] is False
    psychosocial = cell(matrix, "kirane", "psychosocial")
    assert "access_psychosocial_services: 5% (sample mean 56%, -51 pts, n=86)" in psychosocial["evidence"]
    assert "psychosocial pillar: score 0.16, rank 6 of 7" in psychosocial["evidence"]
    assert "pilier psychosocial : score 0,16, rang 6 sur 7" in psychosocial["evidence_fr"]
    quiet = cell(matrix, "kayes", "water")
    assert quiet["level"] == "none" and "+30 pts" in quiet["evidence"]
    assert quiet["rule"].startswith("none of:")


def test_threshold_is_inclusive_at_exactly_ten_points(spec):
    figures = {"satisfied_drinking_water": ([36, 37, 46, 46, 46, 46, 46], 46)}
    matrix = classify(estimates_frame(figures), pl.DataFrame(), spec, "baseline")
    assert cell(matrix, "bafoulabe", "water")["level"] == "priority"
    assert cell(matrix, "bamako_commune_iv", "water")["level"] == "important"


def test_pillar_rule_uses_rank_among_the_ranked_communities(spec):
    scores = index_frame()
    matrix = classify(estimates_frame(), scores, spec, "baseline")
    # Bafoulabé: access 36% is only 20 points under the mean, but its psychosocial rank is the last.
    assert cell(matrix, "bafoulabe", "psychosocial")["level"] == "priority"
    shifted = scores.with_columns(pl.when(pl.col("community_id") == "bafoulabe").then(6)
                                  .when(pl.col("community_id") == "kirane").then(7)
                                  .otherwise(pl.col("rank")).alias("rank"))
    matrix = classify(estimates_frame(), shifted, spec, "baseline")
    assert cell(matrix, "bafoulabe", "psychosocial")["level"] == "none"


def test_all_conditions_must_hold_when_match_is_all(spec):
    # Kayes wants psychological services 13 points above the mean and has 82% access: important.
    # Bafoulabé wants them 38 points above but has 36% access (not over 50%): the `all` rule fails.
    figures = {**PUBLISHED}
    matrix = classify(estimates_frame(figures), pl.DataFrame({"community_id": [], "pillar": [], "score": [],
                                                              "rank": []}), spec, "baseline")
    assert cell(matrix, "kayes", "psychosocial")["level"] == "important"
    assert cell(matrix, "bafoulabe", "psychosocial")["level"] == "none"


def test_suppressed_estimates_never_meet_a_rule(spec):
    frame = estimates_frame(suppressed=(("bafoulabe", "satisfied_drinking_water"),))
    water = cell(classify(frame, pl.DataFrame(), spec, "baseline"), "bafoulabe", "water")
    assert water["level"] == "none"
    assert "suppressed (n=5, too few respondents)" in water["evidence"]


def test_outside_reach_issue_is_shown_with_its_figures(spec):
    matrix = classify(estimates_frame(), pl.DataFrame(), spec, "baseline")
    documentation = cell(matrix, "kirane", "documentation")
    assert documentation["level"] == "outside_reach" and documentation["basis"] == "outside_reach"
    assert "8% (sample mean 28%, -20 pts" in documentation["evidence"]
    assert "national advocacy" in documentation["evidence"]


def test_assessments_are_shown_as_assessments_and_only_in_their_rounds(spec):
    baseline = classify(estimates_frame(), pl.DataFrame(), spec, "baseline")
    assessed = cell(baseline, "bafoulabe", "infrastructure")
    assert (assessed["level"], assessed["basis"]) == ("priority", "assessed")
    assert assessed["evidence"] == "Analyst assessment (fiche Bafoulabé): No bridge."
    assert assessed["evidence_fr"] == "Appréciation de l'analyste (fiche Bafoulabé) : Pas de pont."
    unmeasured = cell(baseline, "kita", "infrastructure")
    assert (unmeasured["level"], unmeasured["basis"]) == ("none", "not_measured")
    final = classify(estimates_frame(), pl.DataFrame(), spec, "final")
    assert cell(final, "bafoulabe", "infrastructure")["basis"] == "not_measured"


def test_overrides_replace_the_level_and_keep_the_computed_one(spec):
    matrix = classify(estimates_frame(), pl.DataFrame(), spec, "baseline")
    at = dt.datetime(2018, 4, 2, 10, 30)
    overrides = pl.DataFrame({"round": ["baseline"], "community_id": ["kayes"], "issue_id": ["water"],
                              "level": ["priority"], "why": ["Boreholes broke in April"],
                              "set_by": ["awa"], "set_at": [at]})
    result = needs.apply_overrides(matrix, overrides)
    kayes = cell(result, "kayes", "water")
    assert (kayes["level"], kayes["computed_level"], kayes["overridden"]) == ("priority", "none", True)
    assert (kayes["override_by"], kayes["override_why"], kayes["override_at"]) == (
        "awa", "Boreholes broke in April", at)
    assert kayes["evidence"].endswith(" Override by awa on 2018-04-02: Boreholes broke in April "
                                      "(level without override: none).")
    assert kayes["evidence_fr"].endswith(" Modifié par awa le 2018-04-02 : Boreholes broke in April "
                                         "(niveau sans modification : aucun).")
    assert result.filter(pl.col("overridden")).height == 1
    assert cell(result, "kati", "water")["evidence"] == cell(matrix, "kati", "water")["evidence"]
    assert result.columns == list(needs.NEEDS_SCHEMA)
    table = needs.summary(result)
    assert table.filter(pl.col("issue_id") == "water")["kayes"].item() == "priority*"


def test_invalid_spec_lists_every_problem():
    raw = tomllib.loads("""
[[issues]]
id = "water"
label_fr = "Eau"
label_en = "Water"
dimension = "hydraulic"
indicators = ["satisfied_water"]

[[issues.rules]]
level = "urgent"
conditions = [{ indicator = "satisfied_drinking_water", below_mean_by = "ten" }]

[[assessed]]
community = "timbuktu"
issue = "water"
level = "red"
reason_fr = "x"
reason_en = "x"
source = "x"
""")
    with pytest.raises(SpecError) as caught:
        parse_spec(raw, source="needs.toml", indicator_ids=["satisfied_drinking_water"],
                   community_ids=COMMUNITIES)
    message = str(caught.value)
    assert "needs.toml is invalid: 6 problems" in message
    for expected in ("entry 'water', field 'dimension', value 'hydraulic': is not a dimension.",
                     "field 'indicators', value 'satisfied_water': is not an indicator of the catalogue.",
                     "field 'level', value 'urgent': is not a level a rule can set.",
                     "field 'below_mean_by', value 'ten': must be a number.",
                     "entry 'assessed #1', field 'community', value 'timbuktu': is not a community.",
                     "entry 'assessed #1', field 'level', value 'red': is not a level."):
        assert expected in message
    assert len(caught.value.problems) == 6


def test_a_condition_needs_one_known_test():
    raw = tomllib.loads("""
[[issues]]
id = "water"
label_fr = "Eau"
label_en = "Water"
dimension = "social"
[[issues.rules]]
level = "priority"
conditions = [{ indicator = "x", under = 3 }, { pillar = "wealth", among_lowest = 2 }]
""")
    with pytest.raises(SpecError) as caught:
        parse_spec(raw)
    assert "value 'under': a condition needs exactly one test." in str(caught.value)
    assert "field 'pillar', value 'wealth': is not a pillar." in str(caught.value)


def test_override_check_refuses_unknown_cells_and_missing_reason(spec):
    with pytest.raises(SpecError) as caught:
        needs.check_override(spec, COMMUNITIES, "gao", "roads", "urgent", " ")
    message = str(caught.value)
    assert "4 problems" in message
    assert "value 'gao': is not a community." in message and "value 'urgent': is not a level." in message


def test_shipped_spec_matches_the_example_catalogue_and_registers(example_dir):
    from retour.config import load_project
    from retour.study import load_needs_spec

    spec = load_needs_spec(load_project(example_dir))
    assert spec.issue_ids() == ("water", "education", "energy", "infrastructure", "agricultural_productivity",
                                "environment", "training", "finance", "social_cohesion", "housing", "health",
                                "psychosocial", "documentation", "justice_police")
    outside = [issue.id for issue in spec.issues if issue.outside_reach]
    assert outside == ["documentation", "justice_police"]
    measured_by_nothing = {issue.id for issue in spec.issues if not issue.rules and not issue.outside_reach}
    assert measured_by_nothing == {"infrastructure", "environment"}
    assert {a.issue_id for a in spec.assessments} >= {"infrastructure", "environment",
                                                      "agricultural_productivity"}


# --- the stage over a study folder, and the CLI --------------------------------------------------------


def seed_store(study_dir, round_name: str = "baseline") -> None:
    """Hand-made estimates and index scores in the study's store (the estimate stage is not needed)."""
    con = store.connect(study_dir / "retour.duckdb")
    try:
        store.write_results(con, "estimates", estimates_frame(), round_name)
        scores = pl.concat([index_frame().with_columns(pl.lit(pillar).alias("pillar"))
                            for pillar in ("economic", "social", "psychosocial", "composite")])
        store.write_results(con, "index_scores", scores, round_name)
    finally:
        con.close()


def test_compute_needs_stores_needs_and_gaps_per_round(study_dir):
    from retour.config import load_project
    from retour.study import compute_needs

    seed_store(study_dir)
    project = load_project(study_dir)
    matrix = compute_needs(project, "baseline")
    assert matrix.height == 7 * 14
    assert cell(matrix, "sikasso", "health")["level"] == "priority"  # 13% satisfied, 26 points under
    assert cell(matrix, "kirane", "justice_police")["level"] == "outside_reach"
    con = store.connect(project.store_path, read_only=True)
    try:
        stored = store.read_results(con, "needs", "baseline")
        gaps = store.read_results(con, "actor_gaps", "baseline")
        run = store.latest_run(con, "needs", "baseline")
    finally:
        con.close()
    assert stored.height == 98 and set(stored["round"]) == {"baseline"}
    assert set(gaps["level"]) <= {"priority", "important"} and gaps.height > 0
    assert run is not None


def test_overrides_survive_recomputation(study_dir):
    from retour.config import load_project
    from retour.study import compute_needs, set_need_override

    seed_store(study_dir)
    project = load_project(study_dir)
    result = set_need_override(project, "baseline", "kayes", "water", "priority", "Boreholes broke", by="awa")
    assert cell(result, "kayes", "water")["overridden"] is True
    again = compute_needs(project, "baseline")
    kayes = cell(again, "kayes", "water")
    assert (kayes["level"], kayes["computed_level"], kayes["override_by"]) == ("priority", "none", "awa")
    assert kayes["override_why"] == "Boreholes broke" and kayes["override_at"] is not None


def test_cli_needs_json_and_override(study_dir, capsys):
    from retour.cli import main

    seed_store(study_dir)
    main(["needs", str(study_dir), "--format", "json", "--community", "bafoulabe"])
    records = json.loads(capsys.readouterr().out)
    assert [r["issue_id"] for r in records][:3] == ["water", "education", "energy"]
    water = records[0]
    assert set(water) == {"community_id", "issue_id", "level", "basis", "computed_level", "overridden",
                          "rule", "evidence", "override_by", "override_why", "override_at"}
    assert water["level"] == "priority" and "35% (sample mean 46%, -11 pts" in water["evidence"]

    main(["needs", str(study_dir), "--set", "kati", "water", "important", "--why", "Seen on site",
          "--by", "moussa", "--format", "csv", "--community", "kati", "--language", "fr"])
    captured = capsys.readouterr()
    assert "Override recorded: kati / water = important." in captured.err
    line = next(row for row in captured.out.splitlines() if row.startswith("kati,water,"))
    assert line.startswith("kati,water,important,computed,none,True,")
    assert "moussa,Seen on site" in line and "moyenne de l'échantillon" in line


def test_cli_refuses_a_bad_override(study_dir, capsys):
    from retour.cli import main

    seed_store(study_dir)
    with pytest.raises(SystemExit) as stopped:
        main(["needs", str(study_dir), "--set", "kati", "water", "urgent", "--why", "x"])
    assert stopped.value.code == 1
    error = capsys.readouterr().err
    assert error.startswith("Error: The override cannot be recorded: 1 problem:")
    assert "value 'urgent': is not a level." in error


def test_cli_needs_without_estimates_says_what_to_run(study_dir, capsys):
    from retour.cli import main

    with pytest.raises(SystemExit):
        main(["needs", str(study_dir)])
    assert "No estimates for round 'baseline'." in capsys.readouterr().err


def test_cli_needs_matrix_and_unknown_community(study_dir, capsys):
    from retour.cli import main

    seed_store(study_dir)
    main(["needs", str(study_dir), "--matrix", "--format", "csv"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "issue_id,bafoulabe,bamako_commune_iv,kati,kayes,kita,sikasso,kirane"
    assert lines[1] == "water,priority,important,none,none,none,priority,important"
    assert lines[-1].startswith("justice_police,outside_reach,")
    with pytest.raises(SystemExit):
        main(["needs", str(study_dir), "--community", "gao"])
    assert "Error: No results for community 'gao'." in capsys.readouterr().err


# --- analysts' actor edits reach the listings, the gaps and the reports ------------------------------


def remove_economic_from_kirane_cafo(study_dir) -> None:
    """What the dashboard records when an analyst unticks 'economic' for CAFO (Kirané)."""
    con = store.connect(study_dir / "retour.duckdb")
    try:
        changes = {"economic": ("true", "false"), "weaknesses_en": ("", "No credit scheme left"),
                   "weaknesses_fr": ("", "Plus de caisse de crédit")}
        store.record_actor_edit(con, "kirane_cafo", changes, "awa")
    finally:
        con.close()


def test_an_actor_edit_changes_the_listing_and_opens_a_gap(study_dir):
    from retour.config import load_project
    from retour.study import actor_gaps, list_actors, load_actor_register

    seed_store(study_dir)
    project = load_project(study_dir)
    gaps = {r["issue_id"]: r for r in actor_gaps(project, "baseline").filter(
        pl.col("community_id") == "kirane").iter_rows(named=True)}
    # CAFO is the only Kirané actor working on agricultural productivity before the edit.
    assert gaps["agricultural_productivity"]["covered"] is True
    assert gaps["agricultural_productivity"]["actor_ids"] == "kirane_cafo"
    before = list_actors(project, "kirane").filter(pl.col("actor_id") == "kirane_cafo").row(0, named=True)
    assert before["economic"] is True and before["edited_by"] is None

    remove_economic_from_kirane_cafo(study_dir)
    after = list_actors(project, "kirane").filter(pl.col("actor_id") == "kirane_cafo").row(0, named=True)
    assert [after[d] for d in ("economic", "social", "psychosocial", "c4d")] == [False, True, True, True]
    assert after["issues"] == "social_cohesion; psychosocial"  # finance and agriculture are economic issues
    assert after["weaknesses_en"] == "No credit scheme left"
    assert (after["edited_by"], after["edited_fields"]) == ("awa", "economic; weaknesses_fr; weaknesses_en")
    assert after["edited_at"] is not None
    assert list_actors(project, "kirane", "economic").filter(pl.col("actor_id") == "kirane_cafo").height == 0
    gaps = {r["issue_id"]: r for r in actor_gaps(project, "baseline").filter(
        pl.col("community_id") == "kirane").iter_rows(named=True)}
    assert gaps["agricultural_productivity"]["covered"] is False
    assert gaps["psychosocial"]["covered"] is True and gaps["psychosocial"]["actor_ids"] == "kirane_cafo"
    as_written = load_actor_register(project, edits=False).actor("kirane_cafo")
    assert "economic" in as_written.dimensions and as_written.weaknesses_en == ""


def test_the_cli_lists_and_matches_edited_actors(study_dir, capsys):
    from retour.cli import main

    seed_store(study_dir)
    remove_economic_from_kirane_cafo(study_dir)
    main(["actors", str(study_dir), "--community", "kirane", "--format", "json"])
    printed = capsys.readouterr()
    cafo = next(r for r in json.loads(printed.out) if r["actor_id"] == "kirane_cafo")
    assert cafo["economic"] is False and cafo["weaknesses_en"] == "No credit scheme left"
    assert cafo["edited_by"] == "awa" and cafo["edited_fields"] == "economic; weaknesses_fr; weaknesses_en"
    assert "1 actor(s) carry edits made in the dashboard (latest " in printed.err and "by awa)" in printed.err
    main(["actors", str(study_dir), "--gaps", "--community", "kirane", "--format", "json"])
    records = json.loads(capsys.readouterr().out)
    farming = next(r for r in records if r["issue_id"] == "agricultural_productivity")
    assert farming["covered"] is False and farming["actors"] == ""


def test_fact_sheet_actor_map_shows_the_edit(study_dir):
    from retour.config import load_project
    from retour.report.factsheet import actor_rows
    from retour.report.i18n import Formatter
    from retour.study import report_data

    seed_store(study_dir)
    remove_economic_from_kirane_cafo(study_dir)
    project = load_project(study_dir)
    con = store.connect(project.store_path)
    try:
        data = report_data(project, "baseline", con)
    finally:
        con.close()
    rows = {row["name"]: row for row in actor_rows(data, Formatter("fr"), "kirane")["rows"]}
    assert rows["CAFO (Kirané)"]["marks"] == [False, True, True, True]
    assert next(a for a in data.actors if a.id == "kirane_cafo").weaknesses_fr == "Plus de caisse de crédit"


def test_listing_actors_of_a_study_without_a_store_creates_none(study_dir):
    from retour.config import load_project
    from retour.study import list_actors

    listing = list_actors(load_project(study_dir), "kirane")
    assert listing.height > 0 and listing["edited_by"].null_count() == listing.height
    assert not (study_dir / "retour.duckdb").exists()
