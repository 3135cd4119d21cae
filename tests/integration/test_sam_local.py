"""SAM CLI runs the rendered SAM template against the Lambda image as built, offline (dummy credentials, no
telemetry, no pull, no version check): ``sam local invoke`` answers a Function URL event and an HTTP API event
(payload 2.0, made by SAM's own ``generate-event``), ``sam local start-api`` serves the HTTP API template and the
smoke test passes through it, and a template rendered wrong (handler, env) fails there.

SAM rebuilds the image ``FROM`` it as ``<repository>:rapid-<arch>`` with the emulator moved into /var/rapid
(samcli/local/docker/lambda_image.py); every such image and its containers are removed at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest
from typer.testing import CliRunner

from nfldeploy.cli.app import app
from nfldeploy.image.references import split_reference
from nfldeploy.records.build import Build, BuildRecord, write_build_record
from nfldeploy.records.manifest import read_manifest
from services import free_port, tool, unavailable

pytestmark = [pytest.mark.docker, pytest.mark.slow]

GUIDE_PLAY = {
    "players": [{"x": 50, "y": 26, "s": 5.0, "a": 0.5, "dis": 1.2, "o": 90, "dir": 90}],
    "game_context": {"down": 1, "distance": 10},
}


@pytest.fixture(scope="module")
def sam() -> str:
    command = tool("sam")
    if command is None:
        unavailable("SAM CLI is not installed", "run scripts/setup (scripts/tools.txt: aws-sam-cli)")
    return command


@pytest.fixture(scope="module")
def sam_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """SAM CLI's environment: dummy AWS credentials and nothing else of the AWS chain, a home of its own whose
    metadata.json turns telemetry off and says the weekly version check (a call to PyPI) was just made."""
    home = tmp_path_factory.mktemp("sam-home")
    (home / ".aws-sam").mkdir()
    (home / ".aws-sam" / "metadata.json").write_text(
        json.dumps({"telemetryEnabled": False, "lastVersionCheck": time.time()})
    )
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "SAM_"))}
    env.update(
        HOME=str(home),
        SAM_CLI_TELEMETRY="0",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing-secret-value",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(home / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "none"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


@pytest.fixture(scope="module")
def export(
    example_export: Path, lambda_image: str, docker_client: Any, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A copy of the example's export whose build record holds the Lambda image, as ``nfldeploy build
    --kind lambda`` leaves it: ``render`` names that image in the template."""
    folder = tmp_path_factory.mktemp("sam-export") / "exported_models"
    shutil.copytree(example_export, folder)
    image = docker_client.images.get(lambda_image)
    build = Build(
        image_id=image.id,
        tag=lambda_image,
        size_bytes=image.attrs["Size"],
        layers=len(image.attrs["RootFS"]["Layers"]),
        labels=image.labels,
        kind="lambda",
        runtime="onnx",
        seconds=0.0,
        cached_steps=0,
    )
    write_build_record(folder, BuildRecord().with_build(build))
    return folder


@pytest.fixture(scope="module", autouse=True)
def _sam_images_removed(docker_client: Any, lambda_image: str) -> Iterator[None]:
    """After the module, even on failure: the images SAM built from the Lambda image and their containers."""
    yield
    base = docker_client.images.get(lambda_image).id
    built = _sam_builds(docker_client, base)
    for image in built:
        for container in docker_client.api.containers(all=True, filters={"ancestor": image}):
            with contextlib.suppress(docker.errors.NotFound):
                docker_client.api.remove_container(container["Id"], force=True)
    for image in built:
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.api.remove_image(image, force=True)
    assert not _sam_builds(docker_client, base)


def _sam_builds(client: Any, base: str) -> list[str]:
    """The images SAM built ``FROM`` image ``base``, children first: its ``<repository>:rapid-<arch>`` image
    and, when its build failed, the build's intermediate images (the classic builder keeps them, and the failed
    step's container). SAM's build starts with ``ADD aws-lambda-rie /var/rapid/``
    (samcli/local/docker/lambda_image.py), which tells them from other images made from ``base``."""
    parents = {image["Id"]: image.get("ParentId", "") for image in client.api.images(all=True)}

    def chain(image: str) -> list[str]:
        """``image`` and its parents below ``base``, or nothing when it does not descend from ``base``."""
        found = []
        while image and image != base:
            found.append(image)
            image = parents.get(image, "")
        return found if image == base else []

    chains = {image: chain(image) for image in parents}
    sam_adds = set()
    for first in {found[-1] for found in chains.values() if found}:
        with contextlib.suppress(docker.errors.ImageNotFound):
            steps = client.api.history(first)
            if "/var/rapid" in steps[0]["CreatedBy"]:
                sam_adds.add(first)
    built = [image for image, found in chains.items() if found and found[-1] in sam_adds]
    return sorted(built, key=lambda image: -len(chains[image]))


