"""The keys a study file's table may hold, declared once beside its parser (issue 16).

Each parser lists its keys as a tuple of `KeyDoc`; its unknown-key check reads the names from that tuple
and `scripts/generate_docs.py` writes docs/study-files.md from it, so the reference cannot drift from
what the parser accepts. A key chosen by the study (a theme id, an administrative level declared in
retour.toml) is documented by a pattern row whose name is in angle brackets (`<theme id>`); a pattern
is not a key name, so the checks here leave it out and the parser checks such keys itself. This module
reads no file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class KeyDoc:
    """One key of a study file's table: its name, value type, default ('' when required), meaning, and
    the values it may take when they are a fixed list."""

    name: str
    type: str
    default: str
    meaning: str
    allowed: tuple[str, ...] = ()

    @property
    def is_pattern(self) -> bool:
        """Whether the row stands for keys the study chooses (`<theme id>`) rather than one key."""
        return self.name.startswith("<")


def key_names(keys: Iterable[KeyDoc]) -> frozenset[str]:
    """The names of the declared keys (pattern rows left out): what a parser's unknown-key check accepts."""
    return frozenset(key.name for key in keys if not key.is_pattern)


def unknown_keys(entry: Iterable[object], keys: Iterable[KeyDoc]) -> list[str]:
    """The keys of a parsed table (`entry`) that `keys` does not declare, sorted."""
    return sorted({str(key) for key in entry} - key_names(keys))


def allowed_keys_hint(keys: Iterable[KeyDoc]) -> str:
    """The hint of an unknown-key problem: `Keys allowed: a, b, c.` (the declared names, sorted)."""
    return f"Keys allowed: {', '.join(sorted(key_names(keys)))}."
