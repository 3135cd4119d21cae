"""The rendered GitHub Actions workflow, executed (tests/workflow_runner.py) in a user's repository holding a
training run (config JSON + checkpoint), its nfldeploy.toml and nfldeploy's wheel: test -> export -> build ->
push (the local registry) -> deploy --canary -> smoke-test the canary -> promote, against the fake Cloud Run
Admin API. A retrained model goes live through a canary, on the default path (nfldeploy from the wheel
rendered beside the workflow, OIDC for the release job only); a canary that misses the smoke step's latency
budget fails its deploy-time check and gets no traffic."""

from __future__ import annotations

import hashlib
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.utils import canonicalize_name
from typer.testing import CliRunner

from fake_cloudrun import FakeCloudRun
from nfldeploy.cli.app import app
from services import TEST_REPOSITORY, Registry, base_image, image_tags
from workflow_repo import explain, make_venv, runner_env, training_repository
from workflow_runner import LocalRunner

pytestmark = [pytest.mark.docker, pytest.mark.slow]
PROJECT = "nfl-proj"


@pytest.fixture(scope="module")
def runner_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_venv(tmp_path_factory.mktemp("runner"))


@pytest.fixture
def cloudrun(docker_client: Any) -> Iterator[FakeCloudRun]:
    fake = FakeCloudRun(docker_client).start()
    yield fake
    fake.stop()


def _run(
    tmp_path: Path, name: str, repo: Path, venv: Path, fake: FakeCloudRun, done: dict[str, Any] | None = None
) -> tuple[dict[str, Any], LocalRunner]:
    workflow = yaml.safe_load((repo / ".github/workflows/nfldeploy.yml").read_text())
    runner = LocalRunner(
        repository=repo,
        venv=venv,
        workdir=tmp_path / name,
        base_env=runner_env(),
        gcp_env={"NFLDEPLOY_CLOUDRUN_ENDPOINT": fake.endpoint},
        vars={"NFLDEPLOY_TARGET": "cloudrun"},
    )
    return runner.run(workflow, done), runner


def _pinned(folder: Path) -> dict[str, set[Any]]:
    """The requirement files render wrote beside the workflow: their lines, and (name, version) pinned."""
    lines = {line for path in folder.glob("requirements-*.txt") for line in path.read_text().splitlines()}
    versions = {
        (canonicalize_name(name), version)
        for name, _, version in (line.split()[0].partition("==") for line in lines if "==" in line)
    }
    return {"lines": lines, "versions": versions}


def _installed(venv: Path) -> set[tuple[str, str]]:
    """(name, version) of every distribution in the runner's venv (pip's own listing)."""
    listing = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "list",
            "--format",
            "json",
            "--disable-pip-version-check",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return {(canonicalize_name(d["name"]), d["version"]) for d in json.loads(listing.stdout)}


def _direct_url(venv: Path) -> str:
    """Where pip installed nfldeploy from (PEP 610's direct_url.json)."""
    (record,) = venv.glob("lib/python*/site-packages/nfldeploy-*.dist-info/direct_url.json")
    return record.read_text()


