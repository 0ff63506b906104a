"""The second shipped example study, senegal-2025: a study retour was not written for, run by its settings.

Its files are built by scripts/build_example_senegal.py (checked here byte for byte). The whole pipeline
runs on it through the command line (init, form, ingest, estimate, index, needs, actors, report in French
and English as HTML and PDF, a mid-term round, compare, score) and its dashboard is read in headless
Chromium. Every document must show this study's communes, indicators, groups and population, and nothing
of mali-2018 (issue 15).
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import openpyxl
import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "src" / "retour" / "examples" / "senegal-2025"
DATA = EXAMPLE / "data"
COMMUNES = {"goudiry": "Goudiry", "bakel": "Bakel", "kounkane": "Kounkané", "velingara": "Vélingara"}
COMPARED_GROUPS = {"return_status", "gender", "household_head"}
# Words of mali-2018 that must never reach another study's documents.
MALI_WORDS = re.compile(
    r"\bMali\b|Bamako|Kayes|Sikasso|Kirané|Bafoulabé|[Cc]ercle|15[–-]34|15 (?:à|to) 34|"
    r"three months|trois mois|calibrated|calibrées"
)


def _builder():
    spec = importlib.util.spec_from_file_location(
        "build_example_senegal", REPO / "scripts" / "build_example_senegal.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def retour(*args: str) -> subprocess.CompletedProcess:
    """Run the `retour` command line as a user would; output is captured, not checked."""
    return subprocess.run(
        [sys.executable, "-m", "retour.cli", *args], capture_output=True, text=True, cwd=REPO, timeout=900
    )


def ok(*args: str) -> subprocess.CompletedProcess:
    """Run `retour ARGS` and fail the test with its error lines when it exits with an error."""
    done = retour(*args)
    assert done.returncode == 0, f"retour {' '.join(args)} failed:\n{done.stderr[-3000:]}"
    return done


def catalogue() -> dict:
    return tomllib.loads((EXAMPLE / "indicators.toml").read_text(encoding="utf-8"))


def visible_text(html: str) -> str:
    """What a reader sees: the HTML without styles, scripts, the locator map (which rightly names the
    neighbouring countries) and tags, with spaces collapsed."""
    html = re.sub(r"<style.*?</style>|<script.*?</script>", " ", html, flags=re.S)
    html = re.sub(r'<svg[^>]*class="locator-map".*?</svg>', " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", html)
    for entity, char in (("&amp;", "&"), ("&#39;", "'"), ("&#x27;", "'"), ("&quot;", '"'), ("&nbsp;", " ")):
        text = text.replace(entity, char)
    return " ".join(text.split())


def mali_words(text: str) -> list[str]:
    return sorted({match.group(0) for match in MALI_WORDS.finditer(text)})


# --- the shipped files ----------------------------------------------------------------------------------


def test_committed_questionnaire_and_exports_are_what_the_script_builds():
    builder = _builder()
    workbook = openpyxl.load_workbook(EXAMPLE / "instrument.xlsx", read_only=True)
    committed = {
        sheet: [
            ["" if value is None else str(value) for value in row]
            for row in workbook[sheet].iter_rows(values_only=True)
        ]
        for sheet in workbook.sheetnames
    }
    assert committed == builder.workbook_rows(), "run scripts/build_example_senegal.py"
    for round_name in ("baseline", "midterm"):
        shipped = (DATA / builder.export_name(round_name)).read_text(encoding="utf-8")
        assert shipped == builder.export_csv(round_name), (
            f"{round_name}: run scripts/build_example_senegal.py"
        )


def test_exports_follow_the_questionnaire_rules():
    rows = {
        name: list(csv.DictReader(io.StringIO((DATA / f"{name}-synthetic.csv").read_text(encoding="utf-8"))))
        for name in ("baseline", "midterm")
    }
    for name, found in rows.items():
        assert 380 <= len(found) <= 420, name
        assert {row["identification/commune"] for row in found} == set(COMMUNES)
        for commune in COMMUNES:
            clusters = {
                row["identification/grappe"] for row in found if row["identification/commune"] == commune
            }
            assert len(clusters) == 8, (name, commune)
        for row in found:
            months, works = int(row["parcours/mois_etranger"]), row["emploi/travail_remunere"] == "yes"
            assert 18 <= int(row["profil/age_ans"]) <= 45 and row["identification/accord"] == "yes"
            assert float(row["identification/poids"]) > 0
            assert bool(row["parcours/annee_retour"]) == (months >= 6) == bool(row["parcours/stigmatisation"])
            assert bool(row["parcours/pays_sejour"]) == (months > 0)
            assert bool(row["emploi/secteur_activite"]) == works == bool(row["emploi/revenu_mensuel_fcfa"])
            assert row["information/canaux_info"]
    assert {row["identification/code_dossier"] for row in rows["baseline"]}.isdisjoint(
        row["identification/code_dossier"] for row in rows["midterm"]
    )


def test_settings_differ_from_mali_in_every_point_the_issue_lists():
    from retour.config import load_settings
    from retour.indicators import load_catalogue
    from retour.schema import load_instrument

    settings = load_settings(EXAMPLE / "retour.toml")
    assert settings.study.country == "SN" and settings.study.languages == ("fr", "en")
    assert (settings.population.age_min, settings.population.age_max) == (18, 45)
    assert settings.population.returnee_rule == "${mois_etranger} >= 6"
    assert [level.id for level in settings.places.admin_levels] == ["departement", "region"]
    assert settings.design.stratum == "" and settings.design.community == "commune"
    assert (
        settings.scoring.interview_date_field == "date_entretien"
        and settings.scoring.consent_field == "accord"
    )
    assert "calibr" not in json.dumps(settings.study.synthetic_note)
    loaded = load_catalogue(EXAMPLE / "indicators.toml", load_instrument(EXAMPLE / "instrument.xlsx"))
    assert {len(loaded.pillar(pillar)) for pillar in ("economic", "social", "psychosocial")} == {3}
    assert {group.id for group in loaded.groups if group.compare} == COMPARED_GROUPS
    assert [block["id"] for block in catalogue()["fiche_blocks"]] == [
        "emploi_revenus",
        "services_communaux",
        "vie_sociale",
    ]


def test_init_offers_both_examples_and_names_them_for_an_unknown_one(tmp_path):
    help_text = " ".join(ok("init", "--help").stdout.split())
    assert "--example" in help_text and "mali-2018, senegal-2025" in help_text
    refused = retour("init", str(tmp_path / "nope"), "--example", "nope")
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "Error: No example study called 'nope'. Shipped examples: mali-2018, senegal-2025."
    )
    ok("init", str(tmp_path / "study"), "--example", "senegal-2025")
    assert tomllib.loads((tmp_path / "study" / "retour.toml").read_text())["study"]["id"] == "senegal-2025"
    assert (tmp_path / "study" / "data" / "baseline-synthetic.csv").is_file()  # its exports come along


# --- the whole pipeline through the command line --------------------------------------------------------


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """The example initialised, both rounds ingested, estimated, indexed and classified (the data side)."""
    root = tmp_path_factory.mktemp("senegal") / "study"
    ok("init", str(root), "--example", "senegal-2025")
    for round_name in ("baseline", "midterm"):
        ok("ingest", str(root), str(DATA / f"{round_name}-synthetic.csv"), "--round", round_name)
        ok("estimate", str(root), "--round", round_name)
        ok("index", str(root), "--round", round_name)
        ok("needs", str(root), "--round", round_name)
    return root


@pytest.mark.slow
def test_form_is_valid_for_pyxform_and_odk_validate(tmp_path):
    ok("init", str(tmp_path / "study"), "--example", "senegal-2025")
    done = ok("form", str(tmp_path / "study"))
    assert "The questionnaire is valid" in done.stderr
    assert (tmp_path / "study" / "out" / "instrument.xml").stat().st_size > 0


@pytest.mark.slow
def test_both_rounds_ingest_without_quarantine(study):
    for round_name in ("baseline", "midterm"):
        summary = json.loads(
            ok(
                "ingest",
                str(study),
                str(DATA / f"{round_name}-synthetic.csv"),
                "--round",
                round_name,
                "--format",
                "json",
            ).stdout
        )
        counts = {row["item"]: row["count"] for row in summary}
        assert counts["rows_read"] == counts["accepted"] >= 380 and counts["quarantined"] == 0
    assert json.loads(ok("problems", str(study), "--format", "json").stdout) == []


@pytest.mark.slow
def test_estimates_gaps_for_the_three_compared_groups(study):
    done = ok("estimate", str(study), "--gaps", "--format", "csv")
    gaps = list(csv.DictReader(io.StringIO(done.stdout)))
    assert {row["group_dimension"] for row in gaps} == COMPARED_GROUPS
    pairs = {(row["group_dimension"], row["group_a"], row["group_b"]) for row in gaps}
    assert pairs == {
        ("return_status", "returned", "stayed"),
        ("gender", "female", "male"),
        ("household_head", "head", "not_head"),
    }
    assert {row["community_id"] for row in gaps} == {*COMMUNES, "all"}
    assert "age_group" in done.stderr  # said once: a group without comparison gets no gaps
    heads = ok("estimate", str(study), "--group-dimension", "household_head", "--format", "csv").stdout
    assert {row["group"] for row in csv.DictReader(io.StringIO(heads))} == {"head", "not_head"}
    assert mali_words(done.stderr) == []


@pytest.mark.slow
def test_index_ranks_the_four_communes_on_three_indicators_a_pillar(study):
    scores = json.loads(ok("index", str(study), "--format", "json").stdout)
    assert {row["community_id"] for row in scores} == set(COMMUNES)
    composite = sorted(row["rank"] for row in scores if row["pillar"] == "composite")
    assert composite == [1, 2, 3, 4]
    explained = json.loads(ok("index", str(study), "--explain", "kounkane", "--format", "json").stdout)
    economic = {row["component"] for row in explained if row["pillar"] == "economic"}
    assert economic == {"worked_for_pay_7d", "saves_in_tontine", "skipped_meals_often"}


@pytest.mark.slow
def test_needs_and_actors_come_from_the_study_registers(study):
    matrix = json.loads(ok("needs", str(study), "--format", "json").stdout)
    assert {row["community_id"] for row in matrix} == set(COMMUNES)
    assert {row["issue_id"] for row in matrix} >= {"jobs", "identity_papers", "mental_health", "rural_roads"}
    assessed = next(
        row for row in matrix if row["community_id"] == "kounkane" and row["issue_id"] == "rural_roads"
    )
    assert assessed["level"] == "priority" and assessed["basis"] == "assessed"
    actors = json.loads(ok("actors", str(study), "--community", "bakel", "--format", "json").stdout)
    assert "Association des personnes revenues de Bakel" in {row["name"] for row in actors}
    chains = ok("actors", str(study), "--chains", "--format", "csv").stdout
    assert "Anacarde" in chains and "market_gardening" in chains
    gaps = ok("actors", str(study), "--gaps", "--format", "csv").stdout
    assert mali_words(gaps) == []


@pytest.mark.slow
def test_reports_in_both_languages_show_this_study_and_nothing_of_mali(study):
    done = ok("report", str(study), "--round", "baseline")
    out = study / "out" / "baseline"
    data = catalogue()
    block_titles = {block["id"]: block["title"] for block in data["fiche_blocks"]}
    tile_themes = {
        (block["id"], panel["theme"])
        for block in data["fiche_blocks"]
        for panel in block["panels"]
        if panel["kind"] == "tiles"
    }
    tiles = [
        entry for entry in data["indicators"] if (entry.get("fiche_block"), entry.get("theme")) in tile_themes
    ]
    words = {
        "fr": ("adultes de 18 à 45 ans", "Département", "Données synthétiques (enquête fictive)"),
        "en": ("adults aged 18 to 45", "Department", "Synthetic data (fictional survey)"),
    }
    for language in ("fr", "en"):
        for commune_id, name in COMMUNES.items():
            sheet = visible_text(
                (out / language / f"factsheet-{commune_id}.html").read_text(encoding="utf-8")
            )
            assert name in sheet
            assert mali_words(sheet) == [], (language, commune_id)
            for title in block_titles.values():
                assert title[language] in sheet, (language, commune_id, title[language])
            missing = [entry["id"] for entry in tiles if entry[f"label_{language}"] not in sheet]
            assert missing == [], (language, commune_id)
            for word in words[language]:
                assert word in sheet, (language, commune_id, word)
            assert (out / language / f"factsheet-{commune_id}.pdf").read_bytes()[:5] == b"%PDF-"
        synthesis = visible_text((out / language / "synthesis.html").read_text(encoding="utf-8"))
        assert mali_words(synthesis) == [], language
        assert all(name in synthesis for name in COMMUNES.values())
    french = visible_text((out / "fr" / "factsheet-bakel.html").read_text(encoding="utf-8"))
    assert not re.search(r"\brespondents\b", french), "English word in the French fact sheet"
    english = visible_text((out / "en" / "synthesis.html").read_text(encoding="utf-8"))
    assert "lived abroad for more than six months" in english
    assert "Household heads" in english and "Other household members" in english
    assert mali_words(done.stderr) == []


@pytest.mark.slow
def test_pdf_fact_sheet_renders_to_a_page_with_ink(study, tmp_path):
    from PIL import Image
    from pypdf import PdfReader

    pdf = study / "out" / "baseline" / "en" / "factsheet-kounkane.pdf"
    if not pdf.exists():
        ok("report", str(study), "--round", "baseline", "--lang", "en", "--format", "pdf")
    text = " ".join(page.extract_text() for page in PdfReader(pdf).pages)
    # The PDF's locator map rightly labels the neighbouring countries, Mali among them.
    assert "Kounkané" in " ".join(text.split()) and mali_words(text) in ([], ["Mali"])
    subprocess.run(
        ["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")], check=True
    )
    image = Image.open(next(tmp_path.glob("page*.png"))).convert("L")
    inked = sum(count for value, count in enumerate(image.histogram()) if value < 200)
    assert inked / (image.width * image.height) > 0.02


@pytest.mark.slow
def test_midterm_compares_with_the_baseline_by_the_study_groups(study):
    done = ok(
        "compare",
        str(study),
        "--from",
        "baseline",
        "--to",
        "midterm",
        "--show",
        "indicators",
        "--format",
        "json",
    )
    rows = json.loads(done.stdout)
    assert {row["community_id"] for row in rows} >= set(COMMUNES)
    worked = [
        row for row in rows if row["indicator_id"] == "worked_for_pay_7d" and row["community_id"] == "all"
    ]
    assert (
        worked and worked[0]["change"] > 0
    )  # the mid-term round adds jobs (scripts/build_example_senegal.py)
    by_head = json.loads(
        ok(
            "compare",
            str(study),
            "--from",
            "baseline",
            "--to",
            "midterm",
            "--show",
            "indicators",
            "--by",
            "household_head",
            "--format",
            "json",
        ).stdout
    )
    assert {"head", "not_head"} <= {row.get("group") for row in by_head}
    did = ok(
        "compare",
        str(study),
        "--did",
        "--show",
        "did",
        "--indicator",
        "worked_for_pay_7d",
        "--format",
        "json",
    )
    assert json.loads(did.stdout)
    assert mali_words(done.stderr + did.stderr) == []


@pytest.mark.slow
def test_scores_use_the_study_returnee_rule_and_interview_date(study):
    scored = json.loads(ok("score", str(study), "--round", "baseline", "--format", "json").stdout)
    export = list(csv.DictReader(io.StringIO((DATA / "baseline-synthetic.csv").read_text(encoding="utf-8"))))
    returnees = [row for row in export if int(row["parcours/mois_etranger"]) >= 6]
    assert len(scored) == len(returnees)
    assert {str(row["interview_date"])[:10] for row in scored} <= {
        row["identification/date_entretien"] for row in returnees
    }
    summary = json.loads(
        ok("score", str(study), "--round", "baseline", "--summary", "--format", "json").stdout
    )
    assert {row["community_id"] for row in summary} >= set(COMMUNES)
    monitoring = ok("form", str(study), "--monitoring")
    assert "valid" in monitoring.stderr


# --- the dashboard in headless Chromium -----------------------------------------------------------------


@pytest.fixture(scope="module")
def dashboard_url(study):
    from browser.conftest import serve
    from dashboard_fixtures import add_users

    ok("report", str(study), "--round", "baseline", "--format", "html")
    add_users(study / "retour.duckdb")
    yield from serve(study)


@pytest.mark.slow
@pytest.mark.browser
def test_dashboard_pages_show_the_study_communes_and_labels(browser, dashboard_url):
    from dashboard_fixtures import PASSWORD

    page = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
    page.goto(f"{dashboard_url}/login")
    page.fill("input[name=username]", "ana")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{dashboard_url}/")
    seen = {}
    for path in (
        "/",
        "/ranking?round=baseline",
        "/communities/velingara?round=baseline",
        "/needs?round=baseline",
        "/actors",
        "/rounds?community=bakel",
        "/downloads?round=baseline",
    ):
        page.goto(f"{dashboard_url}{path}")
        page.wait_for_load_state("networkidle")
        seen[path] = page.locator("body").inner_text()
        assert mali_words(seen[path]) == [], path
    assert all(name in seen["/ranking?round=baseline"] for name in COMMUNES.values())
    assert "Emploi" in seen["/needs?round=baseline"] and "Pistes rurales" in seen["/needs?round=baseline"]
    page.goto(f"{dashboard_url}/actors")
    options = page.locator("select[name=community] option").all_inner_texts()
    assert {name for name in COMMUNES.values()} <= set(options) and not mali_words(" ".join(options))
    page.goto(f"{dashboard_url}/communities/velingara?round=baseline")
    assert page.locator("h1").inner_text() == "Vélingara"
    sheet = page.frame_locator("iframe.factsheet-frame").locator("body")
    sheet.wait_for(timeout=120_000)
    # Without the locator map, which rightly labels the neighbouring countries (Mali among them).
    text = sheet.evaluate(
        "body => { const copy = body.cloneNode(true);"
        " copy.querySelectorAll('.locator-map').forEach(map => map.remove()); return copy.textContent; }"
    )
    assert "Ont travaillé contre un revenu (7 derniers jours)" in text and mali_words(text) == []
    page.click("#switch-language")
    page.wait_for_load_state("networkidle")
    assert (
        "Worked for an income (past 7 days)"
        in page.locator("body").inner_text()
        + page.frame_locator("iframe.factsheet-frame").locator("body").inner_text()
    )
    page.context.close()
