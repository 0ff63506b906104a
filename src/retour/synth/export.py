"""Write synthetic submissions the way KoboToolbox or ODK Central exports them, marked as synthetic.

Kobo layout (XLSX and CSV): headers are `group/question` (each question's `group_path`); a select_multiple
is one space-separated column followed by one 0/1 column per choice (`group/question/choice`, empty when
not asked); metadata columns `_id, _uuid, _submission_time, _index` close the row. ODK layout (CSV, as
ODK Central exports it): `SubmissionDate` first, headers `group-question`, a select_multiple as one
space-separated column, then `meta-instanceID` and `KEY` (`uuid:...`). File names end in `-synthetic`,
the XLSX's document properties say so, and a README in the folder lists what was written. Output is
byte-for-byte the same for the same frame. The frame holds one typed column per field plus `_uuid` and
`_submission_time`, whichever generator made it.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import polars as pl
import xlsxwriter

from retour.schema import Instrument

README = "README-synthetic.md"
LAYOUTS = ("kobo", "odk")
_FIXED_TIME = dt.datetime(2018, 3, 5, 0, 0, 0)  # document date, fixed so files are reproducible


def kobo_table(frame: pl.DataFrame, instrument: Instrument) -> pl.DataFrame:
    """Submissions (one column per field) laid out as a Kobo export with `group/question` headers."""
    columns: list[pl.Series] = []
    for question in instrument.questions:
        if question.name not in frame.columns:
            continue
        header = question.path
        values = frame.get_column(question.name)
        if values.dtype == pl.Date:
            values = values.dt.strftime("%Y-%m-%d")
        columns.append(values.rename(header))
        if question.type == "select_multiple":
            tokens = values.str.split(" ")
            for choice in question.choice_names:
                ticked = (
                    pl.when(values.is_null())
                    .then(None)
                    .otherwise(tokens.list.contains(choice).cast(pl.Int64))
                )
                columns.append(pl.select(ticked).to_series().rename(f"{header}/{choice}"))
    n = frame.height
    columns += [
        pl.Series("_id", range(1, n + 1), dtype=pl.Int64),
        frame.get_column("_uuid"),
        frame.get_column("_submission_time").dt.strftime("%Y-%m-%dT%H:%M:%S"),
        pl.Series("_index", range(1, n + 1), dtype=pl.Int64),
    ]
    return pl.DataFrame(columns)


def odk_table(frame: pl.DataFrame, instrument: Instrument) -> pl.DataFrame:
    """Submissions laid out as an ODK Central CSV export: `group-question` headers, `uuid:` ids."""
    instance = pl.lit("uuid:") + frame.get_column("_uuid")
    columns: list[pl.Series | pl.Expr] = [
        frame.get_column("_submission_time").dt.strftime("%Y-%m-%dT%H:%M:%S.000Z").alias("SubmissionDate")
    ]
    for question in instrument.questions:
        if question.name not in frame.columns:
            continue
        values = frame.get_column(question.name)
        if values.dtype == pl.Date:
            values = values.dt.strftime("%Y-%m-%d")
        columns.append(values.rename("-".join((*question.group_path, question.name))))
    columns += [instance.alias("meta-instanceID"), instance.alias("KEY")]
    return frame.select(columns)


def _xlsx_bytes(table: pl.DataFrame, sheet: str, note: str) -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"strings_to_numbers": False, "strings_to_urls": False,
                                            "in_memory": True})
    workbook.set_properties(
        {
            "title": f"{sheet} (synthetic)",
            "subject": note,
            "comments": note,
            "keywords": "synthetic",
            "author": "retour synth",
            "created": _FIXED_TIME,
        }
    )
    worksheet = workbook.add_worksheet(sheet[:31])
    worksheet.write_row(0, 0, table.columns)
    for index, column in enumerate(table.columns):
        values = table.get_column(column)
        # empty cells are left out; each kind of cell goes straight to its writer
        write = worksheet.write_number if values.dtype.is_numeric() else worksheet.write_string
        items = values.to_list()
        for row in values.is_not_null().arg_true().to_list():
            write(row + 1, index, items[row])
    workbook.close()
    return buffer.getvalue()


def _update_readme(directory: Path, names: list[str], note: str) -> Path:
    stem = Path(names[0]).stem
    path = directory / README
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    header = ["# Synthetic data / Données synthétiques", ""]
    entries = sorted(
        {line for line in lines if line.startswith("- ") and f"`{stem}." not in line}
        | {"- " + ", ".join(f"`{name}`" for name in names) + f": {note}"}
    )
    path.write_text("\n".join([*header, *entries]) + "\n", encoding="utf-8")
    return path


def export_files(frame: pl.DataFrame, instrument: Instrument, stem: str, note: str,
                 layout: str = "kobo") -> dict[str, bytes]:
    """File name -> content of what `write_export` writes (`stem`-synthetic.xlsx and .csv in the Kobo
    layout, `stem`-synthetic.csv in the ODK layout), in memory."""
    stem = stem if stem.endswith("-synthetic") else f"{stem}-synthetic"
    if layout == "odk":
        return {f"{stem}.csv": odk_table(frame, instrument).write_csv().encode("utf-8")}
    if layout != "kobo":
        raise ValueError(f"unknown export layout {layout!r}; layouts: {', '.join(LAYOUTS)}")
    table = kobo_table(frame, instrument)
    return {
        f"{stem}.xlsx": _xlsx_bytes(table, instrument.form_id or "data", note),
        f"{stem}.csv": table.write_csv().encode("utf-8"),
    }


def write_export(
    frame: pl.DataFrame, instrument: Instrument, directory: Path, stem: str, note: str, layout: str = "kobo"
) -> list[Path]:
    """Write the export of `export_files` into `directory`, and the README; return the files written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, content in export_files(frame, instrument, stem, note, layout).items():
        (directory / name).write_bytes(content)
        paths.append(directory / name)
    readme = _update_readme(directory, [path.name for path in paths], note)
    return [*paths, readme]
