"""Build contexts: a wheelhouse for the target platform (cached), nfldeploy's own wheel (``own_wheel``),
the model, and the rendered Dockerfile. The image installs with ``pip --no-index``: no network during the build."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from nfldeploy.errors import BuildError, ConfigError
from nfldeploy.own_wheel import cache_root, git_commit, project_root, project_wheel
from nfldeploy.records.manifest import MANIFEST_NAME, Manifest
from nfldeploy.render.dockerfile import (
    ImageSpec,
    dockerfile_view,
    render_dockerfile,
    render_dockerignore,
    served_artifact,
)
from nfldeploy.staging import cache_entry

PYTHON_VERSION = "3.11"
PLATFORM_TAGS = {
    "linux/amd64": ["manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64"],
    "linux/arm64": ["manylinux2014_aarch64", "manylinux_2_17_aarch64", "manylinux_2_28_aarch64"],
}
TORCH_REQUIREMENT = "torch==2.13.0"
_EXTRA = re.compile(r"""extra\s*==\s*['"]([^'"]+)['"]""")


def wheel_requires(wheel: Path) -> list[str]:
    """Requires-Dist of a wheel (its METADATA), the one truth about what it needs."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        text = archive.read(name).decode()
    return [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Requires-Dist:")]


def image_requirements(spec: ImageSpec, requires: list[str]) -> list[str]:
    """What the image installs besides nfldeploy: only the ``serve`` extra (plus ``lambda`` for the Lambda
    variant, torch for the TorchScript runtime), from nfldeploy's Requires-Dist. The CLI's own dependencies
    (typer, rich, jinja2, ...) stay out: the server does not import them."""
    wanted = {"serve"} | ({"lambda"} if spec.kind == "lambda" else set())
    result = []
    for requirement in requires:
        name, _, marker = requirement.partition(";")
        match = _EXTRA.search(marker)
        needed = match is not None and match.group(1) in wanted
        if needed and not name.strip().startswith("nfldeploy"):
            result.append(name.strip())
    if spec.runtime == "torchscript":
        result.append(TORCH_REQUIREMENT)
    return sorted(set(result))


def wheelhouse(requirements: list[str], platform: str) -> Path:
    """Wheels for ``requirements`` on ``platform`` and CPython 3.11, downloaded once and reused."""
    if platform not in PLATFORM_TAGS:
        raise ConfigError(f"unsupported platform {platform!r}; choose from {', '.join(PLATFORM_TAGS)}")
    key = hashlib.sha256("\n".join([platform, PYTHON_VERSION, *requirements]).encode()).hexdigest()[:16]
    folder = cache_root() / "wheelhouse" / key
    for _ in range(2):
        if (folder / ".complete").exists():
            return folder
        with cache_entry(folder) as staging:
            _download(requirements, platform, staging)
            (staging / ".complete").touch()
        if not (folder / ".complete").exists():  # an unfinished entry an older nfldeploy left
            shutil.rmtree(folder, ignore_errors=True)
    return folder


def _download(requirements: list[str], platform: str, staging: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--quiet",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
        *[arg for tag in PLATFORM_TAGS[platform] for arg in ("--platform", tag)],
        "--dest",
        str(staging),
        *requirements,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        errors = [line for line in result.stderr.splitlines() if "ERROR" in line or "error" in line.lower()]
        raise BuildError(
            "downloading the image's wheels failed: "
            + " | ".join(errors[-3:] or result.stderr.splitlines()[-3:]),
            hint="The wheelhouse is fetched on this host from PyPI; check the network or pip's configuration.",
        )


def pinned_requirements(wheels: Path) -> list[str]:
    """``name==version`` for every wheel in the wheelhouse: the exact set the image installs."""
    pins = []
    for wheel in sorted(wheels.glob("*.whl")):
        name, version = wheel.name.split("-")[:2]
        pins.append(f"{name.replace('_', '-').lower()}=={version}")
    return pins


@dataclass(frozen=True)
class BuildContext:
    """A ready build context."""

    path: Path
    dockerfile: str
    labels: dict[str, str]
    artifact: str


def model_files(manifest: Manifest, artifact: str) -> list[str]:
    """The export's files the image needs: manifest, config copy, golden set and the served artifact."""
    keep = {MANIFEST_NAME, manifest.config.file, manifest.artifacts[artifact].file}
    return sorted(
        {name for name in manifest.files if name in keep or name.startswith("golden/")} | {MANIFEST_NAME}
    )


def assemble(
    export_dir: Path, manifest: Manifest, spec: ImageSpec, platform: str, dest: Path
) -> BuildContext:
    """Write the build context into ``dest`` (emptied first)."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    artifact = served_artifact(manifest, spec.runtime)
    wheel = project_wheel(dest / "dist", spec.wheel)
    wheels = wheelhouse(image_requirements(spec, wheel_requires(wheel)), platform)
    shutil.copytree(wheels, dest / "wheels", ignore=shutil.ignore_patterns(".complete"), copy_function=_link)
    (dest / "requirements.txt").write_text("\n".join(pinned_requirements(wheels)) + "\n")
    for name in model_files(manifest, artifact):
        target = dest / "model" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(export_dir / name, target)
    readable_by_all(dest / "model")
    root = project_root()
    view = dockerfile_view(manifest, spec, wheel.name, git_commit(root))
    dockerfile = render_dockerfile(view)
    (dest / "Dockerfile").write_text(dockerfile)
    (dest / ".dockerignore").write_text(render_dockerignore())
    return BuildContext(dest, dockerfile, dict(view["labels"]), artifact)


def readable_by_all(folder: Path) -> None:
    """Folders 0755, files 0644 (COPY keeps the context's modes): the image's user, and Lambda's own, which is
    none of the image's (https://docs.aws.amazon.com/lambda/latest/dg/images-create.html#images-reqs), must
    read the model even when the export was written under umask 077."""
    folder.chmod(0o755)
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def _link(source: str, target: str) -> str:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
    return target
