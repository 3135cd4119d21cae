"""Build contexts: a wheelhouse for the target platform from nfldeploy's shipped lock (exact versions and
sha256, cached by the lock's text), nfldeploy's own wheel (``own_wheel``), the model, and the rendered
Dockerfile. The image installs with ``pip --no-index --require-hashes``: no network during the build, and no
file but the locked ones."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nfldeploy import locks
from nfldeploy.errors import BuildError, ConfigError
from nfldeploy.own_wheel import cache_root, git_commit, project_root, project_wheel, wheel_requires
from nfldeploy.records.manifest import MANIFEST_NAME, Manifest
from nfldeploy.render.dockerfile import (
    ImageSpec,
    dockerfile_view,
    render_dockerfile,
    render_dockerignore,
    served_artifact,
)
from nfldeploy.staging import cache_entry

TORCH_REQUIREMENT = "torch==2.13.0"
_EXTRA = re.compile(r"""extra\s*==\s*['"]([^'"]+)['"]""")


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


def image_lock(spec: ImageSpec, platform: str, requires: list[str]) -> locks.Lock:
    """nfldeploy's lock of the image's set (kind, runtime) for ``platform``; it must satisfy what the wheel
    being installed requires (``requires``, its Requires-Dist), else a ConfigError."""
    if platform not in locks.PLATFORM_TAGS:
        raise ConfigError(f"unsupported platform {platform!r}; choose from {', '.join(locks.PLATFORM_TAGS)}")
    name = f"image-{spec.kind}" + ("-torchscript" if spec.runtime == "torchscript" else "")
    lock = locks.load(name, platform)
    lock.check_covers(image_requirements(spec, requires), "nfldeploy's wheel")
    return lock


def wheelhouse(lock: locks.Lock) -> Path:
    """The lock's wheels for its platform and CPython 3.11, downloaded once per lock (the cache key is the
    lock's text: a new lock, as a new nfldeploy brings, makes a new wheelhouse) and reused."""
    key = hashlib.sha256(f"{lock.platform}\n{lock.text}".encode()).hexdigest()[:16]
    folder = cache_root() / "wheelhouse" / key
    for _ in range(2):
        if (folder / ".complete").exists():
            return folder
        with cache_entry(folder) as staging:
            _download(lock, staging)
            (staging / ".complete").touch()
        if not (folder / ".complete").exists():  # an unfinished entry an older nfldeploy left
            shutil.rmtree(folder, ignore_errors=True)
    return folder


def _download(lock: locks.Lock, staging: Path) -> None:
    """``pip download --require-hashes`` of exactly the lock's files (``--no-deps``: the lock is the whole
    closure for the target, whose markers pip would evaluate on this host instead). PyTorch's index is asked
    for torch's CPU build alone; every other file comes from the configured index (PyPI)."""
    groups = [
        ([pin for pin in lock.pins if not pin.on_torch_index], []),
        ([pin for pin in lock.pins if pin.on_torch_index], ["--extra-index-url", locks.TORCH_INDEX]),
    ]
    for pins, index in groups:
        if pins:
            _pip_download(lock, pins, index, staging)


def _pip_download(lock: locks.Lock, pins: list[locks.Pinned], index: list[str], staging: Path) -> None:
    with tempfile.TemporaryDirectory() as folder:
        requirements = Path(folder) / "requirements.txt"
        requirements.write_text("".join(f"{pin.line()}\n" for pin in pins))
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--disable-pip-version-check",
            "--quiet",
            "--no-deps",
            "--require-hashes",
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            locks.PYTHON_VERSION,
            *[arg for tag in locks.PLATFORM_TAGS[lock.platform] for arg in ("--platform", tag)],
            *index,
            "--dest",
            str(staging),
            "--requirement",
            str(requirements),
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        errors = [line for line in result.stderr.splitlines() if "ERROR" in line or "error" in line.lower()]
        raise BuildError(
            f"downloading the image's wheels (nfldeploy's lock {lock.set_name}, {lock.platform}) failed: "
            + " | ".join(errors[-3:] or result.stderr.splitlines()[-3:]),
            hint="The wheelhouse is fetched on this host from PyPI (torch's CPU build from PyTorch's index); "
            "check the network or pip's configuration. A hash mismatch means a file is not the locked one.",
        )


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
    lock = image_lock(spec, platform, wheel_requires(wheel))
    wheels = wheelhouse(lock)
    shutil.copytree(wheels, dest / "wheels", ignore=shutil.ignore_patterns(".complete"), copy_function=_link)
    (dest / "requirements.txt").write_text(lock.text)
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
