"""What dashboard users change: needs overrides, actor edits, their language, uploaded exports.

Each action checks its input, then writes through the store's one writer (`StoreAccess.write`). A bad
input raises `FormError` with a catalogue key, shown next to the form. An uploaded export is copied to a
private temporary file (0600, in a 0700 folder outside the study folder), handed to the study's ingest
stage and removed whatever the outcome: only the protected rows reach the store, with the upload's history
(file name, size, time, user, result); the raw export, names and phone numbers in clear, is never kept
(issue 22). Ingest parses and checks the file before it holds the writer lock for the store write.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from retour import store
from retour.config import Project
from retour.dashboard import pages
from retour.dashboard.access import StoreAccess
from retour.errors import RetourError

UPLOAD_SUFFIXES = (".csv", ".xlsx")
_COPY_CHUNK = 1024 * 1024
MIN_REASON_LENGTH = 5
MAX_TEXT_LENGTH = 2000
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class FormError(Exception):
    """Input a form must not accept: a catalogue key and its fields, shown beside the form."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


def set_need_override(
    project: Project,
    access: StoreAccess,
    round_name: str,
    community_id: str,
    issue_id: str,
    level: str,
    why: str,
    by: str,
) -> None:
    """Record an analyst's level for one needs cell, with the reason, through the study's needs stage
    (which keeps it in the store and re-applies it whenever the needs are computed again)."""
    from retour import study

    if level not in pages.LEVELS:
        raise FormError("error.bad_request.title")
    why = why.strip()
    if len(why) < MIN_REASON_LENGTH or len(why) > MAX_TEXT_LENGTH:
        raise FormError("needs.reason_required")
    with access.exclusive():
        study.set_need_override(project, round_name, community_id, issue_id, level, why, by=by)


def edit_actor(
    access: StoreAccess, register: Any, actor_id: str, dimensions: set[str], texts: dict[str, str], by: str
) -> int:
    """Record what an analyst changed in one actor (dimensions covered, strengths, weaknesses)."""
    current = pages.actor(access, register, actor_id)
    if current is None:
        raise FormError("error.not_found.title")
    changes: dict[str, tuple[str, str]] = {}
    for dimension in pages.ACTOR_DIMENSIONS:
        old, new = bool(current[dimension]), dimension in dimensions
        if old != new:
            changes[dimension] = (str(old).lower(), str(new).lower())
    for name in pages.ACTOR_TEXTS:
        new_text = texts.get(name, "").strip()[:MAX_TEXT_LENGTH]
        if new_text != (current[name] or ""):
            changes[name] = (current[name] or "", new_text)
    if not changes:
        return 0
    return access.write(lambda con: store.record_actor_edit(con, actor_id, changes, by))


def save_language(access: StoreAccess, user: str, language: str) -> None:
    """Remember a user's language for their next sessions."""
    access.write(lambda con: store.update_user(con, user, language=language))


@dataclass(frozen=True)
class UploadResult:
    """What became of an uploaded export: counts, every problem found, or why it failed."""

    file_name: str
    status: str
    rows_read: int | None = None
    accepted: int | None = None
    new: int | None = None
    quarantined: int | None = None
    problems: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    message: str = ""


def check_upload(file_name: str, size: int, max_bytes: int) -> str:
    """The file's suffix when it may be uploaded; FormError for a wrong type, empty or oversized file."""
    suffix = Path(file_name).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise FormError("uploads.bad_type", file=file_name)
    if size == 0:
        raise FormError("uploads.empty_file")
    if size > max_bytes:
        raise FormError("error.too_large.body", limit=round(max_bytes / 1024 / 1024))
    return suffix


def private_copy(content: BinaryIO | bytes, folder: Path, file_name: str, max_bytes: int) -> tuple[Path, int]:
    """Copy an upload into `folder` as a file only its owner may read (0600), under its sanitised name
    (ingest names the file in its problems); stop one byte past `max_bytes`. Returns the path and size."""
    stem = _UNSAFE.sub("_", Path(file_name).stem).strip("._")[:80] or "export"
    target = folder / f"{stem}{Path(file_name).suffix.lower()}"
    source = io.BytesIO(content) if isinstance(content, bytes) else content
    size = 0
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        while size <= max_bytes and (chunk := source.read(min(_COPY_CHUNK, max_bytes + 1 - size))):
            size += file.write(chunk)
    return target, size


def receive_upload(
    project: Project,
    access: StoreAccess,
    file_name: str,
    content: BinaryIO | bytes,
    round_name: str,
    by: str,
    max_bytes: int,
    language: str | None = None,
) -> UploadResult:
    """Check an uploaded export, ingest it from a private temporary file that is removed whatever happens,
    log it, and return the summary and problems (their messages in `language`, the uploading user's)."""
    check_upload(file_name, 1, max_bytes)  # the type, before a byte is written anywhere
    with tempfile.TemporaryDirectory(prefix="retour-upload-") as folder:  # 0700, outside the study folder
        path, size = private_copy(content, Path(folder), file_name, max_bytes)
        check_upload(file_name, size, max_bytes)
        try:
            result = _ingest(project, access, path, round_name, language)
            outcome = UploadResult(file_name=file_name, status="ingested", **result)
        except RetourError as error:  # said without the temporary folder's path (a server detail)
            message = str(error).replace(f"{path.parent}{os.sep}", "").replace(str(path.parent), "")
            outcome = UploadResult(file_name=file_name, status="failed", message=message)
        except Exception:
            _log_upload(access, UploadResult(file_name=file_name, status="failed", message="internal error"),
                        round_name, by, size)
            raise
    _log_upload(access, outcome, round_name, by, size)
    return outcome


def _log_upload(access: StoreAccess, outcome: UploadResult, round_name: str, by: str, size: int) -> None:
    """Keep the upload's history in the store: who sent which file, its size, when, and what came of it."""
    access.write(
        lambda con: store.record_upload(
            con,
            {
                "file_name": outcome.file_name,
                "stored_as": "",  # nothing is kept: the column dates from when exports were (issue 22)
                "round": round_name,
                "uploaded_by": by,
                "size_bytes": size,
                "rows_read": outcome.rows_read,
                "accepted": outcome.accepted,
                "quarantined": outcome.quarantined,
                "problems": len(outcome.problems),
                "status": outcome.status,
                "message": outcome.message,
            },
        )
    )


def _ingest(project: Project, access: StoreAccess, path: Path, round_name: str,
            language: str | None = None) -> dict[str, Any]:
    """Run the study's ingest stage on the private copy: read and check it with no lock held, then write
    through the app's one writer; counts and problem records."""
    from retour import study

    summary = study.ingest_export(project, path, round_name, access=access)
    return {
        "rows_read": summary.rows_read,
        "accepted": summary.accepted,
        "new": summary.new,
        "quarantined": summary.quarantined,
        "problems": tuple(problem.as_record(language) for problem in summary.problems),
    }
