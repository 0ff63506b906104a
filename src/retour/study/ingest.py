"""Ingest stage: one export into the store, and its open problems as a cleaning log (issue 4)."""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from retour.config import Project
from retour.errors import ConfigError, Problem
from retour.study import INSTRUMENT_FILE, stamp

if TYPE_CHECKING:
    import polars as pl


T = TypeVar("T")
CLEANING_LOG_COLUMNS = ("round", "file", "row", "uuid", "column", "value", "code", "severity", "message",
                        "fix_hint", "correction")


@dataclass(frozen=True)
class IngestSummary:
    """What `retour ingest` did with one export: counts, problems by kind, and the round's data hash.

    rows_read = accepted + quarantined; accepted = new + already_stored. `already_ingested` is true when
    this very file (same bytes) was ingested into the round before: then nothing was written.
    """

    round: str
    file_name: str
    reader: str
    rows_read: int
    accepted: int
    new: int
    already_stored: int
    quarantined: int
    released: int
    blank_rows: int
    problems: tuple[Problem, ...]
    already_ingested: bool
    batch_id: int | None
    data_hash: str

    def problems_by_kind(self) -> dict[tuple[str, str], int]:
        """(code, severity) -> number of problems, blocking first, then most frequent."""
        counts: dict[tuple[str, str], int] = {}
        for problem in self.problems:
            key = (problem.code, problem.severity.value)
            counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: (item[0][1] != "blocking", -item[1], item[0][0])))

    def records(self) -> list[dict[str, object]]:
        """The summary as `item, count` records (the table `retour ingest` prints)."""
        rows: list[dict[str, object]] = [
            {"item": "rows read", "count": self.rows_read},
            {"item": "accepted", "count": self.accepted},
            {"item": "  new", "count": self.new},
            {"item": "  already stored", "count": self.already_stored},
            {"item": "quarantined", "count": self.quarantined},
            {"item": "released from quarantine", "count": self.released},
            {"item": "blank rows skipped", "count": self.blank_rows},
        ]
        rows += [{"item": f"problem: {code} ({severity})", "count": count}
                 for (code, severity), count in self.problems_by_kind().items()]
        return rows

    def data_records(self) -> list[dict[str, object]]:
        """The summary for scripts (CSV, JSON): stable snake_case items, problems with their own code
        and severity columns."""
        counts = {"rows_read": self.rows_read, "accepted": self.accepted, "new": self.new,
                  "already_stored": self.already_stored, "quarantined": self.quarantined,
                  "released": self.released, "blank_rows": self.blank_rows}
        rows: list[dict[str, object]] = [{"item": item, "code": None, "severity": None, "count": count}
                                         for item, count in counts.items()]
        rows += [{"item": "problem", "code": code, "severity": severity, "count": count}
                 for (code, severity), count in self.problems_by_kind().items()]
        return rows


_DESIGN_KEYS = ("community", "psu", "weight", "fpc")  # the [design] settings every stored row must fill


def _design_fields(project: Project) -> tuple[str, ...]:
    design = project.settings.design
    return tuple(name for name in (getattr(design, key) for key in _DESIGN_KEYS) if name)


def _stored_problems(con: Any, batch_id: int) -> tuple[Problem, ...]:
    from retour import store
    from retour.errors import Severity

    def of_batch(language: str | None) -> list[dict[str, Any]]:
        found = store.read_problems(con, open_only=False, language=language)
        return list(found.filter(found["batch_id"] == batch_id).iter_rows(named=True))

    written = {language: of_batch(language) for language in store.PROBLEM_LANGUAGES}
    return tuple(Problem(code=r["code"], row=r["row"], column=r["column"], value=r["value"],
                         message=r["message"], hint=r["hint"] or "", severity=Severity(r["severity"]),
                         source=r["file"], translations={language: (rows[index]["message"],
                                                                    rows[index]["hint"] or "")
                                                         for language, rows in written.items()})
                 for index, r in enumerate(of_batch(None)))


