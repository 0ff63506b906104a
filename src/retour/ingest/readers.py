"""Read a survey export file into a table of text cells with its headers as written.

One reader per source, registered with `@reader(name)`: Kobo and ODK Central CSV, Kobo XLSX. A reader
only decodes the file (encoding, BOM, separator, Excel cells) and drops blank rows and columns; it knows
nothing of the questionnaire. Before parsing, a reader holds the file to the `[ingest]` limits (columns,
cells, unzipped size and compression of a workbook, text per cell; issue 22), so that memory grows with
the data a file holds, never with what a hostile file declares. Matching headers to questions is
`columns.py`; checking values is `checks.py`.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from retour.config import IngestSettings
from retour.errors import IngestError

ROW = "_row"  # 1-based data row number in the source file (the header is row 0)
SEPARATORS = (",", ";", "\t", "|")
# ODK Central (and Briefcase) name their metadata this way; Kobo never does.
_EXPORT_AGAIN = "Export the survey data again from KoboToolbox or ODK Central."
_ODK_HEADERS = frozenset({"KEY", "SubmissionDate", "meta-instanceID", "SubmitterID", "ReviewState"})


@dataclass(frozen=True)
class Table:
    """An export as read: headers as written, every cell as stripped text (null when empty).

    `frame` has one column per header, named `c0, c1, ...` (headers may repeat or be empty), and `_row`.
    """

    headers: tuple[str, ...]
    frame: pl.DataFrame
    encoding: str
    separator: str | None
    blank_rows: int


ReadFunction = Callable[[bytes, Path, IngestSettings], Table]
DEFAULT_LIMITS = IngestSettings()


@dataclass(frozen=True)
class Reader:
    """A registered reader: how to read the file, which files it takes, how its headers name groups."""

    name: str
    read: ReadFunction
    suffixes: tuple[str, ...]
    group_separator: str
    claims: Callable[[Sequence[str]], bool]
    description: str


READERS: dict[str, Reader] = {}


def reader(name: str, *, suffixes: tuple[str, ...], group_separator: str = "/",
           claims: Callable[[Sequence[str]], bool] = lambda headers: True
           ) -> Callable[[ReadFunction], ReadFunction]:
    """Register a reader; `claims(headers)` says whether a file with these headers is of this source."""

    def register(function: ReadFunction) -> ReadFunction:
        if name in READERS:
            raise RuntimeError(f"reader {name} registered twice")
        description = (function.__doc__ or "").strip().splitlines()[0] if function.__doc__ else name
        READERS[name] = Reader(name, function, suffixes, group_separator, claims, description)
        return function

    return register


def file_digest(data: bytes) -> str:
    """SHA-256 of the file's bytes (hex): the same file ingested twice is recognised by it."""
    return hashlib.sha256(data).hexdigest()


def read_bytes(path: Path) -> bytes:
    """The file's bytes, or an IngestError saying why it cannot be read."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise IngestError(f"Export {path} not found.", "Check the path and file name.") from None
    except IsADirectoryError:
        raise IngestError(f"{path} is a folder, not an export file.") from None
    except OSError as error:
        raise IngestError(f"Cannot read {path}: {error.strerror}.") from None


def choose_reader(path: Path, data: bytes, name: str | None = None) -> Reader:
    """The reader named `name`, or the one whose suffix matches and that claims the file's headers."""
    if name is not None:
        if name not in READERS:
            raise IngestError(f"Unknown reader '{name}'.", f"Readers: {', '.join(sorted(READERS))}.")
        return READERS[name]
    suffix = Path(path).suffix.lower()
    candidates = [spec for spec in READERS.values() if suffix in spec.suffixes]
    if not candidates:
        if data[:4] == b"PK\x03\x04":  # a zip container: XLSX saved under another name
            candidates = [spec for spec in READERS.values() if ".xlsx" in spec.suffixes]
        else:
            candidates = [spec for spec in READERS.values() if ".csv" in spec.suffixes]
    if len(candidates) == 1:
        return candidates[0]
    headers = _sniff_headers(data)
    for spec in candidates:
        if spec.name != "kobo_csv" and spec.claims(headers):
            return spec
    return next(spec for spec in candidates if spec.name == "kobo_csv")


