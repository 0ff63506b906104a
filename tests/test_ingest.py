"""Ingest: exports read as Kobo and ODK write them, every problem found, rows split, identifiers protected.

The fixtures are in tests/data (written by tests/data/make_fixtures.py; the counts asserted here can be
read off the rows listed there).
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import polars as pl
import pytest

from retour.errors import IngestError, Severity
from retour.ingest import READERS, ingest, read_export
from retour.ingest.columns import map_columns
from retour.schema import load_instrument

DATA = Path(__file__).parent / "data"
EXAMPLE_FORM = Path(__file__).parent.parent / "src" / "retour" / "examples" / "mali-2018" / "instrument.xlsx"
SECRET = b"test-secret"
FIXTURES = ["mini_kobo.csv", "mini_kobo.xlsx", "mini_odk.csv", "mini_messy.csv"]


def _fixtures_module():
    spec = importlib.util.spec_from_file_location("make_fixtures", DATA / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FIXTURE_MAKER = _fixtures_module()


@pytest.fixture(scope="module")
def mini():
    return load_instrument(DATA / "mini_form.xlsx")


@pytest.fixture(scope="module")
def example():
    return load_instrument(EXAMPLE_FORM)


def _ingest(name, instrument, **options):
    options.setdefault("secret", SECRET)
    return ingest(DATA / name, instrument, round_name="baseline", **options)


def test_fixture_files_are_current(tmp_path):
    FIXTURE_MAKER.write_all(tmp_path)
    for name in (
        "mini_kobo.csv",
        "mini_odk.csv",
        "mini_messy.csv",
        "mini_wrong_form.csv",
        "mali_kobo.csv",
        "mali_messy.csv",
    ):
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), (
            f"tests/data/{name} is stale: run python tests/data/make_fixtures.py"
        )
    assert (
        load_instrument(tmp_path / "mini_form.xlsx").names == load_instrument(DATA / "mini_form.xlsx").names
    )


@pytest.mark.parametrize("name", FIXTURES)
def test_every_row_is_accepted_or_quarantined(name, mini):
    batch = _ingest(name, mini)
    assert batch.rows_read == batch.accepted.height + batch.quarantined.height
    assert batch.rows_read == 8


@pytest.mark.parametrize("name", ["mali_kobo.csv", "mali_messy.csv"])
def test_every_row_of_the_example_exports_is_accounted_for(name, example):
    batch = _ingest(name, example)
    assert batch.rows_read == 30
    assert batch.rows_read == batch.accepted.height + batch.quarantined.height


def test_readers_are_registered_and_chosen_from_the_file(mini):
    assert {"kobo_csv", "odk_csv", "kobo_xlsx"} <= set(READERS)
    assert read_export(DATA / "mini_kobo.csv", mini).reader == "kobo_csv"
    assert read_export(DATA / "mini_odk.csv", mini).reader == "odk_csv"
    assert read_export(DATA / "mini_kobo.xlsx", mini).reader == "kobo_xlsx"


@pytest.mark.parametrize("name", ["mini_kobo.csv", "mini_kobo.xlsx", "mini_odk.csv"])
def test_kobo_odk_csv_and_xlsx_give_the_same_submissions(name, mini):
    reference = _ingest("mini_kobo.csv", mini).accepted.drop("_row")
    batch = _ingest(name, mini)
    assert batch.problems == []
    assert batch.accepted.drop("_row").equals(reference)
    row = batch.accepted.row(0, named=True)
    assert row["_uuid"] == "a1b2c3d4-0001"  # ODK's 'uuid:' prefix is removed
    assert row["age"] == 19 and row["weight"] == 12.5 and row["months_abroad"] == 14
    assert str(row["arrival_date"]) == "2017-11-02" and row["services"] == "health water"
    assert str(row["_submission_time"]) == "2018-03-05 18:00:12"


def test_typed_columns_follow_contract_2(mini):
    accepted = _ingest("mini_kobo.csv", mini).accepted
    assert accepted.schema["age"] == pl.Int64
    assert accepted.schema["weight"] == pl.Float64
    assert accepted.schema["arrival_date"] == pl.Date
    assert accepted.schema["services"] == pl.Utf8
    assert accepted.schema["sex"] == pl.Enum(["female", "male"])  # select_one: its choices, in form order
    assert "respondent_name" not in accepted.columns  # dropped
    assert accepted.get_column("stratum").to_list() == accepted.get_column("community").to_list()


def test_messy_export_semicolons_latin1_french_labels(mini):
    raw = read_export(DATA / "mini_messy.csv", mini)
    assert raw.separator == ";"
    assert raw.encoding == "cp1252"
    assert raw.blank_rows == 3
    batch = _ingest("mini_messy.csv", mini)
    accepted = batch.accepted
    assert accepted.get_column("_uuid").to_list() == ["m-0001", "m-0002", "m-0008"]
    assert accepted.get_column("comments").to_list()[1] == "Très motivé, élève à Kita"  # accents survive
    assert accepted.get_column("community").to_list() == ["kayes", "kita", "kirane"]  # labels -> names
    assert accepted.get_column("sex").to_list() == ["female", "male", "male"]
    assert accepted.get_column("weight").to_list() == [12.5, 9.75, 8.0]  # decimal commas
    assert str(accepted.get_column("arrival_date")[0]) == "2017-11-02"  # Excel serial 43041
    assert accepted.get_column("services").to_list() == ["health water", "education", "health education"]


def test_messy_export_problems_are_all_found(mini):
    batch = _ingest("mini_messy.csv", mini)
    found = [(p.code, p.row, p.column, p.value, p.severity) for p in batch.problems]
    assert found == [
        ("unknown_column", None, "Remarque du superviseur", None, Severity.WARNING),
        ("missing_optional_column", None, "stratum", None, Severity.WARNING),
        ("constraint_failed", 3, "age", "12", Severity.BLOCKING),
        ("unknown_choice", 4, "sex", "X", Severity.BLOCKING),
        ("duplicate_uuid", 6, "_uuid", "m-0005", Severity.BLOCKING),
        ("duplicate_uuid", 7, "_uuid", "m-0005", Severity.BLOCKING),
        ("not_integer", 8, "age", "vingt", Severity.BLOCKING),
        ("answer_not_relevant", 8, "months_abroad", "12", Severity.BLOCKING),
    ]
    assert batch.problems_by_kind() == {
        "duplicate_uuid": 2,
        "answer_not_relevant": 1,
        "constraint_failed": 1,
        "missing_optional_column": 1,
        "not_integer": 1,
        "unknown_choice": 1,
        "unknown_column": 1,
    }
    assert batch.quarantined.get_column("_row").to_list() == [3, 4, 6, 7, 8]


def test_problem_messages_say_what_where_and_how_to_fix(mini):
    batch = _ingest("mini_messy.csv", mini)
    age = next(p for p in batch.problems if p.code == "constraint_failed")
    assert (
        age.message == "'12' breaks the rule of 'age' (. >= 15 and . <= 34): Age must be between 15 and 34."
    )
    assert age.hint
    choice = next(p for p in batch.problems if p.code == "unknown_choice")
    assert choice.hint == "Allowed choices: female, male."
    french = _ingest("mini_messy.csv", mini, language="fr")
    age_fr = next(p for p in french.problems if p.code == "constraint_failed")
    assert age_fr.message == (
        "« 12 » ne respecte pas la règle de « age » (. >= 15 and . <= 34): "
        "L'âge doit être compris entre 15 et 34 ans."
    )


def test_quarantine_keeps_the_answers_and_reasons_as_json(mini):
    quarantined = _ingest("mini_messy.csv", mini).quarantined
    first = quarantined.row(0, named=True)
    raw = json.loads(first["raw"])
    reasons = json.loads(first["reasons"])
    assert raw["_uuid"] == "m-0003" and raw["age"] == "12" and raw["community"] == "Kita"
    assert [reason["code"] for reason in reasons] == ["constraint_failed"]
    duplicated = json.loads(quarantined.row(2, named=True)["reasons"])
    assert duplicated[0]["code"] == "duplicate_uuid"


def test_example_messy_export_maps_french_labels_and_finds_its_problems(example):
    batch = _ingest("mali_messy.csv", example)
    codes = sorted((p.code, p.row) for p in batch.problems)
    assert codes == [
        ("constraint_failed", 6),
        ("duplicate_uuid", 4),
        ("duplicate_uuid", 5),
        ("unknown_choice", 7),
        ("unknown_column", None),
    ]
    clean = _ingest("mali_kobo.csv", example)
    assert clean.problems == [] and clean.accepted.height == 30
    # the same submissions, whether exported with names or with French labels (minus the broken ones)
    messy = batch.accepted.drop("_row").sort("_uuid")
    reference = clean.accepted.drop("_row").filter(pl.col("_uuid").is_in(messy.get_column("_uuid").implode()))
    assert messy.equals(reference.sort("_uuid"))


def test_select_multiple_from_choice_columns_only_and_disagreeing_layouts(mini, tmp_path):
    text = (DATA / "mini_kobo.csv").read_text(encoding="utf-8")
    header, *rows = text.splitlines()
    columns = header.split(",")
    answer = columns.index("profile/services")
    only_flags = [
        ",".join(c for i, c in enumerate(line.split(",")) if i != answer) for line in [header, *rows]
    ]
    (tmp_path / "flags.csv").write_text("\n".join(only_flags) + "\n", encoding="utf-8")
    batch = ingest(tmp_path / "flags.csv", mini, secret=SECRET)
    assert (
        batch.accepted.get_column("services").to_list()
        == _ingest("mini_kobo.csv", mini).accepted.get_column("services").to_list()
    )
    water = columns.index("profile/services/water")
    cells = rows[0].split(",")
    cells[water] = "0"  # the answer column says 'health water'
    bad = rows[1].split(",")
    bad[water] = "peut-être"
    (tmp_path / "disagree.csv").write_text(
        "\n".join([header, ",".join(cells), ",".join(bad), *rows[2:]]) + "\n", encoding="utf-8"
    )
    batch = ingest(tmp_path / "disagree.csv", mini, secret=SECRET)
    found = [(p.code, p.row, p.column, p.value) for p in batch.problems]
    assert ("select_multiple_mismatch", 1, "services", "health water") in found
    assert ("bad_choice_flag", 2, "profile/services/water", "peut-être") in found
    assert batch.quarantined.get_column("_row").to_list() == [1, 2]


def test_true_false_choice_columns_are_read(mini, tmp_path):
    text = (DATA / "mini_kobo.csv").read_text(encoding="utf-8")
    header, *rows = text.splitlines()
    flags = [i for i, c in enumerate(header.split(",")) if c.startswith("profile/services/")]
    converted = [
        ",".join(
            {"1": "True", "0": "False"}.get(c, c) if i in flags else c for i, c in enumerate(row.split(","))
        )
        for row in rows
    ]
    (tmp_path / "booleans.csv").write_text("\n".join([header, *converted]) + "\n", encoding="utf-8")
    assert ingest(tmp_path / "booleans.csv", mini, secret=SECRET).problems == []


def test_wrong_questionnaire_is_a_one_line_error(mini):
    with pytest.raises(IngestError) as error:
        read_export(DATA / "mini_wrong_form.csv", mini)
    assert "looks like an export of another questionnaire" in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "is empty"),
        (b"PK\x03\x04 not really a workbook", "not a readable XLSX"),
    ],
)
def test_unreadable_files_are_one_line_errors(content, message, mini, tmp_path):
    path = tmp_path / ("export.xlsx" if content.startswith(b"PK") else "export.csv")
    path.write_bytes(content)
    with pytest.raises(IngestError, match=message):
        ingest(path, mini, secret=SECRET)


def test_missing_file_and_ragged_lines(mini, tmp_path):
    with pytest.raises(IngestError, match="not found"):
        ingest(tmp_path / "nope.csv", mini, secret=SECRET)
    text = (DATA / "mini_kobo.csv").read_text(encoding="utf-8").splitlines()
    text[3] = text[3] + ",extra,cells"
    (tmp_path / "ragged.csv").write_text("\n".join(text) + "\n", encoding="utf-8")
    with pytest.raises(IngestError, match="line 4 has more fields than the header"):
        ingest(tmp_path / "ragged.csv", mini, secret=SECRET)


def test_missing_design_columns_quarantine_every_row(mini, tmp_path):
    frame = pl.read_csv(DATA / "mini_kobo.csv", infer_schema=False).drop("profile/sex", "design/weight")
    frame.write_csv(tmp_path / "partial.csv")
    batch = ingest(tmp_path / "partial.csv", mini, secret=SECRET)
    codes = {(p.code, p.column, p.severity) for p in batch.problems if p.row is None}
    assert ("missing_column", "sex", Severity.WARNING) in codes
    assert ("missing_design_column", "weight", Severity.BLOCKING) in codes
    assert batch.accepted.height == 0 and batch.quarantined.height == 8


def test_a_required_question_dropped_from_a_rounds_export_is_left_empty_with_a_warning(mini, tmp_path):
    frame = pl.read_csv(DATA / "mini_kobo.csv", infer_schema=False).drop("profile/sex")
    frame.write_csv(tmp_path / "midterm.csv")
    batch = ingest(tmp_path / "midterm.csv", mini, secret=SECRET)
    assert [(p.code, p.column, p.severity) for p in batch.problems] == [
        ("missing_column", "sex", Severity.WARNING)]
    assert "comparison of rounds will say so" in batch.problems[0].hint
    assert batch.accepted.height == 8 and batch.accepted.get_column("sex").null_count() == 8


def test_required_answers_and_design_values_missing(mini, tmp_path):
    frame = pl.read_csv(DATA / "mini_kobo.csv", infer_schema=False)
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(None).otherwise(pl.col("profile/sex")).alias("profile/sex"),
        pl.when(pl.int_range(pl.len()) == 1)
        .then(None)
        .otherwise(pl.col("design/cluster"))
        .alias("design/cluster"),
        # row 3 lived abroad: months_abroad becomes required
        pl.when(pl.int_range(pl.len()) == 3)
        .then(None)
        .otherwise(pl.col("profile/months_abroad"))
        .alias("profile/months_abroad"),
    )
    frame.write_csv(tmp_path / "gaps.csv")
    found = [(p.code, p.row, p.column) for p in ingest(tmp_path / "gaps.csv", mini, secret=SECRET).problems]
    assert found == [
        ("required_missing", 1, "sex"),
        ("missing_design_value", 2, "cluster"),
        ("required_missing", 4, "months_abroad"),
    ]


def test_headers_as_english_labels_and_odk_groups(mini, tmp_path):
    frame = pl.read_csv(DATA / "mini_kobo.csv", infer_schema=False)
    labels = {f"{q.path}": q.labels["en"] for q in mini.questions if "en" in q.labels}
    frame.rename({c: labels[c] for c in frame.columns if c in labels}).write_csv(tmp_path / "english.csv")
    batch = ingest(tmp_path / "english.csv", mini, secret=SECRET)
    assert batch.problems == []
    assert batch.accepted.drop("_row").equals(_ingest("mini_kobo.csv", mini).accepted.drop("_row"))


def test_column_map_tells_fields_choices_metadata_and_unknowns(mini):
    column_map = map_columns(
        [
            "profile/age",
            "design-community",
            "Âge",
            "profile/services/water",
            "_id",
            "KEY",
            "meta-instanceID",
            "Remarque",
            "Services utilisés/Eau potable",
            "design-gps-Latitude",
        ],
        mini,
        group_separator="-",
    )
    kinds = [(c.header, c.kind, c.field, c.choice) for c in column_map.columns]
    assert kinds == [
        ("profile/age", "field", "age", None),
        ("design-community", "field", "community", None),
        ("Âge", "duplicate", "age", None),
        ("profile/services/water", "choice", "services", "water"),
        ("_id", "ignored", None, None),
        ("KEY", "ignored", None, None),
        ("meta-instanceID", "metadata", "_uuid", None),
        ("Remarque", "unknown", None, None),
        ("Services utilisés/Eau potable", "duplicate", "services", "water"),
        ("design-gps-Latitude", "geopart", "gps", "latitude"),
    ]


def test_excel_numbers_and_dates_stored_as_text(mini, tmp_path):
    frame = pl.read_csv(DATA / "mini_kobo.csv", infer_schema=False).with_columns(
        (pl.col("profile/age") + ".0").alias("profile/age"),
        pl.when(pl.col("profile/arrival_date").is_not_null())
        .then(pl.lit("42000"))
        .alias("profile/arrival_date"),
        pl.col("design/weight").str.replace(".", ",", literal=True).alias("design/weight"),
    )
    frame.write_csv(tmp_path / "excel.csv", separator=";")
    batch = ingest(tmp_path / "excel.csv", mini, secret=SECRET)
    assert batch.problems == []
    assert batch.accepted.get_column("age").to_list()[:3] == [19, 27, 22]
    assert str(batch.accepted.get_column("arrival_date")[0]) == "2014-12-27"


def test_utf8_bom_and_windows_1252_give_the_same_accents(mini, tmp_path):
    text = (DATA / "mini_kobo.csv").read_text(encoding="utf-8")
    (tmp_path / "bom.csv").write_bytes(text.encode("utf-8-sig"))
    (tmp_path / "latin.csv").write_bytes(text.encode("cp1252"))
    bom = ingest(tmp_path / "bom.csv", mini, secret=SECRET)
    latin = ingest(tmp_path / "latin.csv", mini, secret=SECRET)
    assert bom.accepted.get_column("comments")[1] == "Très motivé"
    assert latin.accepted.drop("_row").equals(bom.accepted.drop("_row"))


def test_rules_that_cannot_be_translated_are_warnings(tmp_path, mini):
    import openpyxl

    workbook = openpyxl.load_workbook(DATA / "mini_form.xlsx")
    survey = workbook["survey"]
    header = [cell.value for cell in survey[1]]
    for row in survey.iter_rows(min_row=2):
        if row[header.index("name")].value == "cluster":
            row[header.index("constraint")].value = "regex(., '^[A-Z]{2}-[0-9]{2}$')"
    workbook.save(tmp_path / "form.xlsx")
    batch = ingest(DATA / "mini_kobo.csv", load_instrument(tmp_path / "form.xlsx"), secret=SECRET)
    warning = next(p for p in batch.problems if p.code == "rule_not_checked")
    assert warning.severity is Severity.WARNING and warning.column == "cluster"
    assert batch.accepted.height == 8


def test_rows_without_uuid_get_an_id_from_their_content(mini, tmp_path):
    frame = pl.read_csv(DATA / "mini_kobo.csv", infer_schema=False)
    frame.drop("_uuid").write_csv(tmp_path / "no_uuid.csv")
    first = ingest(tmp_path / "no_uuid.csv", mini, secret=SECRET)
    again = ingest(tmp_path / "no_uuid.csv", mini, secret=SECRET)
    assert [p.code for p in first.problems] == ["missing_uuid_column"]
    assert first.accepted.get_column("_uuid").str.starts_with("content-").all()
    assert first.accepted.get_column("_uuid").to_list() == again.accepted.get_column("_uuid").to_list()


def test_ingesting_the_example_export_is_fast(example, tmp_path):
    """Timing is printed, not asserted (brief: no timing assertions)."""
    table = FIXTURE_MAKER.kobo_layout(FIXTURE_MAKER.example_answers(example, 604), example)
    table.write_csv(tmp_path / "baseline.csv")
    started = time.perf_counter()
    batch = ingest(tmp_path / "baseline.csv", example, secret=SECRET, round_name="baseline")
    print(f"\n604-row example export ingested in {time.perf_counter() - started:.3f} s")
    assert batch.accepted.height == 604 and batch.problems == []


def test_fingerprints_ignore_column_order_and_added_empty_fields_but_see_every_change():
    from retour.ingest.fingerprint import DICTIONARY_LIMIT, fingerprints

    frame = pl.DataFrame(
        {
            "sex": ["female", "male", None],
            "age": [19, 27, 31],
            "weight": [12.5, 9.75, None],
            "arrival_date": [None, None, None],
            "comments": [f"note {i}" for i in range(3)],
        },
        schema_overrides={"arrival_date": pl.Date},
    )
    reference = fingerprints(frame)
    assert reference.n_unique() == 3
    assert fingerprints(frame.select(reversed(frame.columns))).equals(reference)
    assert fingerprints(frame.with_columns(pl.lit(None, pl.Int64).alias("children"))).equals(reference)
    changed = fingerprints(frame.with_columns(pl.Series("age", [19, 28, 31])))
    assert (changed == reference).to_list() == [True, False, True]
    moved = fingerprints(frame.rename({"age": "household_size"}))
    assert not (moved == reference).any()
    many = pl.DataFrame({"uuid": [f"id-{i}" for i in range(DICTIONARY_LIMIT + 5)]})
    few = many.head(3)
    assert fingerprints(many).head(3).equals(fingerprints(few))  # DuckDB and Python paths agree


def test_a_groups_relevance_applies_to_every_question_inside_it(tmp_path):
    import openpyxl

    workbook = openpyxl.Workbook()
    survey = workbook.active
    survey.title = "survey"
    for row in [
        ["type", "name", "label", "required", "relevant"],
        ["select_one community", "community", "Community", "yes", ""],
        ["text", "cluster", "Cluster", "yes", ""],
        ["decimal", "weight", "Weight", "yes", ""],
        ["select_one yes_no", "lived_abroad", "Lived abroad", "yes", ""],
        ["begin group", "abroad", "Abroad", "", "${lived_abroad} = 'yes'"],
        ["integer", "months_abroad", "Months abroad", "yes", ""],
        ["select_one yes_no", "sent_money", "Sent money", "", "${months_abroad} > 6"],
        ["end group", "abroad", "", "", ""],
    ]:
        survey.append(row)
    choices = workbook.create_sheet("choices")
    for row in [["list_name", "name", "label"], ["community", "kati", "Kati"],
                ["yes_no", "yes", "Yes"], ["yes_no", "no", "No"]]:
        choices.append(row)
    workbook.save(tmp_path / "form.xlsx")
    form = load_instrument(tmp_path / "form.xlsx")
    assert form.question("sent_money").relevance == "(${lived_abroad} = 'yes') and (${months_abroad} > 6)"
    pl.DataFrame({
        "_uuid": ["u1", "u2", "u3", "u4"],
        "community": ["kati"] * 4, "cluster": ["1"] * 4, "weight": ["1.5"] * 4,
        "lived_abroad": ["yes", "no", "no", "yes"],
        "abroad/months_abroad": ["12", None, "3", None],  # u3 answered inside a skipped group
        "abroad/sent_money": ["yes", None, "no", None],
    }).write_csv(tmp_path / "export.csv")
    found = [(p.code, p.row, p.column) for p in ingest(tmp_path / "export.csv", form).problems]
    assert found == [
        ("answer_not_relevant", 3, "months_abroad"),
        ("answer_not_relevant", 3, "sent_money"),
        ("required_missing", 4, "months_abroad"),  # asked (u4 lived abroad) and left empty
    ]  # u2 skipped the whole group: its empty required answer is not a problem


def test_a_file_mixing_utf8_and_windows_1252_is_refused_not_garbled(mini, tmp_path):
    lines = (DATA / "mini_kobo.csv").read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b",KY-01,", ",Médine-Kati,".encode())  # UTF-8, as Kobo writes it
    lines[2] = lines[2].replace(b",KY-01,", ",Sébénikoro,".encode("cp1252"))  # re-typed in Excel
    (tmp_path / "mixed.csv").write_bytes(b"\n".join(lines))
    with pytest.raises(IngestError, match="mixes two encodings: line 2 is UTF-8 and line 3 is not") as error:
        ingest(tmp_path / "mixed.csv", mini, secret=SECRET)
    assert "save it once as UTF-8" in error.value.hint
    text = (DATA / "mini_kobo.csv").read_text(encoding="utf-8").replace(",KY-01,", ",Médine-Kati,", 1)
    (tmp_path / "cp1252.csv").write_bytes(text.encode("cp1252"))  # all Windows-1252: read as such
    batch = ingest(tmp_path / "cp1252.csv", mini, secret=SECRET)
    assert batch.accepted.get_column("cluster")[0] == "Médine-Kati"