def test_the_rendered_workflow_deploys_a_canary_and_promotes_it_or_keeps_the_serving_revision(
    cloudrun: FakeCloudRun,
    registry: Registry,
    pushed_image: str,
    example_export: Path,
    runner_venv: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    docker_client: Any,
) -> None:
    service = f"wf-{uuid.uuid4().hex[:6]}"
    settings = {
        "service_name": service,
        "project": PROJECT,
        "registry": registry.address,
        "repository": f"{TEST_REPOSITORY}wf-{service}",
        "base_image": base_image(),
        "memory": "1Gi",
        "smoke_p95_budget_ms": 2000,
        "training_config": "outputs/nfl_production_v2_config.json",
    }
    # the example already serves (deployed before this pipeline existed)
    monkeypatch.setenv("NFLDEPLOY_CLOUDRUN_ENDPOINT", cloudrun.endpoint)
    seeded = CliRunner().invoke(
        app,
        ["deploy", "--target", "cloudrun", "--image", pushed_image, "--export-dir", str(example_export)]
        + [arg for key in ("service_name", "project") for arg in ("--set", f"{key}={settings[key]}")],
    )
    assert seeded.exit_code == 0, seeded.output
    full_name = f"projects/{PROJECT}/locations/us-central1/services/{service}"
    (serving,) = cloudrun.traffic(full_name)

    seed = _installed(runner_venv)  # the venv's own pip and setuptools
    try:
        # a retrained model: canary (10 %, checked through its tag URL) -> smoke-tested canary -> promoted,
        # on the default path: nfldeploy from the wheel the rendering vendored beside the workflow
        repo = training_repository(tmp_path / "retrained", settings, example_export, "retrained")
        results, runner = _run(tmp_path, "retrained", repo, runner_venv, cloudrun)
        assert [r.conclusion for r in results.values()] == ["success"] * 3, explain(results)
        print({name: job.seconds for name, job in results.items()})  # where a pipeline's time goes (-s)
        # OIDC only where the clouds are called; nfldeploy installed from the hash-checked file, and every
        # distribution the jobs installed is one the hash-locked requirement files pin, at that version
        assert [r.permissions.get("id-token") for r in results.values()] == [None, None, "write"]
        (vendored,) = (repo / ".github" / "nfldeploy").glob("nfldeploy-*.whl")
        digest = hashlib.sha256(vendored.read_bytes()).hexdigest()
        pinned = _pinned(repo / ".github" / "nfldeploy")
        assert f"nfldeploy-wheel/{vendored.name} --hash=sha256:{digest}" in pinned["lines"]
        installed = _installed(runner_venv) - seed  # what the workflow's pip installs added or changed
        assert installed <= pinned["versions"] | {("nfldeploy", vendored.name.split("-")[1])}, (
            installed - pinned["versions"]
        )
        assert {"torch", "boto3", "onnxruntime", "nfldeploy"} <= {name for name, _ in installed}
        assert ("torch", "2.13.0+cpu") in installed
        origin = json.loads(_direct_url(runner_venv))
        assert origin["url"].startswith("file://") and origin["url"].endswith(
            f"/nfldeploy-wheel/{vendored.name}"
        )
        release = results["release"]
        assert release.step("Roll back").outcome == "skipped"
        deployed = json.loads((release.workspace / "deploy.json").read_text())["deployment"]
        assert deployed["traffic"] == {deployed["revision"]: 10, serving: 90}
        assert cloudrun.traffic(full_name) == {deployed["revision"]: 100}  # promoted
        reports = runner.workdir / "artifacts" / "nfldeploy-reports"
        assert 'failures="0"' in (reports / "smoke.xml").read_text()
        assert json.loads((reports / "smoke.json").read_text())["passed"]
        page = json.loads((reports / "report.json").read_text())  # the page's data, uploaded beside it
        assert (reports / "report.html").is_file() and page["target"] == "cloudrun"
        assert {link["step"]: link.get("name") for link in page["lineage"]}["revision"] == deployed[
            "revision"
        ]
        exported = runner.workdir / "artifacts" / "exported-models" / "exported_models" / "manifest.json"
        version = cloudrun.revisions[deployed["revision"]]
        assert (
            json.loads(exported.read_text())["checkpoint"]["sha256"]
            != json.loads((example_export / "manifest.json").read_text())["checkpoint"]["sha256"]
        )
        assert version.ready

        # (a canary that fails its check before taking traffic is tests/integration/test_cloudrun_target.py's
        # test_a_canary_that_fails_its_check_gets_no_traffic; here it would cost a third pipeline run)
        promoted = deployed["revision"]

        # a canary that misses the pipeline's latency budget: the deploy-time check holds it to the same
        # smoke_p95_budget_ms, so it fails there before it takes any traffic; nothing after it runs, and the
        # serving revision keeps 100 % (no rollback needed). The settings change re-runs the release job
        # alone on the same run's artifacts (its test and export jobs would repeat the first run's work).
        strict = {**settings, "concurrency": 40, "smoke_p95_budget_ms": 0.001}
        repo = training_repository(tmp_path / "slow", strict, example_export, "retrained")
        done = {name: results[name] for name in ("test", "export")}
        results, _ = _run(tmp_path, "retrained", repo, runner_venv, cloudrun, done)
        release = results["release"]
        deploy = release.step("Deploy the canary")
        assert (
            deploy.outcome == "failure" and "latency" in deploy.output and "got no traffic" in deploy.output
        )
        assert release.step("Smoke-test the canary through its own URL").outcome == "skipped"
        assert release.step("Promote the canary to 100 %").outcome == "skipped"
        assert release.step("Roll back").outcome == "skipped"  # the canary never took traffic
        assert cloudrun.traffic(full_name) == {promoted: 100}
    finally:
        for tags in image_tags(docker_client).values():
            for tag in tags:
                if f"wf-{service}" in tag:
                    docker_client.images.remove(tag, force=True)
