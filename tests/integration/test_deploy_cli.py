"""``nfldeploy deploy / status / rollback / smoke-test --target`` for the cloud targets, end to end through
the CLI: Cloud Run against the local fake of the Admin API (real client), Kubernetes with and without a
kube context (real kubectl)."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from fake_cloudrun import FakeCloudRun
from nfldeploy.cli.app import app
from nfldeploy.records.build import Build, BuildRecord, write_build_record
from services import free_port, unavailable

pytestmark = [pytest.mark.docker, pytest.mark.slow]
runner = CliRunner()


@pytest.fixture
def cloudrun(docker_client: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCloudRun]:
    fake = FakeCloudRun(docker_client).start()
    monkeypatch.setenv("NFLDEPLOY_CLOUDRUN_ENDPOINT", fake.endpoint)
    monkeypatch.setenv("NFLDEPLOY_PROJECT", "nfl-proj")
    yield fake
    fake.stop()


def _cli(*args: str) -> Any:
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


def test_cloudrun_deploy_canary_smoke_promote_rollback(
    cloudrun: FakeCloudRun,
    pushed_image: str,
    example_export: Path,
    retrained_pushed_image: str,
    retrained_export: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service = f"cli-{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("NFLDEPLOY_SERVICE_NAME", service)
    common = ["--target", "cloudrun", "--export-dir", str(example_export)]

    dry = _cli("deploy", *common, "--image", pushed_image, "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    assert [a["kind"] for a in json.loads(dry.stdout)["plan"]["actions"]] == ["create", "traffic"]
    assert not cloudrun.services  # a dry run changes nothing

    first = _cli("deploy", *common, "--image", pushed_image, "--json")
    assert first.exit_code == 0, first.output
    first_rev = json.loads(first.stdout)["deployment"]["revision"]

    # the canary is a retrained model: its own export's golden outputs check it through its tag URL
    retrained = ["--target", "cloudrun", "--export-dir", str(retrained_export)]
    canary = _cli("deploy", *retrained, "--image", retrained_pushed_image, "--canary", "10")
    assert canary.exit_code == 0, canary.output
    assert "smoke-testing the canary at http://127.0.0.1:" in canary.output and "10 %" in canary.output

    status = _cli("status", "--target", "cloudrun", "--json")
    state = json.loads(status.stdout)
    assert sorted(state["traffic"].values()) == [10, 90] and state["traffic"][first_rev] == 90

    # the service URL splits by weight: one request in ten reaches the retrained model
    models = {
        json.loads((example_export / "manifest.json").read_text())["artifacts"]["onnx"]["sha256"]: "example",
        json.loads((retrained_export / "manifest.json").read_text())["artifacts"]["onnx"][
            "sha256"
        ]: "retrained",
    }
    answers = [models[httpx.get(state["url"] + "/version").json()["model_sha256"]] for _ in range(40)]
    assert answers.count("retrained") == 4 and answers.count("example") == 36

    # the revisions' logs through Cloud Logging's entries:list (the fake ships the containers' output):
    # one request's line by its id, and the access lines of both revisions
    monkeypatch.setenv("NFLDEPLOY_LOGGING_ENDPOINT", cloudrun.endpoint)
    request_id = f"req-{uuid.uuid4().hex[:8]}"
    served = httpx.get(state["url"] + "/version", headers={"X-Request-ID": request_id})
    served_by = models[served.json()["model_sha256"]]
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10  # the access log is flushed every 0.5 s
    while not found and time.monotonic() < deadline:
        logs = _cli(
            "logs", "--target", "cloudrun", "--request-id", request_id, "--json", "--export-dir", "none"
        )
        assert logs.exit_code == 0, logs.output
        found = [json.loads(line) for line in logs.stdout.splitlines()]
        time.sleep(0.3)
    assert [(e["route"], e["status"], e["request_id"]) for e in found] == [("/version", 200, request_id)]
    assert (found[0]["revision"] == first_rev) == (served_by == "example")
    every = _cli(
        "logs", "--target", "cloudrun", "--since", "10m", "--limit", "1000", "--json", "--export-dir", "none"
    )
    routes = [json.loads(line) for line in every.stdout.splitlines()]
    assert {e["revision"] for e in routes if e["route"] == "/version"} == set(state["traffic"])
    assert "ListLogEntries" in cloudrun.calls
    cloudrun.deny.add("ListLogEntries")  # a caller without logging.viewer
    refused = _cli("logs", "--target", "cloudrun", "--export-dir", "none")
    assert refused.exit_code == 4 and "Permission" in refused.stderr and "logging.viewer" in refused.stderr
    cloudrun.deny.discard("ListLogEntries")

    junit = tmp_path / "smoke.xml"
    smoke = _cli(
        "smoke-test",
        "--target",
        "cloudrun",
        "--canary",
        "--export-dir",
        str(retrained_export),
        "--junit",
        str(junit),
    )
    assert smoke.exit_code == 0, smoke.output
    assert 'failures="0"' in junit.read_text()
    mixed = _cli("smoke-test", "--target", "cloudrun", "--export-dir", str(retrained_export))
    assert mixed.exit_code == 3, mixed.output  # the weighted URL mostly serves the example: not the canary

    promoted = _cli("deploy", "--target", "cloudrun", "--promote", "--json")
    assert promoted.exit_code == 0, promoted.output
    assert list(json.loads(promoted.stdout)["deployment"]["traffic"].values()) == [100]

    rolled = _cli("rollback", "--target", "cloudrun", "--json")
    assert rolled.exit_code == 0, rolled.output
    assert json.loads(rolled.stdout)["revision"] == first_rev

    # operating it: the revision kept for rollback is the checklist's evidence; the report's lineage ends at the
    # revision serving now and its URL
    checklist = _cli("checklist", "--target", "cloudrun", "--export-dir", str(example_export), "--json")
    items = {item["key"]: item for item in json.loads(checklist.stdout)["items"]}
    assert items["rollback_plan"]["state"] == "ok" and first_rev in items["rollback_plan"]["evidence"]
    assert (
        items["environment"]["state"] == "ok"
        and "project nfl-proj (env:NFLDEPLOY_PROJECT)" in items["environment"]["evidence"]
    )
    page = tmp_path / "report.html"
    report = _cli("report", "--target", "cloudrun", "--export-dir", str(example_export), "--out", str(page))
    assert report.exit_code == 0, report.output
    lineage = {link["step"]: link for link in json.loads(page.with_suffix(".json").read_text())["lineage"]}
    assert lineage["revision"]["name"] == first_rev and lineage["url"]["name"] == state["url"]


def test_cloudrun_without_a_project_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NFLDEPLOY_CLOUDRUN_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    result = _cli("status", "--target", "cloudrun")
    assert result.exit_code == 1 and "needs a Google Cloud project" in result.output


def test_kubernetes_renders_without_a_context_and_reports_kubectl_errors_with_one(
    example_export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("kubectl") is None:
        unavailable("kubectl is not installed")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "empty-kubeconfig"))
    image = "registry.example/nfl@sha256:" + "ab" * 32
    common = ["--target", "kubernetes", "--export-dir", str(example_export), "--image", image]

    dry = _cli("deploy", *common, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "no kube context configured: render only" in dry.stdout and "kind: Deployment" in dry.stdout
    assert not (tmp_path / "outputs").exists()

    done = _cli("deploy", *common)
    assert done.exit_code == 0, done.output
    rendered = tmp_path / "outputs/deploy/kubernetes/deployment.yaml"
    assert image in rendered.read_text() and "maxUnavailable: 0" in rendered.read_text()
    again = _cli("deploy", *common, "--dry-run")
    assert "nothing to change" in again.stdout

    (tmp_path / "empty-kubeconfig").write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: gone\nclusters:\n- name: gone\n  cluster:\n"
        f"    server: https://127.0.0.1:{free_port()}\n    insecure-skip-tls-verify: true\ncontexts:\n"
        "- name: gone\n  context:\n    cluster: gone\n    user: u\nusers:\n- name: u\n  user:\n    token: t\n"
    )
    failed = _cli("deploy", *common)
    assert failed.exit_code == 4, failed.output
    assert "kubectl diff" in failed.output and "context gone failed" in failed.output
    assert "Traceback" not in failed.output


def test_kubernetes_dry_run_of_an_unpushed_build_prints_what_it_would_apply(
    example_export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the quickstart (built, not pushed): the dry run shows the manifests with the local tag and says
    the image must be pushed first; a real deploy refuses, naming the push."""
    if shutil.which("kubectl") is None:
        unavailable("kubectl is not installed")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "empty-kubeconfig"))
    export = tmp_path / "exported_models"
    shutil.copytree(example_export, export)
    tag = "nfldeploy/nfl-trajectory:e814d187027c-onnx"
    build = Build(
        image_id="sha256:" + "0" * 64,
        tag=tag,
        size_bytes=1,
        layers=1,
        labels={},
        kind="server",
        runtime="onnx",
        seconds=1.0,
        cached_steps=0,
    )
    write_build_record(export, BuildRecord().with_build(build))
    common = ["--target", "kubernetes", "--export-dir", str(export)]
    dry = _cli("deploy", *common, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"image: {tag}" in dry.stdout and "kind: Deployment" in dry.stdout
    assert "push it first" in dry.stderr
    real = _cli("deploy", *common)
    assert real.exit_code == 1 and "was not pushed" in real.stderr, real.output


def test_lambda_deploy_status_rollback_through_the_cli(
    aws_env: str,
    monkeypatch: pytest.MonkeyPatch,
    docker_client: Any,
    registry: Any,
    lambda_image: str,
    tmp_path: Path,
) -> None:
    """An image already in (moto's) ECR deployed by reference; the CLI reads the AWS chain from the env."""
    from ecr_local import ecr_via_local_registry
    from nfldeploy.cloud.aws import aws_clients

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_env)
    name = f"cli-fn-{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("NFLDEPLOY_SERVICE_NAME", name)
    monkeypatch.setenv("NFLDEPLOY_REPOSITORY", f"nfl/{name}")
    ecr = aws_clients("us-east-1").ecr
    uri = ecr.create_repository(repositoryName=f"nfl/{name}")["repository"]["repositoryUri"]
    digest = ecr_via_local_registry(docker_client, registry, ecr, {})(lambda_image, f"{uri}:v1")

    unprepared = _cli("deploy", "--target", "lambda", "--image", f"{uri}@{digest}", "--dry-run")
    assert unprepared.exit_code == 1 and "nfldeploy bootstrap --target lambda" in unprepared.stderr
    booted = _cli("bootstrap", "--target", "lambda", "--json")  # once, with the admin's credentials
    assert booted.exit_code == 0, booted.output
    assert "scan_on_push" in [a["kind"] for a in json.loads(booted.stdout)["plan"]["actions"]]

    plan = _cli("deploy", "--target", "lambda", "--image", f"{uri}@{digest}", "--dry-run", "--json")
    assert plan.exit_code == 0, plan.output
    kinds = [a["kind"] for a in json.loads(plan.stdout)["plan"]["actions"]]
    assert kinds[0] == "create_function" and "push" not in kinds

    done = _cli("deploy", "--target", "lambda", "--image", f"{uri}@{digest}")
    assert done.exit_code == 0, done.output
    assert f"deployed {name}:1 at https://" in done.stdout and "lambda-url" in done.stdout

    state = json.loads(_cli("status", "--target", "lambda", "--json").stdout)
    assert state["traffic"] == {f"{name}:1": 100} and state["url"].startswith("https://")

    nothing = _cli("rollback", "--target", "lambda")
    assert nothing.exit_code == 4 and f"no previous version of {name}" in nothing.output
    assert "Traceback" not in nothing.output

    # operating it: the checklist judges this deployment (no export in this folder: the model is missing;
    # the function URL's IAM is the authentication), the report names the version serving and marks gaps
    checklist = _cli("checklist", "--target", "lambda", "--json")
    items = {item["key"]: item for item in json.loads(checklist.stdout)["items"]}
    assert checklist.exit_code == 3 and items["model_exported"]["state"] == "missing"
    assert items["authentication"]["state"] == "ok" and "AWS_IAM" in items["authentication"]["evidence"]
    assert items["rollback_plan"]["state"] == "missing"  # version 1 alone
    report = _cli("report", "--target", "lambda", "--out", "report.html")
    assert report.exit_code == 0, report.output
    lineage = {link["step"]: link for link in json.loads((tmp_path / "report.json").read_text())["lineage"]}
    assert lineage["revision"]["name"] == f"{name}:1" and lineage["url"]["name"] == state["url"]
    assert lineage["config"]["missing"] and lineage["image"]["missing"]


