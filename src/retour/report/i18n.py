"""Translate report text with gettext catalogues and format numbers in the reader's language (Babel).

Every sentence a report shows is a msgid (in English) looked up in `locale/<lang>/LC_MESSAGES/retour.po`.
The `.po` files are the source; `retour.i18n` compiles them when first used (and writes the `.mo` beside
them when the folder is writable), so no binary file is made by hand. Numbers follow the
language's conventions: "48 %" in French (narrow no-break space before the sign), "48%" in English.
This module formats; it computes no statistic.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel.dates import format_date
from babel.numbers import format_decimal, format_percent
from babel.support import Translations

from retour.errors import ConfigError
from retour.i18n import compile_po, load_translations, po_path

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "retour"
LANGUAGES = ("fr", "en")
SUPPRESSED = "—"
NARROW_NBSP = "\u202f"


def N_(message: str) -> str:
    """Mark a constant as a message to translate later (gettext_noop); returns it unchanged."""
    return message


def check_language(language: str) -> str:
    """The language code if reports exist in it; a ConfigError listing the languages otherwise."""
    if language not in LANGUAGES:
        raise ConfigError(
            f"Reports are not available in '{language}'.", f"Use one of: {', '.join(LANGUAGES)} (or 'all')."
        )
    return language


def catalogue_path(language: str) -> Path:
    """The `.po` source of the reports' messages in `language`."""
    return po_path(LOCALE_DIR, DOMAIN, language)


def compile_catalogue(language: str) -> bytes:
    """The `.mo` bytes of a language's `.po` catalogue."""
    return compile_po(catalogue_path(language), language)


@cache
def translations(language: str) -> Translations:
    """Compiled translations of `language` (the `.mo` beside the `.po` is refreshed when stale)."""
    return load_translations(LOCALE_DIR, DOMAIN, check_language(language))


@dataclass(frozen=True)
class Formatter:
    """Text and numbers for one language: `_` translates, the other methods format numbers."""

    language: str

    def _(self, message: str, *, context: str | None = None, **values: object) -> str:
        """The translation of `message`, with `{name}` placeholders filled from `values`; `context` (a
        msgctxt) tells apart the same English words translated differently in two places."""
        catalogue = translations(self.language)
        text = catalogue.gettext(message) if context is None else catalogue.pgettext(context, message)
        return text.format(**values) if values else text

    def percent(self, value: float | None, digits: int = 0) -> str:
        """A proportion (0..1) as a percentage; None as the suppression mark."""
        if value is None:
            return SUPPRESSED
        pattern = "#,##0%" if digits == 0 else "#,##0." + "0" * digits + "%"
        text = format_percent(value, format=None if digits == 0 else pattern, locale=self.language)
        if self.language == "fr":
            # French typography puts a narrow no-break space before the percent sign.
            text = text.replace("\xa0%", f"{NARROW_NBSP}%").replace(" %", f"{NARROW_NBSP}%")
        return text

    def points(self, difference: float | None) -> str:
        """A difference of proportions in percentage points, signed: "+9 pts" / "−4 pts"."""
        if difference is None:
            return SUPPRESSED
        number = format_decimal(round(difference * 100), format="+#,##0;−#,##0", locale=self.language)
        return self._("{value} pts", value=number)

    def decimal(self, value: float | None, digits: int = 2) -> str:
        """A number with a fixed count of decimals in the language's notation ("0,81" / "0.81")."""
        if value is None:
            return SUPPRESSED
        return format_decimal(
            value, format="#,##0." + "0" * digits if digits else "#,##0", locale=self.language
        )

    def integer(self, value: int | float | None) -> str:
        """A whole number with the language's grouping ("1 800 000" / "1,800,000")."""
        if value is None:
            return SUPPRESSED
        return format_decimal(round(value), format="#,##0", locale=self.language)

    def p_value(self, value: float | None) -> str:
        """A p-value: three decimals, or "< 0.001"."""
        if value is None:
            return SUPPRESSED
        if value < 0.001:
            return "< " + self.decimal(0.001, 3)
        return self.decimal(value, 3)

    def date(self, value: dt.date | None) -> str:
        """A date in the language's long form ("5 mars 2018" / "March 5, 2018")."""
        return "" if value is None else format_date(value, "long", locale=self.language)

    def pick(self, texts: dict[str, str] | None) -> str:
        """The text of a bilingual mapping in this language (empty when missing)."""
        if not texts:
            return ""
        return str(texts.get(self.language) or "")
