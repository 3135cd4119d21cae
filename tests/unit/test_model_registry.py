"""Architectures by name or import path."""

from __future__ import annotations

from pathlib import Path

import pytest

from nfldeploy.config import load_training_config
from nfldeploy.errors import ConfigError
from nfldeploy.model import build_model


def test_reference_model_from_config_or_dict(example_config: Path) -> None:
    config = load_training_config(example_config)
    model = build_model(config)
    assert type(model).__name__ == "TrajectoryGAT" and model.modes == 3
    assert type(build_model(config.raw)).__name__ == "TrajectoryGAT"


def test_custom_model_by_import_path(example_config: Path) -> None:
    model = build_model(load_training_config(example_config), "custom_models:FromConfigModel")
    assert model.built_from_config


@pytest.mark.parametrize(
    ("architecture", "message"),
    [
        ("transformer", "unknown architecture"),
        ("no_such_pkg.mod:Cls", "cannot import"),
        ("custom_models:Nope", "no class"),
    ],
)
def test_bad_architectures(example_config: Path, architecture: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_model(load_training_config(example_config), architecture)