def _sniff_headers(data: bytes) -> list[str]:
    text, _ = _decode(data[:65536], partial=True)
    first = _header_line(text)
    return [cell.strip().strip('"') for cell in first.split(_separator(first))]


# ------------------------------------------------------------------------------------------- limits

_XLSX_CHUNK = 16 * 1024 * 1024
_SCAN_CHUNK = 4 * 1024 * 1024
_RATIO_CHECKED_FROM = 1_000_000  # small members (styles, a few rows) may compress far better than data
_CELL_REFERENCE = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,7})"')


def _refuse(path: Path, found: str, setting: str, limit: int) -> IngestError:
    """The one-line refusal of a file over a limit: which file, what was found, the limit, its setting."""
    return IngestError(f"{Path(path).name}: {found}, over the limit of {limit:,} "
                       f"(setting {setting} under [ingest] in retour.toml); nothing was stored.",
                       "If the file is a genuine export, raise that setting and ingest it again.")


def check_csv_limits(data: bytes, separator: str, path: Path, limits: IngestSettings) -> None:
    """IngestError when a CSV (as UTF-8 bytes, without BOM) has more columns or cells than the limits
    allow: columns are counted on the header line (separators outside quotes), rows on line ends (an
    upper bound: a quoted answer may span lines), both without parsing the file."""
    end = data.find(b"\n")
    header = data if end < 0 else data[:end]
    columns = re.sub(rb'"[^"]*"', b"", header).count(separator.encode()) + 1
    if columns > limits.max_columns:
        raise _refuse(path, f"{columns:,} columns in the header", "max_columns", limits.max_columns)
    rows = data.count(b"\n") + (0 if data.endswith(b"\n") else 1) - 1
    if columns * rows > limits.max_cells:
        raise _refuse(path, f"up to {columns * rows:,} cells ({rows:,} lines x {columns:,} columns)",
                      "max_cells", limits.max_cells)


def _runs(chunk: bytes | memoryview, stops: bytes, run: int) -> tuple[int, int]:
    """Longest stretch of `chunk` without a byte of `stops` (counting `run`, the stretch the previous
    chunk ended with), and the stretch this chunk ends with. Vectorised: linear in the chunk's size."""
    view = np.frombuffer(chunk, dtype=np.uint8)
    found = np.zeros(view.size, dtype=bool)
    for stop in stops:
        found |= view == stop
    at = np.flatnonzero(found)
    if at.size == 0:
        return run + view.size, run + view.size
    inner = int(np.diff(at).max()) - 1 if at.size > 1 else 0
    ending = view.size - int(at[-1]) - 1
    return max(run + int(at[0]), inner, ending), ending


def check_csv_cells(data: bytes, separator: str, path: Path, limits: IngestSettings) -> None:
    """IngestError when a stretch between separators or line ends is longer than `max_cell_bytes`: the
    cell holding it is at least that long. Streamed, before parsing. (A quoted cell made mostly of
    separators passes here; `check_cell_lengths` measures it once parsed.)"""
    run = 0
    whole = memoryview(data)
    for start in range(0, len(data), _SCAN_CHUNK):
        longest, run = _runs(whole[start:start + _SCAN_CHUNK], separator.encode() + b"\n", run)
        if longest > limits.max_cell_bytes:
            raise _refuse(path, f"a cell of at least {longest:,} bytes", "max_cell_bytes",
                          limits.max_cell_bytes)


def check_cell_lengths(cells: pl.DataFrame, path: Path, limits: IngestSettings) -> None:
    """IngestError naming the row (0: the header) and length of a cell longer than `max_cell_bytes`."""
    if not cells.width or not cells.height:
        return
    longest = cells.select(pl.all().str.len_bytes().max()).row(0)
    for name, length in zip(cells.columns, longest, strict=True):
        if length is not None and length > limits.max_cell_bytes:
            row = int(cells.get_column(name).str.len_bytes().arg_max() or 0)
            raise _refuse(path, f"a cell of {int(length):,} bytes in row {row}", "max_cell_bytes",
                          limits.max_cell_bytes)


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


