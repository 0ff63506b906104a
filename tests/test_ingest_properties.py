"""Property tests: whatever is done to a valid export, ingest ends with an IngestError or with every
non-blank row either accepted or quarantined — never a traceback, never a row lost."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retour.errors import IngestError
from retour.ingest import ingest
from retour.schema import load_instrument

DATA = Path(__file__).parent / "data"
INSTRUMENT = load_instrument(DATA / "mini_form.xlsx")
VALID = pl.read_csv(DATA / "mini_kobo.csv", infer_schema=False)
COLUMNS = VALID.columns
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

cell_values = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "yes",
            "no",
            "1",
            "0",
            "True",
            "12",
            "34",
            "-3",
            "1e9",
            "2018-02-30",
            "43164",
            "12/03/2018",
            "kayes",
            "Kayes",
            "female",
            "health none",
            "x y z",
            "uuid:abc",
            "NaN",
            "14.5 -11.2",
            "91 200",
            "Très motivé",
            '"quoted"',
            "a;b",
            "a,b",
            "\u00a0",
        ]
    ),
    st.text(max_size=12),
)
edits = st.lists(
    st.tuples(st.integers(0, VALID.height - 1), st.sampled_from(COLUMNS), cell_values), max_size=12
)


def _ingest(frame: pl.DataFrame, separator: str, encoding: str, blank_rows: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.csv"
        text = frame.write_csv(separator=separator, null_value="")
        if blank_rows:
            text += (separator * (frame.width - 1) + "\n") * blank_rows
        try:
            path.write_bytes(text.encode(encoding))
        except UnicodeEncodeError:
            path.write_bytes(text.encode("utf-8"))
        expected = (
            frame.select(
                pl.any_horizontal(
                    pl.col(name).str.strip_chars().str.len_bytes() > 0 for name in frame.columns
                )
            )
            .to_series()
            .sum()
        )
        try:
            batch = ingest(path, INSTRUMENT, round_name="baseline", secret=b"s")
        except IngestError as error:
            assert str(error) and "\n" not in str(error)
            return
        assert batch.rows_read == batch.accepted.height + batch.quarantined.height
        assert batch.rows_read == expected
        blocked = {p.row for p in batch.problems if p.severity.value == "blocking"}
        if None not in blocked:
            assert set(batch.quarantined.get_column("_row").to_list()) == blocked


@pytest.mark.slow
@SETTINGS
@given(
    edits=edits,
    separator=st.sampled_from([",", ";"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
    blank_rows=st.integers(0, 3),
)
def test_edited_cells_never_lose_a_row(edits, separator, encoding, blank_rows):
    frame = VALID
    for row, column, value in edits:
        frame = frame.with_columns(
            pl.when(pl.int_range(pl.len()) == row).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
        )
    _ingest(frame, separator, encoding, blank_rows)


@pytest.mark.slow
@SETTINGS
@given(
    dropped=st.sets(st.sampled_from(COLUMNS), max_size=12),
    order=st.randoms(use_true_random=False),
    duplicated=st.lists(st.integers(0, VALID.height - 1), max_size=3),
    stray=st.booleans(),
)
def test_dropped_shuffled_duplicated_and_stray_columns_never_lose_a_row(dropped, order, duplicated, stray):
    frame = VALID.drop(sorted(dropped))
    if not frame.width:
        return
    columns = list(frame.columns)
    order.shuffle(columns)
    frame = pl.concat([frame.select(columns), *[frame.select(columns).slice(row, 1) for row in duplicated]])
    if stray:
        frame = frame.with_columns(pl.lit("?").alias("remarque"))
    _ingest(frame, ",", "utf-8", 0)


@pytest.mark.slow
@SETTINGS
@given(flips=st.lists(st.tuples(st.integers(0, 3000), st.integers(0, 255)), min_size=1, max_size=20))
def test_damaged_bytes_give_an_error_or_every_row(flips):
    data = bytearray((DATA / "mini_kobo.csv").read_bytes())
    for position, byte in flips:
        data[position % len(data)] = byte
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.csv"
        path.write_bytes(bytes(data))
        try:
            batch = ingest(path, INSTRUMENT, round_name="baseline", secret=b"s")
        except IngestError as error:
            assert "\n" not in str(error)
            return
        assert batch.rows_read == batch.accepted.height + batch.quarantined.height
