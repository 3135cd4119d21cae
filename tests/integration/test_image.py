"""Build, run and push the example's image on the real engine and registries."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from nfldeploy.cli.app import app
from nfldeploy.image.pipeline import build
from nfldeploy.records.build import Build
from nfldeploy.render.dockerfile import ImageSpec
from services import TEST_REPOSITORY, Registry, base_image, free_port, image_tags

pytestmark = [pytest.mark.docker, pytest.mark.slow]
runner = CliRunner()
REPOSITORY = f"{TEST_REPOSITORY}nfl-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def export_copy(example_export: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("image") / "exported_models"
    shutil.copytree(example_export, target)
    return target


@pytest.fixture(scope="module")
def built(docker_client: Any, export_copy: Path) -> Iterator[Build]:
    result = build(export_copy, ImageSpec(base_image=base_image()), REPOSITORY, client=docker_client)
    yield result
    for tags in image_tags(docker_client, REPOSITORY).values():
        for tag in tags:  # by tag: an identical image of another fixture keeps its own tags
            if tag.startswith(REPOSITORY + ":"):
                docker_client.images.remove(tag, force=True)


def _wait_ready(url: str, container: Any) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        container.reload()
        assert container.status == "running", container.logs()[-2000:]
        time.sleep(0.2)
    raise AssertionError(container.logs()[-2000:])


def test_the_image_runs_as_non_root_and_serves_the_golden_outputs(
    docker_client: Any, built: Build, export_copy: Path
) -> None:
    port = free_port()
    container = docker_client.containers.run(built.tag, detach=True, ports={"8080/tcp": ("127.0.0.1", port)})
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, container)
        assert container.exec_run("id -u").output.decode().strip() == "10001"
        assert (
            container.exec_run(["python3", "-c", "import torch"]).exit_code != 0
        )  # the ONNX image has no torch
        guide = {
            "players": [{"x": 50, "y": 26, "s": 5.0, "a": 0.5, "dis": 1.2, "o": 90, "dir": 90}],
            "game_context": {"down": 1, "distance": 10},
        }
        assert (
            len(httpx.post(url + "/predict", json=guide).json()["predictions"][0]["predicted_positions"])
            == 10
        )
        manifest = json.loads((export_copy / "manifest.json").read_text())
        requests = json.loads((export_copy / "golden/requests.json").read_text())
        golden = json.loads((export_copy / "golden/outputs.json").read_text())
        tolerance = manifest["golden"]["tolerance"]["onnx"] + 1e-3
        for request, expected in zip(requests, golden, strict=True):
            served = httpx.post(url + "/predict", json=request).json()["predictions"]
            positions = np.array([p["predicted_positions"] for p in served])
            assert np.abs(positions - np.array(expected["predicted_positions"])).max() <= tolerance
        version = httpx.get(url + "/version").json()
        assert version["config_sha256"] == manifest["config"]["sha256"]
    finally:
        container.remove(force=True)


def test_labels_carry_the_lineage(built: Build, export_copy: Path) -> None:
    manifest = json.loads((export_copy / "manifest.json").read_text())
    labels = built.labels
    assert labels["io.nfldeploy.config-sha256"] == manifest["config"]["sha256"]
    assert labels["io.nfldeploy.checkpoint-sha256"] == manifest["checkpoint"]["sha256"]
    assert labels["io.nfldeploy.model-sha256"] == manifest["artifacts"]["onnx"]["sha256"]
    assert labels["org.opencontainers.image.title"].startswith("nfl_production_v2")
    record = json.loads((export_copy / "build-record.json").read_text())
    assert record["builds"][record["last"]]["image_id"] == built.image_id


def test_a_new_model_reuses_the_dependency_layers(
    docker_client: Any, built: Build, export_copy: Path, example_config: Path, tmp_path: Path
) -> None:
    from custom_models import export_other_model

    other = export_other_model(example_config, tmp_path / "exported_models", seed=1)
    # the first model again, from the build cache: a build running beside this one (another test process)
    # may have made a second, newer cached chain of the same steps since ``built``, and the engine reuses
    # the newest
    again = build(export_copy, ImageSpec(base_image=base_image()), REPOSITORY, client=docker_client)
    rebuilt = build(
        other, ImageSpec(base_image=base_image()), REPOSITORY, tag=f"{REPOSITORY}:other", client=docker_client
    )
    first = docker_client.images.get(again.image_id).attrs["RootFS"]["Layers"]
    second = docker_client.images.get(rebuilt.image_id).attrs["RootFS"]["Layers"]
    assert first[:-1] == second[:-1]  # base, user, dependencies and nfldeploy: reused
    assert first[-1] != second[-1]  # the model layer: new
    assert rebuilt.cached_steps >= 5


def _new_containers(docker_client: Any, before: set[str], image: str) -> list[str]:
    """Containers that appeared since ``before`` and come from ``image`` (the engine may be shared)."""
    return [
        c.name
        for c in docker_client.containers.list(all=True, ignore_removed=True)
        if c.id not in before and (c.attrs["Config"]["Image"] in (image, built_id(docker_client, image)))
    ]


def built_id(docker_client: Any, image: str) -> str:
    try:
        return str(docker_client.images.get(image).id)
    except Exception:
        return image


def _push(*args: str, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(app, ["push", *args], env=env)


def test_push_to_a_registry_and_read_back_the_digest(
    built: Build, registry: Registry, export_copy: Path
) -> None:
    result = _push("--registry", registry.address, "--export-dir", str(export_copy), "--json")
    assert result.exit_code == 0, result.output
    pushed = json.loads(result.stdout)
    name, tag = pushed["reference"].removeprefix(registry.address + "/").rsplit(":", 1)
    request = urllib.request.Request(
        f"http://{registry.address}/v2/{name}/manifests/{tag}",
        method="HEAD",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Docker-Content-Digest"] == pushed["digest"]
    record = json.loads((export_copy / "build-record.json").read_text())
    assert record["builds"][record["last"]]["pushed"][pushed["reference"]] == pushed["digest"]


def test_push_with_a_wrong_password_exits_4(built: Build, auth_registry: Registry, export_copy: Path) -> None:
    wrong = {"NFLDEPLOY_REGISTRY_USERNAME": "tester", "NFLDEPLOY_REGISTRY_PASSWORD": "wrong"}
    result = _push(
        built.tag, "--registry", auth_registry.address, "--export-dir", str(export_copy), env=wrong
    )
    assert result.exit_code == 4, result.output
    assert "refused" in result.stderr and (
        "unauthorized" in result.stderr or "authentication" in result.stderr
    )
    assert "wrong" not in result.stderr.replace("wrong password", "")
    right = {"NFLDEPLOY_REGISTRY_USERNAME": "tester", "NFLDEPLOY_REGISTRY_PASSWORD": "s3cret-pw"}
    ok = _push(built.tag, "--registry", auth_registry.address, "--export-dir", str(export_copy), env=right)
    assert ok.exit_code == 0, ok.output


def test_a_broken_build_exits_4_and_leaves_no_containers(docker_client: Any, export_copy: Path) -> None:
    before = {c.id for c in docker_client.containers.list(all=True, ignore_removed=True)}
    result = runner.invoke(
        app,
        [
            "build",
            str(export_copy),
            "--quiet",
            "--set",
            "base_image=nfldeploy-test/no-such-base:1",
            "--tag",
            f"{REPOSITORY}:broken",
        ],
    )
    assert result.exit_code == 4, result.output
    assert "docker build failed" in result.stderr and "no-such-base" in result.stderr
    stray = [
        c.name
        for c in docker_client.containers.list(all=True, ignore_removed=True)
        if c.id not in before
        and c.status != "running"
        # other test processes' services (from nfldeploy's images, labelled) may stop meanwhile
        and not any(label.startswith("io.nfldeploy.") for label in c.labels)
    ]
    assert stray == []  # a failed build leaves no (stopped) build containers behind


def test_smoke_test_of_the_image(built: Build, export_copy: Path, docker_client: Any, tmp_path: Path) -> None:
    before = {c.id for c in docker_client.containers.list(all=True, ignore_removed=True)}
    result = runner.invoke(
        app,
        [
            "smoke-test",
            "--image",
            built.tag,
            "--export-dir",
            str(export_copy),
            "--token",
            "image-key",
            "--requests",
            "10",
            # the row's figures are what is checked here, not this shared machine's speed (one slow request
            # of ten is its p95)
            "--p95-budget-ms",
            "5000",
            "--junit",
            str(tmp_path / "junit.xml"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert 'tests="12" failures="0"' in (tmp_path / "junit.xml").read_text()
    assert _new_containers(docker_client, before, built.tag) == []  # started, tested, removed


def test_up_runs_the_main_job(
    docker_client: Any, example_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nfldeploy.settings import DeploySettings
    from nfldeploy.up import up

    out = tmp_path / "exported_models"
    settings = DeploySettings(  # a generous latency budget: the suite never asserts this machine's speed
        base_image=base_image(), repository=REPOSITORY, service_name="nfl-up-test", smoke_p95_budget_ms=5000
    )
    port = free_port()
    first = up(example_config, settings, port, out=out)
    try:
        assert first.mode == "container" and first.exported and first.report.passed
        assert httpx.get(first.url + "/ready").status_code == 200
        # operating it, as the README runs it after the quickstart: logs, checklist and report on the local target
        common = ["--target", "local", "--port", str(port), "--set", "service_name=nfl-up-test"]
        common += ["--export-dir", str(out)]
        logs = CliRunner().invoke(app, ["logs", *common, "--json"])
        assert logs.exit_code == 0 and '"route": "/predict"' in logs.stdout, logs.output
        checklist = CliRunner().invoke(app, ["checklist", *common, "--json"])
        items = {item["key"]: item for item in json.loads(checklist.stdout)["items"]}
        for key in ("model_exported", "api_tested", "image_built", "monitoring", "logging"):
            assert items[key]["state"] == "ok", items[key]
        assert items["rollback_plan"]["state"] == "missing"  # one revision: nothing to roll back to yet
        again = up(example_config, settings, port, out=out)  # the export is current: skipped, redeployed
        assert not again.exported and again.report.passed
        page = tmp_path / "site" / "report.html"
        report = CliRunner().invoke(app, ["report", *common, "--out", str(page)])
        assert report.exit_code == 0, report.output
        lineage = {
            link["step"]: link for link in json.loads(page.with_suffix(".json").read_text())["lineage"]
        }
        assert not any(link["missing"] for link in lineage.values()), lineage
        assert lineage["url"]["name"] == again.url and lineage["revision"]["name"] in again.where
    finally:
        for container in docker_client.containers.list(
            all=True, ignore_removed=True, filters={"label": "io.nfldeploy.service=nfl-up-test"}
        ):
            container.remove(force=True)


def test_the_lambda_image_answers_under_the_emulator(docker_client: Any, lambda_image: str) -> None:
    """The image as built, under AWS's Runtime Interface Emulator (tests/lambda_rie.py; the fronts, init
    failures, timeouts and payload limits are tests/integration/test_lambda_rie.py's)."""
    from lambda_rie import RieFunction, url_event

    labels = docker_client.images.get(lambda_image).labels
    assert labels["io.nfldeploy.kind"] == "lambda" and lambda_image.endswith("-lambda")
    guide = {
        "players": [{"x": 50, "y": 26, "s": 5.0, "a": 0.5, "dis": 1.2, "o": 90, "dir": 90}],
        "game_context": {"down": 1, "distance": 10},
    }
    with RieFunction(docker_client, lambda_image, name="image-test") as function:
        answer = function.invoke(url_event("POST", "/predict", json.dumps(guide)))
        assert answer.status == 200, f"{answer.body[:500]!r}\n{function.logs()[-3000:]}"
        response = answer.json()
        assert response["statusCode"] == 200, response
        assert len(json.loads(response["body"])["predictions"][0]["predicted_positions"]) == 10
        assert function.invoke(url_event("GET", "/health")).json()["statusCode"] == 200


