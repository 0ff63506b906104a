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


# --- Dashboard: users, needs overrides, actor edits and uploads (issue 11) ---------------------------


@migration("0200_users")
def _create_users(con: Connection) -> None:
    con.execute("""
        CREATE TABLE users (
            name VARCHAR PRIMARY KEY,
            password_hash VARCHAR NOT NULL,
            role VARCHAR NOT NULL,
            language VARCHAR NOT NULL DEFAULT 'fr',
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            password_changed_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        )
    """)


@migration("0201_needs_overrides")
def _create_needs_overrides(con: Connection) -> None:
    con.execute("""
        CREATE TABLE needs_overrides (
            override_id INTEGER PRIMARY KEY,
            round VARCHAR NOT NULL,
            community_id VARCHAR NOT NULL,
            issue_id VARCHAR NOT NULL,
            level VARCHAR NOT NULL,
            previous_level VARCHAR,
            why VARCHAR NOT NULL,
            set_by VARCHAR NOT NULL,
            set_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        )
    """)
    con.execute("CREATE SEQUENCE needs_overrides_id_seq START 1")


@migration("0202_uploads")
def _create_uploads(con: Connection) -> None:
    con.execute("""
        CREATE TABLE uploads (
            upload_id INTEGER PRIMARY KEY,
            file_name VARCHAR NOT NULL,
            stored_as VARCHAR NOT NULL,
            round VARCHAR NOT NULL,
            uploaded_by VARCHAR NOT NULL,
            uploaded_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            size_bytes BIGINT NOT NULL,
            rows_read INTEGER,
            accepted INTEGER,
            quarantined INTEGER,
            problems INTEGER,
            status VARCHAR NOT NULL,
            message VARCHAR
        )
    """)
    con.execute("CREATE SEQUENCE uploads_id_seq START 1")


@migration("0203_actor_edits")
def _create_actor_edits(con: Connection) -> None:
    con.execute("""
        CREATE TABLE actor_edits (
            edit_id INTEGER PRIMARY KEY,
            actor_id VARCHAR NOT NULL,
            field VARCHAR NOT NULL,
            old_value VARCHAR,
            new_value VARCHAR,
            edited_by VARCHAR NOT NULL,
            edited_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        )
    """)
    con.execute("CREATE SEQUENCE actor_edits_id_seq START 1")


def open_read_only(path: Path | str) -> Connection:
    """A read-only connection to an existing store; StoreError 'in use' while another process writes."""
    if not Path(path).exists():
        raise StoreError(f"The store {path} does not exist yet.",
                         "Run `retour ingest` (or `retour demo`) first.")
    try:
        return duckdb.connect(str(path), read_only=True)
    except (duckdb.IOException, duckdb.ConnectionException) as error:
        if "lock" in str(error).lower() or "configuration" in str(error).lower():
            raise StoreError(f"The store {path} is in use by another retour process.",
                             "Wait for it to finish, then try again.") from None
        raise StoreError(f"Cannot open the store {path}: {error}") from None


def read_users(con: Connection) -> pl.DataFrame:
    """Every dashboard user with role, language and password hash, sorted by name (empty before 0200)."""
    if not table_exists(con, "users"):
        return pl.DataFrame(schema={"name": pl.Utf8, "password_hash": pl.Utf8, "role": pl.Utf8,
                                    "language": pl.Utf8, "created_at": pl.Datetime,
                                    "password_changed_at": pl.Datetime})
    return frame(con, "SELECT name, password_hash, role, language, created_at, password_changed_at "
                      "FROM users ORDER BY name")


def add_user(con: Connection, name: str, password_hash: str, role: str, language: str = "fr") -> None:
    """Create a dashboard user; StoreError if the name is taken."""
    with transaction(con):
        taken = con.execute("SELECT count(*) FROM users WHERE name = ?", [name]).fetchall()
        if taken[0][0]:
            raise StoreError(f"A user called '{name}' already exists.",
                             "Choose another name, or set a new password: retour users DIR passwd NAME")
        con.execute("INSERT INTO users (name, password_hash, role, language) VALUES (?, ?, ?, ?)",
                    [name, password_hash, role, language])


def update_user(con: Connection, name: str, *, password_hash: str | None = None, role: str | None = None,
                language: str | None = None) -> bool:
    """Change a user's password hash, role or language; False if there is no such user.

    A new password also moves `password_changed_at`, which ends the sessions opened before it.
    """
    assignments: list[str] = []
    params: list[object] = []
    if password_hash is not None:
        assignments += ["password_hash = ?", "password_changed_at = current_timestamp"]
        params.append(password_hash)
    if role is not None:
        assignments.append("role = ?")
        params.append(role)
    if language is not None:
        assignments.append("language = ?")
        params.append(language)
    if not assignments:
        return bool(con.execute("SELECT count(*) FROM users WHERE name = ?", [name]).fetchall()[0][0])
    with transaction(con):
        changed = con.execute(f"UPDATE users SET {', '.join(assignments)} WHERE name = ? RETURNING name",
                              [*params, name]).fetchall()
    return bool(changed)


