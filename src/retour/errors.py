"""Errors retour raises for bad input, and the Problem record for data problems.

Exceptions are for conditions that stop a command (an unreadable file, a bad config). Problems in the
data itself are values, not exceptions: checks return every `Problem` they find and never stop at the
first. This module defines no behaviour beyond the types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum


class RetourError(Exception):
    """Base of every error retour raises for something the user can fix."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip() if self.hint else self.message


class ConfigError(RetourError):
    """A study setting or study folder is missing or invalid."""


class SchemaError(RetourError):
    """The questionnaire (XLSForm) cannot be read or is invalid."""


class IngestError(RetourError):
    """A survey export cannot be read as a whole (not a row-level problem)."""


class StoreError(RetourError):
    """The study store cannot be opened, migrated or written."""


class SpecError(RetourError):
    """An indicator catalogue, index spec, needs rule or register is invalid."""


class EstimationError(RetourError):
    """Estimates cannot be computed from the data and design given."""


class Severity(str, Enum):
    """How a data problem affects its row."""

    BLOCKING = "blocking"  # the row goes to quarantine
    WARNING = "warning"  # the row is accepted; the problem is logged


@dataclass(frozen=True)
class Problem:
    """One problem found in one cell (or one row, or the whole file) of an input.

    `row` is the 1-based data row in the source file (the header is row 0); None for whole-file problems.
    `translations` holds (message, hint) in every language the problem was written in.
    """

    code: str
    row: int | None
    column: str | None
    value: str | None
    message: str
    hint: str = ""
    severity: Severity = Severity.BLOCKING
    source: str = ""
    translations: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    def in_language(self, language: str | None) -> tuple[str, str]:
        """(message, hint) in `language` when the problem was written in it, else as recorded."""
        return self.translations.get(language or "", (self.message, self.hint))

    def as_record(self, language: str | None = None) -> dict[str, object]:
        """Flat record with stable keys, for tables, CSV and JSON (message and hint in `language`)."""
        message, hint = self.in_language(language)
        return {
            "code": self.code,
            "severity": self.severity.value,
            "source": self.source,
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "message": message,
            "hint": hint,
        }
