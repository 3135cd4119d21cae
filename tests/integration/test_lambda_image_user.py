"""The Lambda image runs as Lambda runs it: as a Linux user Lambda defines (not one of the image's: its USER is
root, which Lambda does not use), on a read-only file system with a writable /tmp
(https://docs.aws.amazon.com/lambda/latest/dg/images-create.html#images-reqs: "The default Lambda user must be
able to read all the files required to run your function code"), under AWS's Runtime Interface Emulator (the
binary in the aws-sam-cli wheel, scripts/tools.txt). Also for an export whose files only their owner may read."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from services import TEST_REPOSITORY, base_image, free_port, tool, unavailable

pytestmark = [pytest.mark.docker, pytest.mark.slow]

#: Not a user of the image; Lambda's own is not documented by number.
LAMBDA_LIKE_USER = "54321:54321"
PLAY = {
    "players": [{"x": 50, "y": 26, "s": 5.0, "a": 0.5, "dis": 1.2, "o": 90, "dir": 90}],
    "game_context": {"down": 1, "distance": 10},
}


@pytest.fixture(scope="module")
def rie() -> Path:
    """aws-lambda-rie-x86_64 from the aws-sam-cli wheel that scripts/setup installs into .tools/sam."""
    sam = tool("sam")
    if sam is None:
        unavailable("SAM CLI is not installed", "run scripts/setup (scripts/tools.txt: aws-sam-cli)")
    found = sorted(
        Path(sam)
        .resolve()
        .parents[1]
        .glob("lib/python*/site-packages/samcli/local/rapid/aws-lambda-rie-x86_64")
    )
    if not found:
        unavailable(f"no aws-lambda-rie-x86_64 in the venv of {sam}", "run scripts/setup")
    return found[0]


def _event(path: str, body: Any) -> dict[str, Any]:
    """A Function URL request, payload 2.0."""
    domain = "abc123.lambda-url.us-east-1.on.aws"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": domain},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abc123",
            "domainName": domain,
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9"},
            "requestId": "r1",
            "routeKey": "$default",
            "stage": "$default",
        },
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def _invoke_as_lambda(client: Any, image: str, rie: Path) -> dict[str, Any]:
    """Run ``image`` as a user it does not know, read-only but /tmp, the emulator in front of its entrypoint;
    one invoke of /predict; the container is removed."""
    port = free_port()
    container = client.containers.run(
        image,
        detach=True,
        user=LAMBDA_LIKE_USER,
        read_only=True,
        tmpfs={"/tmp": "rw,size=64m"},
        volumes={str(rie): {"bind": "/usr/local/bin/aws-lambda-rie", "mode": "ro"}},
        entrypoint=["/usr/local/bin/aws-lambda-rie", "python3", "-m", "awslambdaric"],
        command=["nfldeploy.serving.lambda_handler.handler"],
        ports={"8080/tcp": ("127.0.0.1", port)},
    )
    url = f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"
    request = urllib.request.Request(url, data=json.dumps(_event("/predict", PLAY)).encode(), method="POST")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(request, timeout=120) as response:
                    answer: dict[str, Any] = json.loads(response.read())
                    break
            except (urllib.error.URLError, ConnectionError) as exc:
                container.reload()
                if container.status == "exited" or time.monotonic() > deadline:
                    logs = container.logs()[-3000:].decode(errors="replace")
                    raise AssertionError(f"{exc}\n{logs}") from exc
                time.sleep(0.5)
        answer["_log"] = container.logs()[-3000:].decode(errors="replace")
        return answer
    finally:
        container.remove(force=True)


def test_the_lambda_image_runs_as_a_user_it_does_not_know_on_a_read_only_root(
    docker_client: Any, lambda_image: str, rie: Path
) -> None:
    assert docker_client.images.get(lambda_image).attrs["Config"]["User"] == "root"
    answer = _invoke_as_lambda(docker_client, lambda_image, rie)
    assert answer.get("statusCode") == 200, answer
    assert len(json.loads(answer["body"])["predictions"][0]["predicted_positions"]) == 10


def test_an_export_only_its_owner_may_read_still_serves_as_lambdas_user(
    docker_client: Any, example_export: Path, rie: Path, tmp_path: Path
) -> None:
    """An export written under umask 077 (files 0600, folders 0700): the image must still let any user read
    the model, or Lambda's user fails at init where a root container (docker run, sam local) works."""
    from nfldeploy.image.pipeline import build
    from nfldeploy.render.dockerfile import ImageSpec

    export = tmp_path / "exported_models"
    shutil.copytree(example_export, export)
    for folder, _folders, files in os.walk(export):
        os.chmod(folder, 0o700)
        for name in files:
            os.chmod(Path(folder) / name, 0o600)
    tag = f"{TEST_REPOSITORY}private-fn-{uuid.uuid4().hex[:6]}:v1"
    try:
        build(export, ImageSpec(kind="lambda", base_image=base_image()), "unused", tag, client=docker_client)
        answer = _invoke_as_lambda(docker_client, tag, rie)
        assert answer.get("statusCode") == 200, answer
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(tag, force=True)
