"""``nfldeploy doctor``: each miss is reported with what to do, and no secret is ever printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nfldeploy.cli.app import app
from services import without_aws_credentials

runner = CliRunner()


def _checks(output: str) -> dict[str, dict[str, str]]:
    return {check["name"]: check for check in json.loads(output)["checks"]}


def test_doctor_without_docker_fails_with_a_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    result = runner.invoke(app, ["doctor", "--json"])
    assert result.exit_code == 1
    docker = _checks(result.stdout)["docker"]
    assert docker["status"] == "fail"
    assert "dockerd" in docker["hint"]


def test_doctor_reports_cloud_credentials_without_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    secret = "wJalrXUtnFEMI-very-secret-K7MDENG"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEKEYID0001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    adc = tmp_path / "adc.json"
    adc.write_text(json.dumps({"type": "authorized_user", "refresh_token": secret}))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    result = runner.invoke(app, ["doctor", "--json"])
    checks = _checks(result.stdout)
    assert checks["aws credentials"]["status"] == "ok" and "env" in checks["aws credentials"]["detail"]
    assert checks["gcp credentials"]["status"] == "ok"
    assert secret not in result.output and "AKIAEXAMPLEKEYID0001" not in result.output


def test_doctor_missing_credentials_are_warnings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    without_aws_credentials(monkeypatch, tmp_path)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing-adc.json"))
    result = runner.invoke(app, ["doctor", "--json"])
    checks = _checks(result.stdout)
    assert (
        checks["aws credentials"]["status"] == "warn" and "AWS_PROFILE" in checks["aws credentials"]["hint"]
    )
    assert checks["gcp credentials"]["status"] == "warn"
    assert "missing-adc.json" in checks["gcp credentials"]["detail"]


def test_doctor_unreachable_registry_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from services import free_port

    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["doctor", "--json", "--set", f"registry=127.0.0.1:{free_port()}"])
    assert result.exit_code == 1
    assert _checks(result.stdout)["registry"]["status"] == "fail"


def test_the_table_prints_extras_hints_whole_on_80_columns() -> None:
    """``nfldeploy[export]`` is text, not markup, and a long hint wraps instead of being cut."""
    from rich.console import Console

    from nfldeploy.cli.doctor_cmd import doctor_table
    from nfldeploy.doctor import WARN, Check

    console = Console(width=80, record=True)
    long_hint = "gcloud auth application-default login (or set GOOGLE_APPLICATION_CREDENTIALS to a key file)"
    checks = [
        Check(
            "extra export",
            WARN,
            "not installed (missing torch, onnx); needed for export",
            "pip install 'nfldeploy[export]'",
        ),
        Check("gcp credentials", WARN, "none found", long_hint),
    ]
    console.print(doctor_table(checks))
    text = console.export_text()
    assert "nfldeploy[export]" in text  # printed as it is (it was eaten as a markup tag)
    assert "…" not in text  # nothing cut off: long cells wrap
    cells = "".join(line.split("│")[-2].strip() for line in text.splitlines() if line.count("│") == 5)
    assert long_hint.replace(" ", "") in cells.replace(" ", "")
