"""The server's settings from NFLSERVE_* variables (and, for this release, the old NFLDEPLOY_* names)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nfldeploy.errors import ConfigError
from nfldeploy.serving.config import ServeConfig


def test_defaults_and_types(tmp_path: Path) -> None:
    config = ServeConfig.from_env(
        {
            "NFLSERVE_MODEL_DIR": str(tmp_path),
            "NFLSERVE_MAX_BATCH": "8",
            "NFLSERVE_MAX_WAIT_MS": "2.5",
            "NFLSERVE_BATCHING": "false",
            "NFLSERVE_MODEL_THREAD": "yes",
        }
    )
    assert config.model_dir == tmp_path and config.max_batch == 8 and config.max_wait_ms == 2.5
    assert config.batching is False and config.model_thread is True and config.api_keys == ()


def test_keys_from_env_and_file(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("# rotated 2026-11\nfile-key-1\n\nfile-key-2\n")
    config = ServeConfig.from_env({"NFLSERVE_API_KEYS": "env-a, env-b", "NFLSERVE_API_KEYS_FILE": str(keys)})
    assert config.api_keys == ("env-a", "env-b", "file-key-1", "file-key-2")
    assert "env-a" not in repr(config)  # keys never show in a repr (logs, tracebacks)


def test_overrides_win_and_bad_values_name_the_variable(tmp_path: Path) -> None:
    assert ServeConfig.from_env({"NFLSERVE_RUNTIME": "onnx"}, runtime="torchscript").runtime == "torchscript"
    with pytest.raises(ConfigError, match="NFLSERVE_QUEUE_SIZE='many'"):
        ServeConfig.from_env({"NFLSERVE_QUEUE_SIZE": "many"})
    with pytest.raises(ConfigError, match="NFLSERVE_API_KEYS_FILE"):
        ServeConfig.from_env({"NFLSERVE_API_KEYS_FILE": str(tmp_path / "missing")})


def test_the_old_prefix_is_still_read_and_named_for_a_warning() -> None:
    config = ServeConfig.from_env(
        {"NFLDEPLOY_MAX_BATCH": "4", "NFLSERVE_QUEUE_SIZE": "9", "NFLDEPLOY_API_KEYS": "old-key"}
    )
    assert (config.max_batch, config.queue_size, config.api_keys) == (4, 9, ("old-key",))
    assert config.legacy_names == ("NFLDEPLOY_MAX_BATCH", "NFLDEPLOY_API_KEYS")
    both = ServeConfig.from_env({"NFLDEPLOY_MAX_BATCH": "4", "NFLSERVE_MAX_BATCH": "8"})
    assert both.max_batch == 8 and both.legacy_names == ()  # the new name wins, nothing to warn about


def test_the_app_warns_about_each_old_name(caplog: pytest.LogCaptureFixture) -> None:
    from nfldeploy.serving.app import create_app

    with caplog.at_level("WARNING", logger="nfldeploy"):
        create_app(ServeConfig.from_env({"NFLDEPLOY_CACHE_SIZE": "0"}))
    assert any(
        "NFLDEPLOY_CACHE_SIZE is the old name of NFLSERVE_CACHE_SIZE" in record.getMessage()
        for record in caplog.records
    )


@pytest.mark.parametrize("value", ["abc", "-1", "61", "nan"])
def test_a_bad_drain_window_is_one_line_and_exit_1(value: str) -> None:
    import subprocess
    import sys

    env = {"PATH": "/usr/bin:/bin", "NFLSERVE_DRAIN_SECONDS": value}
    done = subprocess.run(
        [sys.executable, "-m", "nfldeploy.serving"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1 and "NFLSERVE_DRAIN_SECONDS must be a number of seconds" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
