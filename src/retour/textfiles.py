"""Read a study's hand-written text files (settings, catalogues, registers, shifts) as UTF-8.

Every such file goes through `read_text_file`, so a file saved in another encoding, a folder given
where a file is expected, or a missing file gives the same one-line error naming the file, the line
that is not UTF-8 and how to fix it. Parsing what the text means is the caller's job.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from retour.errors import RetourError, SpecError

FROM_EXAMPLE = "Create it, or copy it from the example study (retour init DIR)."
SAVE_AS_UTF8 = "Save it as UTF-8 (in your editor: Save as, then Encoding: UTF-8) and run the command again."
_UTF16_MARKS = (b"\xff\xfe", b"\xfe\xff")


def read_text_file(path: Path | str, what: str, error: type[RetourError] = SpecError,
                   missing_hint: str = FROM_EXAMPLE) -> str:
    """Text of a UTF-8 file (a leading byte-order mark is dropped); `error` with one line naming the file.

    `what` names the file for the user ("Settings file", "Indicator catalogue", ...).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise error(f"{what} {path} not found.", missing_hint) from None
    except IsADirectoryError:
        raise error(f"{what} {path} is a folder, not a file.", "Give the path of the file itself.") from None
    except OSError as problem:
        raise error(f"{what} {path} cannot be read ({problem.strerror or problem}).",
                    "Check that the file exists and that you may read it.") from None
    if data.startswith(_UTF16_MARKS):
        raise error(f"{what} {path} is saved as UTF-16, not UTF-8.", SAVE_AS_UTF8)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as problem:
        line = data.count(b"\n", 0, problem.start) + 1
        column = problem.start - (data.rfind(b"\n", 0, problem.start) + 1) + 1
        byte = data[problem.start]
        raise error(f"{what} {path}: line {line} is not UTF-8 (byte 0x{byte:02x} at column {column}).",
                    SAVE_AS_UTF8) from None


def read_toml_file(path: Path | str, what: str, error: type[RetourError] = SpecError,
                   missing_hint: str = FROM_EXAMPLE) -> dict[str, Any]:
    """Parsed content of a UTF-8 TOML file; `error` naming the file (and line) when it cannot be read."""
    text = read_text_file(path, what, error, missing_hint)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as problem:
        raise error(f"{path}: not valid TOML ({problem}).") from None
