"""The study store: one DuckDB file holding rounds, submissions, quarantine, problems and results.

This is the only module that writes SQL. The schema is created and changed by small named migrations,
each run once inside a transaction and recorded in `schema_migrations`. Results of each stage are kept
per round in their own table and replaced whole when the stage runs again; a comparison's tables are
kept per pair of rounds (the later round and `from_round`), each pair replaced on its own.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import polars as pl

from retour.errors import StoreError

if TYPE_CHECKING:
    from retour.ingest import Batch as IngestBatch

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
    """Open (and, unless read-only, migrate) the store at `path`; ':memory:' for a throw-away store.

    A damaged file is a StoreError naming it and the way back (issue 22); before migrations change an
    existing store, a copy is kept in the study's backups/ (see `retour.store_backup`).
    """
    if read_only:
        return open_read_only(path)
    try:
        con = duckdb.connect(str(path))
    except duckdb.Error as error:
        raise _open_error(path, error) from None
    _opened(con, path)
    try:
        con.execute("SET enable_progress_bar = false")  # retour draws its own progress on stderr
        if str(path) != ":memory:" and _pending_migrations(con):
            from retour.store_backup import keep_copy_before_migration

            keep_copy_before_migration(con, Path(path))
        migrate(con)
    except duckdb.Error as error:
        con.close()
        damaged = damage_error(error, path)
        if damaged is None:
            raise
        raise damaged from None
    return con


# Words of DuckDB's errors on a file that is cut short, overwritten or not a database at all.
_DAMAGE_SIGNS = ("not a valid duckdb database", "corrupt database", "could not read enough bytes",
                 "checksum", "failed to read database header", "invalid database header",
                 "serialization error", "failed to deserialize", "invalid block")
_last_opened: list[Path] = []  # the file store this process opened last, to name it in a damage error


def _opened(con: Connection, path: Path | str) -> None:
    """Note the file store just opened, narrow its mode, and refuse it if it is shorter than it says."""
    if str(path) == ":memory:":
        return
    _last_opened[:] = [Path(path)]
    private_store_file(Path(path))
    if Path(f"{path}.wal").exists():  # blocks replayed from the log may not be in the file yet
        return
    # Each used block has its own place in the file (free blocks at the end may be cut off by DuckDB
    # itself), so a healthy file holds at least the headers and every used block.
    size = con.execute("SELECT block_size, used_blocks FROM pragma_database_size()").fetchall()
    if size and Path(path).stat().st_size < _HEADERS_BYTES + int(size[0][0]) * int(size[0][1]):
        con.close()  # cut short (a copy interrupted, a full disk): blocks it lists are missing
        raise damaged_store(path)


_HEADERS_BYTES = 3 * 4096  # DuckDB's file header and its two database headers come before block 0


def private_store_file(path: Path) -> None:
    """Make the store file and its write-ahead log readable by their owner only (issue 22), unless the
    study relaxed it ([store] private_files = false)."""
    from retour.private_files import files_are_private

    if not files_are_private():
        return
    for file in (path, path.with_name(path.name + ".wal")):
        try:
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)
        except OSError:  # gone, or not ours to change: the folder's own mode still protects it
            continue


def is_damage(error: BaseException) -> bool:
    """Whether a DuckDB error says the store file is damaged (cut short, overwritten, not a store)."""
    text = str(error).lower()
    return isinstance(error, duckdb.Error) and any(sign in text for sign in _DAMAGE_SIGNS)


def damaged_store(path: Path | str) -> StoreError:
    """The one-line error for a damaged store file: which file, and the way back."""
    from retour.store_backup import list_backups

    path = Path(path)
    root = path.parent
    backups = list_backups(path)
    rebuild = (f"rebuild it: move {path.name} away and ingest the exports again "
               f"(retour ingest {root} FILE --round ROUND).")
    if backups:
        return StoreError(f"The store {path} is damaged and cannot be read.",
                          f"Restore the copy retour kept ({backups[0].name}) with `retour backup {root} "
                          f"--restore`, or {rebuild}")
    return StoreError(f"The store {path} is damaged and cannot be read.",
                      f"No copy is kept in {root / 'backups'}: restore one of your own, or {rebuild}")


def damage_error(error: BaseException, path: Path | str | None = None) -> StoreError | None:
    """`damaged_store` for a DuckDB error that says the store file is damaged, else None.

    Without `path`, the file this process opened last is named (damage found by a query, not at open).
    """
    if not is_damage(error):
        return None
    if path is None or str(path) == ":memory:":
        if not _last_opened:
            return None
        path = _last_opened[0]
    return damaged_store(path)


def _open_error(path: Path | str, error: duckdb.Error) -> StoreError:
    damaged = damage_error(error, path)
    if damaged is not None:
        return damaged
    if "lock" in str(error).lower():
        return StoreError(f"The store {path} is in use by another retour process.",
                          "Wait for it to finish (or stop `retour serve`), then try again.")
    return StoreError(f"Cannot open the store {path}: {error}")


def _pending_migrations(con: Connection) -> bool:
    """Whether an existing store (one with migrations applied) has migrations still to run."""
    if not table_exists(con, "schema_migrations"):
        return False
    applied = {row[0] for row in con.execute("SELECT name FROM schema_migrations").fetchall()}
    return bool(applied) and bool(set(MIGRATIONS) - applied)


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


def write_results(con: Connection, table: str, frame: pl.DataFrame, round_name: str,
                  key: Mapping[str, str] | None = None) -> int:
    """Replace the rows of `round_name` in result table `table` by `frame` (one transaction).

    The table is created from the frame's schema on first write, with a leading `round` column; columns
    that appear later are added. `key` narrows what is replaced to the round's rows with those column
    values (a comparison's `{"from_round": ...}`), and sets them on the rows written. Returns the number
    of rows written.
    """
    table = _identifier(table)
    key = dict(key or {})
    keys = [pl.lit(value, pl.Utf8).alias(_identifier(name)) for name, value in key.items()]
    data = frame.with_columns(pl.lit(round_name).alias("round"), *keys)
    data = data.select("round", *[c for c in data.columns if c != "round"])
    arrow = data.to_arrow()
    where, params = _where(round_name, key)
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
            con.execute(f"DELETE FROM {table} {where}", params)
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _incoming")
        finally:
            con.unregister("_incoming")
    return data.height


def _where(round_name: str, key: Mapping[str, str]) -> tuple[str, list[object]]:
    """`WHERE round = ? AND column = ? ...` for a round's rows with the key's values."""
    conditions = ["round = ?", *[f"{_identifier(name)} = ?" for name in key]]
    return "WHERE " + " AND ".join(conditions), [round_name, *key.values()]


def read_results(con: Connection, table: str, round_name: str | None = None,
                 key: Mapping[str, str] | None = None) -> pl.DataFrame:
    """Rows of result table `table` (all rounds, or one); an empty frame if the stage never ran.

    `key` keeps the round's rows with those column values (a comparison's `{"from_round": ...}`); a
    table without such a column has none.
    """
    table = _identifier(table)
    if not table_exists(con, table):
        return pl.DataFrame()
    if round_name is None:
        return frame(con, f"SELECT * FROM {table}")
    key = dict(key or {})
    if not set(key) <= set(_columns(con, table)):
        return frame(con, f"SELECT * FROM {table} LIMIT 0")
    where, params = _where(round_name, key)
    return frame(con, f"SELECT * FROM {table} {where}", params)


def record_run(con: Connection, stage: str, round_name: str | None, stamp: dict[str, str],
               details: str = "{}") -> int:
    """Log that a stage ran, with its stamp (retour version, config hash, data hash); return the run id."""
    row = con.execute(
        "INSERT INTO runs (run_id, stage, round, retour_version, config_hash, data_hash, details) "
        "VALUES (nextval('runs_id_seq'), ?, ?, ?, ?, ?, ?) RETURNING run_id",
        [stage, round_name, stamp["retour_version"], stamp["config_hash"], stamp["data_hash"], details],
    ).fetchall()
    return int(row[0][0])


def latest_run(con: Connection, stage: str, round_name: str | None = None,
               details: Mapping[str, str] | None = None) -> dict[str, object] | None:
    """The most recent run of a stage (for a round, and with those text values in its `details`, such
    as a comparison's `{"from_round": "baseline"}`), as a record; None if it never ran."""
    query = "SELECT * FROM runs WHERE stage = ?"
    params: list[object] = [stage]
    if round_name is not None:
        query += " AND round = ?"
        params.append(round_name)
    for name, value in (details or {}).items():
        query += " AND json_extract_string(details, ?) = ?"
        params += [f"$.{_identifier(name)}", value]
    runs = frame(con, query + " ORDER BY run_id DESC LIMIT 1", params)
    return runs.row(0, named=True) if runs.height else None


# --- Ingest: rounds, batches, submissions, quarantine and problems (issue 4) -----------------------

SUBMISSION_METADATA = ("round", "_uuid", "_submission_time")
_SUBMISSION_INTERNAL = ("_batch_id", "_row", "_content_hash")
_SQL_TYPES = {pl.Int64: "BIGINT", pl.Float64: "DOUBLE", pl.Date: "DATE", pl.Utf8: "VARCHAR",
              pl.Boolean: "BOOLEAN", pl.Datetime: "TIMESTAMP", pl.Int32: "INTEGER", pl.UInt64: "UBIGINT"}
# (stored, arriving) column types an INSERT converts without loss; BIGINT -> DOUBLE is widened by ALTER.
_INSERTABLE = {("DOUBLE", "BIGINT"), ("DOUBLE", "INTEGER"), ("BIGINT", "INTEGER")}


@migration("0002_ingest")
def _create_ingest_tables(con: Connection) -> None:
    con.execute("""
        CREATE TABLE rounds (
            name VARCHAR PRIMARY KEY,
            form_id VARCHAR,
            form_version VARCHAR,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        )
    """)
    con.execute("""
        CREATE TABLE batches (
            batch_id INTEGER PRIMARY KEY,
            round VARCHAR NOT NULL,
            file_name VARCHAR NOT NULL,
            file_sha256 VARCHAR NOT NULL,
            reader VARCHAR NOT NULL,
            form_id VARCHAR,
            form_version VARCHAR,
            rows_read INTEGER NOT NULL,
            rows_accepted INTEGER NOT NULL,
            rows_new INTEGER NOT NULL,
            rows_quarantined INTEGER NOT NULL,
            rows_released INTEGER NOT NULL,
            problems INTEGER NOT NULL,
            blank_rows INTEGER NOT NULL DEFAULT 0,
            ingested_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        )
    """)
    con.execute("CREATE SEQUENCE batches_id_seq START 1")
    # Wide: one column per questionnaire field is added by write_batch as fields appear.
    con.execute("""
        CREATE TABLE submissions (
            round VARCHAR NOT NULL,
            _uuid VARCHAR NOT NULL,
            _submission_time TIMESTAMP,
            _batch_id INTEGER NOT NULL,
            _row BIGINT,
            _content_hash VARCHAR NOT NULL
        )
    """)
    con.execute("""
        CREATE TABLE quarantine (
            round VARCHAR NOT NULL,
            _uuid VARCHAR NOT NULL,
            _row BIGINT,
            _batch_id INTEGER NOT NULL,
            _content_hash VARCHAR,
            raw JSON NOT NULL,
            reasons JSON NOT NULL,
            status VARCHAR NOT NULL DEFAULT 'open',
            closed_by_batch INTEGER
        )
    """)
    con.execute("""
        CREATE TABLE problems (
            round VARCHAR NOT NULL,
            _batch_id INTEGER NOT NULL,
            position INTEGER NOT NULL,
            "row" BIGINT,
            _uuid VARCHAR,
            "column" VARCHAR,
            value VARCHAR,
            code VARCHAR NOT NULL,
            severity VARCHAR NOT NULL,
            message VARCHAR NOT NULL,
            hint VARCHAR,
            source VARCHAR,
            status VARCHAR NOT NULL DEFAULT 'open',
            closed_by_batch INTEGER
        )
    """)


@migration("0003_content_hash_number")
def _content_hash_as_number(con: Connection) -> None:
    """Row fingerprints are 64-bit numbers: kept as UBIGINT rather than their decimal text (for
    1,000,000 rows DuckDB writes the column in 0.06 s instead of 0.55 s)."""
    for table in ("submissions", "quarantine"):
        con.execute(f"ALTER TABLE {table} ALTER COLUMN _content_hash TYPE UBIGINT "
                    "USING CAST(_content_hash AS UBIGINT)")


PROBLEM_LANGUAGES = ("fr", "en")  # problems are stored with their message and hint in each


@migration("0004_problem_languages")
def _problem_languages(con: Connection) -> None:
    """Each problem's message and hint in French and English, so each reader sees their language
    (rows from before keep the one language they were written in, in `message` and `hint`)."""
    for language in PROBLEM_LANGUAGES:
        con.execute(f"ALTER TABLE problems ADD COLUMN message_{language} VARCHAR")
        con.execute(f"ALTER TABLE problems ADD COLUMN hint_{language} VARCHAR")


def digest(values: pl.Series, key: bytes | None = None) -> pl.Series:
    """SHA-256 of each text value (hex), or HMAC-SHA256 under `key` (RFC 2104); null stays null.

    DuckDB computes it over the whole column at once: HMAC(K, m) = H((K' ^ opad) || H((K' ^ ipad) || m)),
    K' the key padded to SHA-256's 64-byte block (hashed first when longer).
    """
    data = pl.DataFrame({"value": values.cast(pl.Utf8)})
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        con.register("_values", data.to_arrow(compat_level=pl.CompatLevel.newest()))
        if key is None:
            hashed = con.sql("SELECT sha256(value) AS digest FROM _values").pl()
        else:
            block = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
            inner = bytes(byte ^ 0x36 for byte in block)
            outer = bytes(byte ^ 0x5C for byte in block)
            hashed = con.sql("SELECT sha256(?::BLOB || unhex(sha256(?::BLOB || encode(value)))) AS digest "
                             "FROM _values", params=[outer, inner]).pl()
    finally:
        con.close()
    return hashed.get_column("digest").alias(values.name)


def _column_types(con: Connection, table: str) -> dict[str, str]:
    rows = con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
                       "ORDER BY ordinal_position", [table]).fetchall()
    return {row[0]: row[1] for row in rows}


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_type(dtype: pl.DataType) -> str:
    for polars_type, sql_type in _SQL_TYPES.items():
        if dtype == polars_type or isinstance(dtype, polars_type):
            return sql_type
    return "VARCHAR"


