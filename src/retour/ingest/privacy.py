"""Keep people's identifying answers out of the store: drop them, hash them, or coarsen them.

The questionnaire's `retour_identifying` column marks such fields. `drop` removes the field; `hash` keeps
HMAC-SHA256(secret, value) so the same person can be linked across rounds without storing who they are
(the value is trimmed and upper-cased first, so 'ml-001 ' and 'ML-001' link); `coarsen` keeps GPS points
to `gps_precision_decimals` decimals (2 decimals is about 1.1 km of latitude), dates to the month and
decimals to the same number of decimals. The secret comes from an environment variable, or is made once
and kept in the study folder (`.retour-secret`, readable by its owner only).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from retour import store
from retour.errors import IngestError
from retour.ingest import values
from retour.schema import Instrument, Question

SECRET_FILE = ".retour-secret"
COARSENABLE = frozenset({"geopoint", "date", "today", "decimal", "range"})


@dataclass(frozen=True)
class Protection:
    """How identifying fields are protected: field -> action, with the secret and GPS precision."""

    actions: Mapping[str, str]
    secret: bytes | None = None
    decimals: int = 2

    @property
    def dropped(self) -> frozenset[str]:
        return frozenset(name for name, action in self.actions.items() if action == "drop")


def plan(instrument: Instrument, secret: bytes | None, decimals: int = 2) -> Protection:
    """The protection of each identifying field; IngestError when a field cannot be protected as asked."""
    actions: dict[str, str] = {}
    for question in instrument.questions:
        if question.identifying is None:
            continue
        if question.identifying == "coarsen" and question.type not in COARSENABLE:
            raise IngestError(
                f"Field '{question.name}' ({question.type}) is marked 'coarsen', which only applies to GPS "
                "points, dates and decimals.",
                "Mark it 'drop' or 'hash' in the retour_identifying column of the questionnaire.")
        actions[question.name] = question.identifying
    if "hash" in actions.values() and not secret:
        hashed = ", ".join(name for name, action in actions.items() if action == "hash")
        raise IngestError(f"Fields {hashed} must be hashed, and no secret was given.",
                          "Pass the study's secret (retour does this itself in `retour ingest`).")
    return Protection(actions=actions, secret=secret, decimals=decimals)


def load_secret(root: Path, env_name: str) -> bytes:
    """The study's hashing secret: the environment variable `env_name`, else `root/.retour-secret`
    (created with 32 random bytes and mode 600 the first time)."""
    from_env = os.environ.get(env_name, "").strip() if env_name else ""
    if from_env:
        return from_env.encode("utf-8")
    path = Path(root) / SECRET_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip().encode("utf-8")
    token = secrets.token_hex(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(token + "\n")
    return token.encode("utf-8")


def _coarsen_text(question: Question, text: pl.Series, decimals: int,
                  points: pl.DataFrame | None = None) -> pl.Series:
    if question.type == "geopoint":
        return values.coarse_geopoints(text, decimals, points)
    frame = text.to_frame()
    if question.type in ("date", "today"):
        return frame.select(values.date(pl.col(text.name)).dt.strftime("%Y-%m")).to_series()
    return frame.select(values.decimal(pl.col(text.name)).round(decimals).cast(pl.Utf8)).to_series()


def hash_values(text: pl.Series, secret: bytes) -> pl.Series:
    """HMAC-SHA256 (hex) of each trimmed, upper-cased value under the study secret; null stays null."""
    normalised = text.cast(pl.Utf8).str.strip_chars().str.to_uppercase()
    normalised = normalised.set(normalised.str.len_bytes() == 0, None)
    return store.digest(normalised, key=secret)


def hash_fields(text: pl.DataFrame, protection: Protection) -> dict[str, pl.Series]:
    """`hash_values` of every field of `text` marked 'hash' (DuckDB computes them without holding
    Python's lock, so this can run in a thread while the rest of the checks go on)."""
    return {field: hash_values(text.get_column(field), protection.secret or b"").alias(field)
            for field, action in protection.actions.items() if action == "hash" and field in text.columns}


def protect_text(text: pl.DataFrame, instrument: Instrument, protection: Protection,
                 points: Mapping[str, pl.DataFrame] | None = None,
                 hashed: Mapping[str, pl.Series] | None = None) -> pl.DataFrame:
    """The identifying columns of `text` as they may be kept: hashed, coarsened, or null when dropped
    (`points`: `values.geopoints` of the GPS columns, `hashed`: `hash_fields`, when already made)."""
    hashed = hashed if hashed is not None else hash_fields(text, protection)
    columns: list[pl.Series] = []
    for field, action in protection.actions.items():
        if field not in text.columns:
            continue
        column = text.get_column(field)
        if action == "drop":
            columns.append(pl.Series(field, [None] * text.height, dtype=pl.Utf8))
        elif action == "hash":
            columns.append(hashed[field])
        else:
            columns.append(_coarsen_text(instrument.question(field), column, protection.decimals,
                                         (points or {}).get(field)))
    return pl.DataFrame(columns)


def protect_typed(typed: pl.DataFrame, protected: pl.DataFrame, instrument: Instrument,
                  protection: Protection) -> pl.DataFrame:
    """The typed answers with identifying fields protected: hashed ones take their hash (text), coarsened
    dates go to the month and decimals to `decimals` places, GPS points take their coarsened text, and
    dropped fields are removed. `protected` is what `protect_text` made of the same rows."""
    replacements: list[pl.Expr | pl.Series] = []
    for field, action in protection.actions.items():
        if field not in typed.columns or action == "drop":
            continue
        question = instrument.question(field)
        if action == "hash" or question.type == "geopoint":
            replacements.append(protected.get_column(field))
        elif question.type in ("date", "today"):
            replacements.append(pl.col(field).dt.truncate("1mo"))
        else:
            replacements.append(pl.col(field).round(protection.decimals))
    protected_typed = typed.with_columns(replacements) if replacements else typed
    return protected_typed.drop([name for name in protection.dropped if name in protected_typed.columns])
