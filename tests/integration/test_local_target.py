"""The local deploy target on the real engine: plan, apply, the empty plan, rollback, a failed apply."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from nfldeploy.cli.app import app
from nfldeploy.errors import DeployError
from nfldeploy.service_logs import LogQuery
from nfldeploy.settings import DeploySettings
from nfldeploy.targets.local import SERVICE_LABEL, LocalTarget
from services import TEST_REPOSITORY, base_image, free_port

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def image(server_image: str) -> str:
    return server_image


@pytest.fixture
def target(docker_client: Any) -> Iterator[LocalTarget]:
    service = f"local-{uuid.uuid4().hex[:6]}"
    yield LocalTarget(docker_client, service, free_port())
    for container in docker_client.containers.list(
        all=True, ignore_removed=True, filters={"label": f"{SERVICE_LABEL}={service}"}
    ):
        container.remove(force=True)


def _settings(target: LocalTarget, **values: Any) -> DeploySettings:
    return DeploySettings(service_name=target.service, **values)


def test_deploy_update_rollback(target: LocalTarget, image: str, tmp_path: Path) -> None:
    settings = _settings(target, cpu=1, memory="1Gi")
    plan = target.plan(settings, image)
    assert [a.kind for a in plan.actions] == ["start", "wait_ready", "start", "wait_ready"]
    first = target.apply(plan)
    assert first.revision.endswith("-r1") and first.traffic == {first.revision: 100}
    assert httpx.get(first.url + "/ready").status_code == 200
    container = target.client.containers.get(first.revision)
    assert container.attrs["HostConfig"]["NanoCpus"] == 1_000_000_000
    assert container.attrs["HostConfig"]["Memory"] == 1024 * 1024 * 1024

    assert target.plan(settings, image).empty  # nothing changed: nothing to do

    keys = tmp_path / "keys.env"
    keys.write_text("NFLSERVE_API_KEYS=local-secret-key\n")
    secured = _settings(target, cpu=1, memory="1Gi", auth=True, api_keys_secret=str(keys))
    plan = target.plan(secured, image)
    assert "local-secret-key" not in str(plan.as_dict()) and str(keys) in str(plan.as_dict())
    assert [a.kind for a in plan.actions][:1] == ["env_file"] and "stop" in [a.kind for a in plan.actions]
    second = target.apply(plan)
    assert second.revision.endswith("-r2") and second.previous == first.revision
    assert httpx.get(second.url + "/version").status_code == 401  # the keys reached the service
    assert (
        httpx.get(second.url + "/version", headers={"Authorization": "Bearer local-secret-key"}).status_code
        == 200
    )

    status = target.status()
    assert status.serving == second.revision and status.traffic == {second.revision: 100}
    assert {r.name: r.state for r in status.revisions}[first.revision] == "exited"

    back = target.rollback()
    assert back.revision == first.revision and back.previous == second.revision
    assert httpx.get(back.url + "/version").status_code == 200  # r1 had no keys


def test_a_failed_apply_leaves_the_previous_revision_serving(target: LocalTarget, image: str) -> None:
    first = target.apply(target.plan(_settings(target), image))
    broken = _settings(target)
    # The bare base image has no server: it never gets ready.
    plan = target.plan(broken, base_image())
    with pytest.raises(DeployError, match=f"nothing was replaced; {first.revision} keeps serving"):
        target.apply(plan)
    assert target.status().serving == first.revision
    assert httpx.get(first.url + "/ready").status_code == 200
    names = [r.name for r in target.status().revisions]
    assert not [n for n in names if n.endswith("-verify")]  # the trial container is gone

    # the service's logs, from the engine, through the CLI: one request's lines by its id, and the table
    request_id = f"req-{uuid.uuid4().hex[:8]}"
    assert httpx.get(first.url + "/version", headers={"X-Request-ID": request_id}).status_code == 200
    common = ["--target", "local", "--port", str(target.port), "--set", f"service_name={target.service}"]
    common += ["--export-dir", "no-export-here"]  # no evidence is kept without an export
    deadline = time.monotonic() + 10  # the access log is flushed every 0.5 s
    found: list[dict[str, Any]] = []
    while not found and time.monotonic() < deadline:
        result = CliRunner().invoke(app, ["logs", *common, "--request-id", request_id, "--json"])
        assert result.exit_code == 0, result.output
        found = [json.loads(line) for line in result.stdout.splitlines()]
        time.sleep(0.3)
    assert [(e["route"], e["status"], e["revision"]) for e in found] == [("/version", 200, first.revision)]
    assert found[0]["latency_ms"] >= 0 and found[0]["level"] == "info"
    table = CliRunner().invoke(app, ["logs", *common, "--since", "10m", "--limit", "500"])
    assert table.exit_code == 0 and request_id in table.stdout and "model ready" in table.stdout
    warnings = CliRunner().invoke(app, ["logs", *common, "--level", "error", "--json"])
    assert warnings.exit_code == 0 and request_id not in warnings.stdout  # access lines are info
    bad = CliRunner().invoke(app, ["logs", *common, "--since", "yesterday"])
    assert bad.exit_code == 2 and "neither a duration" in bad.output

    # --follow streams what the serving container writes next
    follow = target.logs(LogQuery(follow=True, limit=1))
    marker = f"follow-{uuid.uuid4().hex[:8]}"
    seen: list[str] = []

    def consume() -> None:
        for entry in follow:
            seen.append(entry.request_id or "")
            if entry.request_id == marker:
                return

    reader = threading.Thread(target=consume, daemon=True)  # the stream ends when the container goes
    reader.start()
    time.sleep(0.5)
    assert httpx.get(first.url + "/health", headers={"X-Request-ID": marker}).status_code == 200
    reader.join(timeout=15)
    assert marker in seen


def test_plan_for_a_missing_image(target: LocalTarget) -> None:
    with pytest.raises(DeployError, match="no image"):
        target.plan(_settings(target), "nfldeploy-test/no-such-image:1")


def test_an_image_built_for_another_port_is_published_from_that_port(
    docker_client: Any, target: LocalTarget, tmp_path: Path
) -> None:
    """The container port comes from the image (what the build's port setting exposed), not a constant."""
    server = (
        "import http.server, os\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        self.send_response(200); self.end_headers(); self.wfile.write(b'port ' + os.environ['PORT'].encode())\n"
        "http.server.HTTPServer(('0.0.0.0', int(os.environ['PORT'])), H).serve_forever()\n"
    )
    (tmp_path / "server.py").write_text(server)
    (tmp_path / "Dockerfile").write_text(
        f'FROM {base_image()}\nCOPY server.py /server.py\nENV PORT=9000\nEXPOSE 9000\nCMD ["python3", "/server.py"]\n'
    )
    tag = f"{TEST_REPOSITORY}port9000:{uuid.uuid4().hex[:6]}"
    docker_client.images.build(path=str(tmp_path), tag=tag, rm=True, forcerm=True)
    try:
        deployed = target.apply(target.plan(_settings(target), tag))
        assert httpx.get(deployed.url + "/ready").text == "port 9000"
    finally:
        for container in docker_client.containers.list(
            all=True, ignore_removed=True, filters={"ancestor": tag}
        ):
            container.remove(force=True)
        docker_client.images.remove(tag, force=True)