def _add_submission_columns(con: Connection, schema: pl.Schema) -> list[str]:
    """ALTER the submissions table for fields a later questionnaire version added; return them."""
    existing = {name.lower(): sql_type for name, sql_type in _column_types(con, "submissions").items()}
    added = []
    for name, dtype in schema.items():
        wanted = _sql_type(dtype)
        have = existing.get(name.lower())
        if have is None:
            con.execute(f"ALTER TABLE submissions ADD COLUMN {_quoted(name)} {wanted}")
            added.append(name)
        elif have == wanted or (have, wanted) in _INSERTABLE or have == "VARCHAR":
            continue
        elif have in ("BIGINT", "INTEGER") and wanted == "DOUBLE":
            con.execute(f"ALTER TABLE submissions ALTER COLUMN {_quoted(name)} TYPE DOUBLE")
        else:
            raise StoreError(f"Field '{name}' is stored as {have} and now arrives as {wanted}: the "
                             "questionnaire changed its type.",
                             "Keep the field's type, or give the new question a new name.")
    return added


def write_batch(con: Connection, batch: IngestBatch, round_name: str, form_id: str = "",
                form_version: str = "") -> dict[str, int]:
    """Write one ingested file in ONE transaction: new submissions, quarantine, problems, the batch log.

    Accepted rows whose `_uuid` is already stored in the round are not written again. Open quarantine
    entries and problems of the submissions in this batch are closed (a quarantined row now accepted is
    `released`); file-level problems of an earlier ingest of the same file name are closed too. A failure
    anywhere rolls everything back. Returns batch_id, new, already_stored, released.
    """
    accepted, quarantined, problems = batch.accepted, batch.quarantined, batch.problem_frame
    newest = pl.CompatLevel.newest()  # Arrow string views: handed to DuckDB without copying
    with transaction(con):
        con.execute("INSERT INTO rounds (name, form_id, form_version) SELECT ?, ?, ? "
                    "WHERE NOT EXISTS (SELECT 1 FROM rounds WHERE name = ?)",
                    [round_name, form_id, form_version, round_name])
        batch_id = int(con.execute("SELECT nextval('batches_id_seq')").fetchall()[0][0])
        _add_submission_columns(con, accepted.schema)
        stored = con.execute("SELECT count(*) FROM submissions WHERE round = ?",
                             [round_name]).fetchall()[0][0]
        still_open = con.execute(
            "SELECT (SELECT count(*) FROM quarantine WHERE round = ? AND status = 'open') "
            "+ (SELECT count(*) FROM problems WHERE round = ? AND status = 'open')",
            [round_name, round_name]).fetchall()[0][0]
        con.register("_accepted", accepted.to_arrow(compat_level=newest))
        con.register("_quarantined", quarantined.select("_uuid", "_row", "_content_hash", "raw", "reasons")
                     .to_arrow(compat_level=newest))
        con.register("_problems", problems.with_row_index("position").with_columns(
            pl.col("position").cast(pl.Int32)).to_arrow(compat_level=newest))
        try:
            new = con.execute(
                "INSERT INTO submissions BY NAME SELECT ?::VARCHAR AS round, ?::INTEGER AS _batch_id, a.* "
                "FROM _accepted a" + (" WHERE a._uuid NOT IN (SELECT _uuid FROM submissions WHERE round = ?)"
                                      if stored else ""),
                [round_name, batch_id, round_name] if stored else [round_name, batch_id]).fetchall()[0][0]
            released_count = (_close_open_entries(con, batch_id, round_name, batch.file_name)
                              if still_open else 0)
            con.execute(
                "INSERT INTO quarantine (round, _uuid, _row, _batch_id, _content_hash, raw, reasons) "
                "SELECT ?, _uuid, _row, ?, _content_hash, raw, reasons FROM _quarantined",
                [round_name, batch_id])
            translated = [name for name in _translated_problem_columns() if name in problems.columns]
            listed = "".join(f", {name}" for name in translated)
            con.execute(
                'INSERT INTO problems (round, _batch_id, position, "row", _uuid, "column", value, code, '
                f'severity, message, hint, source{listed}) SELECT ?, ?, position, "row", _uuid, "column", '
                f"value, code, severity, message, hint, source{listed} FROM _problems",
                [round_name, batch_id])
            con.execute(
                "INSERT INTO batches (batch_id, round, file_name, file_sha256, reader, form_id, "
                "form_version, rows_read, rows_accepted, rows_new, rows_quarantined, rows_released, "
                "problems, blank_rows) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [batch_id, round_name, batch.file_name, batch.file_sha256, batch.reader, form_id,
                 form_version, batch.rows_read, accepted.height, int(new), quarantined.height,
                 released_count, problems.height, batch.blank_rows])
        finally:
            for name in ("_accepted", "_quarantined", "_problems"):
                con.unregister(name)
    return {"batch_id": batch_id, "new": int(new), "already_stored": accepted.height - int(new),
            "released": released_count}


