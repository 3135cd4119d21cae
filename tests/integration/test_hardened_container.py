"""The server image under the restrictions the rendered files put on it (what checkov asks of them): the
compose replicas' ``read_only``, ``cap_drop: [ALL]``, ``no-new-privileges`` and memory limit, the Kubernetes
container's read-only root, no capability, no privilege escalation, as ``runAsUser``/``runAsGroup``. No
cluster or compose stack can run here (their other images cannot be pulled), so the engine runs the image
with those settings, read from the rendered files, and the smoke test passes against it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from nfldeploy.cli.app import app
from nfldeploy.records.manifest import read_manifest
from nfldeploy.render.files import render_group
from nfldeploy.render.views import Inputs
from nfldeploy.settings import DeploySettings
from services import free_port

pytestmark = [pytest.mark.docker, pytest.mark.slow]
runner = CliRunner()
KEY = "hardened-key"


def _restrictions(image: str, export: Path) -> dict[str, Any]:
    """Docker's options for what the rendered compose replica and Kubernetes container ask, combined."""
    inputs = Inputs(DeploySettings(auth=True), read_manifest(export), image, "")
    replica = yaml.safe_load(render_group(inputs, "compose")["compose/docker-compose.yml"])["services"][
        "api-1"
    ]
    deployment = next(yaml.safe_load_all(render_group(inputs, "kubernetes")["kubernetes/deployment.yaml"]))
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    context = container["securityContext"]
    assert context["readOnlyRootFilesystem"] is replica["read_only"] is True
    assert context["capabilities"]["drop"] == replica["cap_drop"] == ["ALL"]
    assert context["allowPrivilegeEscalation"] is False
    assert replica["security_opt"] == ["no-new-privileges:true"]  # what allowPrivilegeEscalation false sets
    return {
        "read_only": True,
        "cap_drop": ["ALL"],
        "security_opt": replica["security_opt"],
        "mem_limit": replica["mem_limit"],
        "user": f"{pod['securityContext']['runAsUser']}:{pod['securityContext']['runAsGroup']}",
        "environment": {**replica["environment"], "NFLSERVE_API_KEYS": KEY},
    }


def test_the_server_serves_under_the_rendered_restrictions(
    docker_client: Any, server_image: str, example_export: Path
) -> None:
    port = free_port()
    container = docker_client.containers.run(
        server_image,
        detach=True,
        ports={"8080/tcp": ("127.0.0.1", port)},
        **_restrictions(server_image, example_export),
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            container.reload()
            assert container.status in ("created", "running"), container.logs()[-3000:]
            try:
                if httpx.get(url + "/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        # the restrictions hold inside: nothing writable at the root, no capability, running as 10001
        assert container.exec_run(["python3", "-c", "open('/app/x', 'w')"]).exit_code != 0
        status = container.exec_run(["python3", "-c", "print(open('/proc/self/status').read())"])
        fields = dict(line.split(":\t", 1) for line in status.output.decode().splitlines() if ":\t" in line)
        assert fields["CapEff"].strip() == fields["CapBnd"].strip() == "0" * 16
        assert fields["NoNewPrivs"].strip() == "1" and fields["Uid"].split()[0] == "10001"
        result = runner.invoke(
            app,
            [
                "smoke-test",
                "--url",
                url,
                "--export-dir",
                str(example_export),
                "--token",
                KEY,
                "--requests",
                "10",
                "--p95-budget-ms",
                "5000",  # what is checked is that it serves, not this shared machine's speed
            ],
        )
        assert result.exit_code == 0, result.output + container.logs()[-3000:].decode()
    finally:
        container.remove(force=True)