def test_push_to_ecr_with_a_token_from_boto3(
    built: Build, export_copy: Path, aws_env: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """moto's ECR hands out AWS:<account>-auth-token; a registry that demands exactly that takes the push."""
    from services import start_registry

    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_env)
    ecr_like = start_registry(tmp_path / "ecr", "AWS", "123456789012-auth-token")
    try:
        result = _push(
            built.tag, "--registry", ecr_like.address, "--auth", "ecr", "--export-dir", str(export_copy)
        )
        assert result.exit_code == 0, result.output
    finally:
        ecr_like.stop()


def test_push_to_artifact_registry_with_an_adc_token(
    built: Build, export_copy: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """google-auth signs a service account's JWT and trades it at a local OAuth token endpoint (the
    key file's token_uri); the registry accepts oauth2accesstoken with that access token."""
    import http.server
    import threading

    from services import start_registry

    class Token(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = json.dumps(
                {"access_token": "ya29.local-test-token", "expires_in": 3600, "token_type": "Bearer"}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Token)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    adc = tmp_path / "sa.json"
    adc.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "proj",
                "private_key_id": "k1",
                "private_key": pem.decode(),
                "client_email": "deployer@proj.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": f"http://127.0.0.1:{server.server_address[1]}/token",
            }
        )
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    registry = start_registry(tmp_path / "ar", "oauth2accesstoken", "ya29.local-test-token")
    try:
        result = _push(
            built.tag, "--registry", registry.address, "--auth", "gcp", "--export-dir", str(export_copy)
        )
        assert result.exit_code == 0, result.output
        assert "ya29" not in result.output
    finally:
        registry.stop()
        server.shutdown()
