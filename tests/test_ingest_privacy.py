"""People's data: names dropped, case ids hashed with the study secret, GPS coarsened — never stored in
clear, neither in submissions nor in quarantine nor in problems."""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import os
import shutil
import stat
from pathlib import Path

import polars as pl
import pytest

from retour import store
from retour.config import load_project
from retour.errors import IngestError
from retour.ingest import ingest, privacy
from retour.schema import load_instrument
from retour.study import ingest_export

DATA = Path(__file__).parent / "data"
_spec = importlib.util.spec_from_file_location("make_fixtures", DATA / "make_fixtures.py")
FIXTURES = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(FIXTURES)


@pytest.fixture
def mini_study(study_dir, monkeypatch):
    """The example study with the tiny questionnaire of tests/data, and no secret in the environment."""
    monkeypatch.delenv("RETOUR_SECRET", raising=False)
    shutil.copy(DATA / "mini_form.xlsx", study_dir / "instrument.xlsx")
    return load_project(study_dir)


def _every_text_in_the_store(path: Path) -> str:
    con = store.connect(path, read_only=True)
    try:
        tables = [
            row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        ]
        texts = []
        for table in tables:
            columns = store.frame(con, f'SELECT * FROM "{table}"')
            texts += [
                str(value) for column in columns.columns for value in columns.get_column(column).to_list()
            ]
        return "\n".join(texts)
    finally:
        con.close()


def test_clear_identifiers_never_reach_the_store(mini_study):
    ingest_export(mini_study, DATA / "mini_kobo.csv", "baseline")
    ingest_export(mini_study, DATA / "mini_messy.csv", "midterm")
    clear = FIXTURES.CLEAR_VALUES + FIXTURES.MESSY_CLEAR_VALUES
    assert "Awa Traoré" in clear and "ML-0001" in clear and "14.447312" in clear
    stored = _every_text_in_the_store(mini_study.store_path)
    leaked = [value for value in clear if value in stored]
    assert leaked == []
    assert "Très motivé" in stored  # a comment, not identifying: the scan does see stored text
    raw = mini_study.store_path.read_bytes()
    wal = mini_study.store_path.with_suffix(".duckdb.wal")
    raw += wal.read_bytes() if wal.exists() else b""
    assert [value for value in clear if value.encode("utf-8") in raw] == []


def test_identifying_fields_are_hashed_coarsened_or_dropped(mini_study):
    ingest_export(mini_study, DATA / "mini_kobo.csv", "baseline")
    secret = (mini_study.root / ".retour-secret").read_text().strip().encode()
    con = store.connect(mini_study.store_path, read_only=True)
    submissions = store.read_submissions(con, "baseline")
    con.close()
    first = submissions.row(0, named=True)
    assert first["case_id"] == hmac.new(secret, b"ML-0001", hashlib.sha256).hexdigest()
    assert first["gps"] == "14.45 -11.45"
    assert "respondent_name" not in submissions.columns


def test_quarantine_and_problem_values_are_protected_too(mini_study, tmp_path):
    frame = pl.read_csv(DATA / "mini_kobo.csv", infer_schema=False).with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit("not a point"))
        .otherwise(pl.col("design/gps"))
        .alias("design/gps")
    )
    frame.write_csv(tmp_path / "bad_gps.csv")
    summary = ingest_export(mini_study, tmp_path / "bad_gps.csv", "baseline")
    assert summary.quarantined == 1
    problem = next(p for p in summary.problems if p.code == "not_geopoint")
    assert problem.value == "(non affichée : champ identifiant)"  # the study's first language is French
    assert "« (non affichée : champ identifiant) »" in problem.message
    assert "not a point" not in problem.message
    con = store.connect(mini_study.store_path, read_only=True)
    raw = json.loads(store.read_quarantine(con).row(0, named=True)["raw"])
    con.close()
    assert "respondent_name" not in raw
    assert raw["case_id"] != "ML-0001" and len(raw["case_id"]) == 64
    assert "Awa" not in json.dumps(raw, ensure_ascii=False)


def test_the_secret_comes_from_the_environment_or_a_private_file(tmp_path, monkeypatch):
    monkeypatch.delenv("RETOUR_SECRET", raising=False)
    made = privacy.load_secret(tmp_path, "RETOUR_SECRET")
    path = tmp_path / privacy.SECRET_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(made) == 64 and privacy.load_secret(tmp_path, "RETOUR_SECRET") == made
    monkeypatch.setenv("RETOUR_SECRET", "from-the-vault")
    assert privacy.load_secret(tmp_path, "RETOUR_SECRET") == b"from-the-vault"


def test_the_same_person_links_across_rounds_with_the_same_secret():
    mini = load_instrument(DATA / "mini_form.xlsx")
    one = ingest(DATA / "mini_kobo.csv", mini, secret=b"a").accepted.get_column("case_id")
    two = ingest(DATA / "mini_odk.csv", mini, secret=b"a").accepted.get_column("case_id")
    other = ingest(DATA / "mini_kobo.csv", mini, secret=b"b").accepted.get_column("case_id")
    assert one.to_list() == two.to_list()
    assert set(one.to_list()).isdisjoint(other.to_list())


def test_hashing_without_a_secret_is_refused():
    with pytest.raises(IngestError, match="must be hashed"):
        ingest(DATA / "mini_kobo.csv", load_instrument(DATA / "mini_form.xlsx"))
