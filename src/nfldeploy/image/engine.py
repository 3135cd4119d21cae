"""The Docker SDK's facade: connecting to the engine and the questions every package asks it. The image
package (build, run, push) is the only one that imports docker."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from docker import DockerClient as DockerClient

from nfldeploy.errors import DockerUnavailable

DOCKER_HINT = (
    "Start a Docker engine (on Debian as root: apt-get install docker.io && dockerd &, or run "
    "scripts/test-services), or point DOCKER_HOST at one."
)


def connect(timeout: int = 60) -> DockerClient:
    """A docker.DockerClient for the engine of the environment (DOCKER_HOST or the local socket)."""
    try:
        import docker
        from docker.errors import DockerException
    except ImportError as exc:  # pragma: no cover - the cloud extra is missing
        raise DockerUnavailable(
            "the Docker SDK is not installed",
            hint="pip install docker (a core dependency of nfldeploy; reinstall it)",
        ) from exc
    try:
        client = docker.from_env(version="auto", timeout=timeout)
        client.ping()
    except DockerException as exc:
        raise DockerUnavailable(f"no Docker engine reachable: {exc}", hint=DOCKER_HINT) from exc
    return client


def engine_info(client: DockerClient) -> dict[str, str]:
    """Engine version, API version and OS of a connected client."""
    info = client.version()
    return {
        "version": str(info.get("Version", "?")),
        "api_version": str(info.get("ApiVersion", "?")),
        "os": f"{info.get('Os', '?')}/{info.get('Arch', '?')}",
    }


def find_image_id(client: DockerClient, image: str) -> str | None:
    """The id (config digest, ``sha256:...``) of a local image; None when the engine lacks it."""
    from docker.errors import ImageNotFound

    try:
        return str(client.images.get(image).id)
    except ImageNotFound:
        return None
