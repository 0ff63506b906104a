"""Copies of the study store kept in the study's backups/ folder, taken, rotated and restored (issue 22).

A copy is taken through DuckDB (`COPY FROM DATABASE`), so it reads every block of the store: a damaged
store is found here, before an ingest writes into it, and never replaces a good copy. Copies are named
`retour-<UTC time>.duckdb`, made private (0600 in a 0700 folder) and the newest `[store] backups_kept`
are kept. A restore checks that the copy opens and reads before it replaces the store. This module does
not decide when to copy: `retour.store` calls it before a migration, ingest before it writes.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from pathlib import Path

import duckdb

from retour.errors import StoreError
from retour.private_files import make_private

BACKUP_FOLDER = "backups"
DEFAULT_KEPT = 3
_PREFIX = "retour-"
_SUFFIX = ".duckdb"


def backup_folder(store_path: Path) -> Path:
    """The folder beside the store that holds its copies."""
    return Path(store_path).parent / BACKUP_FOLDER


def list_backups(store_path: Path) -> list[Path]:
    """The store's kept copies, newest first (their names sort by the time they were taken)."""
    folder = backup_folder(store_path)
    if not folder.is_dir():
        return []
    found = [file for file in folder.iterdir()
             if file.is_file() and file.name.startswith(_PREFIX) and file.name.endswith(_SUFFIX)]
    return sorted(found, key=lambda file: file.name, reverse=True)


def _new_name(folder: Path) -> Path:
    """`retour-<UTC time to the microsecond>.duckdb`, unique in `folder`."""
    now = dt.datetime.now(dt.UTC)
    while True:
        target = folder / f"{_PREFIX}{now.strftime('%Y%m%dT%H%M%S.%fZ')}{_SUFFIX}"
        if not target.exists():
            return target
        now += dt.timedelta(microseconds=1)


def copy_store(con: duckdb.DuckDBPyConnection, store_path: Path, kept: int) -> Path | None:
    """Copy the store open on `con` into backups/, then drop all but the newest `kept` copies.

    Returns the copy (None when `kept` is 0). A store that cannot be read whole raises the
    damaged-store StoreError, and no copy is left of it.
    """
    from retour.store import damaged_store, is_damage

    if kept <= 0:
        return None
    folder = backup_folder(store_path)
    folder.mkdir(exist_ok=True)
    make_private(folder, folder=True)
    target = _new_name(folder)
    database = con.execute("SELECT current_database()").fetchall()[0][0]
    try:
        con.execute("ATTACH ? AS retour_backup_copy", [str(target)])
        try:
            con.execute(f'COPY FROM DATABASE "{database}" TO retour_backup_copy')
        finally:
            con.execute("DETACH retour_backup_copy")
    except duckdb.Error as error:
        _remove(target)
        if is_damage(error):
            raise damaged_store(store_path) from None
        raise StoreError(f"Cannot copy the store {store_path} to {target}: {error}",
                         f"Check the free space and rights in {folder}, or set [store] backups_kept = 0 "
                         "in retour.toml to keep no copy.") from None
    make_private(target)
    for old in list_backups(store_path)[kept:]:
        _remove(old)
    return target


def _remove(file: Path) -> None:
    for part in (file, file.with_name(file.name + ".wal")):
        part.unlink(missing_ok=True)


def kept_setting(store_path: Path) -> int:
    """`[store] backups_kept` of the study holding the store (the default when it cannot be read:
    a migration must not fail on a settings file that the command itself will report)."""
    try:
        with open(Path(store_path).parent / "retour.toml", "rb") as file:
            value = tomllib.load(file).get("store", {}).get("backups_kept", DEFAULT_KEPT)
    except (OSError, tomllib.TOMLDecodeError, AttributeError):
        return DEFAULT_KEPT
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else DEFAULT_KEPT


def keep_copy_before_migration(con: duckdb.DuckDBPyConnection, store_path: Path) -> Path | None:
    """Copy an existing store before migrations change it, as many as the study keeps."""
    return copy_store(con, store_path, kept_setting(store_path))


