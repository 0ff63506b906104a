"""Fingerprint each row's answers with a stable 64-bit number, so that a submission ingested again can be
told apart from a changed one (same `_uuid`, other answers).

    fingerprint(row) = mix( sum over non-null cells c of mix(value_hash(c) XOR name_key(column of c)) )

with sums modulo 2^64. `value_hash` is the first 8 bytes of SHA-256 of the text for text answers, and
the 64 bits of the value for numbers, dates and times; `name_key` is the first 8 bytes of SHA-256 of the
field name; `mix` is the SplitMix64 finaliser (Steele, Lea & Flood 2014, "Fast splittable pseudorandom
number generators"). A sum does not depend on column order, and skipping nulls leaves the fingerprint
unchanged when a later questionnaire version adds fields. Every step is defined here, none by a library
version, so fingerprints stay comparable across upgrades and machines. Pure: no I/O.
"""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl

from retour import store

DICTIONARY_LIMIT = 20_000  # columns with at most this many distinct texts are hashed value by value
SAMPLE_ROWS = 50_000  # rows looked at first to tell a varied column (GPS, free text) from a choice-like one
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser over uint64 values (wrapping arithmetic)."""
    z = values.astype(np.uint64, copy=True)
    _mix_in_place(z, np.empty_like(z))
    return z


def _mix_in_place(z: np.ndarray, scratch: np.ndarray) -> None:
    """`mix` written into `z` itself, with `scratch` (same shape) as the only temporary."""
    np.right_shift(z, np.uint64(30), out=scratch)
    z ^= scratch
    z *= _M1
    np.right_shift(z, np.uint64(27), out=scratch)
    z ^= scratch
    z *= _M2
    np.right_shift(z, np.uint64(31), out=scratch)
    z ^= scratch


def _sha_prefix(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def _text_table(values: list[str]) -> np.ndarray:
    return np.fromiter((_sha_prefix(value) for value in values), dtype=np.uint64, count=len(values))


def text_hashes(column: pl.Series) -> pl.Series:
    """First 8 bytes of SHA-256 of each text as UInt64 (null stays null)."""
    return pl.Series(column.name, _hash_columns(column.to_frame(), frozenset())[column.name],
                     dtype=pl.UInt64).set(column.is_null(), None)


def digest_hashes(column: pl.Series) -> pl.Series:
    """`value_hash` of a column that already holds SHA-256 digests (hex): their first 8 bytes."""
    return column.str.slice(0, 16).str.to_integer(base=16, dtype=pl.UInt64, strict=False)


def _hash_columns(frame: pl.DataFrame, digests: frozenset[str]) -> dict[str, np.ndarray]:
    """`value_hash` of every column as uint64 arrays (meaningless where the cell is null).

    An Enum column (checked choices) and a text column with few distinct values have each value hashed
    once and spread back through its codes (all such text columns in one pass); other text columns are
    hashed whole by DuckDB.
    """
    hashes: dict[str, np.ndarray] = {}
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.Enum):  # checked choices: each name hashed once, spread by its code
            table = _text_table(dtype.categories.to_list())
            codes = frame.get_column(name).to_physical().fill_null(0).to_numpy()
            hashes[name] = table[codes] if table.size else np.zeros(frame.height, dtype=np.uint64)
    texts = [name for name, dtype in frame.schema.items() if dtype == pl.Utf8 and name not in digests]
    if texts:  # a column already too varied in its first rows goes straight to DuckDB
        counts = frame.head(SAMPLE_ROWS).select(pl.col(name).n_unique() for name in texts).row(0)
        texts = [name for name, count in zip(texts, counts, strict=True) if count <= DICTIONARY_LIMIT]
    # One pass finds each column's distinct texts (counting them first would be a second pass).
    found = frame.select(pl.col(name).drop_nulls().unique().implode() for name in texts) if texts else None
    few = [name for name in texts if found.get_column(name).list.len().item() <= DICTIONARY_LIMIT]
    distinct = [found.get_column(name)[0].to_list() for name in few]
    codes = frame.select(pl.col(name).cast(pl.Enum(values)).to_physical().cast(pl.Int64).fill_null(0)
                         for name, values in zip(few, distinct, strict=True)) if few else pl.DataFrame()
    for name, values in zip(few, distinct, strict=True):
        table = _text_table(values) if values else np.zeros(1, dtype=np.uint64)
        hashes[name] = table[codes.get_column(name).to_numpy()]
    for name in frame.columns:
        column = frame.get_column(name)
        if name in hashes:
            continue
        if name in digests:
            hashes[name] = digest_hashes(column).fill_null(0).to_numpy()
        elif column.dtype == pl.Utf8:
            hashes[name] = digest_hashes(store.digest(column)).fill_null(0).to_numpy()
        elif column.dtype == pl.Float64:
            hashes[name] = column.fill_null(0.0).to_numpy().view(np.uint64)
        elif column.dtype.is_temporal() or column.dtype.is_integer() or column.dtype == pl.Boolean:
            hashes[name] = column.to_physical().cast(pl.Int64).fill_null(0).to_numpy().view(np.uint64)
        else:
            hashes[name] = _hash_columns(column.cast(pl.Utf8).to_frame(), frozenset())[name]
    return hashes


def value_hashes(column: pl.Series) -> pl.Series:
    """`value_hash` of a column: SHA-256 prefix of texts, the raw 64 bits of numbers, dates and times."""
    return pl.Series(column.name, _hash_columns(column.to_frame(), frozenset())[column.name],
                     dtype=pl.UInt64).set(column.is_null(), None)


def fingerprints(frame: pl.DataFrame, text: pl.DataFrame | None = None,
                 digests: frozenset[str] = frozenset()) -> pl.Series:
    """The fingerprint of each row of `frame` (all its columns), as UInt64.

    `text` holds the same fields as exported: a cell that could not be read into its type (null in
    `frame`) is hashed from its text, so that a changed unreadable answer changes the fingerprint too.
    Columns named in `digests` already hold SHA-256 digests (hashed identifiers): their first 8 bytes
    are their value hash.
    """
    hashes = _hash_columns(frame, digests)
    total = np.zeros(frame.height, dtype=np.uint64)
    scratch = np.empty_like(total)
    for name in frame.columns:
        column, values = frame.get_column(name), hashes[name]
        filled = column.is_not_null().to_numpy() if column.null_count() else None
        if text is not None and name in text.columns and frame.schema[name] != pl.Utf8:
            # A typed cell is null wherever its text is, so the difference counts the unreadable cells.
            if column.null_count() > text.get_column(name).null_count():
                unread = (column.is_null() & text.get_column(name).is_not_null()).arg_true()
                rows = unread.to_numpy()
                values, filled = values.copy(), filled.copy()
                values[rows] = text_hashes(text.get_column(name).gather(unread)).to_numpy()
                filled[rows] = True
        cell = values ^ np.uint64(_sha_prefix(name))
        _mix_in_place(cell, scratch)
        if filled is not None:
            cell *= filled  # a null cell adds nothing
        total += cell
    _mix_in_place(total, scratch)
    return pl.Series("_content_hash", total, dtype=pl.UInt64)
