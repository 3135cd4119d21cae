"""The AWS clients carry botocore's standard retry mode with the settings' attempts and timeout."""

from __future__ import annotations

import pytest

from nfldeploy.cloud.aws import aws_clients
from nfldeploy.cloud.call_limits import CallLimits
from nfldeploy.settings import DeploySettings


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def test_every_client_retries_in_standard_mode_with_the_settings_attempts_and_timeout() -> None:
    settings = DeploySettings(cloud_call_attempts=3, cloud_call_timeout=7.5)
    clients = aws_clients("us-east-1", CallLimits.of(settings))
    for client in (clients.lambda_, clients.ecr, clients.iam, clients.apigateway, clients.logs, clients.sts):
        config = client.meta.config
        assert config.retries["mode"] == "standard"
        assert config.retries["total_max_attempts"] == 3
        assert config.read_timeout == 7.5
        assert config.connect_timeout == 7.5


def test_clients_without_limits_take_the_default_call_limits() -> None:
    config = aws_clients("us-east-1").lambda_.meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": CallLimits().attempts}
    assert config.read_timeout == CallLimits().timeout
