"""Every settings file of the example study, with one value replaced by a value of the wrong type, is
read by the loader of the commands that use it: it either still loads or fails with a RetourError
(printed by the CLI as one `Error: ...` line, followed by the list of problems where a loader reports
them all, exit 1), never a traceback (issue 22)."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomli_w
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retour.cli import main
from retour.errors import RetourError


def _settings(root: Path) -> Any:
    from retour.config import load_project

    return load_project(root)


def _catalogue(root: Path) -> Any:
    from retour.study import _index_catalogue

    return _index_catalogue(_settings(root))


def _index(root: Path) -> Any:
    from retour.study.index import load_index_spec

    return load_index_spec(_settings(root))


def _needs(root: Path) -> Any:
    from retour.study.needs import load_needs_spec

    return load_needs_spec(_settings(root))


def _scores(root: Path) -> Any:
    from retour.study.scores import load_score_weights

    return load_score_weights(_settings(root))


def _registers(root: Path) -> Any:
    from retour.study.needs import load_actor_register

    return load_actor_register(_settings(root), edits=False)


def _labels(root: Path) -> Any:
    from retour.dashboard.labels import load_labels

    return load_labels(_settings(root))


# Each settings file of the example, with the loaders of the commands that read it.
LOADERS: dict[str, tuple[Callable[[Path], Any], ...]] = {
    "retour.toml": (_settings,),
    "index.toml": (_index,),
    "indicators.toml": (_catalogue, _index),
    "needs.toml": (_needs,),
    "score_weights.toml": (_scores,),
    "communities.yaml": (_labels, _needs),
    "actors.yaml": (_registers,),
    "value_chains.yaml": (_registers,),
    "recommendations.yaml": (_registers,),
}


def _read(path: Path) -> Any:
    if path.suffix == ".toml":
        return tomllib.loads(path.read_text(encoding="utf-8"))
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _write(path: Path, data: Any) -> None:
    if path.suffix == ".toml":
        path.write_text(tomli_w.dumps(data), encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _leaves(data: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths (keys and list positions) of every value in a parsed file, containers included."""
    found = [at] if at else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += _leaves(value, (*at, key))
    elif isinstance(data, list):
        for position, value in enumerate(data):
            found += _leaves(value, (*at, position))
    return found


def _wrong(value: Any) -> st.SearchStrategy[Any]:
    """Values of another type than `value` (TOML cannot hold None; YAML can)."""
    text = st.text(min_size=0, max_size=8)
    kinds: list[st.SearchStrategy[Any]] = []
    if not isinstance(value, str):
        kinds.append(text)
    if isinstance(value, bool) or not isinstance(value, int | float):
        kinds.append(st.integers(-3, 3))
        kinds.append(st.floats(-1e3, 1e3, allow_nan=False))
    if not isinstance(value, bool):
        kinds.append(st.booleans())
    if not isinstance(value, list):
        kinds.append(st.lists(st.integers(0, 9), max_size=2))
    if not isinstance(value, dict):
        kinds.append(st.dictionaries(st.sampled_from(["x", "id"]), st.integers(0, 9), max_size=1))
    return st.one_of(kinds)


def _set(data: Any, at: tuple[Any, ...], value: Any) -> None:
    for key in at[:-1]:
        data = data[key]
    data[at[-1]] = value


def _get(data: Any, at: tuple[Any, ...]) -> Any:
    for key in at:
        data = data[key]
    return data


@pytest.fixture(scope="module")
def example_copy(tmp_path_factory) -> Path:
    """The example study as `retour init` makes it; every loader reads it without error."""
    from retour.study import init_study

    root = tmp_path_factory.mktemp("fuzz") / "study"
    init_study(root)
    for loaders in LOADERS.values():
        for load in loaders:
            load(root)
    return root


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_a_wrong_typed_value_is_one_line_or_accepted(name, example_copy):
    original = (example_copy / name).read_text(encoding="utf-8")
    parsed = _read(example_copy / name)
    paths = _leaves(parsed)

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(data=st.data())
    def replace_one_value(data: st.DataObject) -> None:
        at = data.draw(st.sampled_from(paths), label="where")
        value = data.draw(_wrong(_get(parsed, at)), label="value")
        changed = _read(example_copy / name)
        _set(changed, at, value)
        try:
            _write(example_copy / name, changed)
        except (TypeError, ValueError):  # a value the file's format cannot hold (mixed TOML arrays)
            return
        try:
            for load in LOADERS[name]:
                try:
                    load(example_copy)
                except RetourError as error:  # the CLI prints it after one `Error: `
                    assert "Error:" not in str(error) and "Traceback" not in str(error), str(error)
        finally:
            (example_copy / name).write_text(original, encoding="utf-8")

    replace_one_value()


def test_a_wrong_pillar_weight_is_one_error_line(tmp_path, capsys):
    """The case of the issue: `economic = "x"` under [pillar_weights] was a 43-line traceback."""
    from retour.study import init_study

    root = tmp_path / "study"
    init_study(root)
    index = root / "index.toml"
    text = index.read_text(encoding="utf-8")
    assert "economic = 1.0" in text
    index.write_text(text.replace("economic = 1.0", 'economic = "x"'), encoding="utf-8")
    with pytest.raises(RetourError) as raised:
        _index(root)
    assert str(raised.value) == (
        f"{index}: pillar_weights = {{'economic': 'x', 'social': 1.0, 'psychosocial': 1.0}} is not a "
        "table of numbers. Write pillar_weights as a table of numbers, e.g. pillar_weights = "
        "{ economic = 1.0, social = 1.0 }.")
    with pytest.raises(SystemExit) as done:
        main(["index", str(root), "--round", "baseline"])
    err = capsys.readouterr().err
    assert done.value.code == 1 and err.startswith("Error: ") and err.count("Error:") == 1
    assert "pillar_weights" in err and "Traceback" not in err
