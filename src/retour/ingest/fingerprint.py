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
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser over uint64 values (wrapping arithmetic)."""
    z = values.astype(np.uint64, copy=True)
    z ^= z >> np.uint64(30)
    z *= _M1
    z ^= z >> np.uint64(27)
    z *= _M2
    z ^= z >> np.uint64(31)
    return z


def _sha_prefix(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def text_hashes(column: pl.Series) -> pl.Series:
    """First 8 bytes of SHA-256 of each text as UInt64 (null stays null).

    A column with few distinct texts has each hashed once and spread back to the rows through its codes
    as an Enum; any other column is hashed whole by DuckDB.
    """
    distinct = column.drop_nulls().unique()
    if distinct.len() == 0:
        return pl.Series(column.name, [None] * column.len(), dtype=pl.UInt64)
    if distinct.len() > DICTIONARY_LIMIT:
        return digest_hashes(store.digest(column))
    table = np.fromiter((_sha_prefix(value) for value in distinct.to_list()), dtype=np.uint64,
                        count=distinct.len())
    codes = column.cast(pl.Enum(distinct)).to_physical()
    spread = table[codes.fill_null(0).cast(pl.Int64).to_numpy()]
    return pl.Series(column.name, spread, dtype=pl.UInt64).set(codes.is_null(), None)


def digest_hashes(column: pl.Series) -> pl.Series:
    """`value_hash` of a column that already holds SHA-256 digests (hex): their first 8 bytes."""
    return column.str.slice(0, 16).str.to_integer(base=16, dtype=pl.UInt64, strict=False)


def value_hashes(column: pl.Series) -> pl.Series:
    """`value_hash` of a column: SHA-256 prefix of texts, the raw 64 bits of numbers, dates and times."""
    dtype = column.dtype
    if dtype == pl.Utf8:
        return text_hashes(column)
    if dtype == pl.Float64:
        bits = column.fill_null(0.0).to_numpy().view(np.uint64)
    elif dtype.is_temporal() or dtype.is_integer() or dtype == pl.Boolean:
        bits = column.to_physical().cast(pl.Int64).fill_null(0).to_numpy().view(np.uint64)
    else:
        return text_hashes(column.cast(pl.Utf8))
    return pl.Series(column.name, bits, dtype=pl.UInt64).set(column.is_null(), None)


def fingerprints(frame: pl.DataFrame, text: pl.DataFrame | None = None,
                 digests: frozenset[str] = frozenset()) -> pl.Series:
    """The fingerprint of each row of `frame` (all its columns), as decimal text.

    `text` holds the same fields as exported: a cell that could not be read into its type (null in
    `frame`) is hashed from its text, so that a changed unreadable answer changes the fingerprint too.
    Columns named in `digests` already hold SHA-256 digests (hashed identifiers): their first 8 bytes
    are their value hash.
    """
    total = np.zeros(frame.height, dtype=np.uint64)
    for name in frame.columns:
        column = frame.get_column(name)
        hashes = digest_hashes(column) if name in digests else value_hashes(column)
        if text is not None and name in text.columns and column.dtype != pl.Utf8:
            unread = (column.is_null() & text.get_column(name).is_not_null()).arg_true()
            if unread.len():
                hashes = hashes.scatter(unread, text_hashes(text.get_column(name).gather(unread)))
        key = np.uint64(_sha_prefix(name))
        cell = mix(hashes.fill_null(0).to_numpy() ^ key)
        total += np.where(hashes.is_not_null().to_numpy(), cell, np.uint64(0))
    return pl.Series("_content_hash", mix(total), dtype=pl.UInt64).cast(pl.Utf8)
