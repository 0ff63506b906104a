"""Uploads keep no raw export (issue 22): an export sent through the dashboard is processed from a private
temporary file, removed whatever the outcome; only protected rows and the upload's history reach the
store, and no name or phone number in clear is left anywhere in the study folder or the temporary folder.
The file is parsed and checked while the store's writer lock is free."""

from __future__ import annotations

import os
import stat
import tempfile
import threading
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient

import retour.ingest
from dashboard_fixtures import add_users, write_results
from retour import store, study
from retour.dashboard import create_app
from retour.study import init_study
from test_dashboard import csrf_of, sign_in

DATA = Path(__file__).parent / "data"
NAMES = [f"Kadidiatou Plantedname{index:02d}" for index in range(40)]
PHONES = [f"+223 7{index:02d} 55 01 99" for index in range(40)]


def planted_export(target: Path, break_weight: bool = False, only_people: bool = False) -> Path:
    """The Mali test export with a planted name and phone number on every row; `break_weight` makes every
    row blocking (quarantined), `only_people` keeps so few columns that ingest fails."""
    frame = pl.read_csv(DATA / "mali_kobo.csv", infer_schema=False)
    frame = frame.with_columns(pl.Series("design/respondent_name", NAMES[: frame.height]),
                               pl.Series("design/phone", PHONES[: frame.height]))
    if break_weight:
        frame = frame.with_columns(pl.lit("heavy").alias("design/weight"))
    if only_people:
        frame = frame.select("design/case_id", "design/respondent_name", "design/phone")
    frame.write_csv(target)
    return target


def every_byte(*folders: Path) -> bytes:
    return b"".join(path.read_bytes() for folder in folders for path in folder.rglob("*") if path.is_file())


