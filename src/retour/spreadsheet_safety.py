"""Keep text cells of the CSV and XLSX files retour writes from running as spreadsheet formulas.

A cell whose text starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read by Excel,
LibreOffice and Google Sheets as a formula (OWASP "CSV injection": `=HYPERLINK(...)` leaking data,
`@SUM(1+1)*cmd|' /C calc'!A0` running a program). Survey answers, override reasons and register names
are typed by people outside the study team, so every writer passes its text through here: such a cell
gets a leading single quote, which spreadsheets show as text. Only text columns are touched: a number
stays a number (a numeric column is never escaped), and the text "-12" is escaped only where it is text.
This module writes no file; it only changes values.
"""

from __future__ import annotations

import polars as pl

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"
_FORMULA_PATTERN = r"^[=+\-@\t\r]"


def neutralise_text(value: object) -> object:
    """`value` with a leading `'` when it is text a spreadsheet would read as a formula; anything else
    (numbers, dates, None, safe text) unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return ESCAPE + value
    return value


def neutralise_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with every text cell (Utf8, or categories, which become Utf8) neutralised as
    `neutralise_text` does; other columns and the column order unchanged. Column names that look like
    formulas are escaped too, since they become the header row."""
    text_columns = [name for name, dtype in frame.schema.items()
                    if dtype == pl.Utf8 or isinstance(dtype, (pl.Categorical, pl.Enum))]
    escaped = frame.with_columns(
        pl.when(pl.col(name).cast(pl.Utf8).str.contains(_FORMULA_PATTERN))
        .then(pl.lit(ESCAPE) + pl.col(name).cast(pl.Utf8))
        .otherwise(pl.col(name).cast(pl.Utf8))
        .alias(name)
        for name in text_columns
    )
    renamed = {name: ESCAPE + name for name in escaped.columns if name.startswith(FORMULA_STARTS)}
    return escaped.rename(renamed) if renamed else escaped


def neutralise_records(records: list[dict[str, object]]) -> list[dict[str, object]]:
    """Records (one dict per row) with every text value neutralised: for writers that take rows."""
    return [{str(neutralise_text(key)): neutralise_text(value) for key, value in record.items()}
            for record in records]
