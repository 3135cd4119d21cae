"""Real services for tests: a Docker engine, local registries, moto's server.

Where a service cannot be had, tests that need it skip with a reason that says how to get it; under CI=true
they fail instead, so a green CI always means the real parts ran.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

from nfldeploy.ports import free_port

#: Every image a test builds or tags is named under this session's own prefix, so the session-end sweep
#: (conftest) removes this session's images and never another session's running in parallel.
TEST_REPOSITORY = f"nfldeploy-test/{uuid.uuid4().hex[:6]}-"
SETUP_HINT = "run scripts/test-services (as root) to install and start it"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str, hint: str = SETUP_HINT, allow_module_level: bool = False) -> NoReturn:
    """Skip (laptop) or fail (CI) a test whose real service or test dependency is missing (a whole module
    with ``allow_module_level``)."""
    message = f"{reason}; {hint}"
    if in_ci():
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message, allow_module_level=allow_module_level)


def base_image() -> str:
    return os.environ.get("NFLDEPLOY_BASE_IMAGE", "python:3.11-slim")


@dataclass
class Registry:
    """A docker-registry process on a loopback port."""

    address: str
    process: subprocess.Popen[bytes]
    username: str | None = None
    password: str | None = None

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def image_tags(client: Any, name: str | None = None) -> dict[str, list[str]]:
    """Every image on the engine (of repository ``name``) with its tags, in one API call. docker-py's
    ``images.list()`` inspects each image after listing them, which fails when another test process removes
    one in between."""
    return {
        image["Id"]: [tag for tag in image.get("RepoTags") or [] if tag != "<none>:<none>"]
        for image in client.api.images(name=name)
    }


def start_registry(workdir: Path, username: str | None = None, password: str | None = None) -> Registry:
    """Start Debian's docker-registry (distribution 2.8) with its own storage, optionally with htpasswd."""
    binary = shutil.which("docker-registry")
    if binary is None:
        unavailable("docker-registry is not installed")
    workdir.mkdir(parents=True, exist_ok=True)
    address = f"127.0.0.1:{free_port()}"
    auth = ""
    if username and password:
        htpasswd = shutil.which("htpasswd")
        if htpasswd is None:
            unavailable("htpasswd (apache2-utils) is not installed")
        subprocess.run(
            [htpasswd, "-Bbc", str(workdir / "htpasswd"), username, password], check=True, capture_output=True
        )
        auth = f"auth:\n  htpasswd:\n    realm: nfldeploy-test\n    path: {workdir / 'htpasswd'}\n"
    config = workdir / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {workdir / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: {address}\n{auth}"
    )
    log = (workdir / "registry.log").open("wb")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://{address}/v2/", timeout=1)
            break
        except urllib.error.HTTPError:
            break  # 401: up, and asking for credentials
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail(f"registry did not start; see {workdir / 'registry.log'}")
    if process.poll() is not None:
        pytest.fail(f"registry exited at start; see {workdir / 'registry.log'}")
    return Registry(address, process, username, password)


TOOLS = Path(__file__).resolve().parents[1] / ".tools" / "bin"


def tool(name: str) -> str | None:
    """A command from this interpreter's environment (the venv's bin), else from the tools' venvs
    (scripts/tools.txt, installed by scripts/setup into .tools/), else from PATH."""
    import sys

    for folder in (Path(sys.executable).parent, TOOLS):
        if (folder / name).exists():
            return str(folder / name)
    return shutil.which(name)


def without_aws_credentials(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Leave the AWS credential chain empty: no env keys, no files, no instance metadata."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(folder / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(folder / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
