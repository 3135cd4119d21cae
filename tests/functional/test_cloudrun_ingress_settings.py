"""Cloud Run's ingress setting (review findings 3 and 6): resolved from ``trusted_hops``, refused with ``ingress =
INGRESS_TRAFFIC_ALL`` when hops are trusted (run.app would let a caller forge its address), rendered as the
``run.googleapis.com/ingress`` annotation, and the once-per-process warning about a shared rate-limit bucket."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from manifests import sample_manifest
from nfldeploy.cli.app import app
from nfldeploy.errors import ConfigError
from nfldeploy.render import views
from nfldeploy.render.files import render_all
from nfldeploy.serving.clients import ClientAddress, parse_networks
from nfldeploy.serving.logs import JsonFormatter
from nfldeploy.settings import DeploySettings, load_settings

runner = CliRunner()
EVERYONE = parse_networks("0.0.0.0/0,::/0")  # Cloud Run's NFLSERVE_TRUSTED_PROXIES


def test_ingress_defaults_to_the_load_balancer_only_when_hops_are_trusted() -> None:
    assert DeploySettings().cloudrun_ingress == "INGRESS_TRAFFIC_ALL"
    assert DeploySettings(trusted_hops=2).cloudrun_ingress == "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
    assert (
        DeploySettings(trusted_hops=2, ingress="INGRESS_TRAFFIC_INTERNAL_ONLY").cloudrun_ingress
        == "INGRESS_TRAFFIC_INTERNAL_ONLY"
    )


def test_the_append_shape_with_hops_2_forges_so_ingress_all_is_refused_at_config_time(tmp_path: Path) -> None:
    # run.app appends the caller to the client's header: with hops = 2 the resolved address is the client's own
    # text. That is why trusted_hops > 0 must not come with the run.app URL open (ingress ALL).
    assert ClientAddress(EVERYONE, 2).resolve("10.0.0.1", "198.51.100.7, 203.0.113.9") == "198.51.100.7"
    with pytest.raises(ConfigError) as caught:
        load_settings({"trusted_hops": 2, "ingress": "INGRESS_TRAFFIC_ALL"}, cwd=tmp_path, environ={})
    message = caught.value.message
    assert "trusted_hops" in message and "INGRESS_TRAFFIC_ALL" in message and "forge" in message
    settings = tmp_path / "nfldeploy.toml"
    settings.write_text('trusted_hops = 2\ningress = "INGRESS_TRAFFIC_ALL"\n')
    result = runner.invoke(app, ["config", "show", "--settings", str(settings)])
    assert result.exit_code == 1, result.output
    assert "trusted_hops" in result.output and "INGRESS_TRAFFIC_ALL" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("value", ["all", "INGRESS_TRAFFIC_NONE", "internal"])
def test_an_ingress_outside_the_api_enum_is_a_config_error(value: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ingress"):
        load_settings({"ingress": value}, cwd=tmp_path, environ={})


def _rendered(tmp_path: Path, **settings: Any) -> dict[str, Any]:
    inputs = views.Inputs(
        DeploySettings(project="proj", registry="us-docker.pkg.dev/proj/nfl", **settings),
        sample_manifest(),
        "us-docker.pkg.dev/proj/nfl/nfldeploy/nfl-trajectory:07ddda2891bd-onnx",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/nfl-trajectory:07ddda2891bd-onnx-lambda",
    )
    render_all(inputs, tmp_path, ["cloudrun"])
    document: dict[str, Any] = yaml.safe_load((tmp_path / "cloudrun/service.yaml").read_text())
    return document


@pytest.mark.parametrize(
    ("settings", "annotation"),
    [
        ({}, "all"),
        ({"trusted_hops": 2}, "internal-and-cloud-load-balancing"),
        ({"ingress": "INGRESS_TRAFFIC_INTERNAL_ONLY"}, "internal"),
        ({"ingress": "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"}, "internal-and-cloud-load-balancing"),
    ],
)
def test_the_rendered_service_carries_the_ingress_annotation(
    settings: dict[str, Any], annotation: str, tmp_path: Path
) -> None:
    document = _rendered(tmp_path, **settings)
    assert document["metadata"]["annotations"]["run.googleapis.com/ingress"] == annotation


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno == logging.WARNING and "TRUSTED_HOPS" in r.getMessage()]


def test_several_entries_without_trusted_hops_warn_once_as_one_json_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="nfldeploy.serving")
    clients = ClientAddress(EVERYONE)
    assert clients.resolve("10.0.0.1", "203.0.113.9") == "203.0.113.9"  # one entry: run.app, no warning
    assert _warnings(caplog) == []
    for caller in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):  # a load balancer's shape, three times
        assert clients.resolve("10.0.0.1", f"{caller}, 203.0.113.250") == "203.0.113.250"  # one bucket
    records = _warnings(caplog)
    assert len(records) == 1
    line = JsonFormatter().format(records[0])
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "warning" and "trusted_hops = 2" in entry["msg"]
    assert entry["forwarded_entries"] == 2


@pytest.mark.parametrize(
    ("trusted", "hops"),
    [("0.0.0.0/0,::/0", 2), ("10.0.0.0/8", 0)],  # the setting is there; or only some proxies are trusted
)
def test_no_warning_when_hops_are_set_or_not_every_proxy_is_trusted(
    trusted: str, hops: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="nfldeploy.serving")
    ClientAddress(parse_networks(trusted), hops).resolve("10.0.0.1", "198.51.100.1, 10.0.0.2")
    assert _warnings(caplog) == []