def _checked_the_same_way(project: Project, con: Any, round_name: str, file_sha256: str) -> bool:
    """True when the file's last ingest ran with today's questionnaire, settings and retour version:
    only then is ingesting it again pointless. After a fix to retour.toml or instrument.xlsx the file is
    checked again, so rows quarantined by the old rules can be released."""
    from retour import __version__, store

    last = store.latest_run(con, "ingest", round_name, details={"file_sha256": file_sha256})
    return (last is not None and last["config_hash"] == project.config_hash()
            and last["retour_version"] == __version__)


def ingest_export(project: Project, path: Path | str, round_name: str,
                  progress: Callable[[str, float], None] | None = None,
                  reader: str | None = None, access: StoreGate | None = None) -> IngestSummary:
    """Ingest one Kobo or ODK export into the study store: check, quarantine, write in one transaction.

    The same file ingested again into the same round changes nothing (and says so), unless the
    questionnaire, the study's settings or retour changed since: then it is checked again, and rows the
    old rules quarantined can be released. Identifying fields
    are hashed with the study secret (see `retour.ingest.privacy`). Records an `ingest` run.
    The file is held to the `[ingest]` limits, read and checked before the store is opened for writing
    (through `access`, else a connection of this process's own).
    """
    import json

    from retour import store
    from retour.ingest import ingest, privacy, readers
    from retour.schema import load_instrument

    project.settings.round(round_name)
    path = Path(path)
    data = readers.read_bytes(path)
    readers.choose_reader(path, data, reader)  # an unknown --reader is an error even for a known file
    file_sha256 = readers.file_digest(data)
    del data
    instrument = load_instrument(project.path(INSTRUMENT_FILE))
    needs_secret = any(question.identifying == "hash" for question in instrument.questions)
    gate = access if access is not None else _OwnStore(project.store_path)
    store_existed = project.store_path.exists()  # a copy is kept of a store that held something (issue 22)

    def look_up(con: Any) -> tuple[IngestSummary | None, Any, int]:
        previous = store.find_batch(con, round_name, file_sha256)
        if previous is not None and _checked_the_same_way(project, con, round_name, file_sha256):
            return IngestSummary(
                round=round_name, file_name=path.name, reader=str(previous["reader"]),
                rows_read=int(previous["rows_read"]), accepted=int(previous["rows_accepted"]), new=0,
                already_stored=int(previous["rows_accepted"]), quarantined=int(previous["rows_quarantined"]),
                released=0, blank_rows=int(previous["blank_rows"]),
                problems=_stored_problems(con, int(previous["batch_id"])),
                already_ingested=True, batch_id=int(previous["batch_id"]),
                data_hash=store.data_hash(con, round_name)), None, 0
        return None, store.read_submission_ids(con), _last_batch(con)

    done, stored, last_batch = gate.read(look_up)
    if done is not None:
        return done
    secret = (privacy.load_secret(project.root, project.settings.privacy.secret_env)
              if needs_secret else None)

    def check(stored_ids: Any) -> Any:
        return ingest(path, instrument, round_name=round_name, stored=stored_ids,
                      design=_design_fields(project), secret=secret,
                      gps_decimals=project.settings.privacy.gps_precision_decimals,
                      language=project.settings.study.languages[0], reader=reader, progress=progress,
                      limits=project.settings.ingest)

    batch = check(stored)  # parsed and checked before the store is held for writing (issue 22)
    _refuse_without_design(project, batch, path.name)
    if progress is not None:
        progress("write", 0.95)

    def write(con: Any) -> tuple[Any, dict[str, int], str]:
        if store_existed:
            from retour.store_backup import copy_store

            copy_store(con, project.store_path, project.settings.store.backups_kept)
        checked = batch if _last_batch(con) == last_batch else check(store.read_submission_ids(con))
        written = store.write_batch(con, checked, round_name, instrument.form_id, instrument.version)
        data_hash = store.data_hash(con, round_name)
        details = {"file": path.name, "file_sha256": checked.file_sha256, "batch_id": written["batch_id"],
                   "rows_read": checked.rows_read, "accepted": checked.accepted.height,
                   "quarantined": checked.quarantined.height}
        store.record_run(con, "ingest", round_name, stamp(project, data_hash, round_name),
                         json.dumps(details))
        return checked, written, data_hash

    batch, written, data_hash = gate.write(write)
    if progress is not None:
        progress("done", 1.0)
    return IngestSummary(
        round=round_name, file_name=path.name, reader=batch.reader, rows_read=batch.rows_read,
        accepted=batch.accepted.height, new=written["new"], already_stored=written["already_stored"],
        quarantined=batch.quarantined.height, released=written["released"], blank_rows=batch.blank_rows,
        problems=tuple(batch.problems), already_ingested=False, batch_id=written["batch_id"],
        data_hash=data_hash)


