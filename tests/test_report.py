"""Fact sheets, synthesis and their text: what readers see, in French and English (HTML and PDF)."""

from __future__ import annotations

import ast
import dataclasses
import io
import re
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from conftest import EXAMPLE, GOLDEN
from report_bundle import COMMUNITIES, bundle
from retour.errors import ConfigError, SpecError
from retour.report import render_factsheet, render_synthesis
from retour.report.data import Cell
from retour.report.factsheet import tone
from retour.report.i18n import LOCALE_DIR, NARROW_NBSP, Formatter, compile_catalogue
from retour.report.narrative import load_communities, parse_communities
from retour.report.render import TEMPLATES, layout

REPORT_SOURCE = Path(__file__).parents[1] / "src" / "retour" / "report"
CONTRACT_IDS = {"bafoulabe", "bamako_commune_iv", "kati", "kayes", "kita", "sikasso", "kirane"}
pct = f"{NARROW_NBSP}%"


@pytest.fixture(scope="module")
def data():
    return bundle()


# --- language ---------------------------------------------------------------------------------------


def test_numbers_follow_the_language():
    fr, en = Formatter("fr"), Formatter("en")
    assert fr.percent(0.48) == "48\u202f%"
    assert en.percent(0.48) == "48%"
    assert fr.points(-0.104) == "−10 pts" and en.points(0.09) == "+9 pts"
    assert fr.integer(1800000) == "1\u202f800\u202f000" and en.integer(1800000) == "1,800,000"
    assert fr.decimal(0.81) == "0,81" and en.decimal(0.81) == "0.81"
    assert fr.percent(None) == "—"
    assert fr.p_value(0.0004) == "< 0,001"


def _message_ids() -> dict[tuple[str, str | None], str]:
    """Every (msgid, msgctxt) the report uses: `_("...")` in templates, `_()` / `N_()` calls in the modules
    (a `context="..."` keyword, or the module's LABEL_CONTEXTS, gives the msgctxt)."""
    found: dict[tuple[str, str | None], str] = {}
    for template in sorted(TEMPLATES.glob("*.html")):
        for match in re.finditer(r'_\(\s*"((?:[^"\\]|\\.)*)"', template.read_text(encoding="utf-8")):
            found.setdefault((match.group(1), None), template.name)
    for module in sorted(REPORT_SOURCE.glob("*.py")):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                name = getattr(node.func, "attr", getattr(node.func, "id", None))
                if name in ("_", "N_") and isinstance(node.args[0].value, str):
                    context = next((k.value.value for k in node.keywords
                                    if k.arg == "context" and isinstance(k.value, ast.Constant)), None)
                    found.setdefault((node.args[0].value, context), module.name)
    from retour.report.change import LABEL_CONTEXTS, LABELS

    for key, context in LABEL_CONTEXTS.items():
        found.setdefault((LABELS[key], context), "change.py")
    return found


@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_message_is_in_the_catalogue(language):
    from babel.messages.pofile import read_po

    with (LOCALE_DIR / language / "LC_MESSAGES" / "retour.po").open("rb") as source:
        catalogue = read_po(source, locale=language)
    used = _message_ids()
    missing = [m for m in used if catalogue.get(*m) is None or not catalogue.get(*m).string]
    assert missing == [], f"add these msgids to locale/{language}/LC_MESSAGES/retour.po: {missing}"
    if language == "fr":
        untranslated = [m for m in used if catalogue.get(*m).string == m[0] and len(m[0]) > 12]
        assert untranslated == []


def test_catalogues_compile_from_po():
    for language in ("fr", "en"):
        compiled = compile_catalogue(language)
        assert compiled[:4] in (b"\xde\x12\x04\x95", b"\x95\x04\x12\xde")  # gettext .mo magic number


# --- register and map ---------------------------------------------------------------------------------


