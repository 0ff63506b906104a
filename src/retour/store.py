"""The study store: one DuckDB file holding rounds, submissions, quarantine, problems and results.

This is the only module that writes SQL. The schema is created and changed by small named migrations,
each run once inside a transaction and recorded in `schema_migrations`. Results of each stage are kept
per round in their own table and replaced whole when the stage runs again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

from retour.errors import StoreError

Connection = duckdb.DuckDBPyConnection
Migration = Callable[[Connection], None]
MIGRATIONS: dict[str, Migration] = {}
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def migration(name: str) -> Callable[[Migration], Migration]:
    """Register a schema migration; names sort in the order they must run (0001_..., 0002_...)."""

    def register(function: Migration) -> Migration:
        if name in MIGRATIONS:
            raise RuntimeError(f"migration {name} registered twice")
        MIGRATIONS[name] = function
        return function

    return register


@migration("0001_runs")
def _create_runs(con: Connection) -> None:
    con.execute("""
        CREATE TABLE runs (
            run_id INTEGER PRIMARY KEY,
            stage VARCHAR NOT NULL,
            round VARCHAR,
            started_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            retour_version VARCHAR NOT NULL,
            config_hash VARCHAR NOT NULL,
            data_hash VARCHAR NOT NULL,
            details JSON
        )
    """)
    con.execute("CREATE SEQUENCE runs_id_seq START 1")


def _identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise StoreError(f"'{name}' is not a valid table or column name.")
    return name


def migrate(con: Connection) -> list[str]:
    """Run every registered migration not yet applied, each in its own transaction; return their names."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                "(name VARCHAR PRIMARY KEY, applied_at TIMESTAMP DEFAULT current_timestamp)")
    applied = {row[0] for row in con.execute("SELECT name FROM schema_migrations").fetchall()}
    ran = []
    for name in sorted(MIGRATIONS):
        if name in applied:
            continue
        with transaction(con):
            MIGRATIONS[name](con)
            con.execute("INSERT INTO schema_migrations (name) VALUES (?)", [name])
        ran.append(name)
    return ran


def connect(path: Path | str = ":memory:", read_only: bool = False) -> Connection:
    """Open (and, unless read-only, migrate) the store at `path`; ':memory:' for a throw-away store."""
    try:
        if read_only:
            return duckdb.connect(str(path), read_only=True)
        con = duckdb.connect(str(path))
    except duckdb.IOException as error:
        if "lock" in str(error).lower():
            raise StoreError(f"The store {path} is in use by another retour process.",
                             "Wait for it to finish (or stop `retour serve`), then try again.") from None
        raise StoreError(f"Cannot open the store {path}: {error}") from None
    migrate(con)
    return con


@contextmanager
def transaction(con: Connection) -> Iterator[Connection]:
    """BEGIN ... COMMIT, rolled back on any exception, so a failure leaves the store as it was."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def frame(con: Connection, query: str, params: list[object] | None = None) -> pl.DataFrame:
    """Run a query and return its result as a polars frame.

    DuckDB 2 leaves a result open until it is fetched to the end: always fetch fully (fetchall, or this).
    """
    return con.sql(query, params=params or None).pl()


def table_exists(con: Connection, table: str) -> bool:
    found = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                        [_identifier(table)]).fetchall()
    return bool(found[0][0])


def _columns(con: Connection, table: str) -> list[str]:
    rows = con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                       "ORDER BY ordinal_position", [table]).fetchall()
    return [row[0] for row in rows]


def write_results(con: Connection, table: str, frame: pl.DataFrame, round_name: str) -> int:
    """Replace the rows of `round_name` in result table `table` by `frame` (one transaction).

    The table is created from the frame's schema on first write, with a leading `round` column; columns
    that appear later are added. Returns the number of rows written.
    """
    table = _identifier(table)
    data = frame.with_columns(pl.lit(round_name).alias("round")).select(
        "round", *[c for c in frame.columns if c != "round"])
    arrow = data.to_arrow()
    with transaction(con):
        con.register("_incoming", arrow)
        try:
            if not table_exists(con, table):
                con.execute(f"CREATE TABLE {table} AS SELECT * FROM _incoming LIMIT 0")
            existing = set(_columns(con, table))
            for column in data.columns:
                if column not in existing:
                    column_type = con.execute(
                        f"SELECT typeof({_identifier(column)}) FROM _incoming LIMIT 1").fetchall()
                    sql_type = column_type[0][0] if column_type else "VARCHAR"
                    con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}")
            con.execute(f"DELETE FROM {table} WHERE round = ?", [round_name])
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _incoming")
        finally:
            con.unregister("_incoming")
    return data.height


def read_results(con: Connection, table: str, round_name: str | None = None) -> pl.DataFrame:
    """Rows of result table `table` (all rounds, or one); an empty frame if the stage never ran."""
    table = _identifier(table)
    if not table_exists(con, table):
        return pl.DataFrame()
    if round_name is None:
        return frame(con, f"SELECT * FROM {table}")
    return frame(con, f"SELECT * FROM {table} WHERE round = ?", [round_name])


def record_run(con: Connection, stage: str, round_name: str | None, stamp: dict[str, str],
               details: str = "{}") -> int:
    """Log that a stage ran, with its stamp (retour version, config hash, data hash); return the run id."""
    row = con.execute(
        "INSERT INTO runs (run_id, stage, round, retour_version, config_hash, data_hash, details) "
        "VALUES (nextval('runs_id_seq'), ?, ?, ?, ?, ?, ?) RETURNING run_id",
        [stage, round_name, stamp["retour_version"], stamp["config_hash"], stamp["data_hash"], details],
    ).fetchall()
    return int(row[0][0])


def latest_run(con: Connection, stage: str, round_name: str | None = None) -> dict[str, object] | None:
    """The most recent run of a stage (for a round), as a record; None if it never ran."""
    query = "SELECT * FROM runs WHERE stage = ?"
    params: list[object] = [stage]
    if round_name is not None:
        query += " AND round = ?"
        params.append(round_name)
    runs = frame(con, query + " ORDER BY run_id DESC LIMIT 1", params)
    return runs.row(0, named=True) if runs.height else None
