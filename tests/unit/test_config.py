"""TrainingRunConfig: reading the training project's config JSON as it is written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nfldeploy.config import canonical_sha256, load_training_config, parse_training_config
from nfldeploy.errors import ConfigError


def _example(example_config: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(example_config.read_text())
    return data


def _write(tmp_path: Path, data: dict[str, Any] | str, name: str = "run_config.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_example_config_loads(example_config: Path) -> None:
    config = load_training_config(example_config)
    assert config.experiment_name == "nfl_production_v2"
    assert (config.input_dim, config.hidden_dim, config.heads, config.future_seq_len) == (9, 32, 4, 10)
    assert config.probabilistic and config.modes == 3
    assert config.feature_set == "sincos9"
    assert config.warnings == []
    assert config.source == example_config
    assert len(config.sha256) == 64


def test_training_only_keys_are_kept(example_config: Path) -> None:
    config = load_training_config(example_config)
    assert config.raw["learning_rate"] == 0.0003
    assert config.raw["weeks"] == [1, 2, 3, 4, 5, 6, 7, 8]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("hidden_dim", "big", "hidden_dim"),
        ("heads", 3, "heads (3) must divide hidden_dim (32)"),
        ("future_seq_len", 0, "future_seq_len"),
        ("input_dim", 8, "input_dim must be 9"),
        ("probabilistic", "yes", "probabilistic"),
        ("dropout", 1.5, "dropout"),
        ("num_gnn_layers", 2.5, "num_gnn_layers"),
        ("num_modes", 1, "num_modes must be at least 2"),
        ("experiment_name", 5, "experiment_name"),
    ],
)
def test_bad_values_name_the_key_and_file(
    tmp_path: Path, example_config: Path, key: str, value: Any, expected: str
) -> None:
    data = _example(example_config)
    data[key] = value
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_training_config(path)
    assert expected in info.value.message
    assert str(path) in info.value.message


def test_int_is_accepted_for_a_float_key(tmp_path: Path, example_config: Path) -> None:
    data = _example(example_config)
    data["dropout"] = 0
    assert load_training_config(_write(tmp_path, data)).dropout == 0.0


def test_truncated_json_reports_line_and_column(tmp_path: Path, example_config: Path) -> None:
    path = _write(tmp_path, example_config.read_text()[:200])
    with pytest.raises(ConfigError) as info:
        load_training_config(path)
    assert "line 10, column" in info.value.message
    assert str(path) in info.value.message


def test_unknown_key_is_a_warning_not_an_error(tmp_path: Path, example_config: Path) -> None:
    data = _example(example_config)
    data["graph_pooling"] = "mean"
    config = load_training_config(_write(tmp_path, data))
    assert any("graph_pooling" in warning for warning in config.warnings)
    assert config.raw["graph_pooling"] == "mean"


def test_missing_optional_model_key_uses_default_and_says_so(tmp_path: Path, example_config: Path) -> None:
    data = _example(example_config)
    del data["dropout"]
    config = load_training_config(_write(tmp_path, data))
    assert config.dropout == 0.1
    assert any("dropout" in warning for warning in config.warnings)


def test_missing_required_model_key(tmp_path: Path, example_config: Path) -> None:
    data = _example(example_config)
    del data["hidden_dim"]
    with pytest.raises(ConfigError, match="missing model key 'hidden_dim'"):
        load_training_config(_write(tmp_path, data))


def test_config_without_model_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no model keys"):
        load_training_config(_write(tmp_path, {"experiment_name": "x", "learning_rate": 0.1}))


@pytest.mark.parametrize("text", ["[1, 2]", '"just a string"', "null"])
def test_non_object_json(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError, match="must be a JSON object"):
        load_training_config(_write(tmp_path, text))


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_training_config(tmp_path / "nope.json")
    with pytest.raises(ConfigError, match="is a directory"):
        load_training_config(tmp_path)


def test_binary_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "model.ckpt"
    path.write_bytes(b"\x80\x04\x95\xff\xfe\x00")
    with pytest.raises(ConfigError, match="cannot read"):
        load_training_config(path)


def test_hash_is_stable_under_key_order_and_whitespace(tmp_path: Path, example_config: Path) -> None:
    data = _example(example_config)
    reordered = dict(reversed(list(data.items())))
    compact = _write(tmp_path, json.dumps(reordered, separators=(",", ":")), "a.json")
    pretty = _write(tmp_path, json.dumps(data, indent=4), "b.json")
    assert load_training_config(compact).sha256 == load_training_config(pretty).sha256


def test_hash_changes_with_any_key(example_config: Path) -> None:
    data = _example(example_config)
    base = canonical_sha256(data)
    assert canonical_sha256({**data, "learning_rate": 0.001}) != base
    assert canonical_sha256({**data, "hidden_dim": 128}) != base


@pytest.mark.parametrize(
    "overrides",
    [
        {"input_dim": 7},
        {"num_gnn_layers": 6},
        {"heads": 8},
        {"hidden_dim": 128},
        {"probabilistic": True, "num_modes": 8},
        {"probabilistic": False, "num_modes": 1},
    ],
)
def test_other_model_shapes_of_the_training_project(example_config: Path, overrides: dict[str, Any]) -> None:
    config = parse_training_config({**_example(example_config), **overrides})
    for key, value in overrides.items():
        assert getattr(config, key) == value
    assert config.modes == (config.num_modes if config.probabilistic else 1)