def test_example_register_has_the_seven_communities():
    communities = load_communities(EXAMPLE)
    assert {c.id for c in communities} == CONTRACT_IDS
    by_id = {c.id: c for c in communities}
    assert by_id["kati"].type == "urban" and by_id["kati"].type_note["en"]
    assert by_id["sikasso"].type_note["fr"]
    assert by_id["kirane"].census_year == 2002 and by_id["kirane"].population == 2982
    for community in communities:
        assert community.description["fr"] and community.description["en"]
        for section in (community.opportunities, community.constraints, community.challenges):
            for texts in section.values():
                assert len(texts.get("fr", ())) == len(texts.get("en", ()))


def test_register_problems_are_listed_together():
    raw = {
        "communities": [
            {
                "id": "a",
                "name": "A",
                "district": "C",
                "region": "R",
                "type": "town",
                "coordinates": {"lat": 120},
            },
            {
                "id": "a",
                "name": "B",
                "district": "C",
                "region": "R",
                "type": "rural",
                "opportunities": {"economic": {"fr": ["x", "y"], "en": ["x"]}},
            },
            {"id": "c", "name": "C", "district": "C", "region": "R", "type": "rural",
             "description": "only one language", "type_note": {"de": "Dorf", "en": 3}},
            {"name": "no id"},
        ]
    }
    with pytest.raises(SpecError) as error:
        parse_communities(raw, "communities.yaml", levels=("district",))
    text = str(error.value)
    assert "value 'town'" in text and "must be one of: urban, rural" in text
    assert "entry 'a', field 'region'" in text and "places.admin_levels" in text  # an undeclared level
    assert "entry '#4', field 'district': is required" in text  # a declared level without a value
    assert "coordinates.lat" in text and "different number of items per language" in text
    assert "is used by two entries" in text and "field 'id'" in text
    assert "description" in text and "must map languages to text" in text
    assert "type_note.de" in text and "is not a report language" in text and "must be text" in text


# --- fact sheet content ---------------------------------------------------------------------------------


def test_factsheet_html_shows_the_community_beside_the_sample(data):
    html = render_factsheet("kayes", data, "fr").html
    assert "<h1>Kayes</h1>" in html
    assert f"45{pct}" in html and f"Moyenne 48{pct}" in html  # paid job: Kayes 45 %, sample 48 %
    assert "+30 pts" in html  # drinking water, 30 points above the sample mean
    assert "127\u202f368 (recensement de 2009)" in html
    assert "Cercle : Kayes · Région : Kayes · Commune urbaine" in html  # [places] and the register's types
    assert "86 répondants (jeunes de 15 à 34 ans)" in html  # population.description
    assert "Données synthétiques calibrées sur les agrégats publiés" in html  # study.synthetic_note
    assert "configuration abcdef123456" in html and "données 0123456789ab" in html
    assert (
        "<svg" in html
        and "locator-map" in html
        and "http://"
        not in html.replace('xmlns="http://www.w3.org/2000/svg"', "").replace(
            'xmlns:xlink="http://www.w3.org/1999/xlink"', ""
        )
    )
    english = render_factsheet("kayes", data, "en").html
    assert "45%" in english and "Sample 48%" in english and "Urban commune" in english
    assert "Synthetic data calibrated to published aggregates" in english
    assert "seven return communities" in english and "sept communautés de retour" not in english
    assert "sept communautés de retour" in html  # the study's name in each reader's language


def test_factsheet_never_prints_actor_contacts(data):
    for language in ("fr", "en"):
        html = render_factsheet("bafoulabe", data, language).html
        assert "Association test des jeunes" in html  # the actor is shown ...
        assert "+223" not in html and "cafo@example.org" not in html  # ... never its contacts


