"""The dashboard's words in French and English, and numbers and dates written the local way.

Each text has a stable key ("nav.overview") looked up by `translate` in the gettext catalogue
`locale/<language>/LC_MESSAGES/dashboard.po` (msgid = key, msgstr = the wording; `{name}` fields are filled
by `translate`); `retour.i18n` compiles it when first used. Numbers and dates go through Babel so that
French reads 0,77 and 12 %. It holds no logic beyond lookup and formatting.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from babel.support import Translations

from retour.i18n import load_translations

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
LANGUAGE_NAMES = {"fr": "Français", "en": "English"}
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "dashboard"
_LOCALES = {"fr": Locale.parse("fr_FR"), "en": Locale.parse("en_GB")}


def messages(language: str) -> Translations:
    """The dashboard's compiled catalogue in `language` (French for a language it lacks); strict: a
    key it does not hold raises KeyError rather than showing the key on a page."""
    language = language if language in LANGUAGES else DEFAULT_LANGUAGE
    return load_translations(LOCALE_DIR, DOMAIN, language, strict=True)


def translate(key: str, language: str, **values: object) -> str:
    """The text of `key` in `language` with its `{fields}` filled; KeyError for an unknown key."""
    text = messages(language).gettext(key)
    return text.format(**values) if values else text


def pick_language(*candidates: str | None) -> str:
    """The first supported language among the candidates, else the default (French)."""
    for candidate in candidates:
        if candidate in LANGUAGES:
            return candidate  # type: ignore[return-value]
    return DEFAULT_LANGUAGE


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_number(value: object, language: str, digits: int = 2) -> str:
    """A number with `digits` decimals in the language's style (0,77 / 0.77); an en dash when missing."""
    if _missing(value):
        return "–"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(float(value), format=pattern, locale=_LOCALES[language])  # type: ignore[arg-type]


def format_percent(value: object, language: str, digits: int = 0) -> str:
    """A 0..1 proportion as a percentage (48 % / 48%)."""
    if _missing(value):
        return "–"
    number = format_number(float(value) * 100, language, digits)  # type: ignore[arg-type]
    return f"{number}\u202f%" if language == "fr" else f"{number}%"


def format_when(value: object, language: str, with_time: bool = True) -> str:
    """A date or timestamp written the language's way."""
    if _missing(value):
        return "–"
    if isinstance(value, dt.datetime):
        if with_time:
            return format_datetime(value, format="medium", locale=_LOCALES[language])
        value = value.date()
    if isinstance(value, dt.date):
        return format_date(value, format="long", locale=_LOCALES[language])
    return str(value)
