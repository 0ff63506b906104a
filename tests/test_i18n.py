"""Translations: the gettext catalogues of the reports and the dashboard are complete in French and
English, keep their `{fields}`, and compile at first use, also from a read-only package folder."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from retour.dashboard import i18n as dashboard_i18n
from retour.dashboard.auth import Role
from retour.dashboard.i18n import messages, translate
from retour.dashboard.pages import ACTOR_DIMENSIONS, LEVELS, PILLARS
from retour.errors import Severity
from retour.i18n import load_translations, po_path
from retour.report import i18n as report_i18n
from retour.report.i18n import Formatter

REPO = Path(__file__).resolve().parents[1]
DASHBOARD = REPO / "src" / "retour" / "dashboard"
DOMAINS = {"retour": report_i18n.LOCALE_DIR, "dashboard": dashboard_i18n.LOCALE_DIR}
FIELDS = re.compile(r"{(\w+)}")


def _catalogue(domain: str, language: str):
    with po_path(DOMAINS[domain], domain, language).open("rb") as source:
        return read_po(source, locale=language, domain=domain)


def _entries(domain: str, language: str) -> dict[tuple[str, str | None], str]:
    """(msgid, msgctxt) -> msgstr of a catalogue, without its header."""
    return {(m.id, m.context): m.string for m in _catalogue(domain, language) if m.id}


def _keys() -> set[str]:
    return {msgid for msgid, _ in _entries("dashboard", "en")}


# --- the catalogues ------------------------------------------------------------------------------------


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_french_and_english_catalogues_hold_the_same_messages(domain):
    french, english = _entries(domain, "fr"), _entries(domain, "en")
    assert set(french) - set(english) == set(), f"in fr/{domain}.po only"
    assert set(english) - set(french) == set(), f"in en/{domain}.po only"
    assert len(french) > 100


@pytest.mark.parametrize("domain", sorted(DOMAINS))
@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_message_is_translated_and_none_is_fuzzy(domain, language):
    catalogue = _catalogue(domain, language)
    empty = [m.id for m in catalogue if m.id and not m.string.strip()]
    fuzzy = [m.id for m in catalogue if m.id and m.fuzzy]
    assert empty == [] and fuzzy == [], f"{language}/{domain}.po: untranslated {empty}, fuzzy {fuzzy}"


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_the_languages_fill_the_same_fields(domain):
    french, english = _entries(domain, "fr"), _entries(domain, "en")
    differ = {key: (french[key], english[key]) for key in french
              if set(FIELDS.findall(french[key])) != set(FIELDS.findall(english[key]))}
    assert differ == {}
    if domain == "retour":  # English msgids: a translation fills the fields its msgid names
        mismatched = [key for key, text in french.items()
                      if set(FIELDS.findall(text)) != set(FIELDS.findall(key[0]))]
        assert mismatched == []


@pytest.mark.parametrize("domain", sorted(DOMAINS))
@pytest.mark.parametrize("language", ["fr", "en"])
def test_messages_with_fields_are_flagged_for_translation_tools(domain, language):
    """Poedit and Weblate check `{name}` fields only in entries flagged python-brace-format."""
    text = po_path(DOMAINS[domain], domain, language).read_text(encoding="utf-8")
    unflagged = [block.splitlines()[-1] for block in text.split("\n\n")[1:]
                 if FIELDS.search(block.split("msgstr", 1)[1]) and "#, python-brace-format" not in block]
    assert unflagged == []


def test_dashboard_entries_name_the_part_of_the_dashboard_for_translators():
    catalogue = _catalogue("dashboard", "fr")
    assert all(m.auto_comments for m in catalogue if m.id)
    assert catalogue["nav.overview"].auto_comments == ["navigation and frame"]


# --- the dashboard's keys ------------------------------------------------------------------------------


def _keys_in_code() -> dict[str, str]:
    """Key (or key prefix ending in ".") -> file, for every key the templates and modules name."""
    found: dict[str, str] = {}
    for template in sorted((DASHBOARD / "templates").glob("*.html")):
        for match in re.finditer(r"""\bt\(\s*'([^']+)'""", template.read_text(encoding="utf-8")):
            found.setdefault(match.group(1), template.name)
    parts = {key.split(".")[0] for key in _keys()}
    for module in sorted(DASHBOARD.rglob("*.py")):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and re.fullmatch(r"[a-z_]+(\.[a-z0-9_]+)+\.?", node.value)
                    and node.value.split(".")[0] in parts
                    and not re.search(r"\.(html|toml|yaml|csv|xlsx)$", node.value)):
                found.setdefault(node.value, module.name)
    return found


def test_every_key_the_dashboard_names_is_in_the_catalogue():
    keys, named = _keys(), _keys_in_code()
    assert len(named) > 150
    missing = {key: where for key, where in named.items() if not key.endswith(".") and key not in keys}
    assert missing == {}
    prefixes = {key: where for key, where in named.items() if key.endswith(".")
                and not any(k.startswith(key) for k in keys)}
    assert prefixes == {}


