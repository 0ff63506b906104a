"""`retour init --blank` and `retour init --from-form` (issue 16): the files written, the design fields
guessed with their reason, the candidate indicators (each one valid once uncommented), the communities
from the form's choices, and init's rules for an existing folder."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import xlsxwriter
import yaml

from retour.cli import main
from retour.config import load_project
from retour.indicators import load_catalogue
from retour.schema import load_instrument

EXAMPLES = Path(__file__).parent.parent / "src" / "retour" / "examples"


# A questionnaire in neither shipped example: four villages, no strata, design fields named as a
# survey team might name them (village, zd, wt, code_menage), yes/no answers `oui`/`non`.
SURVEY = [
    ["type", "name", "label::Français (fr)", "label::English (en)", "required", "relevant", "constraint",
     "calculation", "retour_identifying"],
    ["start", "start"],
    ["end", "end"],
    ["today", "jour"],
    ["select_one villages", "village", "Village", "Village", "yes"],
    ["text", "zd", "Zone de dénombrement", "Enumeration area", "yes"],
    ["decimal", "wt", "Poids", "Weight", "yes", "", ". > 0"],
    ["text", "code_menage", "Code du ménage", "Household code", "yes", "", "", "", "hash"],
    ["select_one sexe", "sexe", "Sexe", "Sex", "yes"],
    ["integer", "age", "Âge", "Age", "yes", "", ". >= 18 and . <= 60"],
    ["select_one oui_non", "parti", "Avez-vous vécu hors du pays plus de six mois ?",
     "Have you lived outside the country for more than six months?", "yes"],
    ["select_one oui_non", "activite", "Avez-vous une activité qui rapporte ?",
     "Do you have an activity that earns money?", "yes"],
    ["select_one oui_non", "epargne", "Mettez-vous de l'argent de côté ?", "Do you put money aside?", "yes"],
    ["select_one oui_non", "dette", "Avez-vous une dette difficile à rembourser ?",
     "Do you have a debt that is hard to repay?", "yes"],
    ["select_one oui_non", "association", "Êtes-vous membre d'une association ?",
     "Are you a member of an association?", "yes"],
    ["select_one oui_non", "papiers", "Avez-vous une pièce d'identité ?", "Do you have an identity document?",
     "yes"],
    ["select_one oui_non", "accueil", "Vous sentez-vous bien accueilli au village ?",
     "Do you feel welcome in the village?", "yes"],
    ["select_one oui_non", "soucis", "Les soucis vous empêchent-ils souvent de dormir ?",
     "Do worries often keep you awake?", "yes"],
    ["select_one frequence", "confiance", "Avez-vous confiance en l'avenir ?",
     "Are you confident about the future?", "yes"],
    ["select_multiple sources", "sources", "Sources de revenu du ménage", "Household's sources of income",
     "yes"],
    ["integer", "personnes", "Personnes dans le ménage", "People in the household", "yes", "",
     ". >= 1 and . <= 30"],
]
CHOICES = [
    ["list_name", "name", "label::Français (fr)", "label::English (en)"],
    ["villages", "dioro", "Dioro", "Dioro"],
    ["villages", "kemeni", "Kéméni", "Kemeni"],
    ["villages", "sarro", "Sarro", "Sarro"],
    ["villages", "tamani", "Tamani", "Tamani"],
    ["sexe", "f", "Femme", "Woman"],
    ["sexe", "h", "Homme", "Man"],
    ["oui_non", "oui", "Oui", "Yes"],
    ["oui_non", "non", "Non", "No"],
    ["frequence", "jamais", "Jamais", "Never"],
    ["frequence", "parfois", "Parfois", "Sometimes"],
    ["frequence", "souvent", "Souvent", "Often"],
    ["sources", "agriculture", "Agriculture", "Farming"],
    ["sources", "commerce", "Commerce", "Trade"],
    ["sources", "transferts", "Argent envoyé de l'étranger", "Money sent from abroad"],
]
SETTINGS = [["form_title", "form_id", "version", "default_language"],
            ["Villages de la vallée", "villages_vallee", "1", "Français (fr)"]]


def write_form(path: Path) -> Path:
    """Write the questionnaire as an XLSForm workbook at `path`."""
    workbook = xlsxwriter.Workbook(str(path))
    for sheet, rows in (("survey", SURVEY), ("choices", CHOICES), ("settings", SETTINGS)):
        worksheet = workbook.add_worksheet(sheet)
        for number, row in enumerate(rows):
            worksheet.write_row(number, 0, row)
    workbook.close()
    return path


@pytest.fixture
def form(tmp_path: Path) -> Path:
    return write_form(tmp_path / "my-form.xlsx")


def _uncomment(text: str, question: str, pillar: str) -> str:
    """The catalogue with the candidate of `question` kept: its lines uncommented, its pillar chosen."""
    block = re.search(rf"# Question {question} \(.*?(?=\n\n|\Z)", text, re.S).group(0)
    kept = "\n".join(line[2:] for line in block.splitlines()[1:])
    return text.replace(block, kept.replace('pillar = "none"', f'pillar = "{pillar}"'))


def test_from_form_writes_the_study_and_says_what_to_do_next(tmp_path, form, capsys):
    main(["init", str(tmp_path / "my-study"), "--from-form", str(form)])
    study = tmp_path / "my-study"
    assert sorted(path.name for path in study.iterdir()) == [
        "actors.yaml", "communities.yaml", "index.toml", "indicators.toml", "instrument.xlsx", "needs.toml",
        "retour.toml"]
    assert (study / "instrument.xlsx").read_bytes() == form.read_bytes()
    assert capsys.readouterr().err.splitlines() == [
        f"Created study 'my-study' in {study}.",
        f"Next: check the [design] lines of {study}/retour.toml (`# set me` where nothing was guessed), keep "
        f"and complete candidates in {study}/indicators.toml (at least one per pillar), then:",
        f"  retour form {study}",
        f"  retour synth {study} --rows 300",
    ]


def test_design_fields_are_guessed_from_names_and_types_with_the_reason(tmp_path, form):
    main(["init", str(tmp_path / "s"), "--from-form", str(form)])
    text = (tmp_path / "s" / "retour.toml").read_text(encoding="utf-8")
    design = text[text.index("[design]\n"):].splitlines()[1:]
    assert design == [
        'community = "village"  # guessed from village (select_one)',
        'weight = "wt"  # guessed from wt (decimal)',
        'psu = "zd"  # guessed from zd (text)',
        'stratum = ""  # set me: no field of the questionnaire looks like it',
        'case_id = "code_menage"  # guessed from code_menage (text)',
        'beneficiary = ""  # set me: no field of the questionnaire looks like it',
        'fpc = ""  # Field holding the finite population correction (stratum size).',
    ]
    settings = load_project(tmp_path / "s").settings
    assert settings.study.id == "s" and settings.study.name == "Villages de la vallée"
    assert settings.study.languages == ("en", "fr")
    assert (settings.design.community, settings.design.psu, settings.design.weight) == ("village", "zd", "wt")


@pytest.mark.parametrize(("example", "expected"), [
    ("mali-2018", ("community", "weight", "cluster", "stratum", "case_id", "beneficiary")),
    ("senegal-2025", ("commune", "poids", "grappe", "", "code_dossier", "beneficiaire")),
])
def test_the_examples_questionnaires_give_their_own_design_fields(tmp_path, example, expected):
    main(["init", str(tmp_path / "s"), "--from-form", str(EXAMPLES / example / "instrument.xlsx")])
    design = load_project(tmp_path / "s").settings.design
    assert (design.community, design.weight, design.psu, design.stratum, design.case_id,
            design.beneficiary) == expected
    shipped = tomllib.loads((EXAMPLES / example / "retour.toml").read_text(encoding="utf-8"))["design"]
    assert {key: value for key, value in design.model_dump().items() if key in shipped} == shipped


def test_candidates_are_commented_out_and_each_is_valid_once_kept(tmp_path, form):
    main(["init", str(tmp_path / "s"), "--from-form", str(form)])
    path = tmp_path / "s" / "indicators.toml"
    text = path.read_text(encoding="utf-8")
    assert tomllib.loads(text) == {}  # nothing is measured until the analyst keeps a candidate
    headers = re.findall(r"^# Question (\S+) \((.+)\):$", text, re.M)
    assert headers == [
        ("sexe", "select_one sexe"), ("age", "integer"), ("parti", "select_one oui_non"),
        ("activite", "select_one oui_non"), ("epargne", "select_one oui_non"),
        ("dette", "select_one oui_non"),
        ("association", "select_one oui_non"), ("papiers", "select_one oui_non"),
        ("accueil", "select_one oui_non"), ("soucis", "select_one oui_non"),
        ("confiance", "select_one frequence"), ("sources", "select_multiple sources"),
        ("personnes", "integer")]  # design fields (village, zd, wt, code_menage) are not proposed
    pillars = {"activite": "economic", "papiers": "social", "soucis": "psychosocial"}
    for question, _ in headers:
        text = _uncomment(text, question, pillars.get(question, "none"))
    path.write_text(text, encoding="utf-8")
    catalogue = load_catalogue(path, load_instrument(form))
    by_id = {indicator.id: indicator for indicator in catalogue.indicators}
    assert list(by_id) == [  # indicators, then the shares of each choice
        "mean_age", "parti", "activite", "epargne", "dette", "association", "papiers", "accueil", "soucis",
        "mean_personnes", "sexe_f", "sexe_h", "confiance_jamais", "confiance_parfois", "confiance_souvent",
        "sources_agriculture", "sources_commerce", "sources_transferts"]
    assert (by_id["activite"].formula, by_id["activite"].pillar) == ("${activite} = 'oui'", "economic")
    assert (by_id["activite"].label_fr, by_id["activite"].label_en) == (
        "Avez-vous une activité qui rapporte ?", "Do you have an activity that earns money?")
    assert (by_id["mean_personnes"].kind, by_id["mean_personnes"].formula) == ("mean", "${personnes}")
    assert by_id["sources_transferts"].label_en == "Household's sources of income: Money sent from abroad"


def test_communities_come_from_the_choices_of_the_community_question(tmp_path, form):
    main(["init", str(tmp_path / "s"), "--from-form", str(form)])
    register = yaml.safe_load((tmp_path / "s" / "communities.yaml").read_text(encoding="utf-8"))
    assert register["communities"] == [
        {"id": "dioro", "name": "Dioro", "type": "rural"},
        {"id": "kemeni", "name": "Kéméni", "type": "rural"},
        {"id": "sarro", "name": "Sarro", "type": "rural"},
        {"id": "tamani", "name": "Tamani", "type": "rural"}]
    text = (tmp_path / "s" / "communities.yaml").read_text(encoding="utf-8")
    assert text.count("type: rural  # set me: urban or rural (fact sheets print it)") == 4
    registers = {name: yaml.safe_load((tmp_path / "s" / name).read_text(encoding="utf-8"))
                 for name in ("actors.yaml",)}
    assert registers == {"actors.yaml": {"actors": []}}
    needs = (tmp_path / "s" / "needs.toml").read_text(encoding="utf-8")
    assert tomllib.loads(needs) == {} and "# [[issues.rules]]" in needs


def test_blank_writes_every_file_with_its_keys_in_comments(tmp_path, capsys):
    main(["init", str(tmp_path / "blank"), "--blank"])
    study = tmp_path / "blank"
    assert sorted(path.name for path in study.iterdir()) == [
        "actors.yaml", "communities.yaml", "index.toml", "indicators.toml", "needs.toml", "retour.toml"]
    settings = load_project(study).settings
    assert (settings.design.community, settings.design.psu, settings.design.weight) == (
        "community", "cluster", "weight")
    catalogue = (study / "indicators.toml").read_text(encoding="utf-8")
    assert tomllib.loads(catalogue) == {}
    for key in ("id", "label_fr", "label_en", "short_label_fr", "short_label_en", "formula", "universe",
                "kind", "higher_is_better", "pillar", "weight", "theme", "fiche_block", "id_prefix",
                "levels", "compare", "level_labels.female", "expression", "panels"):
        assert re.search(rf"^# {re.escape(key)} = ", catalogue, re.M), key
    assert yaml.safe_load((study / "communities.yaml").read_text(encoding="utf-8"))["communities"] == []
    assert tomllib.loads((study / "index.toml").read_text(encoding="utf-8"))["normalisation"] == "minmax"
    err = capsys.readouterr().err.splitlines()
    assert err[1] == (f"Next: copy your questionnaire (XLSForm) to {study}/instrument.xlsx, set the [design] "
                      f"fields of {study}/retour.toml to its field names, then run `retour form {study}`.")


def test_an_existing_study_is_kept_unless_force_or_overwrite(tmp_path, form, capsys):
    study = tmp_path / "s"
    main(["init", str(study), "--from-form", str(form)])
    with pytest.raises(SystemExit) as stopped:
        main(["init", str(study), "--from-form", str(form)])
    assert stopped.value.code == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"Error: {study} exists and is not empty. Choose a new folder, or pass --force to add only the files "
        "that are missing.")
    (study / "retour.toml").write_text((study / "retour.toml").read_text() + "# mine\n", encoding="utf-8")
    (study / "needs.toml").unlink()
    main(["init", str(study), "--from-form", str(form), "--force"])
    assert (study / "retour.toml").read_text().endswith("# mine\n") and (study / "needs.toml").exists()
    assert "Added 1 file(s) of a new study" in capsys.readouterr().err
    main(["init", str(study), "--from-form", str(form), "--overwrite"])
    assert not (study / "retour.toml").read_text().endswith("# mine\n")


def test_a_form_already_in_the_folder_is_left_in_place(tmp_path, form):
    study = tmp_path / "s"
    study.mkdir()
    inside = write_form(study / "instrument.xlsx")
    main(["init", str(study), "--from-form", str(inside), "--overwrite"])
    assert (study / "instrument.xlsx").read_bytes() == form.read_bytes()
    assert load_project(study).settings.design.community == "village"


def test_only_one_way_to_start_is_accepted(tmp_path, form, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["init", str(tmp_path / "s"), "--blank", "--from-form", str(form)])
    assert stopped.value.code == 2
    assert "give only one of --example, --blank and --from-form." in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_an_unreadable_form_writes_nothing(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["init", str(tmp_path / "s"), "--from-form", str(tmp_path / "missing.xlsx")])
    assert capsys.readouterr().err.strip() == f"Error: Questionnaire {tmp_path}/missing.xlsx not found."
    assert not (tmp_path / "s").exists()


def _keep_yes_no_candidates(catalogue: Path) -> list[str]:
    """Keep every yes/no candidate of a drafted catalogue, the pillars taken in turn; their ids."""
    text = catalogue.read_text(encoding="utf-8")
    questions = re.findall(r"^# Question (\S+) \(select_one [^)]*\):\n# \[\[indicators\]\]$", text, re.M)
    pillars = ("economic", "social", "psychosocial")
    for number, question in enumerate(questions):
        text = _uncomment(text, question, pillars[number % 3])
    catalogue.write_text(text, encoding="utf-8")
    return questions


@pytest.mark.slow
@pytest.mark.parametrize("example", ["mali-2018", "senegal-2025"])
def test_a_study_drafted_from_each_example_questionnaire_reaches_its_fact_sheets(tmp_path, example):
    study = tmp_path / "drafted"
    main(["init", str(study), "--from-form", str(EXAMPLES / example / "instrument.xlsx")])
    kept = _keep_yes_no_candidates(study / "indicators.toml")
    assert len(kept) >= 3
    with (study / "needs.toml").open("a", encoding="utf-8") as needs:  # the guide's needs.toml edit
        needs.write(f'\n[[issues]]\nid = "first"\nlabel_fr = "Premier"\nlabel_en = "First"\n'
                    f'dimension = "economic"\nindicators = ["{kept[0]}"]\n')
    main(["synth", str(study), "--rows", "300"])
    export = study / "data" / "drafted-baseline-synthetic.xlsx"
    main(["ingest", str(study), str(export), "--round", "baseline"])
    for command in ("estimate", "index", "needs"):
        main([command, str(study), "--round", "baseline"])
    main(["report", str(study), "--round", "baseline", "--format", "html"])
    communities = yaml.safe_load((study / "communities.yaml").read_text(encoding="utf-8"))["communities"]
    sheets = sorted((study / "out" / "baseline").rglob("factsheet-*.html"))
    assert len(sheets) == 2 * len(communities) >= 8
