"""Running an image on the local engine: a free port, wait for /ready, logs, always clean up."""

from __future__ import annotations

import contextlib
import time
import urllib.error
import urllib.request
from typing import Any

from nfldeploy.errors import DeployError
from nfldeploy.ports import free_port

DEFAULT_CONTAINER_PORT = 8080


def container_port(client: Any, image: str) -> int:
    """The port ``image`` serves on: its exposed TCP port (the build's ``port`` setting), else $PORT in its
    environment, else 8080."""
    from docker.errors import ImageNotFound

    try:
        config = client.images.get(image).attrs.get("Config") or {}
    except ImageNotFound as exc:
        raise DeployError(f"no image {image} on the local engine", hint="Run nfldeploy build first.") from exc
    exposed = [int(key.split("/")[0]) for key in config.get("ExposedPorts") or {} if key.endswith("/tcp")]
    if exposed:
        return exposed[0]
    env = dict(item.split("=", 1) for item in config.get("Env") or [] if "=" in item)
    return int(env["PORT"]) if env.get("PORT", "").isdigit() else DEFAULT_CONTAINER_PORT


def start(
    client: Any,
    image: str,
    port: int | None = None,
    env: dict[str, str] | None = None,
    name: str | None = None,
    cpus: float | None = None,
    memory_mib: int | None = None,
    labels: dict[str, str] | None = None,
) -> tuple[Any, str]:
    """Start ``image`` detached, its serving port (see ``container_port``) published on 127.0.0.1:``port``;
    returns (container, base URL)."""
    from docker.errors import APIError, ImageNotFound

    port = port or free_port()
    inside = container_port(client, image)
    limits: dict[str, Any] = {}
    if cpus:
        limits["nano_cpus"] = int(cpus * 1e9)
    if memory_mib:
        limits["mem_limit"] = f"{memory_mib}m"
    try:
        container = client.containers.run(
            image,
            detach=True,
            labels=labels or {},
            name=name,
            environment=env or {},
            ports={f"{inside}/tcp": ("127.0.0.1", port)},
            **limits,
        )
    except ImageNotFound as exc:
        raise DeployError(f"no image {image} on the local engine", hint="Run nfldeploy build first.") from exc
    except APIError as exc:
        raise DeployError(f"cannot start {image}: {exc.explanation or exc}") from exc
    return container, f"http://127.0.0.1:{port}"


def logs_tail(container: Any, lines: int = 30) -> str:
    """The container's last log lines."""
    try:
        return str(container.logs(tail=lines).decode(errors="replace"))
    except Exception:  # the container may be gone already
        return ""


def wait_ready(url: str, container: Any | None = None, timeout: float = 60.0) -> float:
    """Poll /ready until 200; returns the seconds it took. A container that exits, or a timeout, is a
    DeployError carrying the container's last log lines."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            with urllib.request.urlopen(url + "/ready", timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except (urllib.error.URLError, OSError):
            pass
        if container is not None:
            container.reload()
            if container.status in ("exited", "dead"):
                raise DeployError(f"the container exited before it was ready:\n{logs_tail(container)}")
        time.sleep(0.2)
    tail = f":\n{logs_tail(container)}" if container is not None else ""
    raise DeployError(f"{url} was not ready after {timeout:g} s{tail}")


def remove(container: Any) -> None:
    """Stop and remove, whatever state it is in."""
    from docker.errors import NotFound

    with contextlib.suppress(NotFound):
        container.remove(force=True)
