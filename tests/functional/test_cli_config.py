"""The CLI frame and ``nfldeploy config`` through the real Typer app."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nfldeploy import __version__
from nfldeploy.cli.app import app

runner = CliRunner()


def _copy_with(example_config: Path, tmp_path: Path, old: str, new: str) -> Path:
    path = tmp_path / "edited_config.json"
    path.write_text(example_config.read_text().replace(old, new))
    return path


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"nfldeploy {__version__}"


def test_validate_example(example_config: Path) -> None:
    result = runner.invoke(app, ["config", "validate", str(example_config)])
    assert result.exit_code == 0, result.output
    assert "nfl_production_v2" in result.stdout


def test_validate_wrong_type_names_key_and_file(example_config: Path, tmp_path: Path) -> None:
    path = _copy_with(example_config, tmp_path, '"hidden_dim": 32', '"hidden_dim": "big"')
    result = runner.invoke(app, ["config", "validate", str(path)])
    assert result.exit_code == 1
    assert "hidden_dim" in result.stderr and str(path) in result.stderr
    assert "Traceback" not in result.output


def test_validate_unknown_key_warns(example_config: Path, tmp_path: Path) -> None:
    path = _copy_with(example_config, tmp_path, '"seed": 42', '"seed": 42, "edge_dropout": 0.2')
    result = runner.invoke(app, ["config", "validate", str(path)])
    assert result.exit_code == 0
    assert "warning" in result.stderr and "edge_dropout" in result.stderr


def test_validate_json_output(example_config: Path) -> None:
    result = runner.invoke(app, ["config", "validate", str(example_config), "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["valid"] is True and data["model"]["future_seq_len"] == 10 and len(data["sha256"]) == 64


def test_missing_argument_is_a_usage_error() -> None:
    assert runner.invoke(app, ["config", "validate"]).exit_code == 2
    assert runner.invoke(app, ["no-such-command"]).exit_code == 2


def test_show_reports_sources(example_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "nfldeploy.toml").write_text('region = "europe-west4"\nmax_instances = 3\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NFLDEPLOY_MAX_INSTANCES", "7")
    result = runner.invoke(app, ["config", "show", str(example_config), "--set", "cpu=2", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    settings = data["settings"]
    assert settings["cpu"] == {"value": 2.0, "source": "flag"}
    assert settings["max_instances"] == {"value": 7, "source": "env:NFLDEPLOY_MAX_INSTANCES"}
    assert settings["region"]["value"] == "europe-west4" and settings["region"]["source"].startswith("file:")
    assert settings["port"] == {"value": 8080, "source": "default"}
    assert data["config"]["experiment_name"] == "nfl_production_v2"


def test_show_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["config", "show", "--set", "region=asia-east1"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "asia-east1" in result.stdout and "flag" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "cpus=2"], "unknown setting(s) in --set: cpus"),
        (["--set", "cpu"], "--set expects KEY=VALUE"),
        (["--set", "min_instances=4", "--set", "max_instances=2"], "must not exceed"),
    ],
)
def test_show_bad_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["config", "show", *args])
    assert result.exit_code == 1
    assert message in result.stderr


def test_console_script_truncated_json_has_no_traceback(example_config: Path, tmp_path: Path) -> None:
    path = tmp_path / "truncated.json"
    path.write_text(example_config.read_text()[:150])
    env = {**os.environ, "NFLDEPLOY_DEBUG": ""}
    proc = subprocess.run(
        [sys.executable, "-m", "nfldeploy", "config", "validate", str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 1
    assert "line" in proc.stderr and "column" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "nfldeploy", "--debug", "config", "validate", str(tmp_path / "missing.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1  # the documented code for a user error, traceback or not
    assert "Traceback" in proc.stderr and "ConfigError" in proc.stderr


def test_an_internal_error_exits_5_with_the_bug_hint_and_brackets_survive(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A bug is not a user error: exit 5, the exception's type and message (taken literally, brackets
    included), and how to get the traceback; with --debug the traceback itself."""
    from nfldeploy.cli import config_cmd

    def broken(path: Path) -> None:
        raise KeyError("[model] missing")

    monkeypatch.setattr(config_cmd, "load_training_config", broken)
    result = CliRunner().invoke(app, ["config", "validate", str(tmp_path / "c.json")])
    assert result.exit_code == 5, result.output
    assert "internal error: KeyError: '[model] missing'" in result.stderr
    assert "this is a bug in nfldeploy" in result.stderr and "--debug" in result.stderr
    debug = CliRunner().invoke(app, ["--debug", "config", "validate", str(tmp_path / "c.json")])
    assert debug.exit_code == 5  # with --debug too (it was 1)
    assert "Traceback" in debug.stderr and "KeyError: '[model] missing'" in debug.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["build", "--runtime", "wasm"],
        ["build", "--kind", "edge"],
        ["serve", "--runtime", "tflite"],
        ["push", "--auth", "password"],
        ["render", "--only", "cloudrun,heroku"],
        ["export", "c.json", "--quantize", "int4"],
        ["export", "c.json", "--formats", "onnx,tflite"],
        ["smoke-test", "--target", "heroku"],
        ["deploy", "--target", "heroku"],
    ],
    ids=lambda args: " ".join(args[:3]),
)
def test_a_value_outside_an_options_choices_is_a_usage_error(args: list[str]) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Invalid value for" in result.output


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["config", "validate"],
        ["export"],
        ["up"],
        ["deploy"],
        ["smoke-test"],
        ["bench"],
        ["logs"],
        ["serve"],
    ],
)
def test_help_shows_no_type_for_flags_and_names_arguments(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output  # flags take no value
    assert "config_path" not in result.output and "export_dir}" not in result.output
    assert "--help" in result.output
