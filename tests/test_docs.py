"""Documentation stays in step with the code: every command has help with an example, the generated
CLI and settings references are current, and every registry entry is documented."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _generator():
    spec = importlib.util.spec_from_file_location("generate_docs", ROOT / "scripts" / "generate_docs.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


GENERATOR = _generator()
COMMANDS = GENERATOR.command_names()


def test_the_cli_has_the_commands_users_are_promised():
    promised = {"init", "demo", "form", "synth", "ingest", "problems", "estimate", "index", "score",
                "needs", "actors", "report", "compare", "serve", "users"}
    missing = promised - {name.split()[0] for name in COMMANDS}
    assert not missing, f"commands missing from the CLI: {sorted(missing)}"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command):
    text = GENERATOR.help_text(command)
    assert "Example" in text, f"`retour {command} --help` has no Example block"
    summary = text.split("\n\n")[1].strip() if "\n\n" in text else ""
    assert summary, f"`retour {command} --help` has no description"


@pytest.mark.parametrize("path", sorted(GENERATOR.expected_files()), ids=lambda p: p.name)
def test_generated_reference_is_current(path):
    expected = GENERATOR.expected_files()[path]
    assert path.exists(), f"{path} missing: run python scripts/generate_docs.py"
    assert path.read_text(encoding="utf-8") == expected, f"{path} is stale: run python scripts/generate_docs.py"


def test_every_setting_has_help_text():
    from retour.config import settings_table

    undocumented = [f"{row['section']}.{row['setting']}" for row in settings_table() if not row["help"]]
    assert not undocumented


def test_each_field_of_a_round_is_documented_with_its_help():
    from retour.config import RoundSettings

    settings = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert "One `[[rounds]]` table per entry" in settings
    for name, field in RoundSettings.model_fields.items():
        assert f"| `rounds` | `rounds[].{name}` |" in settings, f"rounds[].{name} is not in docs/settings.md"
        assert field.description.replace("|", "\\|") in settings


def test_the_monitoring_how_to_is_linked_and_its_settings_and_commands_are_real():
    import re
    import tomllib

    from retour.config import Settings

    assert "(docs/monitoring.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
    howto = (ROOT / "docs" / "monitoring.md").read_text(encoding="utf-8")
    (settings_text,) = re.findall(r"```toml\n(.*?)```", howto, re.S)
    settings = Settings.model_validate(tomllib.loads(settings_text))
    assert {r.kind for r in settings.rounds} == {"monitoring"} and settings.design.weight == ""
    commands = [line.split()[1] for block in re.findall(r"```sh\n(.*?)```", howto, re.S)
                for line in block.splitlines() if line.startswith("retour ")]
    assert commands[0] == "form" and set(commands) <= set(COMMANDS)


def test_every_registry_entry_is_documented():
    methodology = (ROOT / "docs" / "methodology.md").read_text(encoding="utf-8")
    from retour.index import aggregate, normalise
    from retour.ingest import readers

    registries = {"normaliser": normalise.NORMALISERS, "aggregator": aggregate.AGGREGATORS,
                  "reader": readers.READERS}
    for kind, registry in registries.items():
        for name in registry:
            assert f"`{name}`" in methodology, f"{kind} `{name}` is not described in docs/methodology.md"
