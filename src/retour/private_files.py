"""Keep the files retour writes in a study folder readable by their owner only (issue 22).

The store, its backups, the study secrets and everything under out/ hold people's answers. Loading a
study whose `[store] private_files` is on (the default) sets the process's umask to 077, so every file
the process creates from then on is 0600 and every folder 0700, whichever module writes it. Files a
study already had keep their mode, except the store, which `retour.store` narrows on each opening.
This module changes file modes only; it writes no file.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_UMASK = 0o077
_state: dict[str, object] = {"private": True, "umask": None}


def keep_files_private(private: bool) -> None:
    """Make what this process creates from now on private to its owner (or, when False, go back to
    the umask the process started with)."""
    _state["private"] = private
    current = os.umask(PRIVATE_UMASK)
    if _state["umask"] is None:
        _state["umask"] = current
    started_with = int(_state["umask"])  # type: ignore[call-overload]
    os.umask(started_with | PRIVATE_UMASK if private else started_with)


def files_are_private() -> bool:
    """Whether files retour creates are to be private (the last study loaded said so, or by default)."""
    return bool(_state["private"])


def make_private(path: Path, folder: bool = False) -> None:
    """Narrow one file (0600) or folder (0700) retour made, when files are to be private."""
    if files_are_private():
        path.chmod(0o700 if folder else 0o600)
