"""The server's settings from NFLDEPLOY_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from nfldeploy.errors import ConfigError
from nfldeploy.serving.config import ServeConfig


def test_defaults_and_types(tmp_path: Path) -> None:
    config = ServeConfig.from_env(
        {
            "NFLDEPLOY_MODEL_DIR": str(tmp_path),
            "NFLDEPLOY_MAX_BATCH": "8",
            "NFLDEPLOY_MAX_WAIT_MS": "2.5",
            "NFLDEPLOY_BATCHING": "false",
            "NFLDEPLOY_MODEL_THREAD": "yes",
        }
    )
    assert config.model_dir == tmp_path and config.max_batch == 8 and config.max_wait_ms == 2.5
    assert config.batching is False and config.model_thread is True and config.api_keys == ()


def test_keys_from_env_and_file(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("# rotated 2026-11\nfile-key-1\n\nfile-key-2\n")
    config = ServeConfig.from_env(
        {"NFLDEPLOY_API_KEYS": "env-a, env-b", "NFLDEPLOY_API_KEYS_FILE": str(keys)}
    )
    assert config.api_keys == ("env-a", "env-b", "file-key-1", "file-key-2")
    assert "env-a" not in repr(config)  # keys never show in a repr (logs, tracebacks)


def test_overrides_win_and_bad_values_name_the_variable(tmp_path: Path) -> None:
    assert ServeConfig.from_env({"NFLDEPLOY_RUNTIME": "onnx"}, runtime="torchscript").runtime == "torchscript"
    with pytest.raises(ConfigError, match="NFLDEPLOY_QUEUE_SIZE='many'"):
        ServeConfig.from_env({"NFLDEPLOY_QUEUE_SIZE": "many"})
    with pytest.raises(ConfigError, match="NFLDEPLOY_API_KEYS_FILE"):
        ServeConfig.from_env({"NFLDEPLOY_API_KEYS_FILE": str(tmp_path / "missing")})
