"""The dashboard as a person uses it, in headless Chromium: sign in, read a community's page in both
languages, override a need as analyst, be refused as viewer, upload a messy export and see its
problems, download a fact sheet. Each page is also saved as a screenshot."""

from __future__ import annotations

import json

import pytest

from dashboard_fixtures import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TESTS_DATA = __import__("pathlib").Path(__file__).resolve().parent.parent / "data"


def signed_in(browser, live_url, name, shoot=None):
    context = browser.new_context(viewport={"width": 1360, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{live_url}/")
    assert "/login" in page.url
    if shoot:
        shoot(page, "01-login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_url}/")
    return page


def test_analyst_reads_switches_language_overrides_uploads_and_downloads(browser, live_url, shoot):
    page = signed_in(browser, live_url, "ana", shoot)
    assert page.locator("h1").inner_text() == "Vue d'ensemble de l'étude"
    shoot(page, "02-overview")

    page.click("nav.tabs >> text=Classement")
    page.wait_for_selector("table.ranking")
    page.click("th.pillar >> text=Sociale")
    page.wait_for_selector("th.sorted >> text=Sociale")
    shoot(page, "03-ranking")

    page.goto(f"{live_url}/communities/kati?round=baseline")
    assert page.locator("h1").inner_text() == "Kati"
    sheet = page.frame_locator("iframe.factsheet-frame")
    sheet.locator("body").wait_for(timeout=120_000)
    assert "Kati" in sheet.locator("body").inner_text()
    assert page.locator("h2", has_text="Profil socio-économique").count() == 1  # the catalogue's block title
    shoot(page, "04-community-fr")
    page.click("#switch-language")
    page.wait_for_selector("h2:has-text('Socio-economic profile')")
    assert page.locator("h1").inner_text() == "Kati"
    assert "/communities/kati" in page.url
    shoot(page, "05-community-en")

    page.goto(f"{live_url}/needs?round=baseline")
    page.click("#cell-water-kayes a")
    page.wait_for_selector("#need-detail form.override-form")
    page.check("#need-detail input[name=level][value=priority]")
    page.fill("#need-detail textarea[name=why]", "Two wells dried up after the survey (field visit)")
    page.click("#need-detail button[type=submit]")
    page.wait_for_selector("#need-detail >> text=Level saved.")
    assert page.locator("#cell-water-kayes.overridden").count() == 1
    assert "Priority" in page.locator("#cell-water-kayes").inner_text()
    shoot(page, "06-needs-override")

    page.goto(f"{live_url}/actors")
    page.select_option("select[name=community]", "kayes")
    page.wait_for_function("() => !document.querySelector('#actor-list').innerText.includes('Bafoulabé')")
    shoot(page, "07-actors")

    page.goto(f"{live_url}/rounds?community=kati")
    shoot(page, "08-rounds")

    page.goto(f"{live_url}/downloads?round=baseline")
    shoot(page, "10-downloads")
    with page.expect_download(timeout=120_000) as download_info:
        page.click("a[href^='/downloads/factsheet/kati.pdf'][href$='lang=en']")
    path = download_info.value.path()
    with open(path, "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    page.context.close()


def test_viewer_sees_no_forms_and_is_refused_a_change(browser, live_url, shoot):
    page = signed_in(browser, live_url, "vera")
    page.goto(f"{live_url}/needs?round=baseline&community=kati&issue=water")
    assert page.locator("#need-detail").count() == 1
    assert page.locator("form.override-form").count() == 0
    token = json.loads(page.get_attribute("body", "hx-headers"))["X-CSRF-Token"]
    refused = page.request.post(
        f"{live_url}/needs/kati/water",
        headers={"X-CSRF-Token": token},
        form={"level": "priority", "why": "I should not be able to", "round": "baseline"},
    )
    assert refused.status == 403
    assert "Action non autorisée" in refused.text()
    page.goto(f"{live_url}/uploads")
    assert page.locator("form.upload-form").count() == 0
    shoot(page, "11-viewer-uploads")
    page.set_content(refused.text())
    shoot(page, "12-refused")
    page.context.close()


def test_analyst_uploads_the_messy_export_and_sees_its_problems(browser, upload_url, shoot):
    page = signed_in(browser, upload_url, "ana")
    page.goto(f"{upload_url}/uploads")
    page.set_input_files("input[name=export]", str(TESTS_DATA / "mini_messy.csv"))
    page.click("form.upload-form button[type=submit]")
    page.wait_for_selector(".upload-result", timeout=60_000)
    counts = [int(value) for value in page.locator(".upload-result .stat-value").all_inner_texts()]
    assert counts[0] == counts[1] + counts[2] and counts[2] > 0 and counts[3] > 0
    assert page.locator("table.problems tbody tr").count() == counts[3]
    assert page.locator("table.problems tbody tr.severity-blocking").count() >= counts[2]
    shoot(page, "09-upload-problems")
    page.reload()
    assert page.locator("#upload-history >> text=mini_messy.csv").count() == 1
    page.context.close()


def test_admin_sees_the_accounts(browser, live_url, shoot):
    page = signed_in(browser, live_url, "adam")
    page.click("nav.tabs >> text=Utilisateurs")
    page.wait_for_selector("#accounts")
    assert page.locator("#accounts tbody tr").count() == 3
    shoot(page, "13-users")
    page.context.close()


def test_another_study_reads_in_its_own_names(browser, other_url, shoot):
    """The second example study: its communes, blocks and groups, in both languages, and no Mali name."""
    page = signed_in(browser, other_url, "vera")
    page.goto(f"{other_url}/communities/velingara?round=baseline")
    assert page.locator("h1").inner_text() == "Vélingara"
    assert page.locator(".page-head .places").inner_text() == "Département : Vélingara · Région : Kolda"
    assert page.locator("h2", has_text="Vie sociale et bien-être").count() == 1
    assert page.locator("h2", has_text="Par groupe · Genre").count() == 1
    shoot(page, "14-other-study-community-fr")
    page.click("#switch-language")
    page.wait_for_selector("h2:has-text('Social life and well-being')")
    assert page.locator("h2", has_text="By group · Gender").count() == 1
    assert page.locator(".page-head .places").inner_text() == "Department: Vélingara · Region: Kolda"
    shoot(page, "15-other-study-community-en")
    page.goto(f"{other_url}/actors")
    choices = page.locator("select[name=community] option").all_inner_texts()
    assert {"Bakel", "Goudiry", "Kounkané", "Vélingara"} <= set(choices)
    assert not {"Bafoulabé", "Kati", "Kayes", "Kita", "Sikasso", "Kirané"} & set(choices)
    shoot(page, "16-other-study-actors")
    page.context.close()