def _close_open_entries(con: Connection, batch_id: int, round_name: str, file_name: str) -> int:
    """Close the quarantine entries and problems this batch supersedes; return how many rows it released.

    A quarantined submission present in the batch is `released` when now accepted, `replaced` when
    quarantined again; its open problems close either way, as do the file-level problems of an earlier
    ingest of a file with the same name.
    """
    closed = con.execute(
        "UPDATE quarantine SET status = CASE WHEN _uuid IN (SELECT _uuid FROM _accepted) "
        "THEN 'released' ELSE 'replaced' END, closed_by_batch = ? "
        "WHERE round = ? AND status = 'open' AND (_uuid IN (SELECT _uuid FROM _accepted) "
        "OR _uuid IN (SELECT _uuid FROM _quarantined)) RETURNING status", [batch_id, round_name]).fetchall()
    con.execute(
        "UPDATE problems SET status = 'closed', closed_by_batch = ? WHERE round = ? AND status = 'open' "
        "AND (_uuid IN (SELECT _uuid FROM _accepted UNION ALL SELECT _uuid FROM _quarantined) "
        "OR (_uuid IS NULL AND _batch_id IN (SELECT batch_id FROM batches WHERE round = ? "
        "AND file_name = ?)))", [batch_id, round_name, round_name, file_name])
    return sum(1 for (status,) in closed if status == "released")


