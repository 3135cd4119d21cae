"""Pushing images to a registry. Credentials come from the docker config (``docker login``), or from
NFLDEPLOY_REGISTRY_USERNAME / NFLDEPLOY_REGISTRY_PASSWORD; a refused credential, reported inside the push
stream, is a PushError (exit 4) with the registry's message."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from nfldeploy.errors import PushError
from nfldeploy.image.references import split_reference, target_reference

AUTH_MODES = ("auto", "docker", "env", "ecr", "gcp")


def registry_auth(mode: str, reference: str, aws_region: str) -> dict[str, str] | None:
    """Credentials for pushing ``reference``: ``ecr`` (a token through boto3), ``gcp`` (oauth2accesstoken
    with an ADC access token), ``env`` (NFLDEPLOY_REGISTRY_USERNAME / PASSWORD), ``docker`` (the docker config,
    used by the engine itself). ``auto`` picks by the registry's host name, then env, then docker."""
    if mode not in AUTH_MODES:
        raise PushError(f"unknown --auth {mode!r}; choose from {', '.join(AUTH_MODES)}")
    host = reference.split("/", 1)[0]
    if mode == "auto":
        if ".dkr.ecr." in host and host.endswith(".amazonaws.com"):
            mode = "ecr"
            aws_region = host.split(".dkr.ecr.", 1)[1].split(".", 1)[0]
        elif host.endswith("-docker.pkg.dev") or host.endswith("gcr.io"):
            mode = "gcp"
        else:
            mode = "env"
    if mode == "ecr":
        from nfldeploy.cloud.aws import ecr_login

        return ecr_login(aws_region)
    if mode == "gcp":
        from nfldeploy.cloud.gcp import artifact_registry_login

        return artifact_registry_login()
    if mode == "env":
        return credentials_from_env()
    return None


def credentials_from_env() -> dict[str, str] | None:
    """Explicit registry credentials, when both variables are set."""
    user, password = (
        os.environ.get("NFLDEPLOY_REGISTRY_USERNAME"),
        os.environ.get("NFLDEPLOY_REGISTRY_PASSWORD"),
    )
    return {"username": user, "password": password} if user and password else None


def push_image(
    client: Any,
    image: str,
    registry: str | None = None,
    auth: dict[str, str] | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    destination: str | None = None,
) -> tuple[str, str]:
    """Tag (when re-homing under ``registry``, or as exactly ``destination``) and push with ``auth`` (None:
    the docker config); returns (reference, digest)."""
    from docker.errors import APIError, DockerException, ImageNotFound

    reference = destination or target_reference(image, registry)
    try:
        local = client.images.get(image)
    except ImageNotFound as exc:
        raise PushError(
            f"no local image {image}", hint="Run nfldeploy build first, or name an existing image."
        ) from exc
    name, tag = split_reference(reference)
    digest = ""
    try:
        if reference != image:
            local.tag(name, tag)
        stream = client.images.push(
            name, tag=tag, stream=True, decode=True, auth_config=auth or credentials_from_env()
        )
        for event in stream:
            if "error" in event:
                detail = event.get("errorDetail", {}).get("message") or event["error"]
                raise PushError(
                    f"push of {reference} refused: {detail.strip()}",
                    hint="Check the registry credentials (docker login, or NFLDEPLOY_REGISTRY_USERNAME/PASSWORD).",
                )
            aux = event.get("aux")
            if isinstance(aux, dict) and aux.get("Digest"):
                digest = str(aux["Digest"])
            if on_progress:
                on_progress(event)
    except (APIError, DockerException) as exc:
        message = getattr(exc, "explanation", None) or str(exc)
        raise PushError(f"push of {reference} failed: {message}") from exc
    if not digest:
        raise PushError(f"push of {reference} ended without a digest")
    return reference, digest


def push_to_ecr(image: str, reference: str, region: str, ecr: Any = None) -> str:
    """Push a local image as exactly ``reference`` (an ECR repository URI and tag) with an ECR token from
    ``ecr`` (a boto3 ECR client; default: the standard chain's); returns the digest."""
    from nfldeploy.cloud.aws import ecr_login
    from nfldeploy.image.engine import connect

    _, digest = push_image(connect(), image, auth=ecr_login(region, ecr), destination=reference)
    return digest