def test_kubernetes_status_says_how_to_reach_the_service(
    example_export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against a fake API server (the real kubectl): a ClusterIP Service gets the port-forward line, a
    LoadBalancer its external address; never a cluster-internal name."""
    if shutil.which("kubectl") is None:
        unavailable("kubectl is not installed")
    from fake_kubernetes import FakeKubernetes

    fake = FakeKubernetes().start()
    try:
        monkeypatch.setenv("KUBECONFIG", str(fake.kubeconfig(tmp_path / "kubeconfig")))
        monkeypatch.setenv("KUBECACHEDIR", str(tmp_path / "kube-cache"))
        deployment = {
            "metadata": {"annotations": {"deployment.kubernetes.io/revision": "3"}},
            "spec": {
                "template": {"spec": {"containers": [{"name": "api", "image": "r/api@sha256:" + "ab" * 32}]}}
            },
            "status": {"readyReplicas": 2},
        }
        fake.add("Deployment", "api", deployment)
        fake.add("Service", "api", {"spec": {"type": "ClusterIP", "ports": [{"name": "http", "port": 80}]}})
        common = [
            "status",
            "--target",
            "kubernetes",
            "--export-dir",
            str(example_export),
            "--set",
            "service_name=api",
        ]
        state = json.loads(_cli(*common, "--json").stdout)
        assert state["url"] is None and state["serving"] == "api-rev3"
        assert (
            state["reach"]
            == "kubectl --context fake port-forward service/api 8080:80, then http://127.0.0.1:8080"
        )
        table = _cli(*common)
        assert table.exit_code == 0 and "reach it: kubectl --context fake port-forward" in table.stdout
        assert "svc.cluster.local" not in table.stdout

        fake.add(
            "Service",
            "api",
            {
                "spec": {"type": "LoadBalancer", "ports": [{"name": "http", "port": 80}]},
                "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}]}},
            },
        )
        state = json.loads(_cli(*common, "--json").stdout)
        assert (
            state["url"] == "http://203.0.113.10" and state["reach"] == "http://203.0.113.10 (LoadBalancer)"
        )
    finally:
        fake.stop()