def test_suppressed_values_show_a_dash_and_the_footnote(data):
    html = render_factsheet("kirane", data, "en").html
    tile = re.search(r'data-indicator="access_psychosocial_services">(.*?)</div>\s*</div>', html, re.S).group(
        1
    )
    assert 'class="tile-value">—<' in tile and "5%" not in tile
    assert "Fewer than 10 respondents: the value is not published." in html
    # Kirané's reasons for having left rest on 8 return migrants: the block stays, with a dash
    reasons = html.split("Main reasons for having left (return migrants)", 1)[1][:200]
    assert '<p class="suppressed-note">—</p>' in reasons
    clean = render_factsheet("kayes", data, "en").html
    assert "Fewer than 10 respondents" not in clean


def test_tiles_are_coloured_by_the_indicators_direction(data):
    value, mean = Cell(0.41, 0.31, 0.51), Cell(0.26)
    assert tone(data, "reduced_food_consumption", value, mean) == ("worse", True)
    assert tone(data, "can_borrow_money", Cell(0.55, 0.45, 0.65), Cell(0.53)) == ("better", False)
    assert tone(data, "return_migrants_share", Cell(0.34, 0.2, 0.4), Cell(0.29)) == ("neutral", False)
    assert tone(data, "seeking_job", Cell(0.19, 0.1, 0.3), Cell(0.19)) == ("same", False)
    assert tone(data, "seeking_job", Cell(None, suppressed=True), Cell(0.19)) == ("none", False)
    html = render_factsheet("bafoulabe", data, "en").html
    assert re.search(r'tile tone-worse distinct" data-indicator="reduced_food_consumption"', html)


def test_a_missing_narrative_leaves_its_block_out(data):
    bare = dataclasses.replace(
        data.community("kita"),
        description={},
        opportunities={},
        constraints={},
        population=None,
        languages={},
    )
    stripped = dataclasses.replace(
        data,
        communities=tuple(bare if c.id == "kita" else c for c in data.communities),
        recommendations=(),
        actors=(),
    )
    html = render_factsheet("kita", stripped, "fr").html
    for heading in (
        "Opportunités et contraintes",
        "Recommandations prioritaires",
        "Cartographie des acteurs",
        'class="description"',
        "Population",
        "Langues principales",
    ):
        assert heading not in html
    assert "None" not in html and "TODO" not in html
    assert "Profil socio-économique" in html


def test_unknown_community_or_language_is_a_clear_error(data):
    with pytest.raises(ConfigError, match="No community 'timbuktu'"):
        render_factsheet("timbuktu", data, "fr")
    with pytest.raises(ConfigError, match="not available in 'de'"):
        render_factsheet("kayes", data, "de")


def _normalise(html: str) -> str:
    html = re.sub(r"(configuration|config) [0-9a-f]{12}", r"\1 <hash>", html)
    html = re.sub(r"(données|data) [0-9a-f]{12}", r"\1 <hash>", html)
    return re.sub(r"(passage [^·<]+) · [^<]+<", r"\1 · <date><", html)


def test_factsheet_html_matches_the_golden_snapshot(data):
    html = _normalise(render_factsheet("kayes", data, "fr").html)
    golden = GOLDEN / "factsheet_kayes_fr.html"
    if not golden.exists():  # first run writes the snapshot; review it, then commit it
        golden.write_text(html, encoding="utf-8")
    assert html == golden.read_text(encoding="utf-8"), (
        "The Kayes fact sheet changed. If the change is intended, delete "
        "tests/golden/factsheet_kayes_fr.html and run the test again to rewrite it, then review the diff."
    )