def _chunks(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> Iterator[bytes]:
    """A member's unzipped bytes, piece by piece (never more than `file_size`: zipfile stops there)."""
    with archive.open(member) as stream:
        while chunk := stream.read(_XLSX_CHUNK):
            yield chunk


def _scan_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, path: Path, limits: IngestSettings,
                 is_sheet: bool) -> int:
    """Stream one XML member: IngestError on a text run longer than `max_cell_bytes`; for a worksheet,
    the number of cells its cell references span (last row x last column), which the parser allocates."""
    run = last_row = last_column = 0  # run: text since the last '<' or '>' (it may go on in the next chunk)
    tail = b""
    for chunk in _chunks(archive, member):
        longest, run = _runs(chunk, b"<>", run)
        if longest > limits.max_cell_bytes:
            raise _refuse(path, f"a text of at least {longest:,} bytes in {member.filename}",
                          "max_cell_bytes", limits.max_cell_bytes)
        if is_sheet:
            text = tail + chunk
            for letters, row in set(_CELL_REFERENCE.findall(text)):
                last_column = max(last_column, _column_number(letters))
                last_row = max(last_row, int(row))
            tail = text[-32:]
    return last_row * last_column


def check_xlsx_limits(data: bytes, path: Path, limits: IngestSettings) -> None:
    """IngestError when a workbook unzips to more than `max_xlsx_uncompressed_mb` (sizes from the zip
    directory), compresses suspiciously well (a zip bomb), spans more cells than `max_cells` or holds a
    longer text than `max_cell_bytes`: all before the workbook is parsed, reading members as a stream."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return  # not a zip: the reader says the file is not a readable workbook
    with archive:
        members = archive.infolist()
        unzipped = sum(member.file_size for member in members)
        if unzipped > limits.max_xlsx_uncompressed_mb * 1_000_000:
            raise _refuse(path, f"{unzipped // 1_000_000:,} MB once unzipped", "max_xlsx_uncompressed_mb",
                          limits.max_xlsx_uncompressed_mb)
        for member in members:
            ratio = member.file_size // max(member.compress_size, 1)
            if member.file_size > _RATIO_CHECKED_FROM and ratio > limits.max_xlsx_compression_ratio:
                raise _refuse(path, f"{member.filename} unzips {ratio:,} times larger ({member.file_size:,} "
                              "bytes), as a zip bomb does", "max_xlsx_compression_ratio",
                              limits.max_xlsx_compression_ratio)
        for member in members:
            if not member.filename.endswith(".xml"):
                continue
            is_sheet = member.filename.startswith("xl/worksheets/")
            cells = _scan_member(archive, member, path, limits, is_sheet)
            if cells > limits.max_cells:
                raise _refuse(path, f"{member.filename} spans {cells:,} cells (rows x columns)", "max_cells",
                              limits.max_cells)


# ---------------------------------------------------------------------------------------------- CSV


def _decode(data: bytes, partial: bool = False) -> tuple[str, str]:
    """Text of a CSV and the encoding found: UTF-8 (BOM or not), UTF-16 with BOM, else Windows-1252/Latin-1.

    French Excel on Windows saves CSV as Windows-1252, a superset of Latin-1 for printable characters.
    `partial`: `data` is the file's start, which may end inside a UTF-8 character.
    """
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as error:
        if partial and error.start >= len(data) - 3:
            return data[: error.start].decode("utf-8"), "utf-8"
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _header_line(text: str) -> str:
    first, _, rest = text.partition("\n")
    if first.lower().startswith("sep="):  # Excel's hint line
        first = rest.partition("\n")[0]
    return first.rstrip("\r")


def _separator(header_line: str) -> str:
    """The separator that splits the header most often, counting outside quotes; ',' on a tie."""
    counts = dict.fromkeys(SEPARATORS, 0)
    quoted = False
    for character in header_line:
        if character == '"':
            quoted = not quoted
        elif not quoted and character in counts:
            counts[character] += 1
    best = max(SEPARATORS, key=lambda separator: counts[separator])
    return best if counts[best] else ","


def _ragged_line(text: str, separator: str, width: int) -> int | None:
    """Number of the first line (1 = header) with more fields than the header, for the error message."""
    lines = pl.Series("line", text.split("\n"))
    unquoted = lines.str.replace_all(r'"[^"]*"', "")
    too_wide = (unquoted.str.count_matches(separator, literal=True) + 1) > width
    found = too_wide.arg_true()
    return int(found[0]) + 1 if found.len() else None


def _parse(data: bytes, separator: str, path: Path) -> pl.DataFrame:
    """Every cell as text, the header row included (so repeated or empty headers survive)."""
    try:
        return pl.read_csv(io.BytesIO(data), separator=separator, has_header=False, infer_schema=False,
                           quote_char='"', raise_if_empty=False)
    except pl.exceptions.ComputeError as error:
        if "utf-8" in str(error).lower():
            raise
        text, _ = _decode(data)
        if "more fields" not in str(error):
            raise IngestError(f"{path} is not a readable CSV file ({str(error).splitlines()[0]}).") from None
        width = len(_header_line(text).split(separator))
        line = _ragged_line(text, separator, width)
        where = f"line {line}" if line else "a line"
        raise IngestError(f"{path}: {where} has more fields than the header ({width}).",
                          f"A value probably contains an unquoted '{separator}': quote it or remove the "
                          "extra separator, then export again.") from None


def _read_csv(data: bytes, path: Path, limits: IngestSettings) -> Table:
    """Parse UTF-8 bytes as they are (the common case, no copy); other encodings are decoded first.
    Columns and cells are checked against `limits` before parsing, cell lengths right after."""
    encoding = "utf-8"
    if data.startswith(codecs.BOM_UTF8):
        data, encoding = data[3:], "utf-8-sig"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        data, encoding = data.decode("utf-16").encode("utf-8"), "utf-16"
    if b"\x00" in data[:4096]:
        raise IngestError(f"{path} is not a text (CSV) file.",
                          "Export as CSV or XLSX, or name the reader with --reader.")
    head, _ = _decode(data[:65536], partial=True)
    if head.lower().startswith("sep="):
        separator = head[4:5]
        data = data.partition(b"\n")[2]
    else:
        separator = _separator(_header_line(head))
    if not data or data.isspace():  # not data.strip(): that would copy the whole file
        raise IngestError(f"{path} is empty.", _EXPORT_AGAIN)
    check_csv_limits(data, separator, path, limits)
    check_csv_cells(data, separator, path, limits)
    try:
        cells = _parse(data, separator, path)
    except pl.exceptions.ComputeError:  # not UTF-8: Windows-1252 / Latin-1
        _refuse_mixed_encodings(data, path)
        text, encoding = _decode(data)
        cells = _parse(text.encode("utf-8"), separator, path)
    if cells.height == 0:
        raise IngestError(f"{path} is empty.", _EXPORT_AGAIN)
    check_cell_lengths(cells, path, limits)
    _refuse_truncation(data, separator, cells, path)
    headers = ["" if value is None else str(value) for value in cells.row(0)]
    return _tidy(headers, cells.slice(1), encoding, separator)


def _refuse_truncation(data: bytes, separator: str, cells: pl.DataFrame, path: Path) -> None:
    """An IngestError when the file stops in the middle of its last row: no line end after it, and
    fewer fields than the header or a quote left open (a copy or download cut short). Reported as
    truncation, not as answers missing from the last respondent."""
    if cells.height < 2 or data.endswith((b"\n", b"\r")):
        return
    last = data[data.rfind(b"\n") + 1:].decode("utf-8", errors="replace")
    open_quote = last.count('"') % 2 == 1
    fields = re.sub(r'"[^"]*"', "", last).count(separator) + 1
    if not open_quote and fields >= cells.width:
        return
    row = cells.height - 1  # data rows, the header excluded
    line = data.count(b"\n") + 1
    raise IngestError(f"{path} ends in the middle of data row {row} (line {line} of the file, spreadsheet "
                      f"row {row + 1}): it has {min(fields, cells.width)} of the header's {cells.width} "
                      "fields. Was the file cut while copying or downloading?",
                      "Export or copy the file again in full.")


_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def _refuse_mixed_encodings(data: bytes, path: Path) -> None:
    """An IngestError when a file that is not valid UTF-8 also holds UTF-8 characters: decoding it as
    Windows-1252 would garble the UTF-8 ones ('Médine' read as 'MÃ©dine') without anyone noticing.
    (A byte pair of a UTF-8 character almost never occurs in French Windows-1252 text.)"""
    try:
        data.decode("utf-8")
        return
    except UnicodeDecodeError as error:
        bad_line = data.count(b"\n", 0, error.start) + 1
    found = _UTF8_SEQUENCE.search(data)
    if found is None:
        return
    good_line = data.count(b"\n", 0, found.start()) + 1
    raise IngestError(
        f"{path}: the file mixes two encodings: line {good_line} is UTF-8 and line {bad_line} is not "
        "(Windows-1252 or Latin-1), so accented letters would be garbled.",
        "Open the file in a text editor, save it once as UTF-8, and ingest it again (or export it again "
        "from KoboToolbox or ODK Central).")


@reader("kobo_csv", suffixes=(".csv", ".txt", ".tsv"))
def read_kobo_csv(data: bytes, path: Path, limits: IngestSettings = DEFAULT_LIMITS) -> Table:
    """KoboToolbox CSV: ',' or ';', UTF-8 (with or without BOM) or Latin-1, groups as `group/question`."""
    return _read_csv(data, path, limits)


@reader("odk_csv", suffixes=(".csv", ".txt", ".tsv"), group_separator="-",
        claims=lambda headers: bool(_ODK_HEADERS & set(headers)))
def read_odk_csv(data: bytes, path: Path, limits: IngestSettings = DEFAULT_LIMITS) -> Table:
    """ODK Central or Briefcase CSV: groups as `group-question`, metadata KEY, SubmissionDate, instanceID."""
    return _read_csv(data, path, limits)


# --------------------------------------------------------------------------------------------- XLSX


@reader("kobo_xlsx", suffixes=(".xlsx", ".xlsm", ".xls"))
def read_kobo_xlsx(data: bytes, path: Path, limits: IngestSettings = DEFAULT_LIMITS) -> Table:
    """KoboToolbox XLSX (first sheet): numbers and dates arrive as Excel values and are read as text."""
    check_xlsx_limits(data, path, limits)
    try:
        cells = pl.read_excel(io.BytesIO(data), sheet_id=1, has_header=False, infer_schema_length=0,
                              engine="calamine")
    except Exception as error:  # fastexcel raises its own types for a damaged or non-Excel file
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        if "empty" in message.lower() or "no rows" in message.lower():
            raise IngestError(f"{path}: the first sheet is empty.") from None
        raise IngestError(f"{path} is not a readable XLSX workbook ({message}).",
                          "Export the data again as XLSX, or as CSV.") from None
    if cells.height == 0:
        raise IngestError(f"{path}: the first sheet is empty.")
    cells = cells.select(pl.all().cast(pl.Utf8))
    headers = ["" if value is None else str(value) for value in cells.row(0)]
    return _tidy(headers, cells.slice(1), "xlsx", None)


# ----------------------------------------------------------------------------------------- tidying


def _tidy(headers: list[str], cells: pl.DataFrame, encoding: str, separator: str | None) -> Table:
    """Strip cells and headers, turn empty cells into nulls, drop blank rows and blank unnamed columns.

    Only columns that have a value starting or ending with a space (what Excel leaves) are stripped:
    stripping every column of a large export would cost more than reading it.
    """
    names = [f"c{index}" for index in range(len(headers))]
    cells = cells.rename(dict(zip(cells.columns, names, strict=True)))
    padded = cells.select((pl.col(name).str.starts_with(" ") | pl.col(name).str.ends_with(" ")).any()
                          for name in names).row(0) if names and cells.height else ()
    to_strip = {name for name, flagged in zip(names, padded, strict=False) if flagged}
    stripped = cells.select(
        (pl.col(name).str.strip_chars() if name in to_strip else pl.col(name)).alias(name) for name in names
    ).select(
        pl.when(pl.col(name).str.len_bytes() > 0).then(pl.col(name)).otherwise(None).alias(name)
        for name in names
    ).with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    headers = [header.replace("\ufeff", "").strip() for header in headers]
    filled = stripped.select(pl.col(name).is_not_null().sum() for name in names).row(0) if names else ()
    keep = [name for name, header, count in zip(names, headers, filled, strict=True) if header or count]
    blank = ~pl.any_horizontal(pl.col(name).is_not_null() for name in keep) if keep else pl.lit(True)
    blank_rows = stripped.select(blank.sum()).item() if stripped.height else 0
    frame = stripped.filter(~blank).select(ROW, *keep) if blank_rows else stripped.select(ROW, *keep)
    kept_headers = tuple(headers[int(name[1:])] for name in keep)
    renamed = frame.rename({old: f"c{index}" for index, old in enumerate(keep)})
    return Table(headers=kept_headers, frame=renamed,
                 encoding=encoding, separator=separator, blank_rows=int(blank_rows))
