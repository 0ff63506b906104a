"""Ingest a survey export: read it, check every row against the questionnaire, split good rows from bad.

`read_export` reads a Kobo or ODK file into text columns matched to the questionnaire's fields; `ingest`
checks them, protects identifying answers and returns a `Batch`: accepted rows (typed, ready to store),
quarantined rows (their answers as JSON, with the reasons) and every problem found. Both are pure apart
from reading the file; writing a batch is `store.write_batch`. Rows read = accepted + quarantined, always.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import polars as pl

from retour.errors import IngestError, Problem, Severity
from retour.ingest import checks, columns, fingerprint, messages, privacy, readers, values
from retour.ingest.checks import PROBLEM_SCHEMA
from retour.ingest.columns import SUBMISSION_TIME, UUID, ColumnMap
from retour.ingest.readers import READERS, ROW, reader
from retour.schema import Instrument

__all__ = ["READERS", "Batch", "RawExport", "ingest", "read_export", "reader"]

Progress = Callable[[str, float], None]
DEFAULT_DESIGN = ("community", "cluster", "weight")
RESERVED_NAMES = frozenset({"round", UUID, SUBMISSION_TIME, ROW, "_batch_id", "_content_hash"})
CONTENT_HASH = "_content_hash"


@dataclass(frozen=True)
class RawExport:
    """An export read and matched to the questionnaire: one text column per field, before any check."""

    path: Path
    reader: str
    file_sha256: str
    encoding: str
    separator: str | None
    headers: tuple[str, ...]
    column_map: ColumnMap
    frame: pl.DataFrame
    blank_rows: int

    @property
    def rows_read(self) -> int:
        return self.frame.height


@dataclass(frozen=True)
class Batch:
    """What one ingested file gives: accepted rows, quarantined rows, and every problem found.

    `accepted` holds `_uuid, _submission_time, _row, _content_hash` and one typed column per stored field;
    `quarantined` holds `_row, _uuid, _content_hash, raw` (answers as JSON) and `reasons` (JSON list);
    `problem_frame` has one row per problem (code, severity, row, _uuid, column, value, message, hint,
    source). `already_stored` counts accepted rows whose id and answers the store already holds.
    """

    accepted: pl.DataFrame
    quarantined: pl.DataFrame
    problem_frame: pl.DataFrame
    rows_read: int
    file_name: str = ""
    file_sha256: str = ""
    reader: str = ""
    blank_rows: int = 0
    already_stored: int = 0

    @cached_property
    def problems(self) -> list[Problem]:
        """Every problem as a `Problem` record, file-level ones first, then by row."""
        return [Problem(code=r["code"], row=r["row"], column=r["column"], value=r["value"],
                        message=r["message"], hint=r["hint"] or "", severity=Severity(r["severity"]),
                        source=r["source"] or "", translations=_translations(r))
                for r in self.problem_frame.iter_rows(named=True)]

    def problems_by_kind(self) -> dict[str, int]:
        """Number of problems per code, most frequent first."""
        counts = self.problem_frame.group_by("code").len().sort(["len", "code"], descending=[True, False])
        return dict(counts.iter_rows())


def _translations(record: dict[str, object]) -> dict[str, tuple[str, str]]:
    """(message, hint) per language from a problem record's `message_<language>`, `hint_<language>`."""
    return {language: (str(record[f"message_{language}"]), str(record.get(f"hint_{language}") or ""))
            for language in messages.LANGUAGES if record.get(f"message_{language}") is not None}


def read_export(path: Path | str, instrument: Instrument, reader: str | None = None,
                limits: readers.IngestSettings = readers.DEFAULT_LIMITS) -> RawExport:
    """Read an export (reader chosen from the file unless named) and match its columns to the questionnaire.

    IngestError when the file cannot be read, is over one of the `limits` (`[ingest]` settings), or fewer
    than half of the questionnaire's fields have a column (the export of another questionnaire).
    """
    path = Path(path)
    data = readers.read_bytes(path)
    spec = readers.choose_reader(path, data, reader)
    with ThreadPoolExecutor(max_workers=1) as pool:  # hashlib and the parser both run outside Python's lock
        digest = pool.submit(readers.file_digest, data)
        table = spec.read(data, path, limits)
    if table.frame.height == 0:
        raise IngestError(f"{path} has a header but no data rows.",
                          "Export again with the submissions (check the export's filters and dates).")
    column_map = columns.map_columns(table.headers, instrument, spec.group_separator)
    _check_questionnaire(path, instrument, column_map)
    return RawExport(path=path, reader=spec.name, file_sha256=digest.result(),
                     encoding=table.encoding, separator=table.separator, headers=table.headers,
                     column_map=column_map, frame=columns.lay_out(table, column_map, instrument),
                     blank_rows=table.blank_rows)