def test_reports_name_a_round_by_its_label_in_the_readers_language(data):
    from retour.report.context import round_label, stamp_text

    fr, en = Formatter("fr"), Formatter("en")
    assert stamp_text(data, fr) == ("retour 0.1.0 · configuration abcdef123456 · données 0123456789ab · "
                                    "passage Situation de référence · 2 avril 2018")
    assert stamp_text(data, en) == ("retour 0.1.0 · config abcdef123456 · data 0123456789ab · "
                                    "round Baseline · April 2, 2018")
    assert round_label(data, fr, "final") == "Évaluation finale"
    unlabelled = dataclasses.replace(data, round_name="pilot", stamp={**data.stamp, "round": "pilot"})
    assert stamp_text(unlabelled, en).endswith(" · round pilot · April 2, 2018")  # no label: the id
    factsheet = render_factsheet("kayes", data, "fr").html
    assert "passage Situation de référence" in factsheet and "passage baseline" not in factsheet
    synthesis = render_synthesis(data, "fr").html
    assert "bornes tirées du passage « Situation de référence »" in synthesis
    assert "goalposts taken from the Baseline round" in render_synthesis(data, "en").html
    assert "passage baseline" not in synthesis


# --- synthesis ------------------------------------------------------------------------------------------


def test_synthesis_html_has_tableau_1_needs_gaps_and_c4d(data):
    html = render_synthesis(data, "fr").html
    assert "Tableau 1 – Indice de réintégration par communauté" in html
    assert "0,81" in html and "0,30" in html  # composite of Bamako and Bafoulabé
    assert 'class="level-priority"' in html and 'class="level-outside_reach"' in html
    assert "Valeur p ajustée" in html and "−21 pts" in html and "&lt; 0,001" in html
    assert "Communication pour le développement" in html and "WhatsApp" in html
    assert "604" in html and "Benjamini–Hochberg" in html
    assert "Ce qu’ils ne permettent pas de dire" in html
    english = render_synthesis(data, "en").html
    assert "Women compared with Men" in english and "0.81" in english  # the groups' level labels
    assert "Return migrants compared with Non-migrants" in english
    # the method names the catalogue's groups and the study's returnee definition
    assert "Sex: Women, Men" in english and "lived abroad for more than three months" in english
    # C4D: one table per question of the c4d theme, columns all + both levels of each compared group
    assert "<h3 class=\"figure\">Get information from</h3>" in english
    assert "<th>Return migrants</th><th>Non-migrants</th><th>Women</th><th>Men</th>" in english


# --- PDF: pages, layout, text ----------------------------------------------------------------------------


def overflowing_text(document) -> list[str]:
    """Text boxes whose right edge passes their block's content edge or the page's content area."""
    from weasyprint.formatting_structure import boxes

    problems: list[str] = []

    def walk(box, limit: float, number: int) -> None:
        if isinstance(box, boxes.BlockContainerBox) and not isinstance(box, boxes.PageBox):
            limit = min(limit, box.content_box_x() + box.width + 0.5) if box.width else limit
        if isinstance(box, boxes.TextBox) and box.text.strip():
            right = box.position_x + box.width
            if right > limit:
                problems.append(f"page {number}: '{box.text[:40]}' ends at {right:.1f} > {limit:.1f}")
        for child in getattr(box, "children", ()):
            walk(child, limit, number)

    for number, page in enumerate(document.pages, start=1):
        page_box = page._page_box
        page_right = page_box.content_box_x() + page_box.width + 0.5
        for child in page_box.children:
            if not isinstance(child, boxes.MarginBox):  # the footer's margin boxes have their own width
                walk(child, page_right, number)
    return problems


def _pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


@pytest.mark.slow
@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_factsheet_is_two_pages_with_no_overflow(data, language):
    for community_id in COMMUNITIES:
        rendered = render_factsheet(community_id, data, language, "pdf")
        assert rendered.pages == 2, f"{community_id} ({language}): {rendered.pages} pages"
        assert overflowing_text(layout(rendered.pdf_html)) == [], community_id


