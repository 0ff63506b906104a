"""Write every stored result of a round as tables: one XLSX workbook per language and CSV files.

The workbook has one sheet of estimates per theme of the indicator catalogue, then the gaps, the index
scores, the rank probabilities, the needs, and a sheet of notes with the stamp; headers are frozen and
filterable, proportions formatted as percentages. Sheet names fit Excel's 31 characters: a title too
long is cut to fit, with its full title in the sheet's first row. Theme names come from the catalogue.
CSV files keep stable snake_case columns and both languages' labels. A value resting on fewer than
`min_cell` respondents (`suppressed`) is never written: its estimate, standard error, interval and
design effect are blank in CSV and "—" in the workbook.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter

from retour.index.tables import rank_probability_table
from retour.report.context import stamp_text, synthetic_note
from retour.report.data import ReportData
from retour.report.i18n import N_, SUPPRESSED, Formatter
from retour.spreadsheet_safety import neutralise_frame, neutralise_text

VALUE_COLUMNS = ("estimate", "se", "ci_low", "ci_high", "deff")
GAP_VALUE_COLUMNS = ("difference", "se", "ci_low", "ci_high", "statistic", "p_value", "p_adjusted")
LEVEL_LABELS = {
    "priority": N_("Priority"),
    "important": N_("Important"),
    "outside_reach": N_("Outside direct reach"),
    "none": N_("Not a priority"),
}
SHEET_NAME_LIMIT = 31  # Excel refuses longer sheet names
PILLAR_LABELS = {
    "economic": N_("Economic"),
    "social": N_("Social"),
    "psychosocial": N_("Psychosocial"),
    "composite": N_("Composite"),
}


def theme_title(data: ReportData, fmt: Formatter, theme: str) -> str:
    """A catalogue theme's name in the reader's language (`[themes]` of indicators.toml), else its id;
    indicators without a theme are "Other indicators"."""
    texts = data.themes.get(theme, {})
    if texts:
        return texts.get(fmt.language) or next(iter(texts.values()))
    return fmt._("Other indicators") if theme == "other" else theme


def group_words(data: ReportData, fmt: Formatter, group_id: str, level: str | None = None) -> str:
    """A catalogue group's label, or with `level` that level's label, in the reader's language; "All"
    for the whole sample; the id for a group the catalogue lacks."""
    if (level or group_id) == "all":
        return fmt._("All")
    group = next((g for g in data.groups if g.id == group_id), None)
    if group is None:
        return level or group_id
    return group.level_label(level, fmt.language) if level else group.label(fmt.language)


_NOT_IN_SHEET_NAMES = str.maketrans({"/": "-", "\\": "-", ":": " ", "?": "", "*": "", "[": "(", "]": ")"})


def sheet_name(title: str, suffix: str = "") -> str:
    """`title` + `suffix` within SHEET_NAME_LIMIT characters; a title too long is cut after its last
    whole word that fits (mid-word only when one word is longer than the limit) and ends with "…"."""
    room = SHEET_NAME_LIMIT - len(suffix)
    if len(title) <= room:
        return title + suffix
    cut = title[: room - 1]
    boundary = max(cut.rfind(" "), cut.rfind("_"), cut.rfind("-"))
    return (cut[:boundary] if boundary > 0 else cut).rstrip(" _-") + "…" + suffix


def _probabilities(frame: pl.DataFrame | None) -> pl.DataFrame:
    """Stored rank probabilities (community_id, pillar, rank, probability) without the round column."""
    if frame is None or frame.is_empty():
        return pl.DataFrame(schema={"community_id": pl.Utf8, "pillar": pl.Utf8, "rank": pl.Int64,
                                    "probability": pl.Float64})
    return frame.drop("round", strict=False)


def blank_suppressed(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """The frame with `columns` set to null on rows flagged `suppressed`."""
    if frame.is_empty() or "suppressed" not in frame.columns:
        return frame
    present = [c for c in columns if c in frame.columns]
    return frame.with_columns(
        [pl.when(pl.col("suppressed")).then(None).otherwise(pl.col(c)).alias(c) for c in present]
    )


def labelled_estimates(data: ReportData) -> pl.DataFrame:
    """Stored estimates with suppressed values blanked and the catalogue's labels, kind and theme."""
    if data.estimates.is_empty():
        return data.estimates
    catalogue = data.indicators.select("indicator_id", "label_fr", "label_en", "kind", "theme")
    frame = blank_suppressed(data.estimates.drop("round", strict=False), VALUE_COLUMNS)
    frame = frame.join(catalogue, on="indicator_id", how="left").with_columns(
        pl.col("theme").fill_null("other"), pl.col("kind").fill_null("proportion")
    )
    order = {c.id: i for i, c in enumerate(data.communities)}
    return (
        frame.with_columns(
            pl.col("community_id").replace_strict(order, default=-1, return_dtype=pl.Int64).alias("_order")
        )
        .sort("theme", "indicator_id", "_order", "group_dimension", "group")
        .drop("_order")
    )


