"""The real parts work end to end: engine build + run, local registry push + digest, auth, moto."""

from __future__ import annotations

import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from nfldeploy.errors import RemoteError
from nfldeploy.image.registry import ping, resolve_digest
from services import TEST_REPOSITORY, Registry, base_image

pytestmark = pytest.mark.docker


@pytest.mark.slow
def test_build_run_push_and_read_back_the_digest(
    docker_client: Any, registry: Registry, tmp_path: Path
) -> None:
    marker = uuid.uuid4().hex
    (tmp_path / "Dockerfile").write_text(
        f'FROM {base_image()}\nRUN echo {marker} > /marker\nCMD ["python3", "-c", '
        "\"import sys; print(open('/marker').read().strip(), sys.version_info[:2])\"]\n"
    )
    tag = f"{registry.address}/{TEST_REPOSITORY}tiny:{marker[:8]}"
    image, _ = docker_client.images.build(path=str(tmp_path), tag=tag, rm=True, forcerm=True)
    try:
        output = docker_client.containers.run(tag, remove=True).decode()
        assert marker in output and "(3, 11)" in output

        events = list(docker_client.images.push(tag, stream=True, decode=True))
        errors = [event for event in events if "error" in event]
        assert not errors, errors
        pushed = [event["aux"]["Digest"] for event in events if "Digest" in event.get("aux", {})]
        assert len(pushed) == 1

        request = urllib.request.Request(
            f"http://{registry.address}/v2/{TEST_REPOSITORY}tiny/manifests/{marker[:8]}",
            method="HEAD",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.headers["Docker-Content-Digest"] == pushed[0]
        image.reload()
        assert any(digest.endswith(pushed[0]) for digest in image.attrs["RepoDigests"])
    finally:
        docker_client.images.remove(image.id, force=True)


def test_registry_ping(registry: Registry, auth_registry: Registry) -> None:
    assert ping(registry.address) == "ok"
    assert ping(auth_registry.address) == "auth required"


def test_push_with_wrong_password_is_refused_in_the_stream(
    docker_client: Any, auth_registry: Registry
) -> None:
    tag = f"{auth_registry.address}/{TEST_REPOSITORY}base:auth"
    docker_client.images.get(base_image()).tag(tag)
    try:
        events = list(
            docker_client.images.push(
                tag, stream=True, decode=True, auth_config={"username": "tester", "password": "wrong"}
            )
        )
        assert any("error" in event for event in events)
        good = list(
            docker_client.images.push(
                tag, stream=True, decode=True, auth_config={"username": "tester", "password": "s3cret-pw"}
            )
        )
        assert not [event for event in good if "error" in event], good
    finally:
        docker_client.images.remove(tag)


def test_a_tag_resolves_to_the_digest_its_registry_serves_now(
    docker_client: Any, registry: Registry, auth_registry: Registry
) -> None:
    """What Cloud Run deploys pins: the tag's current digest, read from the registry (with Basic auth when
    the registry asks), and a different digest once the tag points at another image."""
    creds = {"username": "tester", "password": "s3cret-pw"}
    tags = []
    try:
        for address, auth in ((registry.address, None), (auth_registry.address, creds)):
            tag = f"{address}/{TEST_REPOSITORY}resolve:{uuid.uuid4().hex[:8]}"
            tags.append(tag)
            docker_client.images.get(base_image()).tag(tag)
            events = list(docker_client.images.push(tag, stream=True, decode=True, auth_config=auth))
            pushed = next(e["aux"]["Digest"] for e in events if "Digest" in e.get("aux", {}))
            assert resolve_digest(tag, auth) == pushed
        with pytest.raises(RemoteError, match=r"refused to show .* \(401\)"):
            resolve_digest(tags[1], None)
        with pytest.raises(RemoteError, match="not in its registry"):
            resolve_digest(f"{registry.address}/{TEST_REPOSITORY}resolve:no-such-tag")
    finally:
        for tag in tags:
            docker_client.images.remove(tag)
