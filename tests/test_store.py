"""The store: migrations, one transaction per ingested file, re-ingest changes nothing, quarantine release,
submissions per contract 2, data hash, fields added by a later questionnaire version."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

from retour import store
from retour.errors import StoreError
from retour.ingest import ingest
from retour.schema import load_instrument

DATA = Path(__file__).parent / "data"
SECRET = b"test-secret"
TABLES = ("rounds", "batches", "submissions", "quarantine", "problems")


@pytest.fixture(scope="module")
def mini():
    return load_instrument(DATA / "mini_form.xlsx")


def _batch(path, instrument, con, round_name="baseline"):
    return ingest(
        path, instrument, round_name=round_name, stored=store.read_submission_ids(con), secret=SECRET
    )


def _counts(con) -> dict[str, int]:
    return {table: con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] for table in TABLES}


def test_migrations_create_the_ingest_tables():
    con = store.connect()
    for table in TABLES:
        assert store.table_exists(con, table)
    assert store.migrate(con) == []  # run once


def test_a_store_with_fingerprints_as_text_is_migrated_to_numbers(tmp_path, mini):
    path = tmp_path / "old.duckdb"
    con = store.duckdb.connect(str(path))  # the store as 0002_ingest left it, with one submission
    con.execute("CREATE TABLE schema_migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP)")
    for name in sorted(store.MIGRATIONS):
        if name < "0003":
            store.MIGRATIONS[name](con)
            con.execute("INSERT INTO schema_migrations (name) VALUES (?)", [name])
    con.execute("INSERT INTO submissions (round, _uuid, _batch_id, _content_hash) "
                "VALUES ('baseline', 'u-1', 1, '18446744073709551615')")
    old_hash = store.data_hash(con, "baseline")
    con.close()
    con = store.connect(path)
    assert store._column_types(con, "submissions")["_content_hash"] == "UBIGINT"
    assert store._column_types(con, "quarantine")["_content_hash"] == "UBIGINT"
    assert store.read_submission_ids(con).row(0) == ("u-1", "baseline", 2**64 - 1)
    assert store.data_hash(con, "baseline") == old_hash  # the same text is hashed as before


def test_write_batch_stores_accepted_quarantined_and_problems(mini):
    con = store.connect()
    batch = _batch(DATA / "mini_messy.csv", mini, con)
    written = store.write_batch(con, batch, "baseline", "mini", "1")
    assert written == {"batch_id": 1, "new": 3, "already_stored": 0, "released": 0}
    assert _counts(con) == {"rounds": 1, "batches": 1, "submissions": 3, "quarantine": 5, "problems": 8}
    logged = store.read_batches(con).row(0, named=True)
    assert (
        logged["file_name"],
        logged["rows_read"],
        logged["rows_accepted"],
        logged["rows_quarantined"],
        logged["blank_rows"],
    ) == ("mini_messy.csv", 8, 3, 5, 3)
    assert logged["file_sha256"] == hashlib.sha256((DATA / "mini_messy.csv").read_bytes()).hexdigest()


def test_read_submissions_follows_contract_2(mini):
    con = store.connect()
    store.write_batch(con, _batch(DATA / "mini_kobo.csv", mini, con), "baseline")
    submissions = store.read_submissions(con, "baseline")
    assert submissions.columns[:3] == ["round", "_uuid", "_submission_time"]
    assert submissions.height == 8
    assert submissions.schema["age"] == pl.Int64 and submissions.schema["weight"] == pl.Float64
    assert submissions.schema["arrival_date"] == pl.Date and submissions.schema["services"] == pl.Utf8
    assert submissions.schema["sex"] == pl.Utf8  # checked as an Enum of its choices, stored as text
    assert set(submissions.get_column("sex").drop_nulls()) <= {"female", "male"}
    assert "respondent_name" not in submissions.columns
    assert not {"_batch_id", "_row", "_content_hash"} & set(submissions.columns)
    assert submissions.get_column("_uuid").to_list()[:2] == ["a1b2c3d4-0001", "a1b2c3d4-0002"]
    assert store.read_submissions(con, "midterm").height == 0


def test_reingesting_the_same_rows_changes_nothing(mini):
    con = store.connect()
    store.write_batch(con, _batch(DATA / "mini_kobo.csv", mini, con), "baseline")
    before = store.data_hash(con, "baseline")
    again = _batch(DATA / "mini_kobo.xlsx", mini, con)  # same submissions, exported as XLSX
    assert again.already_stored == 8 and again.problems == []
    written = store.write_batch(con, again, "baseline")
    assert written["new"] == 0 and written["already_stored"] == 8
    assert store.read_submissions(con, "baseline").height == 8
    assert store.data_hash(con, "baseline") == before


def test_same_uuid_with_other_answers_is_a_conflict(mini, tmp_path):
    con = store.connect()
    store.write_batch(con, _batch(DATA / "mini_kobo.csv", mini, con), "baseline")
    frame = pl.read_csv(DATA / "mini_kobo.csv", infer_schema=False)
    frame.with_columns(
        pl.when(pl.col("_uuid") == "a1b2c3d4-0002")
        .then(pl.lit("28"))
        .otherwise(pl.col("profile/age"))
        .alias("profile/age")
    ).write_csv(tmp_path / "edited.csv")
    batch = _batch(tmp_path / "edited.csv", mini, con)
    assert [(p.code, p.row, p.value) for p in batch.problems] == [("uuid_conflict", 2, "a1b2c3d4-0002")]
    assert batch.already_stored == 7
    other_round = _batch(DATA / "mini_kobo.csv", mini, con, round_name="midterm")
    assert {p.code for p in other_round.problems} == {"uuid_in_other_round"}
    assert other_round.problems[0].message == (
        "Submission id 'a1b2c3d4-0001' is already stored in round baseline.")


def test_a_corrected_row_is_released_from_quarantine(mini, tmp_path):
    con = store.connect()
    store.write_batch(con, _batch(DATA / "mini_messy.csv", mini, con), "baseline")
    text = (DATA / "mini_messy.csv").read_bytes().decode("cp1252")
    fixed = text.replace(";Femme;12;Non;", ";Femme;21;Non;")  # row 3: age 12 -> 21
    assert fixed != text
    (tmp_path / "mini_messy.csv").write_bytes(fixed.encode("cp1252"))
    written = store.write_batch(con, _batch(tmp_path / "mini_messy.csv", mini, con), "baseline")
    assert written["new"] == 1 and written["released"] == 1 and written["already_stored"] == 3
    quarantine = store.read_quarantine(con, "baseline", open_only=False)
    statuses = dict(quarantine.filter(pl.col("_batch_id") == 1).select("_uuid", "status").iter_rows())
    assert statuses["m-0003"] == "released"
    assert statuses["m-0004"] == "replaced"
    still_open = store.read_quarantine(con, "baseline")
    assert sorted(set(still_open.get_column("_uuid").to_list())) == ["m-0004", "m-0005", "m-0007"]
    problems = store.read_problems(con, "baseline")
    assert "m-0003" not in problems.get_column("uuid").to_list()
    assert problems.filter(pl.col("uuid").is_null()).height == 2  # file-level warnings, not doubled
    assert problems.get_column("batch_id").unique().to_list() == [2]


def test_a_failure_inside_the_write_leaves_the_store_as_it_was(mini, monkeypatch):
    con = store.connect()
    store.write_batch(con, _batch(DATA / "mini_kobo.csv", mini, con), "baseline")
    before = _counts(con)
    columns_before = store.read_submissions(con).columns

    def crash(*args, **kwargs):
        raise RuntimeError("disk full")

    batch = _batch(DATA / "mini_messy.csv", mini, con)
    monkeypatch.setattr(store, "_close_open_entries", crash)
    con.execute(
        "INSERT INTO quarantine (round, _uuid, _batch_id, raw, reasons) VALUES "
        "('baseline', 'open-one', 1, '{}', '[]')"
    )  # so that the closing step runs
    before = _counts(con)
    with pytest.raises(RuntimeError, match="disk full"):
        store.write_batch(con, batch, "baseline")
    assert _counts(con) == before
    assert store.read_submissions(con).columns == columns_before


def test_a_killed_ingest_leaves_the_store_as_it_was(tmp_path, mini):
    path = tmp_path / "retour.duckdb"
    con = store.connect(path)
    store.write_batch(con, _batch(DATA / "mini_kobo.csv", mini, con), "baseline")
    before = _counts(con)
    con.close()
    script = textwrap.dedent(f"""
        import os
        from retour import store
        from retour.ingest import ingest
        from retour.schema import load_instrument
        con = store.connect({str(path)!r})
        batch = ingest({str(DATA / "mini_messy.csv")!r}, load_instrument({str(DATA / "mini_form.xlsx")!r}),
                       round_name="baseline", stored=store.read_submission_ids(con), secret=b"test-secret")
        def die(*args, **kwargs):
            os._exit(9)
        store._close_open_entries = die
        con.execute("INSERT INTO quarantine (round, _uuid, _batch_id, raw, reasons) "
                    "VALUES ('baseline', 'x', 1, '{{}}', '[]')")
        store.write_batch(con, batch, "baseline")
    """)
    finished = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert finished.returncode == 9, finished.stderr
    con = store.connect(path)
    after = _counts(con)
    assert after["submissions"] == before["submissions"] and after["batches"] == before["batches"]
    assert after["problems"] == before["problems"]


def test_fields_added_by_a_later_questionnaire_version_become_columns(mini, tmp_path):
    import openpyxl

    con = store.connect()
    store.write_batch(con, _batch(DATA / "mini_kobo.csv", mini, con), "baseline")
    workbook = openpyxl.load_workbook(DATA / "mini_form.xlsx")
    survey = workbook["survey"]
    survey.insert_rows(survey.max_row)
    survey.cell(survey.max_row - 1, 1, "integer")
    survey.cell(survey.max_row - 1, 2, "children")
    workbook.save(tmp_path / "v2.xlsx")
    version_2 = load_instrument(tmp_path / "v2.xlsx")
    frame = pl.read_csv(DATA / "mini_odk.csv", infer_schema=False).with_columns(
        pl.lit("2").alias("profile-children"),
        ("uuid:" + pl.col("meta-instanceID").str.slice(5) + "-v2").alias("meta-instanceID"),
    )
    frame.write_csv(tmp_path / "midterm.csv")
    batch = ingest(
        tmp_path / "midterm.csv",
        version_2,
        round_name="midterm",
        stored=store.read_submission_ids(con),
        secret=SECRET,
    )
    assert batch.problems == []
    store.write_batch(con, batch, "midterm")
    everything = store.read_submissions(con)
    assert everything.schema["children"] == pl.Int64
    assert everything.filter(pl.col("round") == "baseline").get_column("children").null_count() == 8
    assert everything.filter(pl.col("round") == "midterm").get_column("children").to_list() == [2] * 8


def test_a_field_that_changes_type_is_refused(mini):
    con = store.connect()
    store.write_batch(con, _batch(DATA / "mini_kobo.csv", mini, con), "baseline")
    batch = _batch(DATA / "mini_kobo.csv", mini, con, round_name="midterm")
    changed = batch.accepted.with_columns(pl.col("arrival_date").cast(pl.Utf8).alias("age"))
    with pytest.raises(StoreError, match="Field 'age' is stored as BIGINT"):
        store.write_batch(con, dataclasses.replace(batch, accepted=changed), "midterm")


def test_data_hash_is_twelve_hex_digits_of_sorted_ids_and_fingerprints(mini):
    con = store.connect()
    assert store.data_hash(con, "baseline") == hashlib.sha256(b"").hexdigest()[:12]
    store.write_batch(con, _batch(DATA / "mini_kobo.csv", mini, con), "baseline")
    rows = store.frame(con, "SELECT round, _uuid, _content_hash FROM submissions ORDER BY _uuid").rows()
    expected = hashlib.sha256("\n".join(":".join(map(str, row)) for row in rows).encode()).hexdigest()[:12]
    assert store.data_hash(con, "baseline") == expected
    assert store.data_hash(con, "midterm") != expected


def test_digest_is_sha256_and_rfc_2104_hmac():
    values = pl.Series("v", ["ML-0001", "é", None])
    assert store.digest(values).to_list()[:2] == [
        hashlib.sha256(b"ML-0001").hexdigest(),
        hashlib.sha256("é".encode()).hexdigest(),
    ]
    for key in (b"k", b"x" * 100):
        hashed = store.digest(values, key=key).to_list()
        assert hashed[0] == hmac.new(key, b"ML-0001", hashlib.sha256).hexdigest()
        assert hashed[2] is None


def test_write_uses_arrow_registration_not_row_inserts(mini, monkeypatch):
    con = store.connect()
    batch = _batch(DATA / "mini_messy.csv", mini, con)
    statements: list[str] = []
    real = type(con).execute

    class Spy:
        def __init__(self, inner):
            self.inner = inner

        def execute(self, query, *args, **kwargs):
            statements.append(query)
            return real(self.inner, query, *args, **kwargs)

        def __getattr__(self, name):
            return getattr(self.inner, name)

    store.write_batch(Spy(con), batch, "baseline")
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    assert len(inserts) == 5  # rounds, submissions, quarantine, problems, batches: one statement each
