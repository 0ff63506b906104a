"""The guide "Your own study" (docs/guide-en.md, docs/guide-fr.md; issue 16) works as written: every
command of its ```sh blocks is run, in order, in an empty folder holding only a questionnaire in
neither shipped example (and, for its fieldwork step, an export of that questionnaire); every edit it
documents (a ```toml before FILE block that becomes the ```toml after FILE block) is applied as
written; the pipeline reaches the fact sheets."""

from __future__ import annotations

import datetime as dt
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from retour.cli import main
from retour.schema import load_instrument
from retour.synth import FormPlan, draw_submissions, write_export
from test_init_from_form import write_form

DOCS = Path(__file__).parent.parent / "docs"
GUIDES = (DOCS / "guide-en.md", DOCS / "guide-fr.md")
FENCE = re.compile(r"^```(\w+)[ \t]*([^\n]*)\n(.*?)^```[ \t]*$", re.M | re.S)


@dataclass(frozen=True)
class Block:
    """One fenced block of the guide: its language, its role (before, after, excerpt or none), the
    file it is about, and its text."""

    language: str
    role: str
    file: str
    text: str


def guide_blocks(path: Path) -> list[Block]:
    blocks = []
    for language, info, text in FENCE.findall(path.read_text(encoding="utf-8")):
        role, _, file = info.strip().partition(" ")
        blocks.append(Block(language, role, file.strip(), text))
    return blocks


def _steps(blocks: list[Block]) -> list[Block]:
    """What the test runs: the sh blocks, the before/after pairs and the excerpts, in order."""
    roles = ("before", "after", "excerpt")
    return [block for block in blocks if block.language == "sh" or block.role in roles]


def _run(line: str, capsys) -> None:
    words = shlex.split(line)
    if words[0] != "retour":
        subprocess.run(words, check=True)  # the guide's shell steps (rm)
        return
    try:
        main(words[1:])
    except SystemExit as stopped:
        if stopped.code:
            pytest.fail(f"`{line}` exited {stopped.code}:\n{capsys.readouterr().err}")


def _fieldwork_export(folder: Path, form: Path) -> Path:
    """A stand-in for the fieldwork export the guide ingests: another draw from the same questionnaire,
    in KoboToolbox's XLSX layout, as `kobo-export.xlsx`."""
    instrument = load_instrument(form)
    plan = FormPlan(rows=240, date=dt.date(2026, 3, 2), community="village", psu="zd", weight="wt",
                    case_id="code_menage")
    frame = draw_submissions(instrument, plan, seed=7)
    paths = write_export(frame, instrument, folder / "export", "fieldwork", "stand-in", "kobo")
    export = next(path for path in paths if path.suffix == ".xlsx")
    return Path(shutil.copyfile(export, folder / "kobo-export.xlsx"))


def test_both_guides_give_the_same_commands_and_edits():
    english, french = (_steps(guide_blocks(path)) for path in GUIDES)
    def run(blocks: list[Block]) -> list[tuple[str, str, str, str]]:
        return [(b.language, b.role, b.file, b.text) for b in blocks if b.language == "sh" or b.role]

    assert run(english) == run(french)
    assert len([block for block in english if block.language == "sh"]) >= 4


@pytest.mark.slow
def test_the_guide_runs_from_a_questionnaire_to_fact_sheets(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    form = write_form(tmp_path / "my-form.xlsx")
    _fieldwork_export(tmp_path, form)
    steps = _steps(guide_blocks(GUIDES[0]))
    commands = edits = 0
    for number, block in enumerate(steps):
        if block.language == "sh":
            for line in block.text.splitlines():
                if line.strip() and not line.lstrip().startswith("#"):
                    _run(line, capsys)
                    commands += 1
        elif block.role == "excerpt":
            text = (tmp_path / block.file).read_text(encoding="utf-8")
            missing = [line for line in block.text.splitlines() if line not in text.splitlines()]
            assert missing == [], f"{block.file} does not have these lines the guide shows: {missing}"
        elif block.role == "before":
            after = steps[number + 1]
            assert (after.role, after.file) == ("after", block.file), "a before block needs its after"
            path = tmp_path / block.file
            text = path.read_text(encoding="utf-8")
            assert text.count(block.text) == 1, f"{block.file} lacks the guide's text (once):\n{block.text}"
            path.write_text(text.replace(block.text, after.text), encoding="utf-8")
            edits += 1
    assert commands >= 14 and edits >= 7
    sheets = sorted(path.relative_to(tmp_path / "my-study" / "out" / "baseline").as_posix()
                    for path in (tmp_path / "my-study" / "out" / "baseline").rglob("factsheet-*.html"))
    assert sheets == [f"{language}/factsheet-{community}.html" for language in ("en", "fr")
                      for community in ("dioro", "kemeni", "sarro", "tamani")]
    english = (tmp_path / "my-study" / "out" / "baseline" / "en" / "factsheet-dioro.html").read_text()
    assert "Have an activity that earns money" in english  # the label the guide's edit wrote
    assert "Synthetic data" not in english  # the fieldwork export, after `synthetic = false`