def find_batch(con: Connection, round_name: str, file_sha256: str) -> dict[str, object] | None:
    """The batch of `round_name` that ingested a file with these bytes, if any (the latest)."""
    found = frame(con, "SELECT * FROM batches WHERE round = ? AND file_sha256 = ? ORDER BY batch_id DESC "
                       "LIMIT 1", [round_name, file_sha256])
    return found.row(0, named=True) if found.height else None


def read_batches(con: Connection, round_name: str | None = None) -> pl.DataFrame:
    """Every ingested file (one row per batch), oldest first."""
    if round_name is None:
        return frame(con, "SELECT * FROM batches ORDER BY batch_id")
    return frame(con, "SELECT * FROM batches WHERE round = ? ORDER BY batch_id", [round_name])


def read_submissions(con: Connection, round_name: str | None = None) -> pl.DataFrame:
    """Accepted submissions of a round (all rounds when None): `round, _uuid, _submission_time` and one
    typed column per questionnaire field, in the order they were ingested."""
    fields = [name for name in _column_types(con, "submissions")
              if name not in SUBMISSION_METADATA and name not in _SUBMISSION_INTERNAL]
    columns = ", ".join(_quoted(name) for name in (*SUBMISSION_METADATA, *fields))
    where, params = ("WHERE round = ? ", [round_name]) if round_name is not None else ("", [])
    return frame(con, f"SELECT {columns} FROM submissions {where}ORDER BY _batch_id, _row", params)


