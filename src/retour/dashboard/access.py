"""How the dashboard reaches the study store under DuckDB's single-writer rule.

Reads use short-lived read-only connections, and what they return is kept only while the store file is
unchanged (its size and modification time, and those of its write-ahead log, are checked on every
request), so every page shows the store as it is now without opening it for each request. Writes from
the app (users, overrides, actor edits, uploads) go through one writer: a process-wide lock and a
short-lived read-write connection. While another process (the CLI) holds the store, both raise
`StoreBusy`, which the app shows as a 503 page. This module holds no SQL: it calls `retour.store`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import polars as pl

from retour import store
from retour.errors import StoreError

T = TypeVar("T")


class StoreBusy(StoreError):
    """The store is held by another process (a running `retour` command)."""


class _ReadWriteLock:
    """Many readers or one writer; in one process DuckDB cannot mix read-only and read-write handles."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._readers = 0
        self._writing = False

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._writing)
            self._readers += 1
        try:
            yield
        finally:
            with self._condition:
                self._readers -= 1
                self._condition.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._writing and self._readers == 0)
            self._writing = True
        try:
            yield
        finally:
            with self._condition:
                self._writing = False
                self._condition.notify_all()


def _busy(error: StoreError) -> StoreError:
    if "in use" in error.message:
        return StoreBusy(error.message, error.hint)
    return error


class StoreAccess:
    """Cached read-only reads and a single writer over one store file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = _ReadWriteLock()
        self._cache: dict[tuple[object, ...], object] = {}
        self._cache_signature: tuple[object, ...] | None = None
        self._cache_lock = threading.Lock()
        self._generation = 0

    def signature(self) -> tuple[object, ...]:
        """What identifies the store's current content: file sizes and times, plus local writes."""
        parts: list[object] = [self._generation]
        for file in (self.path, self.path.with_name(self.path.name + ".wal")):
            try:
                status = file.stat()
            except FileNotFoundError:
                parts.append(None)
                continue
            parts.append((status.st_mtime_ns, status.st_size))
        return tuple(parts)

    def read(self, function: Callable[[store.Connection], T]) -> T:
        """Run `function` on a fresh read-only connection, closed right after."""
        with self._lock.reading():
            try:
                con = store.open_read_only(self.path)
            except StoreError as error:
                raise _busy(error) from None
            try:
                return function(con)
            finally:
                con.close()

    def cached(self, key: tuple[object, ...], function: Callable[[store.Connection], T]) -> T:
        """`read(function)`, reused while the store is unchanged; `key` names what is read."""
        signature = self.signature()
        with self._cache_lock:
            if signature != self._cache_signature:
                self._cache.clear()
                self._cache_signature = signature
            if key in self._cache:
                return self._cache[key]  # type: ignore[return-value]
        value = self.read(function)
        with self._cache_lock:
            if self._cache_signature == signature:
                self._cache[key] = value
        return value

    def memo(self, key: tuple[object, ...], function: Callable[[], T]) -> T:
        """A value derived from the store (a rendered fact sheet), kept while the store is unchanged."""
        signature = self.signature()
        with self._cache_lock:
            if signature == self._cache_signature and key in self._cache:
                return self._cache[key]  # type: ignore[return-value]
        value = function()
        with self._cache_lock:
            if signature != self._cache_signature:
                self._cache.clear()
                self._cache_signature = signature
            self._cache[key] = value
        return value

    def results(self, table: str, round_name: str | None = None) -> pl.DataFrame:
        """A stored result table (all rounds or one), empty if the stage never ran."""
        return self.cached(
            ("results", table, round_name), lambda con: store.read_results(con, table, round_name)
        )

    def write(self, function: Callable[[store.Connection], T]) -> T:
        """Run `function` on a read-write connection (migrated) under the app's one writer lock."""
        with self._lock.writing():
            try:
                con = store.connect(self.path)
            except StoreError as error:
                raise _busy(error) from None
            try:
                return function(con)
            finally:
                con.close()
                self._generation += 1

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the writer lock while a study stage opens the store itself (an upload's ingest)."""
        with self._lock.writing():
            try:
                yield
            except StoreError as error:
                raise _busy(error) from None
            finally:
                self._generation += 1

    def ensure(self) -> None:
        """Create or migrate the store so read-only connections find every table."""
        self.write(lambda con: None)
