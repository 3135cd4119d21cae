"""ECR for the tests: moto's ECR API has no registry behind it, so a push "to ECR" goes to the local
registry (a real push with moto's ECR token) and the image's manifest is recorded in moto's repository."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from typing import Any

from nfldeploy.cloud.aws import ecr_login
from nfldeploy.image.push import push_image

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


def recorded_image(ecr: Any, repository: str, tag: str = "v1") -> str:
    """An image in moto's ECR with no layers behind it (for a function that never runs): its URI."""
    import contextlib
    import hashlib
    import json

    with contextlib.suppress(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName=repository)
    config = {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2}
    config["digest"] = "sha256:" + hashlib.sha256(repository.encode()).hexdigest()
    manifest = {"schemaVersion": 2, "mediaType": MANIFEST_V2, "config": config, "layers": []}
    ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)
    uri = ecr.describe_repositories(repositoryNames=[repository])["repositories"][0]["repositoryUri"]
    return f"{uri}:{tag}"


def ecr_via_local_registry(
    docker_client: Any, registry: Any, ecr: Any, pushed: dict[str, str]
) -> Callable[[str, str], str]:
    """What a push to ECR does, with the local registry as ECR's storage: a real push (with the ECR token
    from moto), then the image's manifest recorded in moto's ECR repository."""

    def push(image: str, reference: str) -> str:
        local_ref, digest = push_image(docker_client, image, registry.address, ecr_login("us-east-1", ecr))
        repo = local_ref.split("/", 1)[1].rsplit(":", 1)[0]
        request = urllib.request.Request(
            f"http://{registry.address}/v2/{repo}/manifests/{digest}", headers={"Accept": MANIFEST_V2}
        )
        with urllib.request.urlopen(request) as response:
            manifest = response.read().decode()
        repository = reference.split("/", 1)[1].rsplit(":", 1)[0]
        recorded = ecr.put_image(
            repositoryName=repository, imageManifest=manifest, imageTag=reference.rsplit(":", 1)[1]
        )
        ecr_digest = str(recorded["image"]["imageId"]["imageDigest"])
        pushed[ecr_digest] = f"{local_ref.rsplit(':', 1)[0]}@{digest}"
        return ecr_digest

    return push