def every_stored_text(path: Path) -> str:
    """Every value of every table of the store, as text (DuckDB may compress strings on disk)."""
    con = store.connect(path, read_only=True)
    try:
        tables = [row[0] for row in
                  con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        frames = [store.frame(con, f'SELECT * FROM "{table}"') for table in tables]
        return "\n".join(str(value) for frame in frames for row in frame.iter_rows() for value in row)
    finally:
        con.close()


@pytest.fixture
def dashboard(tmp_path, monkeypatch):
    """A study with one analyst signed in, temporary files in a folder of the test's own."""
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    project = init_study(tmp_path / "study")
    write_results(project.store_path, ("baseline",))
    add_users(project.store_path)
    app = create_app(project)
    client = sign_in(TestClient(app, follow_redirects=False), "ana")
    return project, app, client, private_tmp


def upload(client: TestClient, path: Path, name: str | None = None):
    return client.post("/uploads", files={"export": (name or path.name, path.read_bytes(), "text/csv")},
                       data={"round": "baseline"}, headers={"X-CSRF-Token": csrf_of(client, "/")})


def test_no_raw_export_is_kept_after_accepted_rejected_and_failed_uploads(dashboard, tmp_path, monkeypatch):
    project, app, client, private_tmp = dashboard
    seen: list[tuple[Path, int, int]] = []
    real = study.ingest_export

    def watched(project_, path, *args, **kwargs):
        path = Path(path)
        seen.append((path, stat.S_IMODE(path.stat().st_mode), stat.S_IMODE(path.parent.stat().st_mode)))
        return real(project_, path, *args, **kwargs)

    monkeypatch.setattr(study, "ingest_export", watched)
    exports = tmp_path / "exports"
    exports.mkdir()
    good = upload(client, planted_export(exports / "good.csv"))
    bad = upload(client, planted_export(exports / "bad.csv", break_weight=True))
    failed = upload(client, planted_export(exports / "people.csv", only_people=True))
    refused = upload(client, exports / "good.csv", name="good.txt")
    assert good.status_code == bad.status_code == failed.status_code == 200
    assert refused.status_code == 422

    assert len(seen) == 3
    for path, file_mode, folder_mode in seen:
        assert file_mode == 0o600 and folder_mode == 0o700
        assert not path.is_relative_to(project.root) and not path.exists() and not path.parent.exists()
    assert list(private_tmp.iterdir()) == []
    assert not project.path("uploads").exists()

    con = store.connect(project.store_path, read_only=True)
    history = store.read_uploads(con).sort("upload_id")
    submissions = store.read_submissions(con, "baseline")
    quarantine = store.read_quarantine(con, "baseline")
    con.close()
    assert history.select("file_name", "uploaded_by", "status").rows() == [
        ("good.csv", "ana", "ingested"), ("bad.csv", "ana", "ingested"), ("people.csv", "ana", "failed")]
    assert history.get_column("size_bytes").to_list() == [
        (exports / name).stat().st_size for name in ("good.csv", "bad.csv", "people.csv")]
    assert history.get_column("uploaded_at").null_count() == 0
    assert submissions.height == 30 and quarantine.height == 30  # accepted, then all rejected
    message = history.get_column("message").to_list()[2]
    assert "fields have a column" in message and str(private_tmp) not in message

    stored = every_stored_text(project.store_path)
    disk = every_byte(project.root, private_tmp)
    planted = NAMES[:30] + PHONES[:30]
    assert [value for value in planted if value in stored] == []
    assert [value for value in planted if value.encode() in disk] == []
    assert "Kadidiatou" not in stored and b"Plantedname" not in disk


def test_the_temporary_file_goes_even_when_ingest_breaks(dashboard, tmp_path, monkeypatch):
    project, app, client, private_tmp = dashboard

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(study, "ingest_export", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        upload(client, planted_export(tmp_path / "good.csv"))
    assert list(private_tmp.iterdir()) == []
    con = store.connect(project.store_path, read_only=True)
    history = store.read_uploads(con)
    con.close()
    assert history.select("file_name", "status").rows() == [("good.csv", "failed")]
    assert b"Plantedname" not in every_byte(project.root)


def test_the_writer_lock_is_free_while_the_upload_is_parsed_and_checked(dashboard, tmp_path, monkeypatch):
    project, app, client, private_tmp = dashboard
    access = app.state.dashboard.access
    real = retour.ingest.ingest
    others_wrote: list[bool] = []

    def parse_and_check(*args, **kwargs):
        other = threading.Thread(target=lambda: others_wrote.append(access.write(lambda con: True)))
        other.start()
        other.join(timeout=30)  # the upload's own request is waiting here: a held lock would block it
        assert not other.is_alive(), "the store's writer lock is held while the export is parsed"
        return real(*args, **kwargs)

    monkeypatch.setattr(retour.ingest, "ingest", parse_and_check)
    response = upload(client, planted_export(tmp_path / "good.csv"))
    assert response.status_code == 200 and others_wrote == [True]
    con = store.connect(project.store_path, read_only=True)
    assert store.read_submissions(con, "baseline").height == 30
    con.close()


def test_a_migration_removes_raw_exports_kept_by_earlier_versions(tmp_path):
    project = init_study(tmp_path / "study")
    con = store.connect(project.store_path)
    con.execute("DELETE FROM schema_migrations WHERE name = '0210_remove_kept_uploads'")
    con.close()
    kept = project.path("uploads")
    kept.mkdir()
    planted_export(kept / "20240101T000000000000-export.csv")
    (kept / "20240102T000000000000-export.xlsx").write_bytes(b"PK raw workbook")
    store.connect(project.store_path).close()  # what `retour ingest` and `retour serve` do first
    assert not kept.exists()

    con = store.connect(project.store_path)
    con.execute("DELETE FROM schema_migrations WHERE name = '0210_remove_kept_uploads'")
    con.close()
    kept.mkdir()
    planted_export(kept / "old.csv")
    (kept / "README.txt").write_text("not an export: left alone")
    store.connect(project.store_path).close()
    assert [path.name for path in kept.iterdir()] == ["README.txt"]
    assert os.listdir(project.root).count("uploads") == 1