def _check_questionnaire(path: Path, instrument: Instrument, column_map: ColumnMap) -> None:
    reserved = sorted(RESERVED_NAMES & set(instrument.names))
    if reserved:
        raise IngestError(f"The questionnaire uses reserved field names: {', '.join(reserved)}.",
                          "Rename these questions in instrument.xlsx.")
    expected = columns.answer_fields(instrument)
    found = [name for name in expected if name in column_map.found]
    if len(found) * 2 < len(expected):
        missing = [name for name in expected if name not in column_map.found][:5]
        raise IngestError(
            f"{path.name}: only {len(found)} of the questionnaire's {len(expected)} fields have a column "
            f"(none for {', '.join(missing)}, ...): this looks like an export of another questionnaire.",
            f"Export the data of form '{instrument.form_id}', or use the instrument.xlsx it was "
            "collected with.")


def ingest(path: Path | str, instrument: Instrument, *, round_name: str | None = None,
           stored: pl.DataFrame | None = None, design: Sequence[str] = DEFAULT_DESIGN,
           secret: bytes | None = None, gps_decimals: int = 2, language: str = "en",
           reader: str | None = None, progress: Progress | None = None,
           limits: readers.IngestSettings = readers.DEFAULT_LIMITS) -> Batch:
    """Read an export, check every row and return the Batch (pure apart from reading the file).

    `stored` (`_uuid, round, _content_hash` from `store.read_submission_ids`) lets the checks tell an
    already-ingested submission from a conflicting one; `design` names the design fields that must be
    filled; `secret` is the study's key for hashing identifying fields; messages are in `language`.
    """
    report = progress or (lambda step, fraction: None)
    protection = privacy.plan(instrument, secret, gps_decimals)
    raw = read_export(path, instrument, reader, limits)
    report("read", 0.25)
    with ThreadPoolExecutor(max_workers=1) as pool:  # identifiers are hashed while the answers are typed
        hashing = pool.submit(privacy.hash_fields, raw.frame, protection)
        typed, shown, file_problems, row_problems = _check(
            raw, instrument, protection, hashing, tuple(design), language,
            lambda fraction: report("check", 0.25 + 0.5 * fraction))
    report("protect", 0.8)
    stored_typed = privacy.protect_typed(typed, shown, instrument, protection)
    stored_text = _protected_text(raw.frame, shown, protection)
    fields = [name for name in instrument.names if name in stored_typed.columns]
    hashed = frozenset(name for name, action in protection.actions.items() if action == "hash")
    content = fingerprint.fingerprints(stored_typed.select(fields), stored_text, digests=hashed)
    ids = raw.frame.select(ROW, UUID).with_columns(content.alias(CONTENT_HASH)).with_columns(
        pl.coalesce(pl.col(UUID), pl.lit("content-") + pl.col(CONTENT_HASH).cast(pl.Utf8)).alias(UUID))
    row_problems = pl.concat([
        row_problems, checks.check_identity(ids, stored, round_name, language, raw.path.name),
        _missing_uuid_problems(raw, language),
    ]).sort("row", maintain_order=True)
    report("split", 0.9)
    batch = _split(raw, stored_typed.select(ROW, SUBMISSION_TIME, *fields), stored_text, ids, file_problems,
                   row_problems)
    if stored is not None and stored.height and batch.accepted.height:
        same = stored.filter(pl.col("round") == round_name).select(UUID, CONTENT_HASH)
        already = batch.accepted.select(UUID, CONTENT_HASH).join(same, on=[UUID, CONTENT_HASH], how="semi")
        batch = replace(batch, already_stored=already.height)
    report("checked", 1.0)
    return batch