@pytest.mark.slow
def test_factsheet_pdf_text_has_the_key_numbers_and_pages_convert(data, tmp_path):
    rendered = render_factsheet("kayes", data, "fr", "pdf")
    text = _pdf_text(rendered.pdf)
    for expected in (
        "Kayes",
        f"45{pct}",  # paid job or income-generating activity
        f"Moyenne 48{pct}",
        "+30 pts",  # drinking water
        "0,39",  # composite score
        "retour 0.1.0",
        "abcdef123456",
        "Données synthétiques calibrées sur les agrégats publiés",
        "CARTOGRAPHIE DES ACTEURS",  # headings are set in capitals
        "Informer sur les risques de la migration irrégulière",
    ):
        assert expected in text, expected
    pdf = tmp_path / "kayes.pdf"
    pdf.write_bytes(rendered.pdf)
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(pdf), str(tmp_path / "page")], check=True)
    assert len(list(tmp_path.glob("page-*.png"))) == 2


@pytest.mark.slow
def test_synthesis_pdf_fits_its_pages_and_carries_the_stamp(data):
    rendered = render_synthesis(data, "en", "pdf")
    assert 3 <= rendered.pages <= 8
    assert overflowing_text(layout(rendered.pdf_html)) == []
    text = _pdf_text(rendered.pdf)
    assert "Synthetic data calibrated to published aggregates" in text
    assert text.count("retour 0.1.0") == rendered.pages  # the stamp is on every page
    assert "0.81" in text and "0.72–0.89" in text and "TABLEAU 2" in text


def test_overflow_check_finds_text_wider_than_its_box():
    from weasyprint import HTML

    html = (
        "<html><head><style>@page{size:A4;margin:10mm} div{width:20mm}</style></head>"
        "<body><div>Averyveryverylongwordthatcannotbreakanywhere</div><p>fits</p></body></html>"
    )
    found = overflowing_text(HTML(string=html).render())
    assert len(found) == 1 and "Averyvery" in found[0]


def test_templates_never_read_a_key_named_like_a_dict_method():
    # Jinja2 looks attributes up before keys: `row.values` would be the dict's method, not its key.
    methods = r"clear|copy|get|items|keys|pop|popitem|setdefault|update|values"
    pattern = re.compile(rf"\b[a-z_]+\.({methods})\b(?!\s*\()")
    for template in sorted(TEMPLATES.glob("*.html")):
        found = pattern.findall(template.read_text(encoding="utf-8"))
        assert found == [], f"{template.name} reads {found}: rename the key"


def test_chart_ids_do_not_depend_on_what_was_drawn_before():
    from retour.report.charts import stable_ids

    first = '<svg><clipPath id="clip43"/><g clip-path="url(#clip43)"/><use href="#clip7"/><p id="clip7"/>'
    later = '<svg><clipPath id="clip1"/><g clip-path="url(#clip1)"/><use href="#clip2"/><p id="clip2"/>'
    assert stable_ids(first, "c1") == stable_ids(later, "c1")
    assert 'clip-path="url(#c1-1)"' in stable_ids(first, "c1") and 'href="#c1-2"' in stable_ids(first, "c1")


# --- a study retour was not written for ------------------------------------------------------------------

MALI_WORDS = ("Mali", "Bamako", "Kayes", "Sikasso", "cercle", "Cercle", "15–34", "15-34", "three months",
              "trois mois", "2018", "calibrated", "calibrées")