def read_submission_ids(con: Connection) -> pl.DataFrame:
    """`_uuid, round, _content_hash` of every stored submission: what ingest compares a new file with."""
    return frame(con, "SELECT _uuid, round, _content_hash FROM submissions")


def _translated_problem_columns() -> tuple[str, ...]:
    return tuple(f"{kind}_{language}" for language in PROBLEM_LANGUAGES for kind in ("message", "hint"))


def read_problems(con: Connection, round_name: str | None = None, open_only: bool = True,
                  language: str | None = None) -> pl.DataFrame:
    """Problems found by ingest with their file, newest batch last; only those still open by default.

    `message` and `hint` are in `language` (fr, en) when given, else as first written."""
    conditions, params = [], []
    if round_name is not None:
        conditions.append("p.round = ?")
        params.append(round_name)
    if open_only:
        conditions.append("p.status = 'open'")
    where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
    message, hint = "p.message", "p.hint"
    if language in PROBLEM_LANGUAGES:
        message = f"coalesce(p.message_{language}, p.message)"
        hint = f"CASE WHEN p.message_{language} IS NULL THEN p.hint ELSE p.hint_{language} END"
    return frame(con, 'SELECT p.round, b.file_name AS file, p._batch_id AS batch_id, p."row", '
                      f'p._uuid AS uuid, p."column", p.value, p.code, p.severity, {message} AS message, '
                      f"{hint} AS hint, p.status "
                      f"FROM problems p JOIN batches b ON b.batch_id = p._batch_id {where}"
                      "ORDER BY p._batch_id, p.position", params)