def write_csv(data: ReportData, folder: Path, rank_probabilities: pl.DataFrame | None = None) -> list[Path]:
    """estimates.csv, gaps.csv, index_scores.csv, rank_probabilities.csv (the stored
    `index_rank_probabilities`) and needs.csv, those with rows, each with the stamp."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = {
        "estimates": labelled_estimates(data),
        "gaps": blank_suppressed(data.gaps.drop("round", strict=False), GAP_VALUE_COLUMNS),
        "index_scores": data.index_scores.drop("round", strict=False),
        "rank_probabilities": _probabilities(rank_probabilities).sort("pillar", "community_id", "rank"),
        "needs": data.needs.drop("round", strict=False),
    }
    # Every output carries the stamp: in a CSV file, as trailing columns repeated on each row.
    english = Formatter("en")
    stamp = [pl.lit(stamp_text(data, english)).alias("stamp")]
    if data.synthetic:
        stamp.append(pl.lit(synthetic_note(data, english)).alias("data_note"))
    written = []
    for name, frame in tables.items():
        if frame.is_empty():
            continue
        path = folder / f"{name}.csv"
        dated = frame.with_columns(pl.col(pl.Datetime).dt.to_string("%Y-%m-%dT%H:%M:%S"), *stamp)
        neutralise_frame(dated).write_csv(path)
        written.append(path)
    return written


class _Workbook:
    """A workbook with the report's formats (header, percent, decimals, suppressed)."""

    def __init__(self, path: Path, fmt: Formatter) -> None:
        # Text is written as text: never read as a formula or a link (names and reasons come from people).
        self.book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False})
        self.fmt = fmt
        self.header = self.book.add_format(
            {
                "bold": True,
                "bg_color": "#16324F",
                "font_color": "#FFFFFF",
                "text_wrap": True,
                "valign": "top",
                "border": 1,
            }
        )
        self.percent = self.book.add_format({"num_format": "0.0%"})
        self.number = self.book.add_format({"num_format": "0.000"})
        self.integer = self.book.add_format({"num_format": "0"})
        self.text = self.book.add_format({"text_wrap": False})
        self.suppressed = self.book.add_format({"align": "center", "font_color": "#5F6B78"})
        self.title = self.book.add_format({"bold": True, "font_size": 12})
        self.names: set[str] = set()

    def sheet(self, title: str, short: str | None = None) -> tuple[Any, int]:
        """A new sheet named `title`, or `short` when the title is too long for a sheet name, and its
        first free row: 1 when the name is not the whole title, which is then written in that row."""
        fits = len(title) <= SHEET_NAME_LIMIT
        wanted = (title if fits or not short else short).translate(_NOT_IN_SHEET_NAMES)
        name, number = sheet_name(wanted), 2
        while name.lower() in self.names:
            name = sheet_name(wanted, f" {number}")
            number += 1
        self.names.add(name.lower())
        sheet = self.book.add_worksheet(name)
        if name == title:
            return sheet, 0
        sheet.write(0, 0, title, self.title)
        return sheet, 1

    def table(
        self,
        title: str,
        headers: Sequence[str],
        rows: Sequence[Sequence[tuple[Any, Any]]],
        widths: Sequence[int],
        short: str | None = None,
    ) -> None:
        """A sheet: frozen header row, autofilter, each cell written with its own format (the full
        title above the headers when the sheet's name is shorter)."""
        sheet, top = self.sheet(title, short)
        for column, (header, width) in enumerate(zip(headers, widths, strict=True)):
            sheet.write(top, column, neutralise_text(header), self.header)
            sheet.set_column(column, column, width)
        for row_number, row in enumerate(rows, start=top + 1):
            for column, (value, cell_format) in enumerate(row):
                if value is None:
                    continue
                sheet.write(row_number, column, neutralise_text(value), cell_format)
        sheet.freeze_panes(top + 1, 0)
        sheet.autofilter(top, 0, top + max(len(rows), 1), len(headers) - 1)

    def close(self) -> None:
        self.book.close()


