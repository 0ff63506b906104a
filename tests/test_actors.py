"""Actor register, value chains and recommendations: loading, validation, listings, needs-actor gaps."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import polars as pl
import pytest
import yaml

from retour import actors
from retour.errors import SpecError

COMMUNITIES = ("bafoulabe", "bamako_commune_iv", "kati", "kayes", "sikasso", "kirane", "kita")
ISSUES = ("water", "education", "energy", "infrastructure", "agricultural_productivity", "environment",
          "training", "finance", "social_cohesion", "housing", "health", "psychosocial", "documentation",
          "justice_police")


@pytest.fixture(scope="module")
def register(example_dir_module) -> actors.ActorRegister:
    return actors.load_register(example_dir_module, COMMUNITIES, ISSUES)


@pytest.fixture(scope="module")
def example_dir_module() -> Path:
    return Path(__file__).resolve().parent.parent / "src" / "retour" / "examples" / "mali-2018"


def test_the_example_ships_the_39_community_actors_of_the_fact_sheets(register):
    table = [a for a in register.actors if "community_table" in a.listed_in]
    assert len(table) == 39
    per_community = Counter(a.communities[0] for a in table)
    assert per_community == {"bafoulabe": 7, "bamako_commune_iv": 6, "kati": 5, "kayes": 5, "sikasso": 6,
                             "kirane": 5, "kita": 5}
    certain = sorted(a.id for a in table if not a.uncertain_dimensions)
    assert certain == ["bafoulabe_cafo", "bamako_human_help", "kayes_amrk", "kirane_cafo"]
    assert all(set(register.actor(i).dimensions) == set(actors.DIMENSIONS) for i in certain)
    assert all(a.description_fr and a.description_en for a in table)
    assert all(bool(a.strengths_fr) == bool(a.strengths_en) for a in register.actors)


def test_the_example_ships_the_national_partners_by_category(register):
    national = [a for a in register.actors if a.scope == "national"]
    by_category = Counter(category for a in national for category in a.categories)
    assert by_category == {"institutional": 14, "social_psychosocial": 6, "agri_food": 10,
                           "training_general": 8, "training_specialised": 4, "financial": 12, "labelling": 8,
                           "research": 6, "media": 4}
    assert register.actor("ier").listed_in == ("structural_partners", "value_chain_partners")


def test_value_chain_totals_match_the_published_results_row(register):
    counts = Counter(c for chain in register.value_chains for c in chain.communities)
    assert counts == {"bafoulabe": 2, "bamako_commune_iv": 7, "kati": 2, "kayes": 5, "kita": 3, "sikasso": 7,
                      "kirane": 1}
    assert len(register.value_chains) == 9
    assert all(chain.communities_uncertain for chain in register.value_chains)
    assert actors.chains_by_community(register)["kirane"] == ("livestock",)


def test_recommendations_cover_every_community_with_known_partners(register):
    by_community = Counter(r.community_id for r in register.recommendations)
    assert set(by_community) == set(COMMUNITIES)
    fiche_boxes = Counter(r.community_id for r in register.recommendations if r.source == "fiche")
    assert fiche_boxes == {"bafoulabe": 4, "bamako_commune_iv": 2, "kati": 3, "kayes": 4, "sikasso": 3,
                           "kirane": 3, "kita": 2}
    assert {r.framing for r in register.recommendations} == set(actors.FRAMINGS)
    names = register.names()
    assert all(p in names for r in register.recommendations for p in r.partners)
    awareness = next(r for r in register.recommendations if r.id == "bafoulabe_awareness")
    assert awareness.partners == ("bafoulabe_cafo", "bafoulabe_youth_council", "bafoulabe_radio",
                                  "bafoulabe_recotrad")


def test_listing_filters_by_community_and_dimension_and_hides_contacts(register):
    kayes = actors.list_actors(register, "kayes")
    assert set(kayes["actor_id"]) >= {"kayes_grdr", "kayes_enda", "kayes_action_plus", "kayes_amrk",
                                      "kayes_micro_enterprises"}
    assert "contact" not in kayes.columns
    psycho = actors.list_actors(register, dimension="psychosocial")
    assert psycho["psychosocial"].all() and psycho.height > 10
    amrk = kayes.filter(pl.col("actor_id") == "kayes_amrk").row(0, named=True)
    assert (amrk["economic"], amrk["social"], amrk["psychosocial"], amrk["c4d"]) == (True, True, True, True)
    assert amrk["uncertain_dimensions"] is False
    with_national = actors.list_actors(register, include_national=True)
    assert "national" in set(with_national["community_id"])
    chains = actors.list_value_chains(register)
    assert chains.filter(pl.col("chain_id") == "shea")["communities"].item() == "kayes; sikasso"


def small_register() -> actors.ActorRegister:
    raw_actors = {"actors": [
        {"id": "well_builders", "name": "Well builders", "kind": "private_firm", "communities": ["kayes"],
         "dimensions": ["economic"], "issues": ["water"], "contact": "+223 00 00 00 00"},
        {"id": "counsellors", "name": "Counsellors", "kind": "ngo", "communities": ["kayes", "kita"],
         "dimensions": ["psychosocial"], "issues": ["psychosocial"]},
        {"id": "national_bank", "name": "National bank", "kind": "financial_institution", "scope": "national",
         "dimensions": ["economic"], "issues": ["finance"], "categories": ["financial"]},
        {"id": "rice_buyer", "name": "Rice buyer", "kind": "private_firm", "scope": "national",
         "dimensions": ["economic"], "issues": ["finance"]},
    ]}
    problems: list = []
    parsed = actors.parse_actors(raw_actors, COMMUNITIES, ISSUES, problems)
    ids = {a.id for a in parsed}
    chains = actors.parse_value_chains({"value_chains": [
        {"id": "rice", "label_fr": "Riz", "label_en": "Rice", "communities": ["kita"],
         "partners": ["rice_buyer"]}]}, COMMUNITIES, ids, problems)
    recommendations = actors.parse_recommendations({"recommendations": [
        {"id": "kayes_wells", "community": "kayes", "title_fr": "Puits", "title_en": "Wells",
         "what_fr": "Creuser.", "what_en": "Dig.", "needs": ["water"], "partners": ["well_builders"],
         "framing": "answer_community_challenges"}]}, COMMUNITIES, ISSUES, ids, problems)
    assert problems == []
    return actors.ActorRegister(actors=parsed, value_chains=chains, recommendations=recommendations)


def test_gaps_show_who_covers_each_priority_need_and_what_nobody_covers():
    needs = pl.DataFrame({
        "community_id": ["kayes", "kayes", "kayes", "kita", "kita", "kita"],
        "issue_id": ["water", "psychosocial", "finance", "water", "finance", "housing"],
        "level": ["priority", "important", "priority", "priority", "priority", "none"],
        "overridden": [False, False, True, False, False, False],
    })
    gaps = actors.match_needs(needs, small_register())
    assert gaps.height == 4  # priority needs only
    rows = {(r["community_id"], r["issue_id"]): r for r in gaps.iter_rows(named=True)}
    assert rows[("kayes", "water")]["covered"] is True
    assert rows[("kayes", "water")]["actors"] == "Well builders"
    assert rows[("kayes", "water")]["recommendations"] == "kayes_wells"
    assert rows[("kita", "water")]["covered"] is False and rows[("kita", "water")]["actors"] == ""
    # The rice buyer is known only through the rice chain, which concerns Kita, not Kayes.
    assert rows[("kayes", "finance")]["national_partner_ids"] == "national_bank"
    assert rows[("kita", "finance")]["national_partner_ids"] == "national_bank; rice_buyer"
    assert rows[("kayes", "finance")]["overridden"] is True
    with_important = actors.match_needs(needs, small_register(), levels=("priority", "important"))
    assert with_important.filter(pl.col("issue_id") == "psychosocial")["actors"].item() == "Counsellors"


# --- analysts' edits laid over the register ----------------------------------------------------------

ISSUE_DIMENSIONS = {"water": "social", "psychosocial": "psychosocial", "finance": "economic"}


def edit_log(*edits: tuple[int, str, str, str | None, str]) -> pl.DataFrame:
    """A log as `store.read_actor_edits` returns it, from (edit_id, actor_id, field, new_value, edited_by)."""
    return pl.DataFrame(
        [(edit_id, actor_id, field, None, new_value, by, dt.datetime(2026, 3, 1) + dt.timedelta(days=edit_id))
         for edit_id, actor_id, field, new_value, by in edits],
        schema={"edit_id": pl.Int32, "actor_id": pl.Utf8, "field": pl.Utf8, "old_value": pl.Utf8,
                "new_value": pl.Utf8, "edited_by": pl.Utf8, "edited_at": pl.Datetime("us")}, orient="row")


def test_the_latest_edit_of_each_field_wins_whatever_the_row_order():
    register = small_register()
    log = edit_log((4, "well_builders", "economic", "false", "awa"),
                   (2, "well_builders", "economic", "true", "moussa"),
                   (1, "well_builders", "strengths_en", "Fast", "moussa"),
                   (3, "well_builders", "strengths_en", "Fast and cheap", "awa"),
                   (5, "counsellors", "c4d", "true", "awa"))
    edited = actors.apply_edits(register, log)
    builders = edited.actor("well_builders")
    assert builders.dimensions == () and builders.strengths_en == "Fast and cheap"
    assert builders.strengths_fr == "" and builders.issues == ("water",)
    assert edited.actor("counsellors").dimensions == ("psychosocial", "c4d")
    rows = {r["actor_id"]: r for r in actors.list_actors(edited).iter_rows(named=True)}
    assert rows["well_builders"]["economic"] is False and rows["counsellors"]["c4d"] is True


def test_edits_of_unknown_actors_and_fields_are_ignored_and_inputs_unchanged():
    register = small_register()
    log = edit_log((1, "gone_ngo", "economic", "true", "awa"), (2, "counsellors", "contact", "+223 1", "awa"),
                   (3, "counsellors", "strengths_fr", None, "awa"))
    before = log.clone()
    assert actors.apply_edits(register, log) == small_register()
    assert actors.apply_edits(register, pl.DataFrame()) == register  # a store before migration 0203
    edited = actors.apply_edits(register, edit_log((1, "counsellors", "psychosocial", "false", "awa")))
    assert edited.actor("counsellors").dimensions == ()
    assert register == small_register() and log.equals(before)
    assert register.actor("counsellors").dimensions == ("psychosocial",)


def test_taking_a_dimension_away_withdraws_the_actor_from_its_issues_only():
    register = small_register()
    log = edit_log((1, "counsellors", "psychosocial", "false", "awa"),
                   (2, "well_builders", "economic", "false", "awa"))
    edited = actors.apply_edits(register, log, ISSUE_DIMENSIONS)
    assert edited.actor("counsellors").issues == ()
    assert edited.actor("well_builders").issues == ("water",)  # water is a social issue
    needs = pl.DataFrame({"community_id": ["kayes", "kayes"], "issue_id": ["psychosocial", "water"],
                          "level": ["priority", "priority"]})
    before = {r["issue_id"]: r["covered"] for r in actors.match_needs(needs, register).iter_rows(named=True)}
    after = {r["issue_id"]: r["covered"] for r in actors.match_needs(needs, edited).iter_rows(named=True)}
    assert before == {"psychosocial": True, "water": True}
    assert after == {"psychosocial": False, "water": True}
    restored = edit_log((1, "counsellors", "psychosocial", "false", "awa"),
                        (3, "counsellors", "psychosocial", "true", "moussa"))
    assert actors.apply_edits(register, restored, ISSUE_DIMENSIONS) == register


def test_edit_summary_names_the_last_editor_the_time_and_the_fields():
    log = edit_log((3, "counsellors", "weaknesses_en", "Few staff", "moussa"),
                   (1, "counsellors", "economic", "true", "awa"), (2, "well_builders", "c4d", "true", "awa"),
                   (4, "counsellors", "contact", "x", "ghost"))
    summary = {r["actor_id"]: r for r in actors.edit_summary(log).iter_rows(named=True)}
    assert set(summary) == {"counsellors", "well_builders"}
    assert summary["counsellors"]["edited_by"] == "moussa"
    assert summary["counsellors"]["edited_at"] == dt.datetime(2026, 3, 4)
    assert summary["counsellors"]["edited_fields"] == "economic; weaknesses_en"
    empty = actors.edit_summary(pl.DataFrame())
    assert empty.height == 0 and empty.columns == ["actor_id", "edited_by", "edited_at", "edited_fields"]


def write_register(folder: Path, actors_raw: dict, chains_raw: dict, recommendations_raw: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, raw in (("actors.yaml", actors_raw), ("value_chains.yaml", chains_raw),
                      ("recommendations.yaml", recommendations_raw)):
        (folder / name).write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return folder


def test_validation_lists_every_problem_across_the_three_files(tmp_path):
    folder = write_register(tmp_path / "study", {"actors": [
        {"id": "radio", "name": "Radio", "kind": "media", "communities": ["timbuktu"], "dimensions": ["c4d"]},
        {"id": "ngo", "name": "NGO", "kind": "charity", "communities": ["kayes"], "dimensions": ["spiritual"],
         "issues": ["roads"], "strengths_fr": "Présente partout."},
        {"id": "ngo", "name": "Twin", "kind": "ngo", "communities": ["kayes"], "dimensions": ["social"]},
    ]}, {"value_chains": [
        {"id": "rice", "label_fr": "Riz", "label_en": "Rice", "communities": ["kayes"],
         "partners": ["rice_board"]}]}, {"recommendations": [
        {"id": "kayes_radio", "community": "kayes", "title_fr": "Radio", "title_en": "Radio",
         "what_fr": "Informer.", "what_en": "Inform.", "needs": ["awareness"], "partners": ["radio", "ghost"],
         "framing": "create_jobs"}]})
    with pytest.raises(SpecError) as caught:
        actors.load_register(folder, COMMUNITIES, ISSUES)
    message = str(caught.value)
    expected = [
        "actors.yaml, entry 'radio', field 'communities', value 'timbuktu': is not a known community.",
        "actors.yaml, entry 'ngo', field 'kind', value 'charity': is not a kind of actor.",
        "actors.yaml, entry 'ngo', field 'dimensions', value 'spiritual': is not a known dimension.",
        "actors.yaml, entry 'ngo', field 'issues', value 'roads': is not a known issue (needs.toml).",
        "actors.yaml, entry 'ngo', field 'strengths_en': is missing its translation.",
        "actors.yaml, entry 'ngo', field 'id', value 'ngo': is used by two entries.",
        "value_chains.yaml, entry 'rice', field 'partners', value 'rice_board': is not a known actor.",
        "recommendations.yaml, entry 'kayes_radio', field 'needs', value 'awareness': is not a known need",
        "recommendations.yaml, entry 'kayes_radio', field 'partners', value 'ghost': is not a known actor.",
    ]
    for line in expected:
        assert line in message
    assert message.startswith("The actor and programme registers are invalid (actors.yaml, "
                              f"recommendations.yaml, value_chains.yaml): {len(expected)} problems:")
    assert len(caught.value.problems) == len(expected)


def test_unreadable_yaml_names_the_file_and_line(tmp_path):
    (tmp_path / "actors.yaml").write_text("actors:\n  - id: a\n    name: [unclosed\n", encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        actors.load_register(tmp_path, COMMUNITIES, ISSUES)
    assert "actors.yaml: not valid YAML (line" in str(caught.value)


# --- the CLI ---------------------------------------------------------------------------------------


def test_cli_actors_by_community_and_dimension(study_dir, capsys):
    from retour.cli import main

    main(["actors", str(study_dir), "--community", "kita", "--dimension", "psychosocial", "--format", "json"])
    records = json.loads(capsys.readouterr().out)
    assert {r["actor_id"] for r in records} == {"kita_returnee_association", "kita_tonkara"}
    assert all(r["psychosocial"] for r in records)
    assert "contact" not in records[0]


def test_cli_actors_chains(study_dir, capsys):
    from retour.cli import main

    main(["actors", str(study_dir), "--chains", "--format", "csv"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "chain_id,label_en,label_fr,communities,communities_uncertain,partners"
    assert lines[-1].startswith("agroforestry,Agroforestry,Agroforesterie,bamako_commune_iv,True,")


def test_cli_actors_gaps(study_dir, capsys):
    from retour.cli import main
    from test_needs import seed_store

    seed_store(study_dir)
    main(["actors", str(study_dir), "--gaps", "--format", "json"])
    captured = capsys.readouterr()
    records = json.loads(captured.out)
    assert {r["level"] for r in records} == {"priority"}
    water = next(r for r in records if (r["community_id"], r["issue_id"]) == ("bafoulabe", "water"))
    assert water["covered"] is False and water["recommendations"] == "bafoulabe_roads_water"
    psycho = next(r for r in records if (r["community_id"], r["issue_id"]) == ("bafoulabe", "psychosocial"))
    assert psycho["covered"] is True and "Croix-Rouge malienne (Bafoulabé)" in psycho["actors"]
    assert "with no actor in the community" in captured.err


def test_cli_actors_unknown_community(study_dir, capsys):
    from retour.cli import main

    with pytest.raises(SystemExit):
        main(["actors", str(study_dir), "--community", "gao"])
    assert "Error: Unknown community 'gao'. Communities of the study: bafoulabe" in capsys.readouterr().err