def read_quarantine(con: Connection, round_name: str | None = None, open_only: bool = True) -> pl.DataFrame:
    """Quarantined rows (raw answers as JSON, reasons as JSON), still open ones by default."""
    conditions, params = [], []
    if round_name is not None:
        conditions.append("round = ?")
        params.append(round_name)
    if open_only:
        conditions.append("status = 'open'")
    where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
    return frame(con, "SELECT round, _uuid, _row, _batch_id, _content_hash, CAST(raw AS VARCHAR) AS raw, "
                      "CAST(reasons AS VARCHAR) AS reasons, status "
                      f"FROM quarantine {where}ORDER BY _batch_id, _row", params)


def data_hash(con: Connection, round_name: str | None = None) -> str:
    """SHA-256 (first 12 hex) of the sorted `uuid:content_hash` lines of a round's submissions (or all)."""
    where, params = ("WHERE round = ?", [round_name]) if round_name is not None else ("", [])
    line = "round || ':' || _uuid || ':' || CAST(_content_hash AS VARCHAR)"
    lines = con.execute(f"SELECT coalesce(string_agg({line}, chr(10) ORDER BY round, _uuid), '') "
                        f"FROM submissions {where}", params).fetchall()
    return hashlib.sha256(lines[0][0].encode("utf-8")).hexdigest()[:12]


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


@migration("0210_remove_kept_uploads")
def _remove_kept_uploads(con: Connection) -> None:
    """Delete the raw exports earlier dashboards kept in the study folder's `uploads/` (issue 22): they
    held names and phone numbers in clear. The `uploads` table keeps each upload's history."""
    found = con.execute("SELECT path FROM duckdb_databases() "
                        "WHERE database_name = current_database()").fetchall()
    folder = Path(found[0][0]).parent / "uploads" if found and found[0][0] else None
    if folder is not None and folder.is_dir():
        for file in folder.iterdir():
            if file.is_file() and file.suffix.lower() in (".csv", ".xlsx"):
                file.unlink()
        if not any(folder.iterdir()):
            folder.rmdir()
    con.execute("UPDATE uploads SET stored_as = ''")