def _estimate_rows(book: _Workbook, data: ReportData, frame: pl.DataFrame) -> list[list[tuple[Any, Any]]]:
    fmt = book.fmt
    rows = []
    for row in frame.iter_rows(named=True):
        proportion = row["kind"] != "mean"
        value_format = book.percent if proportion else book.number
        label = data.indicator(row["indicator_id"]).label(fmt.language)
        community = (
            fmt._("Whole sample")
            if row["community_id"] == "all"
            else data.community_name(row["community_id"])
        )
        cells: list[tuple[Any, Any]] = [
            (community, book.text),
            (group_words(data, fmt, row["group_dimension"]), book.text),
            (group_words(data, fmt, row["group_dimension"], row["group"]), book.text),
            (label or row["indicator_id"], book.text),
            (row["indicator_id"], book.text),
        ]
        for column in ("estimate", "se", "ci_low", "ci_high"):
            if row["suppressed"]:
                cells.append((SUPPRESSED, book.suppressed))
            else:
                cells.append((row[column], value_format))
        cells += [
            (row["n"], book.integer),
            (SUPPRESSED, book.suppressed) if row["suppressed"] else (row["deff"], book.number),
            (fmt._("yes") if row["suppressed"] else fmt._("no"), book.text),
        ]
        rows.append(cells)
    return rows


def _write_workbook(data: ReportData, path: Path, fmt: Formatter, rank_probabilities: pl.DataFrame) -> Path:
    book = _Workbook(path, fmt)
    estimates = labelled_estimates(data)
    headers = [
        fmt._("Community"),
        fmt._("Breakdown"),
        fmt._("Group"),
        fmt._("Indicator"),
        fmt._("Indicator id"),
        fmt._("Estimate"),
        fmt._("Standard error"),
        fmt._("CI low"),
        fmt._("CI high"),
        fmt._("Respondents (n)"),
        fmt._("Design effect"),
        fmt._("Suppressed"),
    ]
    widths = [20, 16, 16, 48, 26, 10, 10, 10, 10, 10, 10, 10]
    if not estimates.is_empty():
        for theme in estimates["theme"].unique(maintain_order=True).to_list():
            rows = _estimate_rows(book, data, estimates.filter(pl.col("theme") == theme))
            book.table(theme_title(data, fmt, theme), headers, rows, widths)
    _gap_sheet(book, data)
    _index_sheet(book, data)
    _rank_sheet(book, data, rank_probabilities)
    _needs_sheet(book, data)
    _notes_sheet(book, data)
    book.close()
    return path


def _gap_sheet(book: _Workbook, data: ReportData) -> None:
    if data.gaps.is_empty():
        return
    fmt = book.fmt
    rows = []
    for row in blank_suppressed(data.gaps, GAP_VALUE_COLUMNS).iter_rows(named=True):
        info = data.indicator(row["indicator_id"])
        value_format = book.number if info.kind == "mean" else book.percent
        hidden = bool(row.get("suppressed"))
        rows.append(
            [
                (
                    fmt._("Whole sample")
                    if row["community_id"] == "all"
                    else data.community_name(row["community_id"]),
                    book.text,
                ),
                (group_words(data, fmt, row["group_dimension"], row["group_a"]), book.text),
                (group_words(data, fmt, row["group_dimension"], row["group_b"]), book.text),
                (info.label(fmt.language), book.text),
                *[
                    ((SUPPRESSED, book.suppressed) if hidden else (row[c], value_format))
                    for c in ("difference", "ci_low", "ci_high")
                ],
                *[
                    ((SUPPRESSED, book.suppressed) if hidden else (row[c], book.number))
                    for c in ("p_value", "p_adjusted")
                ],
                (row.get("n_a"), book.integer),
                (row.get("n_b"), book.integer),
            ]
        )
    book.table(
        fmt._("Gaps"),
        [
            fmt._("Community"),
            fmt._("Group A"),
            fmt._("Group B"),
            fmt._("Indicator"),
            fmt._("Difference (A − B)"),
            fmt._("CI low"),
            fmt._("CI high"),
            fmt._("p-value"),
            fmt._("Adjusted p-value (BH)"),
            fmt._("n (A)"),
            fmt._("n (B)"),
        ],
        rows,
        [20, 16, 16, 48, 12, 10, 10, 10, 12, 8, 8],
    )