@pytest.mark.parametrize("language", ["fr", "en"])
def test_another_study_shows_its_own_indicators_blocks_groups_and_places(language):
    from report_bundle import OTHER_INDICATORS, other_bundle

    other = other_bundle()
    factsheet = render_factsheet("djougou", other, language).html
    synthesis = render_synthesis(other, language).html
    fr = language == "fr"
    for text in (("Moyens d'existence", "Appartenance", "Accès aux services de base", "Appuis les plus reçus",
                  "Projets", "Adultes de la commune.") if fr else
                 ("Livelihoods", "Belonging", "Access to basic services", "Support most received", "Plans",
                  "Adults of the municipality.")):
        assert text.replace("'", "&#39;") in factsheet
    tiles = [label_fr if fr else label_en for _i, label_fr, label_en, _t, block, _b in OTHER_INDICATORS
             if block and not label_en.startswith(("Access", "Support", "Plans"))]
    for label in tiles:
        assert label.replace("'", "&#39;") in factsheet
    assert re.findall(r'data-block="(\w+)"', factsheet) == ["livelihoods", "belonging"]
    assert (("Département : Donga · Région : Nord · Commune à statut particulier" if fr else
             "Department: Donga · Region: Nord · Special-status municipality") in factsheet)
    assert ("100 répondants (adultes de 18 à 45 ans)" if fr else
            "100 respondents (adults aged 18 to 45)") in factsheet
    assert ("Données synthétiques" if fr else "Synthetic data") in factsheet  # no note of its own
    assert ((">Femmes par rapport à Hommes<" if fr else ">Female respondents compared with Male respondents<")
            in synthesis)
    assert ("Chefs de ménage par rapport à Autres membres" if fr else
            "Household heads compared with Other members") in synthesis
    assert ("plus de six mois" if fr else "more than six months") in synthesis
    assert ("Genre : Femmes, Hommes ; Chef de ménage" if fr else
            "Gender: Female respondents, Male respondents; Household head") in synthesis
    assert ("Canal préféré" if fr else "Preferred channel") in synthesis  # the c4d theme's question
    assert ("hors des âges enquêtés (18 à 45 ans)" if fr else
            "outside the ages surveyed (18 to 45)") in synthesis
    for document in (factsheet, synthesis):
        found = [word for word in MALI_WORDS if word in document]
        assert found == [], f"the other study's {language} documents say {found}"


def test_fiche_block_problems_are_listed_together():
    from retour.indicators import Indicator, parse_fiche_blocks

    indicators = (Indicator("a", "A", "A", "true()", theme="x", fiche_block="one"),
                  Indicator("b", "B", "B", "true()", theme="y", fiche_block="two"),
                  Indicator("c", "C", "C", "true()", theme="z", fiche_block="undeclared"))
    raw = [{"id": "one", "title": {"en": "One"},
            "panels": [{"kind": "pie"}, {"kind": "gap_bars", "theme": "y"}]},
           {"id": "two", "panels": [{"kind": "share_bars", "theme": "y", "colour": "red"}], "page": 2},
           {"id": "one"}]
    problems = []
    blocks = parse_fiche_blocks(raw, indicators, problems)
    found = {(problem.code, problem.column) for problem in problems}
    assert found == {
        ("bad_panel_kind", "fiche_blocks[1].panels[1].kind"),
        ("unknown_theme", "fiche_blocks[1].panels[2].theme"),  # theme y has no indicator in block one
        ("unknown_key", "fiche_blocks[2].panels[1].colour"),
        ("unknown_key", "fiche_blocks[2].page"),
        ("bad_block_id", "fiche_blocks[3].id"),  # one is declared twice
        ("unknown_fiche_block", "indicators"),
    }
    undeclared = next(p.message for p in problems if p.code == "unknown_fiche_block")
    assert "fiche_block 'undeclared' (c)" in undeclared
    assert blocks[0].title_in("fr") == "One" and blocks[1].title_in("en") == "two"
    # without [[fiche_blocks]]: one block of tiles per fiche_block, in the order indicators first name them
    problems = []
    assert [b.id for b in parse_fiche_blocks(None, indicators, problems)] == ["one", "two", "undeclared"]
    assert problems == []


def test_example_catalogue_lays_out_the_three_blocks_of_the_study():
    from report_bundle import example_catalogue

    blocks = example_catalogue().fiche_blocks
    assert [b.id for b in blocks] == ["profil_socio_economique", "profil_migratoire", "reintegration_durable"]
    assert [(p.kind, p.theme) for p in blocks[0].panels] == [
        ("tiles", ""), ("gap_bars", "services"), ("top_shares", "activity_domains"),
        ("top_shares", "business_obstacles")]
    assert blocks[2].title_in("en") == "Sustainable reintegration"