@pytest.mark.parametrize(("prefix", "names"), [
    ("pillar.", PILLARS),
    ("level.", LEVELS),
    ("level.short.", LEVELS),
    ("block.", ("other",)),
    ("dimension.", ACTOR_DIMENSIONS),
    ("dimension.short.", ACTOR_DIMENSIONS),
    ("role.", tuple(Role)),
    ("severity.", tuple(Severity)),
    ("uploads.status.", ("ingested", "failed")),
])
def test_keys_built_from_data_exist_for_every_value(prefix, names):
    """Templates build these keys from stored values (`t('level.' ~ level)`): each value has its text."""
    missing = [f"{prefix}{getattr(name, 'value', name)}" for name in names
               if f"{prefix}{getattr(name, 'value', name)}" not in _keys()]
    assert missing == []


def test_translate_reads_the_catalogue_of_the_language():
    assert translate("nav.overview", "en") == "Overview"
    assert translate("nav.overview", "fr") == "Vue d'ensemble"
    assert translate("nav.signed_in_as", "fr", name="ana", role="analyste") == "Connecté : ana (analyste)"
    assert translate("actors.count", "en", n=3) == "3 actors"
    assert translate("nav.overview", "de") == "Vue d'ensemble"  # a language the dashboard lacks: French
    assert translate("common.run_hint", "en") == "Run `{command}` to produce it."  # no values: left as is


@pytest.mark.parametrize("language", ["fr", "en"])
def test_an_unknown_key_is_an_error_not_a_key_shown_on_the_page(language):
    with pytest.raises(KeyError, match="nav.nowhere"):
        translate("nav.nowhere", language)
    assert messages(language).gettext("nav.needs") in ("Besoins", "Needs")


# --- the change section of the reports -------------------------------------------------------------------


def test_the_change_section_words_come_from_the_report_catalogue():
    from retour.report.change import LABEL_CONTEXTS, LABELS, PAIRINGS, PILLAR_NAMES

    french, english = Formatter("fr"), Formatter("en")
    labels = {key: french._(text, context=LABEL_CONTEXTS.get(key), level="95 %")
              for key, text in LABELS.items()}
    assert labels["clear_changes"] == "Évolutions nettes" and labels["became"] == "Devenus prioritaires :"
    assert labels["interval"] == "Intervalle 95 %"  # the change table's own wording (msgctxt) ...
    assert french._("{level} interval", level="95 %") == "Intervalle à 95 %"  # ... the fact sheet's
    assert english._("Change since {round}", round="Baseline") == "Change since Baseline"
    assert [french._(PILLAR_NAMES[p]) for p in ("economic", "composite")] == ["Économique", "Score composite"]
    assert french._(PAIRINGS["panel"]) == "panel : répondants reliés par leur identifiant"


# --- compiled at first use -----------------------------------------------------------------------------


def _copy_locale(domain: str, tmp_path: Path) -> Path:
    target = tmp_path / domain / "locale"
    shutil.copytree(DOMAINS[domain], target, ignore=shutil.ignore_patterns("*.mo"))
    return target


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_the_mo_is_written_beside_the_po_and_refreshed_when_stale(domain, tmp_path):
    locale = _copy_locale(domain, tmp_path)
    mo = po_path(locale, domain, "fr").with_suffix(".mo")
    mo.write_bytes(b"stale")
    translations = load_translations(locale, domain, "fr")
    assert mo.read_bytes()[:4] in (b"\xde\x12\x04\x95", b"\x95\x04\x12\xde")  # gettext .mo magic number
    assert translations.gettext("nav.overview" if domain == "dashboard" else "Needs") in ("Vue d'ensemble",
                                                                                           "Besoins")


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_catalogues_compile_in_memory_from_a_read_only_package(domain, tmp_path, monkeypatch):
    locale = _copy_locale(domain, tmp_path)
    for folder in [locale, *(p for p in locale.rglob("*") if p.is_dir())]:
        folder.chmod(0o555)
    if os.geteuid() == 0:  # root writes through permissions: refuse the write as the system would
        real = Path.write_bytes

        def refuse(path: Path, data: bytes) -> int:
            if locale in path.parents:
                raise PermissionError(13, "Read-only file system", str(path))
            return real(path, data)

        monkeypatch.setattr(Path, "write_bytes", refuse)
    try:
        english = load_translations(locale, domain, "en", strict=True)
        expected = ("nav.overview", "Overview") if domain == "dashboard" else ("Needs", "Needs")
        assert english.gettext(expected[0]) == expected[1]
        assert list(locale.rglob("*.mo")) == []
    finally:
        for folder in [locale, *(p for p in locale.rglob("*") if p.is_dir())]:
            folder.chmod(0o755)


def test_compiled_catalogues_stay_out_of_git():
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    paths = [str(po_path(locale, domain, language).with_suffix(".mo").relative_to(REPO))
             for domain, locale in DOMAINS.items() for language in ("fr", "en")]
    ignored = subprocess.run(["git", "check-ignore", *paths], cwd=REPO, capture_output=True, text=True)
    assert ignored.stdout.split() == paths