def _index_sheet(book: _Workbook, data: ReportData) -> None:
    if data.index_scores.is_empty():
        return
    fmt = book.fmt
    rows = [
        [
            (data.community_name(r["community_id"]), book.text),
            (fmt._(PILLAR_LABELS.get(r["pillar"], r["pillar"])), book.text),
            (r["score"], book.number),
            (r.get("score_low"), book.number),
            (r.get("score_high"), book.number),
            (r["rank"], book.integer),
            (r.get("rank_low"), book.integer),
            (r.get("rank_high"), book.integer),
        ]
        for r in data.index_scores.iter_rows(named=True)
    ]
    book.table(
        fmt._("Index"),
        [
            fmt._("Community"),
            fmt._("Pillar"),
            fmt._("Score"),
            fmt._("Score low"),
            fmt._("Score high"),
            fmt._("Rank"),
            fmt._("Rank low"),
            fmt._("Rank high"),
        ],
        rows,
        [20, 14, 10, 10, 10, 8, 8, 8],
    )


def _rank_sheet(book: _Workbook, data: ReportData, probabilities: pl.DataFrame) -> None:
    """Per pillar and community (ordered as Tableau 1), its rank and the probability of each rank."""
    if probabilities.is_empty() or data.index_scores.is_empty():
        return
    fmt = book.fmt
    pillars = tuple(data.index_scores["pillar"].unique(maintain_order=True).to_list())
    table = rank_probability_table(probabilities, data.index_scores.drop("round", strict=False), pillars)
    shares = [c for c in table.columns if c.startswith("p_rank_")]
    rows = [
        [
            (fmt._(PILLAR_LABELS.get(r["pillar"], r["pillar"])), book.text),
            (r["rank"], book.integer),
            (data.community_name(r["community_id"]), book.text),
            *[(r[c], book.percent) for c in shares],
        ]
        for r in table.iter_rows(named=True)
    ]
    headers = [fmt._("Pillar"), fmt._("Rank"), fmt._("Community")]
    headers += [fmt._("Rank {rank}", rank=c.removeprefix("p_rank_")) for c in shares]
    book.table(fmt._("Rank probabilities"), headers, rows, [14, 8, 20, *[9] * len(shares)])


def _needs_sheet(book: _Workbook, data: ReportData) -> None:
    if data.needs.is_empty():
        return
    fmt = book.fmt
    rows = []
    for r in data.needs.iter_rows(named=True):
        label = r.get(f"issue_label_{fmt.language}") or r["issue_id"]
        evidence = {"fr": r.get("evidence_fr")}.get(fmt.language) or r.get("evidence")  # `evidence`: English
        rows.append(
            [
                (data.community_name(r["community_id"]), book.text),
                (label, book.text),
                (fmt._(LEVEL_LABELS.get(r["level"], r["level"])), book.text),
                (evidence or "", book.text),
                (fmt._("yes") if r.get("overridden") else fmt._("no"), book.text),
                (r.get("override_why") or "", book.text),
            ]
        )
    book.table(
        fmt._("Needs"),
        [
            fmt._("Community"),
            fmt._("Issue"),
            fmt._("Level"),
            fmt._("Evidence"),
            fmt._("Overridden"),
            fmt._("Reason for the override"),
        ],
        rows,
        [20, 24, 18, 70, 10, 40],
    )


def _notes_sheet(book: _Workbook, data: ReportData) -> None:
    fmt = book.fmt
    lines = [
        data.settings.study.title(fmt.language),
        stamp_text(data, fmt),
        synthetic_note(data, fmt),
        fmt._("Fewer than {min_cell} respondents: the value is not published.", min_cell=data.min_cell)
        + f" ({SUPPRESSED})",
        fmt._(
            "Proportions are shares of respondents (0 to 100 %); intervals are {level} confidence intervals.",
            level=fmt.percent(data.settings.estimation.confidence),
        ),
        fmt._(
            "Rank probabilities: the share of the survey-bootstrap draws in which a community took each "
            "rank; the further they spread, the less sure its place in the ranking."
        ),
    ]
    sheet, top = book.sheet(fmt._("Notes"))
    sheet.set_column(0, 0, 120)
    for row, line in enumerate((line for line in lines if line), start=top):
        sheet.write(row, 0, line)


def write_tables(data: ReportData, folder: Path, languages: Sequence[str] = ("fr", "en"),
                 rank_probabilities: pl.DataFrame | None = None) -> list[Path]:
    """Write the round's tables under `folder`: `tables-<lang>.xlsx` per language and the CSV files.

    `rank_probabilities` is the round's stored `index_rank_probabilities` (none: no such sheet or file)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    probabilities = _probabilities(rank_probabilities)
    written = [
        _write_workbook(data, folder / f"tables-{language}.xlsx", Formatter(language), probabilities)
        for language in languages
    ]
    return written + write_csv(data, folder, probabilities)
