"""DeploySettings: flag > env > file > default, each value with its source."""

from __future__ import annotations

from pathlib import Path

import pytest

from nfldeploy.errors import ConfigError
from nfldeploy.settings import DeploySettings, load_settings


def test_defaults_when_nothing_is_given(tmp_path: Path) -> None:
    resolved = load_settings(cwd=tmp_path, environ={})
    assert resolved.settings == DeploySettings()
    assert set(resolved.sources.values()) == {"default"}
    assert resolved.settings_file is None


def test_precedence_flag_over_env_over_file(tmp_path: Path) -> None:
    (tmp_path / "nfldeploy.toml").write_text(
        'region = "europe-west1"\ncpu = 2\nmemory = "4Gi"\nport = 9000\n'
    )
    environ = {"NFLDEPLOY_CPU": "4", "NFLDEPLOY_MEMORY": "8Gi", "NFLDEPLOY_UNRELATED": "x"}
    resolved = load_settings({"cpu": 1.5, "port": None}, cwd=tmp_path, environ=environ)
    settings, sources = resolved.settings, resolved.sources
    assert settings.cpu == 1.5 and sources["cpu"] == "flag"
    assert settings.memory == "8Gi" and sources["memory"] == "env:NFLDEPLOY_MEMORY"
    assert settings.region == "europe-west1" and sources["region"].startswith("file:")
    assert settings.port == 9000 and sources["port"].startswith("file:")  # a None flag is "not given"
    assert settings.timeout == 300 and sources["timeout"] == "default"


def test_a_setting_named_nfldeploy_is_not_prefixed_twice(tmp_path: Path) -> None:
    (tmp_path / "nfldeploy.toml").write_text('nfldeploy_wheel = "file.whl"\n')
    resolved = load_settings(cwd=tmp_path, environ={"NFLDEPLOY_WHEEL": "env.whl"})
    assert resolved.settings.nfldeploy_wheel == "env.whl"
    assert resolved.sources["nfldeploy_wheel"] == "env:NFLDEPLOY_WHEEL"


def test_pyproject_tool_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.nfldeploy]\nservice_name = "my-svc"\n'
    )
    resolved = load_settings(cwd=tmp_path, environ={})
    assert resolved.settings.service_name == "my-svc"
    assert resolved.settings_file == tmp_path / "pyproject.toml"


def test_nfldeploy_toml_wins_over_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.nfldeploy]\nservice_name = "from-pyproject"\n')
    (tmp_path / "nfldeploy.toml").write_text('service_name = "from-toml"\n')
    assert load_settings(cwd=tmp_path, environ={}).settings.service_name == "from-toml"


def test_unknown_file_key_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "nfldeploy.toml").write_text("cpus = 2\n")
    with pytest.raises(ConfigError, match=r"unknown setting.*cpus"):
        load_settings(cwd=tmp_path, environ={})


def test_invalid_value_names_key_and_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(cwd=tmp_path, environ={"NFLDEPLOY_MEMORY": "lots"})
    assert "memory (from env:NFLDEPLOY_MEMORY)" in info.value.message


def test_min_above_max_instances(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"min_instances \(5\) must not exceed max_instances \(2\)"):
        load_settings({"min_instances": 5, "max_instances": 2}, cwd=tmp_path, environ={})


def test_bad_toml(tmp_path: Path) -> None:
    (tmp_path / "nfldeploy.toml").write_text("cpu = = 2\n")
    with pytest.raises(ConfigError, match="cannot read settings"):
        load_settings(cwd=tmp_path, environ={})


def test_explicit_settings_file(tmp_path: Path) -> None:
    path = tmp_path / "prod.toml"
    path.write_text("max_instances = 50\n")
    assert load_settings(settings_file=path, environ={}).settings.max_instances == 50
    with pytest.raises(ConfigError, match="not found"):
        load_settings(settings_file=tmp_path / "missing.toml", environ={})


def test_memory_mib() -> None:
    assert DeploySettings(memory="2Gi").memory_mib == 2048
    assert DeploySettings(memory="512Mi").memory_mib == 512


def test_renamed_settings_are_accepted_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "nfldeploy.toml").write_text('architecture = "arm64"\nruntime = "onnx"\n')
    resolved = load_settings(cwd=tmp_path, environ={})
    assert resolved.settings.lambda_architecture == "arm64"
    assert any("'architecture' is now 'lambda_architecture'" in w for w in resolved.warnings)
    assert any("'runtime' is gone" in w for w in resolved.warnings)
    from_env = load_settings(cwd=tmp_path / "none", environ={"NFLDEPLOY_ARCHITECTURE": "arm64"})
    assert from_env.settings.lambda_architecture == "arm64" and from_env.warnings
    flagged = load_settings({"architecture": "arm64"}, cwd=tmp_path / "none", environ={})
    assert flagged.settings.lambda_architecture == "arm64"


def test_the_serving_containers_runtime_variable_does_not_disturb_the_settings(tmp_path: Path) -> None:
    resolved = load_settings(cwd=tmp_path, environ={"NFLDEPLOY_RUNTIME": "onnx_int8"})
    assert resolved.warnings == () and "runtime" not in DeploySettings.model_fields
