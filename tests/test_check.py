"""`retour check`: every settings problem of a study listed at once, with file, line, field and fix.

The table below breaks the example study mali-2018 one edit at a time and pins the exact problem list
`retour check` prints for each (issue 16: "Must hold").
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from retour.cli import main
from retour.errors import ConfigError
from retour.study import example_study_path
from retour.study.check import check_files, check_study, checked_files

_NOT_SETTINGS = shutil.ignore_patterns("generator", "data", "__pycache__", "*.duckdb", "out")


def _copy_example(tmp_path: Path, name: str = "mali-2018") -> Path:
    target = tmp_path / name
    shutil.copytree(example_study_path(name), target, ignore=_NOT_SETTINGS)
    return target


def _edit(root: Path, file: str, old: str, new: str) -> None:
    path = root / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"the edit must match once in {file}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def _check(root: Path, capsys, *options: str) -> tuple[int, str, str]:
    """Run `retour check` as the console script does: (exit code, stdout, stderr)."""
    try:
        main(["check", str(root), *options])
        code = 0
    except SystemExit as done:
        code = int(done.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _lines(csv_text: str) -> list[str]:
    """Each printed CSV row as `file:line: field: message Hint: hint` (the parts that are given)."""
    lines = []
    for row in csv.DictReader(io.StringIO(csv_text)):
        where = f"{row['file']}:{row['line']}" if row["line"] else row["file"]
        text = f"{where}: {row['field']}: {row['message']}" if row["field"] else f"{where}: {row['message']}"
        lines.append(f"{text} Hint: {row['hint']}" if row["hint"] else text)
    return lines


@pytest.mark.parametrize("example", ["mali-2018", "senegal-2025"])
def test_the_shipped_examples_check_clean(tmp_path, capsys, example):
    root = _copy_example(tmp_path, example)
    code, out, err = _check(root, capsys)
    assert (code, out, err) == (0, "", "No problems found in 10 files.\n")
    assert check_study(root) == []


# (file, text replaced, replacement, the exact problems printed)
BROKEN = [
    ('retour.toml',
     'weight = "weight"',
     'weight = "poids"',
     [
         "retour.toml:56: design.weight: the questionnaire has no field 'poids'. Hint: Set "
         'design.weight to the questionnaire field holding the sampling weight.',
     ]),
    ('retour.toml',
     'stratum = "stratum"',
     'stratum = "strata"',
     [
         "retour.toml:54: design.stratum: the questionnaire has no field 'strata'. Hint: Did you mean "
         "'stratum'? Set design.stratum to the questionnaire field holding the stratum or leave it "
         'empty ("").',
     ]),
    ('retour.toml',
     'weight = "weight"',
     'weight = "community"',
     [
         "retour.toml:56: design.weight: field 'community' is a select_one question; the sampling "
         'weight must be decimal or integer or calculate. Hint: Set design.weight to a decimal or '
         'integer or calculate field of the questionnaire.',
     ]),
    ('retour.toml',
     'community = "community"',
     'community = "interview_date"',
     [
         "retour.toml:53: design.community: field 'interview_date' is a today question; the community "
         'id must be select_one or text. Hint: Set design.community to a select_one or text field of '
         'the questionnaire.',
     ]),
    ('retour.toml',
     'fpc = ""',
     'fpcc = ""',
     [
         "retour.toml:57: design.fpcc: is not a setting of [design]. Hint: Did you mean 'fpc'? Settings "
         'of [design]: community, stratum, psu, weight, fpc, case_id, beneficiary.',
     ]),
    ('retour.toml',
     'age_min = 15',
     'age_min = 40',
     [
         'retour.toml:18: population.age_min: age_min (40) is above age_max (34). Hint: See '
         'docs/settings.md for every setting.',
     ]),
    ('retour.toml',
     'confidence = 0.95',
     'confidence = 1.5',
     [
         'retour.toml:62: estimation.confidence: Input should be less than 1. Hint: See '
         'docs/settings.md for every setting.',
     ]),
    ('retour.toml',
     'ci_method = "logit"',
     'ci_method = "exact"',
     [
         "retour.toml:63: estimation.ci_method: Input should be 'wilson' or 'logit'. Hint: See "
         'docs/settings.md for every setting.',
     ]),
    ('retour.toml',
     'reference_round = "baseline"',
     'reference_round = "base"',
     [
         "retour.toml:67: index.reference_round: index.reference_round 'base' is not a round (rounds: "
         'baseline, midterm, final). Hint: See docs/settings.md for every setting.',
     ]),
    ('retour.toml',
     'returnee_rule = "${lived_abroad_3m} = \'yes\'"',
     'returnee_rule = "${lived_abroad} = \'yes\'"',
     [
         "retour.toml:20: population.returnee_rule: names '${lived_abroad}', which is not a field of "
         "the questionnaire. Hint: Did you mean 'lived_abroad_3m'? Name a field of instrument.xlsx.",
     ]),
    ('retour.toml',
     'returnee_rule = "${lived_abroad_3m} = \'yes\'"',
     'returnee_rule = "${lived_abroad_3m} = \'oui\'"',
     [
         "retour.toml:20: population.returnee_rule: tests 'oui', which is not a choice of "
         "'lived_abroad_3m'. Hint: Choices of 'lived_abroad_3m': yes, no.",
     ]),
    ('retour.toml',
     'returnee_rule = "${lived_abroad_3m} = \'yes\'"',
     'returnee_rule = "${lived_abroad_3m} = "',
     [
         'retour.toml:20: population.returnee_rule: cannot be read: Cannot read the expression '
         "'${lived_abroad_3m} = ': expected a value at the end. Hint: Write an XLSForm condition, e.g. "
         "${lived_abroad} = 'yes'.",
     ]),
    ('retour.toml',
     'consent_field = "consent"',
     'consent_field = "agreement"',
     [
         "retour.toml:85: scoring.consent_field: the questionnaire has no field 'agreement'. Hint: Set "
         'scoring.consent_field to the questionnaire field holding the consent answer or leave it empty '
         '("").',
     ]),
    ('retour.toml',
     'label_en = "Mid-term"\n',
     '',
     [
         "retour.toml:43: rounds[2].label_en: has no label_en (the study's languages are fr, en). Hint: "
         'Add label_en next to label_fr.',
     ]),
    ('retour.toml',
     'unit = { fr = "commune", en = "commune" }',
     'unit = { fr = "commune" }',
     [
         "retour.toml:24: places.unit: places.unit has no text in en (the study's languages are fr, "
         'en). Hint: See docs/settings.md for every setting.',
     ]),
    ('retour.toml',
     '[study]',
     '[study',
     [
         "retour.toml:4: not valid TOML (Expected ']' at the end of a table declaration (at line 4, "
         'column 7)). Hint: Check the quoting and brackets on that line.',
     ]),
    ('indicators.toml',
     'formula = "${can_borrow} = \'yes\'"',
     'formula = "${can_borow} = \'yes\'"',
     [
         'indicators.toml:144: indicators[2].formula: names ${can_borow}, which the questionnaire '
         'lacks. Hint: Use a field name from the survey sheet.',
         "score_weights.toml:84: sub_indicators[3].indicator: indicator 'can_borrow_money' reads "
         'can_borow, which the questionnaire lacks. Hint: Score with a questionnaire that asks these '
         'questions.',
     ]),
    ('indicators.toml',
     'pillar = "economic"\ntheme = "socio_economic"\nfiche_block = "profil_socio_economique"\n\n'
     '[[indicators]]\nid = "can_borrow_money"',
     'pillar = "economy"\ntheme = "socio_economic"\nfiche_block = "profil_socio_economique"\n\n'
     '[[indicators]]\nid = "can_borrow_money"',
     [
         "indicators.toml:136: indicators[1].pillar: pillar 'economy' is unknown. Hint: Use one of "
         'economic, social, psychosocial or none.',
     ]),
    ('indicators.toml',
     'label_en = "Can borrow money when needed"\n',
     '',
     [
         "indicators.toml:140: indicators[2].label_en: indicator 'can_borrow_money' has no label_en.",
     ]),
    ('index.toml',
     'normalisation = "minmax"',
     'normalisation = "minimax"',
     [
         "index.toml:7: normalisation: Unknown normalisation 'minimax'. Hint: Use one of: "
         'distance_to_best, goalposts, minmax, rank, zscore.',
     ]),
    ('index.toml',
     'psychosocial = 1.0\n',
     '',
     [
         'index.toml:20: pillar_weights: pillar_weights must give a weight to each pillar and nothing '
         'else. Hint: Example: pillar_weights = { economic = 1, social = 1, psychosocial = 1 }',
     ]),
    ('index.toml',
     'goalposts = "reference_round"',
     'goalposts = "somewhere"',
     [
         "index.toml:17: goalposts: goalposts = 'somewhere' (use 'reference_round' or 'each_round'). "
         'Hint: Fix index.toml or the pillars, directions and weights in indicators.toml.',
     ]),
    ('needs.toml',
     'indicators = ["satisfied_drinking_water"]',
     'indicators = ["satisfied_drinking_watter"]',
     [
         'needs.toml:25: water.indicators: is not an indicator of the catalogue '
         "('satisfied_drinking_watter'). Hint: Use an id defined in the study's indicators.toml.",
     ]),
    ('needs.toml',
     'id = "water"\nlabel_fr = "Eau"\nlabel_en = "Water"\n',
     'id = "water"\nlabel_fr = "Eau"\n',
     [
         'needs.toml:21: water.label_en: is required and must be text. Hint: Add `label_en = "..."` to '
         'this issue.',
     ]),
    ('needs.toml',
     'community = "bafoulabe"\nissue = "infrastructure"',
     'community = "bafoulab"\nissue = "infrastructure"',
     [
         "needs.toml:264: assessed #1.community: is not a community ('bafoulab'). Hint: Use one of: "
         'bafoulabe, bamako_commune_iv, kati, kayes, kita, sikasso, kirane.',
     ]),
    ('communities.yaml',
     '  - id: kirane\n',
     '  - id: nioro\n    name: Nioro\n    cercle: Nioro\n    region: Kayes\n    type: rural\n  - id: '
     'kirane\n',
     [
         "communities.yaml:455: nioro.id: 'nioro' is not a choice of the questionnaire's community "
         "field 'community'. Hint: Use the choice names of 'community': bafoulabe, bamako_commune_iv, "
         'kati, kayes, kita, sikasso, kirane.',
     ]),
    ('communities.yaml',
     '    cercle: Bafoulabé\n',
     '    circle: Bafoulabé\n',
     [
         'communities.yaml:29: bafoulabe.circle: is neither a field of a community nor an '
         'administrative level of the study (setting places.admin_levels in retour.toml). Hint: Declare '
         'it with [[places.admin_levels]] id = "circle" (declared: cercle, region), or remove it.',
         'communities.yaml:27: bafoulabe.cercle: is required and missing. Hint: Add `cercle: ...` to '
         'this entry.',
     ]),
    ('communities.yaml',
     '    type: rural\n    population: 19995',
     '    type: rurale\n    population: 19995',
     [
         "communities.yaml:31: bafoulabe.type: must be one of: urban, rural ('rurale'). Hint: Use a "
         'type named under `types:` at the top of the register.',
     ]),
    ('communities.yaml',
     '      en: [Bambara, French, Malinke]\n',
     '',
     [
         "communities.yaml:34: bafoulabe.languages: has no text in en (the study's languages are fr, "
         'en). Hint: Add en: ... to it.',
     ]),
    ('actors.yaml',
     '  communities: [bafoulabe]\n  dimensions: [economic, social, c4d]\n  uncertain_dimensions: '
     'true\n  issues: [training, social_cohesion, psychosocial]',
     '  communities: [bafoulab]\n  dimensions: [economic, social, c4d]\n  uncertain_dimensions: true\n  '
     'issues: [trainings, social_cohesion, psychosocial]',
     [
         "actors.yaml:68: bafoulabe_imigrad.communities: is not a known community ('bafoulab'). Hint: "
         'Use one of: bafoulabe, bamako_commune_iv, kati, kayes, kirane, kita, sikasso.',
         "actors.yaml:71: bafoulabe_imigrad.issues: is not a known issue (needs.toml) ('trainings'). "
         'Hint: Use one of: agricultural_productivity, documentation, education, energy, environment, '
         'finance, health, housing, infrastructure, justice_police, psychosocial, social_cohesion, '
         'training, water.',
     ]),
    ('value_chains.yaml',
     '  communities: [bafoulabe, bamako_commune_iv, kita, sikasso]',
     '  communities: [bafoulabe, bamako, kita, sikasso]',
     [
         "value_chains.yaml:20: cereals.communities: is not a known community ('bamako'). Hint: Use one "
         'of: bafoulabe, bamako_commune_iv, kati, kayes, kirane, kita, sikasso.',
     ]),
    ('recommendations.yaml',
     '  partners: [bafoulabe_cafo,',
     '  partners: [bafoulabe_cafe,',
     [
         'recommendations.yaml:29: bafoulabe_awareness.partners: is not a known actor '
         "('bafoulabe_cafe'). Hint: Name partners by their id in actors.yaml.",
     ]),
    ('recommendations.yaml',
     '  title_en: Inform about the risks of irregular migration and about local opportunities\n  '
     'what_fr: >-\n    Repérer',
     '  what_fr: >-\n    Repérer',
     [
         'recommendations.yaml:15: bafoulabe_awareness.title_en: is required and missing. Hint: Add '
         '`title_en: ...` to this entry.',
     ]),
    ('score_weights.toml',
     '[dimensions]\neconomic = 1\n',
     '[dimensions]\neconomic = -1\n',
     [
         'score_weights.toml:27: dimensions.economic: a dimension weight must be a number of 0 or more.',
     ]),
]


@pytest.mark.parametrize(("file", "old", "new", "expected"), BROKEN,
                         ids=[f"{row[0]}-{number}" for number, row in enumerate(BROKEN, start=1)])
def test_each_broken_variant_prints_its_exact_problems(tmp_path, capsys, file, old, new, expected):
    root = _copy_example(tmp_path)
    _edit(root, file, old, new)
    code, out, err = _check(root, capsys, "--format", "csv")
    assert code == 1
    assert _lines(out) == expected
    files = len({line.split(":")[0] for line in expected})
    count = len(expected)
    assert err == (f"{count} problem{'s' if count != 1 else ''} in {files} file{'s' if files != 1 else ''} "
                   "of 10 checked.\n")
    assert "Traceback" not in out + err


def test_problems_in_two_files_are_both_listed(tmp_path, capsys):
    root = _copy_example(tmp_path)
    _edit(root, "retour.toml", 'weight = "weight"', 'weight = "poids"')
    _edit(root, "needs.toml", 'indicators = ["satisfied_drinking_water"]',
          'indicators = ["satisfied_drinking_watter"]')
    code, out, err = _check(root, capsys, "--format", "json")
    assert code == 1
    assert json.loads(out) == [
        {"file": "retour.toml", "line": 56, "field": "design.weight",
         "message": "the questionnaire has no field 'poids'.",
         "hint": "Set design.weight to the questionnaire field holding the sampling weight."},
        {"file": "needs.toml", "line": 25, "field": "water.indicators",
         "message": "is not an indicator of the catalogue ('satisfied_drinking_watter').",
         "hint": "Use an id defined in the study's indicators.toml."},
    ]
    assert err == "2 problems in 2 files of 10 checked.\n"


def test_the_table_names_every_column(tmp_path, capsys):
    root = _copy_example(tmp_path)
    _edit(root, "index.toml", 'normalisation = "minmax"', 'normalisation = "minimax"')
    code, out, _ = _check(root, capsys)
    assert code == 1
    header = out.splitlines()[2]
    columns = [cell.strip() for cell in header.strip("┃").split("┃")]
    assert columns == ["file", "line", "field", "message", "hint"]
    assert "│ index.toml │ 7    │ normalisation │ Unknown normalisation 'minimax'." in out


def test_a_folder_that_does_not_exist_is_one_error_line(tmp_path, capsys):
    code, out, err = _check(tmp_path / "nowhere", capsys)
    assert (code, out) == (1, "")
    assert err == (f"Error: Study folder {tmp_path / 'nowhere'} does not exist. "
                   "Create one with: retour init DIR\n")


def test_a_stage_checks_only_the_files_it_reads(tmp_path):
    root = _copy_example(tmp_path)
    _edit(root, "actors.yaml", "  communities: [bafoulabe]\n  dimensions: [economic, social, c4d]\n"
          "  uncertain_dimensions: true\n  issues: [training,", "  communities: [bafoulab]\n"
          "  dimensions: [economic, social, c4d]\n  uncertain_dimensions: true\n  issues: [training,")
    project = type("Project", (), {"root": root})()
    check_files(project, ("retour.toml", "instrument.xlsx", "indicators.toml", "communities.yaml"))
    with pytest.raises(ConfigError) as raised:
        check_files(project, ("retour.toml", "actors.yaml"))
    assert raised.value.message.splitlines() == [  # one problem: one line
        f"{root / 'actors.yaml'}:68: bafoulabe_imigrad.communities: is not a known community ('bafoulab').",
    ]
    assert raised.value.hint == ("Use one of: bafoulabe, bamako_commune_iv, kati, kayes, kirane, kita, "
                                 "sikasso.")


def test_checked_files_lists_the_optional_registers_only_when_present(tmp_path):
    root = _copy_example(tmp_path, "senegal-2025")
    (root / "value_chains.yaml").unlink()
    assert checked_files(root) == ("retour.toml", "instrument.xlsx", "indicators.toml", "index.toml",
                                   "needs.toml", "communities.yaml", "actors.yaml", "recommendations.yaml",
                                   "score_weights.toml")
    assert check_study(root) == []


def test_missing_files_are_listed_together(tmp_path, capsys):
    root = _copy_example(tmp_path, "senegal-2025")
    (root / "instrument.xlsx").unlink()
    (root / "index.toml").unlink()
    code, out, err = _check(root, capsys, "--format", "csv")
    assert code == 1
    assert _lines(out) == [
        "instrument.xlsx: Questionnaire instrument.xlsx not found. Hint: Create it, or copy it from the "
        "example study (retour init DIR).",
        "index.toml: File index.toml not found. Hint: Create it, or copy it from the example study (retour "
        "init DIR).",
    ]
    assert err == "2 problems in 2 files of 10 checked.\n"