def _render(export: Path, out: Path, *settings: str) -> Path:
    """``nfldeploy render --only lambda`` with ``--set`` of each setting; the SAM template's path."""
    overrides = [arg for setting in settings for arg in ("--set", setting)]
    result = CliRunner().invoke(
        app,
        ["render", str(export), "--only", "lambda", "--out", str(out), *overrides],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return out / "aws" / "template.yaml"


def _invoke(sam: str, env: dict[str, str], template: Path, event: dict[str, Any]) -> dict[str, Any]:
    """``sam local invoke`` of the function with ``event``; the function's answer (SAM prints it on stdout, its
    own log and the function's on stderr)."""
    event_file = template.parent / "event.json"
    event_file.write_text(json.dumps(event))
    command = [sam, "local", "invoke", "InferenceFunction", "-t", str(template), "-e", str(event_file)]
    result = subprocess.run(
        [*command, "--skip-pull-image"], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    try:
        answer: dict[str, Any] = json.loads(result.stdout)
    except ValueError:
        raise AssertionError(f"no answer on stdout: {result.stdout!r}\n{result.stderr[-3000:]}") from None
    answer["_log"] = result.stderr
    return answer


def _function_url_event(method: str, path: str, body: Any = None) -> dict[str, Any]:
    """A Function URL request (payload 2.0) through an AWS_IAM URL, in the shape of the request payload on
    https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html (the IAM caller in ``authorizer.iam``)."""
    domain = "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6.lambda-url.us-east-1.on.aws"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "host": domain,
            "x-forwarded-for": "203.0.113.9",
            "x-forwarded-proto": "https",
            "x-forwarded-port": "443",
            "x-amz-date": "20261207T120000Z",
            "user-agent": "nfldeploy-test",
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6",
            "authorizer": {
                "iam": {
                    "accessKey": "AKIAIOSFODNN7EXAMPLE",
                    "accountId": "123456789012",
                    "callerId": "AIDACKCEVSQ6C2EXAMPLE",
                    "cognitoIdentity": None,
                    "principalOrgId": None,
                    "userArn": "arn:aws:iam::123456789012:user/ci",
                    "userId": "AIDACKCEVSQ6C2EXAMPLE",
                }
            },
            "domainName": domain,
            "domainPrefix": "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.9",
                "userAgent": "nfldeploy-test",
            },
            "requestId": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
            "routeKey": "$default",
            "stage": "$default",
            "time": "07/Dec/2026:12:00:00 +0000",
            "timeEpoch": 1796644800000,
        },
        **({"body": json.dumps(body)} if body is not None else {}),
        "isBase64Encoded": False,
    }