def back_up(store_path: Path, kept: int) -> Path:
    """Take a copy of the store now (`retour backup DIR`), keeping the newest `kept` (at least this one)."""
    from retour import store

    if not Path(store_path).exists():
        raise StoreError(f"The store {store_path} does not exist yet: there is nothing to copy.",
                         "Run `retour ingest` (or `retour demo`) first.")
    con = store.connect(store_path)
    try:
        copy = copy_store(con, Path(store_path), max(kept, 1))
    finally:
        con.close()
    if copy is None:
        raise StoreError(f"No copy of {store_path} was taken.")
    return copy


def find_copy(store_path: Path, name: Path | str | None = None) -> Path:
    """The kept copy to restore: the newest, or `name` (a path, or a file name in backups/)."""
    kept = list_backups(store_path)
    if name is None:
        if not kept:
            raise StoreError(f"No copy of the store is kept in {backup_folder(store_path)}.",
                             f"Rebuild the store: move {Path(store_path).name} away and ingest the exports "
                             f"again (retour ingest {Path(store_path).parent} FILE --round ROUND).")
        return kept[0]
    for candidate in (Path(name), backup_folder(store_path) / Path(name).name):
        if candidate.is_file():
            return candidate
    raise StoreError(f"The copy {name} does not exist.",
                     f"Copies kept in {backup_folder(store_path)}: "
                     f"{', '.join(file.name for file in kept) or 'none'}.")


def restore(store_path: Path, name: Path | str | None = None) -> Path:
    """Put a kept copy (the newest, or `name`) back as the store, after checking it reads to the end.

    The copy is read through DuckDB into a new file (so every block's checksum is checked) that then
    takes the store's place; the store it replaces, damaged or not, is moved aside as
    `retour.duckdb.replaced-<UTC time>` rather than deleted. Returns the copy restored.
    """
    from retour import store

    store_path = Path(store_path)
    copy = find_copy(store_path, name)
    partial = store_path.with_name(store_path.name + ".restoring")
    _remove(partial)
    copier = duckdb.connect()
    try:
        copier.execute("ATTACH ? AS retour_kept (READ_ONLY)", [str(copy)])
        copier.execute("ATTACH ? AS retour_restored", [str(partial)])
        copier.execute("COPY FROM DATABASE retour_kept TO retour_restored")
    except duckdb.Error as error:
        _remove(partial)
        raise _bad_copy(copy, error) from None
    finally:
        copier.close()
    make_private(partial)
    if store_path.exists():
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        store_path.replace(store_path.with_name(f"{store_path.name}.replaced-{stamp}"))
    # a log of the replaced store must not be replayed over the copy
    store_path.with_name(store_path.name + ".wal").unlink(missing_ok=True)
    os.replace(partial, store_path)
    store.connect(store_path).close()  # migrations a copy taken by an older retour still needs
    return copy


def _bad_copy(copy: Path, error: duckdb.Error) -> StoreError:
    from retour.store import is_damage

    what = "is damaged too" if is_damage(error) else f"cannot be read: {str(error).splitlines()[0]}"
    return StoreError(f"The copy {copy} {what}.",
                      f"Restore another one: retour backup {copy.parent.parent} --restore FILE")


def check_store(store_path: Path) -> None:
    """The damaged-store StoreError unless every table of an existing store reads to the end (`retour
    serve` checks before it listens). No store yet, or one another process is writing, passes."""
    from retour import store

    if not Path(store_path).exists():
        return
    try:
        con = store.open_read_only(store_path)
    except StoreError as error:
        if "in use" in error.message:
            return
        raise
    try:
        _read_every_table(con)
    except duckdb.Error as error:
        damaged = store.damage_error(error, store_path)
        if damaged is None:
            raise
        raise damaged from None
    finally:
        con.close()


def _read_every_table(con: duckdb.DuckDBPyConnection) -> None:
    """Read every row of every table in batches (DuckDB checks each block's checksum as it reads)."""
    tables = con.execute("SELECT table_name FROM duckdb_tables() "
                         "WHERE database_name = current_database()").fetchall()
    for (table,) in tables:
        con.execute(f'SELECT * FROM "{table}"')
        while con.fetchmany(10_000):
            pass
