"""Bad input to the cloud deploy commands: clear errors and exit codes, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from nfldeploy.cli.app import app
from services import free_port, without_aws_credentials

runner = CliRunner()
IMAGE = "registry.example/nfl@sha256:" + "ab" * 32


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    without_aws_credentials(monkeypatch, tmp_path)


def test_cloudrun_api_unreachable_exits_4() -> None:
    result = runner.invoke(
        app,
        ["status", "--target", "cloudrun", "--set", "project=p"],
        env={"NFLDEPLOY_CLOUDRUN_ENDPOINT": f"http://127.0.0.1:{free_port()}"},
    )
    assert result.exit_code == 4, result.output
    assert "cannot reach the API" in result.stderr and "Traceback" not in result.output


def test_cloudrun_without_a_project_exits_1_before_any_call() -> None:
    result = runner.invoke(app, ["deploy", "--target", "cloudrun", "--image", IMAGE])
    assert result.exit_code == 1 and "needs a Google Cloud project" in result.stderr


def test_lambda_without_aws_credentials_exits_4() -> None:
    result = runner.invoke(app, ["deploy", "--target", "lambda", "--image", "nfl:1", "--dry-run"])
    assert result.exit_code == 4, result.output
    assert "no AWS credentials found" in result.stderr and "AWS_PROFILE" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "local", "--canary", "10"], "--canary needs cloudrun or lambda"),
        (["--target", "kubernetes", "--promote"], "--promote needs a target with canaries"),
        (["--target", "cloudrun", "--promote", "--image", IMAGE], "takes no --image or --canary"),
        (["--target", "cloudrun", "--canary", "100"], "less than or equal to 99"),
        (["--target", "nowhere"], "'nowhere' is not one of"),
    ],
)
def test_impossible_flag_combinations(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["deploy", *args])
    assert result.exit_code in (1, 2) and message in result.output, result.output