def _http_api_event(sam: str, env: dict[str, str], path: str, body: Any) -> dict[str, Any]:
    """An HTTP API request (payload 2.0) from SAM's own generator, with a JSON content type (its sample
    headers carry none)."""
    options = ["--method", "POST", "--path", path.lstrip("/"), "--body", json.dumps(body)]
    result = subprocess.run(
        [sam, "local", "generate-event", "apigateway", "http-api-proxy", *options],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    event: dict[str, Any] = json.loads(result.stdout)
    event["headers"] = {**event["headers"], "content-type": "application/json"}
    return event


def _assert_predicted(answer: dict[str, Any], export: Path) -> None:
    assert answer.get("statusCode") == 200, {k: v for k, v in answer.items() if k != "_log"}
    body = json.loads(answer["body"])
    manifest = read_manifest(export)
    assert len(body["predictions"][0]["predicted_positions"]) == manifest.model.horizon
    # the image serves the exported model: model_version is experiment:config sha12:artifact
    assert body["model_version"].split(":")[:2] == [manifest.experiment_name, manifest.short_sha]


def test_sam_local_invoke_runs_the_function_url_template(
    sam: str, sam_env: dict[str, str], export: Path, lambda_image: str, tmp_path: Path
) -> None:
    template = _render(export, tmp_path / "deploy")
    text = template.read_text()
    assert f"ImageUri: {lambda_image}\n" in text and "AuthType: AWS_IAM" in text
    answer = _invoke(sam, sam_env, template, _function_url_event("POST", "/predict", GUIDE_PLAY))
    _assert_predicted(answer, export)


def test_sam_local_invoke_runs_the_http_api_template(
    sam: str, sam_env: dict[str, str], export: Path, tmp_path: Path
) -> None:
    template = _render(
        export, tmp_path / "deploy", "lambda_endpoint=api_gateway", "allow_unauthenticated=true"
    )
    text = template.read_text()
    assert "Type: AWS::Serverless::HttpApi" in text and "FunctionUrlConfig" not in text
    answer = _invoke(sam, sam_env, template, _http_api_event(sam, sam_env, "/predict", GUIDE_PLAY))
    _assert_predicted(answer, export)


@pytest.mark.parametrize(
    ("broken", "wrong", "error"),
    [
        # the handler the image's CMD names, overridden as a wrong render would
        (
            "      PackageType: Image\n",
            "      PackageType: Image\n      ImageConfig:\n        Command:\n"
            "          - nfldeploy.serving.lambda_handler.handle\n",
            "Runtime.HandlerNotFound",
        ),
        # an env value the handler cannot take
        (
            'NFLSERVE_RATE_LIMIT_RPS: "50"',
            'NFLSERVE_RATE_LIMIT_RPS: "fifty"',
            "NFLSERVE_RATE_LIMIT_RPS='fifty'",
        ),
    ],
    ids=["handler", "env"],
)
def test_a_template_rendered_wrong_fails_under_sam(
    sam: str, sam_env: dict[str, str], export: Path, tmp_path: Path, broken: str, wrong: str, error: str
) -> None:
    """The invoke tests are not a tautology: the same template with a wrong handler or env fails there."""
    template = _render(export, tmp_path / "deploy")
    text = template.read_text()
    assert broken in text
    template.write_text(text.replace(broken, wrong, 1))
    answer = _invoke(sam, sam_env, template, _function_url_event("POST", "/predict", GUIDE_PLAY))
    assert "statusCode" not in answer, answer  # the function never answered: its init failed
    assert error in answer["errorType"] + ": " + answer["errorMessage"], answer


def _get(url: str, timeout: float = 60) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_sam_local_start_api_serves_the_http_api_and_the_smoke_test_passes(
    sam: str, sam_env: dict[str, str], export: Path, lambda_image: str, docker_client: Any, tmp_path: Path
) -> None:
    """``start-api`` with warm containers (one execution environment reused, as Lambda reuses a warm one; without
    them SAM starts a container per request, so /metrics would never move). SAM's one environment answers one
    request at a time (about 20 a second here), so the function's own limiter is rendered below that for the
    rate-limit row to reach it (SAM does not emulate the HTTP API's throttle)."""
    template = _render(
        export,
        tmp_path / "deploy",
        "lambda_endpoint=api_gateway",
        "allow_unauthenticated=true",
        "rate_limit_rps=5",
        "rate_limit_burst=50",
    )
    port = free_port()
    log = (tmp_path / "start-api.log").open("w")
    command = [sam, "local", "start-api", "-t", str(template), "-p", str(port), "--skip-pull-image"]
    process = subprocess.Popen(
        [*command, "--warm-containers", "EAGER"],
        env=sam_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    rapid = f"{split_reference(lambda_image)[0]}:rapid-x86_64"
    try:
        deadline = time.monotonic() + 240
        while True:
            assert process.poll() is None, (tmp_path / "start-api.log").read_text()[-3000:]
            with contextlib.suppress(OSError):
                if _get(f"{url}/health", timeout=30) == 200:
                    break
            assert time.monotonic() < deadline, (tmp_path / "start-api.log").read_text()[-3000:]
            time.sleep(1)
        # the rows' figures are checked here, not this shared machine's speed (SAM's emulator adds about 150 ms)
        smoke = ["smoke-test", "--url", url, "--export-dir", str(export), "--requests", "10"]
        result = CliRunner().invoke(app, [*smoke, "--p95-budget-ms", "5000"], catch_exceptions=False)
        assert result.exit_code == 0, result.output + (tmp_path / "start-api.log").read_text()[-3000:]
        assert docker_client.containers.list(filters={"ancestor": rapid})  # it ran in SAM's container
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
    # SAM removes its warm container when it stops
    assert not docker_client.containers.list(all=True, ignore_removed=True, filters={"ancestor": rapid})


def test_sam_local_start_api_cannot_serve_a_function_url(
    sam: str, sam_env: dict[str, str], export: Path, tmp_path: Path
) -> None:
    """The blocker, as SAM CLI states it: ``start-api`` serves API Gateway events only, so the Function URL
    template is covered by ``sam local invoke`` (when SAM serves function URLs, this fails: use it then)."""
    template = _render(export, tmp_path / "deploy")
    result = subprocess.run(
        [sam, "local", "start-api", "-t", str(template), "-p", str(free_port()), "--skip-pull-image"],
        env=sam_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "Template does not have any APIs connected to Lambda functions" in result.stdout + result.stderr