def _check(raw: RawExport, instrument: Instrument, protection: privacy.Protection,
           hashing: Future[dict[str, pl.Series]], design: tuple[str, ...], language: str,
           progress: Callable[[float], None]
           ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Typed answers, protected text of identifying fields, file-level and row-level problems
    (`hashing` gives the hashed identifying fields)."""
    source = raw.path.name
    points = {question.name: values.geopoints(raw.frame.get_column(question.name))
              for question in instrument.questions if question.type == "geopoint"}  # read once, used twice
    typed = checks.typed_frame(raw.frame, instrument, points)
    rules, rule_problems = checks.compile_rules(instrument, language, source, typed.schema)
    shown = privacy.protect_text(raw.frame, instrument, protection, points, hashing.result())
    identifying = {name: action for name, action in protection.actions.items() if name in raw.frame.columns}
    context = checks.Context(instrument=instrument, column_map=raw.column_map, design=design,
                             language=language, rules=rules, identifying=identifying, source=source)
    row_findings, file_problems = checks.findings(context)
    row_problems = checks.evaluate(checks.evaluation_frame(raw.frame, typed, shown), row_findings, context,
                                   progress=progress)
    return typed, shown, checks.file_problems_frame([*file_problems, *rule_problems]), row_problems


def _split(raw: RawExport, typed: pl.DataFrame, text: pl.DataFrame, ids: pl.DataFrame,
           file_problems: pl.DataFrame, row_problems: pl.DataFrame) -> Batch:
    """Rows with a blocking problem (or all rows, after a blocking file-level problem) to quarantine."""
    blocking = Severity.BLOCKING.value
    file_blocking = file_problems.filter(pl.col("severity") == blocking)
    if file_blocking.height:
        blocked = pl.lit(True)
    else:
        blocked_rows = row_problems.filter(pl.col("severity") == blocking).get_column("row").unique()
        blocked = pl.col(ROW).is_in(blocked_rows.implode())
    problem_frame = (pl.concat([file_problems, row_problems])
                     .join(ids.select(pl.col(ROW).alias("row"), UUID), on="row", how="left",
                           maintain_order="left")
                     .select("code", "severity", "row", UUID, "column", "value", "message", "hint", "source",
                             *messages.translated_columns()))
    with_ids = [ids.get_column(UUID), ids.get_column(CONTENT_HASH)]
    accepted = (typed.with_columns(with_ids).filter(~blocked)
                .select(UUID, SUBMISSION_TIME, ROW, CONTENT_HASH, *typed.columns[2:]))
    quarantined = _quarantine(text.with_columns(with_ids).filter(blocked), row_problems, file_blocking)
    return Batch(accepted=accepted, quarantined=quarantined, problem_frame=problem_frame,
                 rows_read=raw.rows_read, file_name=raw.path.name, file_sha256=raw.file_sha256,
                 reader=raw.reader, blank_rows=raw.blank_rows)


def _protected_text(text: pl.DataFrame, protected: pl.DataFrame,
                    protection: privacy.Protection) -> pl.DataFrame:
    """The text frame as it may be kept: identifying fields replaced by their protected text, dropped
    fields and the 0/1 columns of identifying questions removed."""
    kept = text.with_columns(protected.get_columns()) if protected.width else text
    hidden = [name for name in kept.columns if "/" in name and name.split("/")[0] in protection.actions]
    return kept.drop([*hidden, *[name for name in protection.dropped if name in kept.columns]])


def _missing_uuid_problems(raw: RawExport, language: str) -> pl.DataFrame:
    """A warning per row without a submission id (when the export has the column at all)."""
    if not raw.column_map.has(UUID):  # the file-level missing_uuid_column warning says it once
        return pl.DataFrame(schema=PROBLEM_SCHEMA)
    message, hint = messages.render("missing_uuid", language, column=UUID)
    return raw.frame.filter(pl.col(UUID).is_null()).select(
        pl.lit("missing_uuid").alias("code"), pl.lit(Severity.WARNING.value).alias("severity"),
        pl.col(ROW).alias("row"), pl.lit(UUID).alias("column"), pl.lit(None, pl.Utf8).alias("value"),
        pl.lit(message).alias("message"), pl.lit(hint).alias("hint"), pl.lit(raw.path.name).alias("source"),
        *messages.per_row_all("missing_uuid", {}, column=UUID),
    ).cast(PROBLEM_SCHEMA)


def _quarantine(rows: pl.DataFrame, row_problems: pl.DataFrame, file_blocking: pl.DataFrame) -> pl.DataFrame:
    """Quarantined rows: id, row, content hash, answers as JSON, blocking reasons as a JSON list."""
    reason = pl.struct("code", "column", "value", "message").struct.json_encode()
    per_row = (row_problems.filter(pl.col("severity") == Severity.BLOCKING.value)
               .group_by("row", maintain_order=True).agg(reason.str.join(",").alias("row_reasons"))
               .rename({"row": ROW}))
    whole_file = ",".join(file_blocking.select(reason).to_series().to_list()) if file_blocking.height else ""
    answers = [name for name in rows.columns if name not in (ROW, UUID, CONTENT_HASH)]
    reasons = pl.concat_str([pl.lit(whole_file or None, pl.Utf8), pl.col("row_reasons")], separator=",",
                            ignore_nulls=True).fill_null("")
    return rows.join(per_row, on=ROW, how="left", maintain_order="left").select(
        ROW, UUID, CONTENT_HASH,
        pl.struct(UUID, *answers).struct.json_encode().alias("raw"),
        pl.concat_str([pl.lit("["), reasons, pl.lit("]")]).alias("reasons"),
    )
