"""A damaged store (cut short, or 80 KB overwritten) is one line naming it and the way back; the copies
retour keeps in backups/ are taken, rotated and restored; study files are private (issue 22)."""

from __future__ import annotations

import shutil
import socket
import stat
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from retour.cli import main

BLOCK = 262_144  # DuckDB's block size
HEADERS = 3 * 4096  # DuckDB's file header and two database headers come before block 0
OVERWRITTEN = 80 * 1024


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The example study with its synthetic baseline ingested (built once; tests copy it)."""
    from retour.config import load_project
    from retour.study import ingest_export, init_study, synthesise

    root = tmp_path_factory.mktemp("built") / "study"
    init_study(root)
    project = load_project(root)
    run = synthesise(project, "baseline")
    export = next(path for path in run.paths if path.suffix == ".csv")
    ingest_export(project, export, "baseline")
    shutil.rmtree(root / "backups", ignore_errors=True)
    return root


@pytest.fixture
def study(built, tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv("RETOUR_SECRET", raising=False)
    monkeypatch.setenv("COLUMNS", "80")
    target = tmp_path / "study"
    shutil.copytree(built, target)
    return target


def _truncate(store: Path) -> None:
    with store.open("r+b") as file:
        file.truncate(store.stat().st_size // 2)


def _overwrite(store: Path, offset: int) -> None:
    with store.open("r+b") as file:
        file.seek(offset)
        file.write(b"\xab" * OVERWRITTEN)


def _middle_of_submissions(store: Path) -> int:
    """Where, in the file, the middle block of the submissions table starts."""
    con = duckdb.connect(str(store), read_only=True)
    try:
        blocks = [row[0] for row in con.execute(
            "SELECT DISTINCT block_id FROM pragma_storage_info('submissions') "
            "WHERE block_id >= 0 ORDER BY 1").fetchall()]
    finally:
        con.close()
    return HEADERS + blocks[len(blocks) // 2] * BLOCK


def _damage_truncated(store: Path) -> None:
    _truncate(store)


def _damage_catalogue(store: Path) -> None:
    _overwrite(store, HEADERS)  # the first blocks: the store's catalogue of tables


def _damage_submissions(store: Path) -> None:
    _overwrite(store, _middle_of_submissions(store))


def _run(arguments: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(arguments)
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out, err


def _damaged_line(study: Path, kept: str | None) -> str:
    store = study / "retour.duckdb"
    rebuild = (f"rebuild it: move retour.duckdb away and ingest the exports again "
               f"(retour ingest {study} FILE --round ROUND).")
    if kept:
        way_back = (f"Restore the copy retour kept ({kept}) with `retour backup {study} --restore`, "
                    f"or {rebuild}")
    else:
        way_back = f"No copy is kept in {study / 'backups'}: restore one of your own, or {rebuild}"
    return f"Error: The store {store} is damaged and cannot be read. {way_back}\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


COMMANDS: dict[str, Callable[[Path], list[str]]] = {
    "problems": lambda study: ["problems", str(study)],
    "estimate": lambda study: ["estimate", str(study), "--round", "baseline"],
    "ingest": lambda study: ["ingest", str(study), str(study / "data" / "mali-2018-baseline-synthetic.xlsx"),
                             "--round", "baseline"],
    "serve": lambda study: ["serve", str(study), "--port", str(_free_port())],
}


@pytest.mark.parametrize("damage", [_damage_truncated, _damage_catalogue], ids=["truncated", "overwritten"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_damaged_store_is_one_line_naming_it_and_the_way_back(study, capsys, command, damage):
    damage(study / "retour.duckdb")
    code, out, err = _run(COMMANDS[command](study), capsys)
    assert (code, out, err) == (1, "", _damaged_line(study, None))


@pytest.mark.parametrize("command", ["estimate", "ingest", "serve"])
def test_damage_inside_a_table_is_found_by_the_commands_that_read_it(study, capsys, command):
    main(["backup", str(study)])
    kept = next((study / "backups").iterdir()).name
    capsys.readouterr()
    _damage_submissions(study / "retour.duckdb")
    code, out, err = _run(COMMANDS[command](study), capsys)
    assert (code, out, err) == (1, "", _damaged_line(study, kept))


def test_ingest_keeps_a_copy_first_and_a_damaged_store_is_never_copied(study, capsys):
    main(COMMANDS["ingest"](study))
    capsys.readouterr()
    (copy,) = (study / "backups").iterdir()
    assert copy.name.startswith("retour-") and copy.suffix == ".duckdb"
    con = duckdb.connect(str(copy), read_only=True)
    assert con.execute("SELECT count(*) FROM batches").fetchall() == [(1,)]  # taken before the second batch
    con.close()
    _damage_submissions(study / "retour.duckdb")
    code, _, err = _run(["backup", str(study)], capsys)
    assert (code, err) == (1, _damaged_line(study, copy.name))
    assert list((study / "backups").iterdir()) == [copy]


def test_backups_keep_the_newest_as_set(study, capsys):
    settings = study / "retour.toml"
    settings.write_text(settings.read_text(encoding="utf-8") + "\n[store]\nbackups_kept = 2\n",
                        encoding="utf-8")
    taken = []
    for _ in range(3):
        main(["backup", str(study)])
        taken.append(capsys.readouterr().err.strip().rsplit(" ", 1)[-1].rstrip("."))
    kept = sorted(path.name for path in (study / "backups").iterdir())
    assert kept == [Path(name).name for name in taken[1:]]
    assert all(line.startswith(str(study / "backups" / "retour-")) for line in taken)


def test_no_copy_when_backups_kept_is_0(study, capsys):
    settings = study / "retour.toml"
    settings.write_text(settings.read_text(encoding="utf-8") + "\n[store]\nbackups_kept = 0\n",
                        encoding="utf-8")
    main(COMMANDS["ingest"](study))
    assert not (study / "backups").exists()


def test_restore_puts_the_newest_copy_back_and_keeps_the_damaged_store_aside(study, capsys):
    main(["backup", str(study)])
    kept = next((study / "backups").iterdir())
    capsys.readouterr()
    _damage_truncated(study / "retour.duckdb")
    code, _, err = _run(["problems", str(study)], capsys)
    assert (code, err) == (1, _damaged_line(study, kept.name))
    main(["backup", str(study), "--restore"])
    assert capsys.readouterr().err == f"Restored {kept} as {study / 'retour.duckdb'}.\n"
    aside = [file.name for file in study.iterdir() if file.name.startswith("retour.duckdb.replaced-")]
    assert len(aside) == 1
    main(["problems", str(study), "--format", "json"])
    assert capsys.readouterr().out.startswith("[")
    con = duckdb.connect(str(study / "retour.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM submissions").fetchall()[0][0] > 500
    con.close()


def test_restore_refuses_a_damaged_copy_and_leaves_the_store(study, capsys):
    main(["backup", str(study)])
    kept = next((study / "backups").iterdir())
    capsys.readouterr()
    _damage_submissions(kept)
    before = (study / "retour.duckdb").read_bytes()
    code, _, err = _run(["backup", str(study), "--restore", kept.name], capsys)
    assert (code, err) == (1, f"Error: The copy {kept} is damaged too. "
                              f"Restore another one: retour backup {study} --restore FILE\n")
    assert (study / "retour.duckdb").read_bytes() == before


def test_restore_without_a_copy_says_how_to_rebuild(study, capsys):
    code, _, err = _run(["backup", str(study), "--restore"], capsys)
    assert (code, err) == (1, f"Error: No copy of the store is kept in {study / 'backups'}. Rebuild the "
                              "store: move retour.duckdb away and ingest the exports again "
                              f"(retour ingest {study} FILE --round ROUND).\n")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_retour_creates_are_private(study, capsys):
    (study / "retour.duckdb").chmod(0o644)  # a store made by an earlier version
    main(COMMANDS["ingest"](study))
    main(["problems", str(study), "--csv"])
    capsys.readouterr()
    assert _mode(study / "retour.duckdb") == 0o600
    assert _mode(study / "backups") == 0o700
    assert {_mode(file) for file in (study / "backups").iterdir()} == {0o600}
    assert _mode(study / "out") == 0o700
    assert _mode(study / "out" / "cleaning-log.csv") == 0o600
    assert _mode(study / ".retour-secret") == 0o600


def test_private_files_false_keeps_the_system_modes(study, capsys):
    import os

    settings = study / "retour.toml"
    settings.write_text(settings.read_text(encoding="utf-8") + "\n[store]\nprivate_files = false\n",
                        encoding="utf-8")
    try:
        main(["problems", str(study), "--csv"])
        umask = os.umask(0)
        os.umask(umask)
        assert umask & 0o077 != 0o077  # back to the umask the process started with
        assert _mode(study / "out") == 0o777 & ~umask
        assert _mode(study / "out" / "cleaning-log.csv") == 0o666 & ~umask
    finally:
        from retour.private_files import keep_files_private

        keep_files_private(True)
