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


def test_study_files_reference_lists_every_key_each_parser_accepts():
    from dataclasses import fields

    from retour.indicators import INDICATOR_KEYS, Indicator

    assert INDICATOR_KEYS == {item.name for item in fields(Indicator)}  # the table holds the dataclass
    reference = (ROOT / "docs" / "study-files.md").read_text(encoding="utf-8")
    for file, table, keys in GENERATOR.STUDY_FILE_TABLES:
        assert f"## `{file}`" in reference and f"### {table}" in reference
        for key in GENERATOR.study_file_keys(keys):
            assert key.meaning and key.type, f"{file} {table}: key {key.name} has no meaning or type"
            assert f"| `{key.name}` | {key.type} |" in reference


def test_a_key_the_reference_does_not_list_is_refused_with_the_listed_keys(tmp_path):
    from retour.errors import SpecError
    from retour.index.spec import INDEX_KEY_DOCS, IndexSpec

    index = tmp_path / "index.toml"
    index.write_text('normalisation = "minmax"\nnormalization = "rank"\n', encoding="utf-8")
    with pytest.raises(SpecError) as refused:
        IndexSpec.from_toml(index, ())
    assert "unknown key(s) normalization." in refused.value.message
    listed = sorted(key.name for key in INDEX_KEY_DOCS)
    assert refused.value.hint == f"Keys allowed: {', '.join(listed)}."


def test_a_key_the_reference_does_not_list_is_refused_in_every_study_file(example_dir):
    """Each parser names the file, the entry, the key and the keys docs/study-files.md lists (issue 16)."""
    import tomllib

    from retour import actors, needs
    from retour.errors import SpecError
    from retour.indicators import CATALOGUE_KEY_DOCS, CHOICE_SHARE_KEY_DOCS, GROUP_KEY_DOCS, check_catalogue
    from retour.keydocs import allowed_keys_hint
    from retour.report.narrative import REGISTER_KEY_DOCS, parse_communities
    from retour.schema import load_instrument

    raw = tomllib.loads((example_dir / "indicators.toml").read_text(encoding="utf-8"))
    raw["groups"][0]["colour"] = "red"
    raw["choice_shares"][0]["pillar"] = "social"
    raw["indicator"] = []
    _, problems = check_catalogue(raw, load_instrument(example_dir / "instrument.xlsx"), "indicators.toml")
    assert {(p.source, p.column, p.hint) for p in problems} == {
        ("indicators.toml", "groups[1].colour", allowed_keys_hint(GROUP_KEY_DOCS)),
        ("indicators.toml", "choice_shares[1].pillar", allowed_keys_hint(CHOICE_SHARE_KEY_DOCS)),
        ("indicators.toml", "indicator", allowed_keys_hint(CATALOGUE_KEY_DOCS)),
    }

    issue = {"id": "water", "label_fr": "Eau", "label_en": "Water", "dimension": "social", "notes": ""}
    with pytest.raises(SpecError) as refused:
        needs.parse_spec({"issues": [issue]})
    assert refused.value.message.splitlines()[1] == (
        "  - needs.toml, entry 'water', field 'notes': is not a key of an issue. Hint: Keys allowed: "
        "dimension, id, indicators, label_en, label_fr, note_en, note_fr, outside_reach, rules.")
    with pytest.raises(SpecError) as refused:
        parse_communities({"communities": [{"id": "k", "name": "K", "type": "rural"}], "typos": {}})
    assert refused.value.message.splitlines()[1] == (
        "  - communities.yaml, field 'typos': is not a top-level key of the register. Hint: "
        + allowed_keys_hint(REGISTER_KEY_DOCS))

    problems = []
    actors.parse_actors({"actors": [{"id": "a", "name": "A", "kind": "ngo", "scope": "national",
                                     "website": "x"}]}, [], [], problems)
    actors.parse_recommendations({"recommendations": [{"id": "r", "comunity": "k"}]}, [], [], [], problems)
    unknown = [p.describe() for p in problems if "is not a key" in p.message]
    assert unknown == [
        "actors.yaml, entry 'a', field 'website': is not a key of an actor. Hint: "
        + allowed_keys_hint(actors.ACTOR_KEY_DOCS),
        "recommendations.yaml, entry 'r', field 'comunity': is not a key of a recommendation. Hint: "
        + allowed_keys_hint(actors.RECOMMENDATION_KEY_DOCS),
    ]
