"""What dashboard users change: needs overrides, actor edits, their language, uploaded exports.

Each action checks its input, then writes through the store's one writer (`StoreAccess.write`). A bad
input raises `FormError` with a catalogue key, shown next to the form. Uploads are saved under
`DIR/uploads/` (never a served path) and handed to the study's ingest stage.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retour import store
from retour.config import Project
from retour.dashboard import pages
from retour.dashboard.access import StoreAccess
from retour.errors import RetourError

UPLOAD_SUFFIXES = (".csv", ".xlsx")
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
    stored_as: str
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


def save_upload(project: Project, file_name: str, content: bytes) -> Path:
    """Keep the upload under DIR/uploads/ with a time-stamped, sanitised name; return its path."""
    folder = project.path("uploads")
    folder.mkdir(exist_ok=True)
    stem = _UNSAFE.sub("_", Path(file_name).stem).strip("._")[:80] or "export"
    moment = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    target = folder / f"{moment}-{stem}{Path(file_name).suffix.lower()}"
    target.write_bytes(content)
    return target


def receive_upload(
    project: Project,
    access: StoreAccess,
    file_name: str,
    content: bytes,
    round_name: str,
    by: str,
    max_bytes: int,
    language: str | None = None,
) -> UploadResult:
    """Check, save and ingest an uploaded export, log it, and return the summary and problems (their
    messages in `language`, the uploading user's)."""
    check_upload(file_name, len(content), max_bytes)
    path = save_upload(project, file_name, content)
    try:
        result = _ingest(project, access, path, round_name, language)
        outcome = UploadResult(file_name=file_name, stored_as=path.name, status="ingested", **result)
    except RetourError as error:
        outcome = UploadResult(file_name=file_name, stored_as=path.name, status="failed", message=str(error))
    access.write(
        lambda con: store.record_upload(
            con,
            {
                "file_name": file_name,
                "stored_as": outcome.stored_as,
                "round": round_name,
                "uploaded_by": by,
                "size_bytes": len(content),
                "rows_read": outcome.rows_read,
                "accepted": outcome.accepted,
                "quarantined": outcome.quarantined,
                "problems": len(outcome.problems),
                "status": outcome.status,
                "message": outcome.message,
            },
        )
    )
    return outcome


def _ingest(project: Project, access: StoreAccess, path: Path, round_name: str,
            language: str | None = None) -> dict[str, Any]:
    """Run the study's ingest stage on a saved export under the writer lock; counts and problem records."""
    from retour import study

    with access.exclusive():
        summary = study.ingest_export(project, path, round_name)
    return {
        "rows_read": summary.rows_read,
        "accepted": summary.accepted,
        "new": summary.new,
        "quarantined": summary.quarantined,
        "problems": tuple(problem.as_record(language) for problem in summary.problems),
    }