@migration("0220_dashboard_sessions")
def _create_dashboard_sessions(con: Connection) -> None:
    """Dashboard sessions kept on the server (issue 22): the cookie holds a random token, the store only
    its SHA-256, so a session ends for good when it is revoked (logout, new password or role, removal)."""
    con.execute("""
        CREATE TABLE dashboard_sessions (
            token_sha256 VARCHAR PRIMARY KEY,
            user_name VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL,
            last_seen_at TIMESTAMP NOT NULL,
            revoked_at TIMESTAMP,
            revoked_why VARCHAR
        )
    """)


def open_read_only(path: Path | str) -> Connection:
    """A read-only connection to an existing store; StoreError 'in use' while another process writes,
    and the damaged-store line when the file cannot be read as a store."""
    if not Path(path).exists():
        raise StoreError(f"The store {path} does not exist yet.",
                         "Run `retour ingest` (or `retour demo`) first.")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as error:
        damaged = damage_error(error, path)
        if damaged is not None:
            raise damaged from None
        if "lock" in str(error).lower() or "configuration" in str(error).lower():
            raise StoreError(f"The store {path} is in use by another retour process.",
                             "Wait for it to finish, then try again.") from None
        raise StoreError(f"Cannot open the store {path}: {error}") from None
    _opened(con, path)
    return con


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
        if changed and (password_hash is not None or role is not None):
            revoke_dashboard_sessions(con, name, "new password" if password_hash is not None else "new role")
    return bool(changed)


def remove_user(con: Connection, name: str) -> bool:
    """Delete a dashboard user and end their sessions; False if there was no such user."""
    with transaction(con):
        removed = con.execute("DELETE FROM users WHERE name = ? RETURNING name", [name]).fetchall()
        revoke_dashboard_sessions(con, name, "user removed")
    return bool(removed)


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def read_dashboard_sessions(con: Connection) -> pl.DataFrame:
    """Every dashboard session not revoked: token digest, user, created and last seen (UTC)."""
    if not table_exists(con, "dashboard_sessions"):
        return pl.DataFrame(schema={"token_sha256": pl.Utf8, "user_name": pl.Utf8,
                                    "created_at": pl.Datetime, "last_seen_at": pl.Datetime})
    return frame(con, "SELECT token_sha256, user_name, created_at, last_seen_at FROM dashboard_sessions "
                      "WHERE revoked_at IS NULL")


def add_dashboard_session(con: Connection, token_sha256: str, user_name: str, now: datetime.datetime,
                          forget_before: datetime.datetime) -> None:
    """Record a new session opened at `now` (UTC); rows created before `forget_before` are deleted."""
    with transaction(con):
        con.execute("DELETE FROM dashboard_sessions WHERE created_at < ?", [forget_before])
        con.execute("INSERT INTO dashboard_sessions (token_sha256, user_name, created_at, last_seen_at) "
                    "VALUES (?, ?, ?, ?)", [token_sha256, user_name, now, now])


def touch_dashboard_session(con: Connection, token_sha256: str, now: datetime.datetime) -> None:
    """Move a session's `last_seen_at` to `now` (UTC)."""
    con.execute("UPDATE dashboard_sessions SET last_seen_at = ? WHERE token_sha256 = ?", [now, token_sha256])


def revoke_dashboard_sessions(con: Connection, user_name: str | None = None, why: str = "",
                              token_sha256: str | None = None) -> int:
    """End a user's sessions, or the one session with `token_sha256`; returns how many ended."""
    column, value = ("token_sha256", token_sha256) if token_sha256 is not None else ("user_name", user_name)
    ended = con.execute(f"UPDATE dashboard_sessions SET revoked_at = ?, revoked_why = ? "
                        f"WHERE {column} = ? AND revoked_at IS NULL RETURNING token_sha256",
                        [_utc_now(), why, value]).fetchall()
    return len(ended)


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


def count_submissions(con: Connection, column: str) -> pl.DataFrame:
    """Accepted submissions per round and value of `column` (the community field), as `round,
    community_id, respondents`; empty before the first ingest."""
    empty = pl.DataFrame(schema={"round": pl.Utf8, "community_id": pl.Utf8, "respondents": pl.Int64})
    if not table_exists(con, "submissions") or column not in _columns(con, "submissions"):
        return empty
    return frame(con, f"SELECT round, CAST({_quoted(column)} AS VARCHAR) AS community_id, "
                      "count(*) AS respondents FROM submissions GROUP BY ALL ORDER BY ALL")
