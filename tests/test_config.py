"""Reading a study's settings and register files: a file that is not UTF-8, or a folder where a file
should be, gives one `Error:` line naming the file, the line and the fix, and exit code 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from retour.cli import main
from retour.config import load_project
from retour.errors import ConfigError, SpecError
from retour.textfiles import read_text_file

SAVE = "Save it as UTF-8 (in your editor: Save as, then Encoding: UTF-8) and run the command again."


def _as_latin1(path: Path, prefix: str = "") -> None:
    """Save a file as Windows Latin-1 (cp1252), as a spreadsheet or old editor would."""
    path.write_bytes((prefix + path.read_text(encoding="utf-8")).encode("cp1252", errors="replace"))


def _run(capsys, *args: str) -> list[str]:
    """The lines (blank ones left out: a progress display may leave one) that a failing command prints."""
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    assert exited.value.code == 1
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_latin1_settings_name_the_line_that_is_not_utf8(study_dir, capsys):
    settings = study_dir / "retour.toml"
    _as_latin1(settings)  # line 7: name_fr = "Mali 2018 : sept communautés ..."
    assert _run(capsys, "estimate", str(study_dir)) == [
        f"Error: Settings file {settings}: line 7 is not UTF-8 (byte 0xe9 at column 38). {SAVE}"
    ]


def test_utf16_catalogue_is_one_error_line(study_dir, capsys):
    catalogue = study_dir / "indicators.toml"
    catalogue.write_text(catalogue.read_text(encoding="utf-8"), encoding="utf-16")
    assert _run(capsys, "estimate", str(study_dir)) == [
        f"Error: {catalogue}: File indicators.toml is saved as UTF-16, not UTF-8. {SAVE}"
    ]  # found by the settings check every stage runs first (`retour check` lists the same)


def test_a_folder_where_the_settings_file_should_be(study_dir, capsys):
    settings = study_dir / "retour.toml"
    settings.unlink()
    settings.mkdir()
    assert _run(capsys, "estimate", str(study_dir)) == [
        f"Error: Settings file {settings} is a folder, not a file. Give the path of the file itself."
    ]
    with pytest.raises(ConfigError, match="is a folder"):
        load_project(study_dir)


def _catalogue(project):
    from retour.indicators import load_catalogue
    from retour.schema import load_instrument

    return load_catalogue(project.path("indicators.toml"), load_instrument(project.path("instrument.xlsx")))


def _index(project):
    from retour.study import load_index_spec

    return load_index_spec(project)


def _needs(project):
    from retour.study import load_needs_spec

    return load_needs_spec(project)


def _actors(project):
    from retour.study import load_actor_register

    return load_actor_register(project, edits=False)


def _communities(project):
    from retour.registers import read_yaml

    return read_yaml(project.path("communities.yaml"))


def _targets(project):
    from retour.synth import load_generator

    return load_generator(project.path("generator")).load_targets(project.path("synth_targets.toml"))


def _shifts(project):
    from retour.synth import load_generator

    generator = load_generator(project.path("generator"))
    return generator.load_shifts(project.path("shifts_midterm.toml"), "midterm")


@pytest.mark.parametrize(("name", "what", "read"), [
    ("indicators.toml", "Indicator catalogue", _catalogue),
    ("index.toml", "Index spec", _index),
    ("needs.toml", "File", _needs),
    ("actors.yaml", "Register", _actors),
    ("communities.yaml", "Register", _communities),
    ("synth_targets.toml", "Calibration targets", _targets),
    ("shifts_midterm.toml", "Shifts file", _shifts),
])
def test_every_register_reader_names_the_line_that_is_not_utf8(study_dir, name, what, read):
    project = load_project(study_dir)
    read(project)  # the shipped file reads
    _as_latin1(project.path(name), prefix="# Évaluation 2018\n")
    with pytest.raises(SpecError) as caught:
        read(project)
    where = f"{what} {project.path(name)}"
    assert str(caught.value) == f"{where}: line 1 is not UTF-8 (byte 0xc9 at column 3). {SAVE}"
    project.path(name).unlink()
    project.path(name).mkdir()
    with pytest.raises(SpecError, match=f"{what} .*{name} is a folder, not a file"):
        read(project)


def test_a_utf8_file_saved_with_a_byte_order_mark_reads(study_dir):
    settings = study_dir / "retour.toml"
    settings.write_bytes(b"\xef\xbb\xbf" + settings.read_bytes())
    assert load_project(study_dir).settings.study.id == "mali-2018"
    assert read_text_file(settings, "Settings file").startswith("# Study settings")


def test_a_missing_file_keeps_its_hint(tmp_path):
    with pytest.raises(SpecError) as caught:
        read_text_file(tmp_path / "needs.toml", "File", missing_hint="Copy it from the example study.")
    assert str(caught.value) == f"File {tmp_path / 'needs.toml'} not found. Copy it from the example study."
