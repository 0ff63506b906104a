"""Load retour's gettext catalogues: each `.po` source is compiled to translations when first used.

The reports (domain `retour`) and the dashboard (domain `dashboard`) keep one `.po` file per language in
`<part>/locale/<language>/LC_MESSAGES/<domain>.po`. Those text files are what translators edit and what git
keeps; the binary `.mo` is made from them here with `babel.messages`, in memory, and written beside the
`.po` when the folder is writable (so gettext tools find it). An installed package may be read-only: the
in-memory catalogue is then all that is used. This module loads catalogues; it translates no text itself.
"""

from __future__ import annotations

import io
from functools import cache
from gettext import NullTranslations
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations


def po_path(locale_dir: Path, domain: str, language: str) -> Path:
    """Where the `.po` source of `domain` in `language` lives under `locale_dir`."""
    return locale_dir / language / "LC_MESSAGES" / f"{domain}.po"


def compile_po(path: Path, language: str) -> bytes:
    """The `.mo` bytes of a `.po` file (babel.messages.mofile.write_mo); fuzzy entries are left out."""
    with path.open("rb") as source:
        catalog = read_po(source, locale=language, domain=path.stem)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


class _RaiseOnMissing(NullTranslations):
    """The last fallback of a strict catalogue: a message it lacks is an error, not its msgid shown."""

    def gettext(self, message: str) -> str:
        raise KeyError(message)


@cache
def load_translations(locale_dir: Path, domain: str, language: str, strict: bool = False) -> Translations:
    """The compiled catalogue of `domain` in `language`, writing (or refreshing) the `.mo` when it can.

    A message the catalogue lacks (or whose translation is empty) comes back as its msgid, or raises
    KeyError when `strict`.
    """
    path = po_path(locale_dir, domain, language)
    compiled = compile_po(path, language)
    mo_path = path.with_suffix(".mo")
    try:
        if not mo_path.exists() or mo_path.read_bytes() != compiled:
            mo_path.write_bytes(compiled)
    except OSError:
        pass  # a read-only package folder: the in-memory catalogue is enough
    translations = Translations(io.BytesIO(compiled), domain=domain)
    if strict:
        translations.add_fallback(_RaiseOnMissing())
    return translations
