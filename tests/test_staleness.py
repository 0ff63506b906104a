"""Which settings files made a stage's results out of date (issue 16): the ones that changed, by name."""

from __future__ import annotations

import json

from retour.config import load_project
from retour.study import STAGE_INPUTS, changed_inputs
from retour.study import _stage_details as stage_details


def test_a_run_records_the_hash_of_each_file_it_read(study_dir):
    project = load_project(study_dir)
    details = json.loads(stage_details(project, "index"))
    assert list(details["input_hashes"]) == list(STAGE_INPUTS["index"])
    assert details["input_hashes"]["index.toml"] == project.config_hash(("index.toml",))
    assert details["inputs_hash"] == project.config_hash(STAGE_INPUTS["index"])


def test_only_the_edited_files_are_named(study_dir):
    project = load_project(study_dir)
    details = json.loads(stage_details(project, "needs"))
    for name in ("needs.toml", "indicators.toml"):
        path = study_dir / name
        path.write_text(path.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert changed_inputs(project, "needs", details) == ("indicators.toml", "needs.toml")
    (study_dir / "communities.yaml").unlink()
    assert changed_inputs(project, "needs", details) == ("indicators.toml", "communities.yaml", "needs.toml")


def test_a_run_recorded_before_per_file_hashes_names_every_file(study_dir):
    project = load_project(study_dir)
    details = {"inputs_hash": json.loads(stage_details(project, "estimate"))["inputs_hash"]}
    (study_dir / "indicators.toml").write_text("# emptied\n", encoding="utf-8")
    assert changed_inputs(project, "estimate", details) == (
        "retour.toml", "instrument.xlsx", "indicators.toml", "communities.yaml")