def remove_user(con: Connection, name: str) -> bool:
    """Delete a dashboard user; False if there was no such user."""
    with transaction(con):
        removed = con.execute("DELETE FROM users WHERE name = ? RETURNING name", [name]).fetchall()
    return bool(removed)


def set_need_override(con: Connection, round_name: str, community_id: str, issue_id: str, level: str,
                      why: str, by: str) -> dict[str, object]:
    """Record an analyst's override of one needs cell and apply it to the stored `needs` table.

    Every override is kept in `needs_overrides` (with the level it replaced); `read_need_overrides`
    gives the latest per cell in the shape `needs.apply_overrides` takes, so a new needs run keeps them.
    """
    with transaction(con):
        current = []
        if table_exists(con, "needs"):
            current = con.execute(
                "SELECT level FROM needs WHERE round = ? AND community_id = ? AND issue_id = ?",
                [round_name, community_id, issue_id]).fetchall()
        if not current:
            raise StoreError(f"No needs cell for community '{community_id}' and issue '{issue_id}' "
                             f"in round '{round_name}'.", "Run `retour needs` for this round first.")
        row = con.execute(
            "INSERT INTO needs_overrides (override_id, round, community_id, issue_id, level, previous_level, "
            "why, set_by) VALUES (nextval('needs_overrides_id_seq'), ?, ?, ?, ?, ?, ?, ?) "
            "RETURNING override_id, set_at",
            [round_name, community_id, issue_id, level, current[0][0], why, by]).fetchall()
        con.execute("UPDATE needs SET level = ?, overridden = true, override_by = ?, override_why = ?, "
                    "override_at = ? WHERE round = ? AND community_id = ? AND issue_id = ?",
                    [level, by, why, row[0][1], round_name, community_id, issue_id])
    return {"override_id": int(row[0][0]), "round": round_name, "community_id": community_id,
            "issue_id": issue_id, "level": level, "previous_level": current[0][0], "why": why,
            "set_by": by, "set_at": row[0][1]}


def read_need_overrides(con: Connection, round_name: str | None = None, latest: bool = False) -> pl.DataFrame:
    """Recorded needs overrides (oldest first), for all rounds or one; `latest`: only the last per cell.

    Columns: override_id, round, community_id, issue_id, level, previous_level, why, set_by, set_at.
    """
    where, params = ("WHERE round = ?", [round_name]) if round_name is not None else ("", [])
    if latest:
        return frame(con, f"SELECT * FROM needs_overrides {where} QUALIFY row_number() OVER "
                          "(PARTITION BY round, community_id, issue_id ORDER BY override_id DESC) = 1 "
                          "ORDER BY override_id", params)
    return frame(con, f"SELECT * FROM needs_overrides {where} ORDER BY override_id", params)


def read_runs(con: Connection) -> pl.DataFrame:
    """Every recorded stage run, oldest first."""
    return frame(con, "SELECT * FROM runs ORDER BY run_id")


def record_upload(con: Connection, upload: dict[str, object]) -> int:
    """Log an uploaded export and what ingest made of it; return the upload id."""
    columns = ("file_name", "stored_as", "round", "uploaded_by", "size_bytes", "rows_read", "accepted",
               "quarantined", "problems", "status", "message")
    row = con.execute(
        f"INSERT INTO uploads (upload_id, {', '.join(columns)}) VALUES (nextval('uploads_id_seq'), "
        f"{', '.join('?' for _ in columns)}) RETURNING upload_id",
        [upload.get(column) for column in columns]).fetchall()
    return int(row[0][0])


def read_uploads(con: Connection) -> pl.DataFrame:
    """Every uploaded export, newest first (empty before migration 0202)."""
    if not table_exists(con, "uploads"):
        return pl.DataFrame()
    return frame(con, "SELECT * FROM uploads ORDER BY upload_id DESC")


def record_actor_edit(con: Connection, actor_id: str, changes: dict[str, tuple[str, str]], by: str) -> int:
    """Log an analyst's edits of one actor (field -> (old, new)); return how many fields changed."""
    with transaction(con):
        for field, (old, new) in changes.items():
            con.execute("INSERT INTO actor_edits (edit_id, actor_id, field, old_value, new_value, edited_by) "
                        "VALUES (nextval('actor_edits_id_seq'), ?, ?, ?, ?, ?)",
                        [actor_id, field, old, new, by])
    return len(changes)


def read_actor_edits(con: Connection, latest: bool = False) -> pl.DataFrame:
    """Recorded actor edits in the order made; `latest`: only the last per actor and field.

    Columns: edit_id, actor_id, field, old_value, new_value, edited_by, edited_at (empty before 0203).
    """
    if not table_exists(con, "actor_edits"):
        return pl.DataFrame()
    if latest:
        return frame(con, "SELECT * FROM actor_edits QUALIFY row_number() OVER "
                          "(PARTITION BY actor_id, field ORDER BY edit_id DESC) = 1 ORDER BY edit_id")
    return frame(con, "SELECT * FROM actor_edits ORDER BY edit_id")