def _refuse_without_design(project: Project, batch: Any, file_name: str) -> None:
    """IngestError when every row is quarantined because the export lacks a design column: the fix is
    a line of retour.toml (the field's name in this export), named here, so nothing is stored (issue 16)."""
    from retour.errors import IngestError

    missing = [problem for problem in batch.problems if problem.code == "missing_design_column"]
    if not missing or batch.accepted.height or not batch.rows_read:
        return
    design = project.settings.design
    sentences, fixes = [], []
    for problem in missing:
        field, guess = problem.column, problem.value  # the value of this problem is the closest column
        key = next((key for key in _DESIGN_KEYS if getattr(design, key) == field), "")
        sentences.append(f"every row lacks the design column '{field}' ([design] {key}).")
        fixes.append(f"If the export names it '{guess}', write {key} = \"{guess}\" under [design] in "
                     "retour.toml." if guess else
                     f"Write {key} = \"...\" under [design] in retour.toml with the export's name for it, "
                     f"or add '{field}' to the questionnaire and export again.")
    raise IngestError(f"{file_name}: " + " ".join(sentences), " ".join(fixes))


def _last_batch(con: Any) -> int:
    """Id of the store's latest batch (0 when none): if it moved, another ingest wrote in between."""
    from retour import store

    batches = store.read_batches(con)
    return int(batches.get_column("batch_id").max() or 0) if batches.height else 0


class StoreGate(Protocol):
    """How a stage reaches the store: `read` and `write` run a function on a connection. The dashboard's
    `StoreAccess` is one (a read-only read, and its one writer lock held only for the write)."""

    def read(self, function: Callable[[Any], T]) -> T: ...

    def write(self, function: Callable[[Any], T]) -> T: ...


class _OwnStore:
    """The store opened by this process for each step (the CLI): no lock beyond DuckDB's own."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self, function: Callable[[Any], T]) -> T:
        from retour import store

        con = store.connect(self.path)
        try:
            return function(con)
        finally:
            con.close()

    write = read


def list_problems(project: Project, round_name: str | None = None,
                  language: str | None = None) -> pl.DataFrame:
    """Open problems of the study's ingested exports (all rounds, or one), oldest batch first, with
    their message and hint in `language` (the study's first language by default)."""
    from retour import store

    if round_name is not None:
        project.settings.round(round_name)
    con = store.connect(project.store_path if project.store_path.exists() else ":memory:")
    try:
        return store.read_problems(con, round_name, language=language or project.settings.study.languages[0])
    finally:
        con.close()


def write_cleaning_log(project: Project, target: Path | str, round_name: str | None = None,
                       language: str | None = None) -> int:
    """Write the open problems as a CSV cleaning log for a field supervisor; return how many rows.

    Columns: round, file, row, uuid, column, value, code, severity, message, fix_hint and an empty
    `correction` column to fill in. UTF-8 with a BOM, so that Excel shows accents. Answers that Excel
    would run as a formula (`=HYPERLINK(...)`) are written as text, behind a `'` (issue 22).
    """
    import polars as pl

    from retour.spreadsheet_safety import neutralise_frame

    problems = neutralise_frame(list_problems(project, round_name, language))
    log = problems.select("round", "file", "row", "uuid", "column", "value", "code", "severity", "message",
                          pl.col("hint").alias("fix_hint"), pl.lit("").alias("correction"))
    target = Path(target)
    try:
        with target.open("wb") as file:
            file.write(codecs.BOM_UTF8)
            log.write_csv(file)
    except OSError as error:
        raise ConfigError(f"Cannot write the cleaning log {target}: {error.strerror}.") from None
    return log.height
