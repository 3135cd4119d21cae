"""Write the shipped locks with pip's own resolver (``scripts/lock``): for each set and platform,
``pip install --dry-run --report`` against PyPI (and PyTorch's CPU index for the torch sets) for CPython 3.11
and the platform's wheel tags, then the exact version and sha256 of every file pip chose.

pip evaluates environment markers against the machine it runs on, not the ``--platform`` it is given
(https://pip.pypa.io/en/stable/cli/pip_download/#cmdoption-platform: the options select wheels by tag only),
so the resolution is checked against the target: every Requires-Dist of every resolved package is evaluated
with the target's markers, and a lock whose closure differs from what pip resolved is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from nfldeploy import __version__
from nfldeploy.errors import ConfigError
from nfldeploy.locks import (
    PLATFORM_TAGS,
    PYTHON_VERSION,
    SETS,
    TORCH_INDEX,
    Pinned,
    file_name,
    requirement_words,
)

INDEX = "https://pypi.org/simple"
#: Where a locked file may come from: PyPI's and PyTorch's file hosts.
TRUSTED_HOSTS = ("https://files.pythonhosted.org/", "https://download.pytorch.org/")
#: Files a lock may take from elsewhere (a local wheel folder, ``--find-links``) because their sha256 is
#: known from two public sources: torch's CPU wheel as PyTorch's CPU index lists it (a Dockerfile installing
#: https://download.pytorch.org/whl/cpu/torch-2.13.0%2Bcpu-cp311-cp311-manylinux_2_28_x86_64.whl#sha256=...
#: (search index id 57787591324) and a sha256 listing of the torch 2.13.0+cpu wheels (id 70923961603)).
KNOWN_FILES = {
    "6746dbcbeb526eb61330b76b41ff1b4eb848951103a892eeb080dfa2b264667b": (
        "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
    ),
}
MACHINES = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}


def target_environment(platform: str) -> dict[str, str]:
    """PEP 508 marker values of CPython 3.11 on Linux for ``platform``."""
    return {
        "implementation_name": "cpython",
        "implementation_version": f"{PYTHON_VERSION}.0",
        "os_name": "posix",
        "platform_machine": MACHINES[platform],
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": f"{PYTHON_VERSION}.0",
        "python_version": PYTHON_VERSION,
        "sys_platform": "linux",
    }


@dataclass(frozen=True)
class Resolved:
    name: str
    version: str
    url: str
    sha256: str
    requires: tuple[str, ...]


def resolve(requirements: list[str], platform: str, find_links: Iterable[str] = ()) -> list[Resolved]:
    """pip's resolution of ``requirements`` for ``platform`` (metadata only: nothing is installed)."""
    torch = any(canonicalize_name(Requirement(r).name) == "torch" for r in requirements)
    with tempfile.TemporaryDirectory() as target:
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--disable-pip-version-check",
            "--report",
            "-",
            "--target",
            target,
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            PYTHON_VERSION,
            *[arg for tag in PLATFORM_TAGS[platform] for arg in ("--platform", tag)],
            "--index-url",
            INDEX,
            *(["--extra-index-url", TORCH_INDEX] if torch else []),
            *[arg for folder in find_links for arg in ("--find-links", folder)],
            *requirements,
        ]
        # only the indexes named here: no pip configuration of this machine takes part
        env = {**os.environ, "PIP_CONFIG_FILE": os.devnull}
        env = {k: v for k, v in env.items() if not k.startswith("PIP_") or k == "PIP_CONFIG_FILE"}
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise ConfigError(
            f"pip could not resolve {' '.join(requirements)} for {platform}: {done.stderr[-2000:]}"
        )
    return [_resolved(item) for item in json.loads(done.stdout)["install"]]


def _resolved(item: dict[str, Any]) -> Resolved:
    info = item["download_info"]
    return Resolved(
        name=canonicalize_name(item["metadata"]["name"]),
        version=item["metadata"]["version"],
        url=info["url"],
        sha256=info.get("archive_info", {}).get("hashes", {}).get("sha256", ""),
        requires=tuple(item["metadata"].get("requires_dist", [])),
    )


def check(resolved: list[Resolved], requirements: list[str], platform: str) -> None:
    """Each file comes from a trusted host or is a known file, and pip's set is the target's closure."""
    for item in resolved:
        if not item.sha256:
            raise ConfigError(f"pip reported no sha256 for {item.name} {item.version} ({item.url})")
        if not item.url.startswith(TRUSTED_HOSTS) and item.sha256 not in KNOWN_FILES:
            raise ConfigError(f"{item.name} {item.version} came from {item.url}, not PyPI or PyTorch's index")
    closure = target_closure(resolved, requirements, platform)
    names = {item.name for item in resolved}
    if closure != names:
        raise ConfigError(
            f"pip's resolution for {platform} differs from the target's markers: "
            f"missing {sorted(closure - names)}, not needed {sorted(names - closure)}"
        )


def target_closure(resolved: list[Resolved], requirements: list[str], platform: str) -> set[str]:
    """The names the target needs: the requirements and, transitively, every Requires-Dist whose marker holds
    on the target (with the extras asked for)."""
    by_name = {item.name: item for item in resolved}
    environment = target_environment(platform)
    needed: set[str] = set()
    queue = [Requirement(r) for r in requirements]
    seen: set[tuple[str, frozenset[str]]] = set()
    while queue:
        requirement = queue.pop()
        name = canonicalize_name(requirement.name)
        key = (name, frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        needed.add(name)
        item = by_name.get(name)
        if item is None:
            continue  # reported as missing by the caller
        for line in item.requires:
            dependency = Requirement(line)
            if dependency.marker is None or _holds(dependency.marker, environment, requirement.extras):
                queue.append(dependency)
    return needed


def _holds(marker: Marker, environment: dict[str, str], extras: set[str]) -> bool:
    return any(marker.evaluate({**environment, "extra": extra}) for extra in (extras or {""}))


def lock_text(set_name: str, platform: str, requirements: list[str], resolved: list[Resolved]) -> str:
    """The lock file: a header saying what it is and where it came from, then one pinned line per file."""
    pins = sorted(
        (Pinned(item.name, item.version, (item.sha256,)) for item in resolved), key=lambda p: p.name
    )
    header = [
        f"# nfldeploy {__version__} lock {set_name} for {platform}, CPython {PYTHON_VERSION}: the exact files "
        "pip resolved (PyPI; torch's CPU build from PyTorch's index).",
        "# Written by scripts/lock (nfldeploy.locks.refresh); installed with pip --require-hashes. Do not edit.",
        f"# requirements: {' '.join(requirement_words(requirements))}",
    ]
    return "\n".join(header) + "\n" + "".join(f"{pin.line()}\n" for pin in pins)


def refresh(
    requires: list[str], folder: Path, find_links: Iterable[str] = (), only: Iterable[str] = ()
) -> list[Path]:
    """Resolve and write every set's lock (or the ``only`` ones) into ``folder``."""
    written = []
    chosen = set(only)
    for lock_set in SETS.values():
        if chosen and lock_set.name not in chosen:
            continue
        requirements = lock_set.requirements(requires)
        for platform in lock_set.platforms:
            resolved = resolve(requirements, platform, find_links)
            check(resolved, requirements, platform)
            path = folder / file_name(lock_set.name, platform)
            path.write_text(lock_text(lock_set.name, platform, requirements, resolved))
            written.append(path)
    return written
