"""The image's wheelhouse from nfldeploy's lock (issue 31 item 10): the set chosen by kind, runtime and
platform, a wheel the lock does not cover refused, ``pip download --require-hashes`` of exactly the locked
files (PyPI's, and PyTorch's index for torch's CPU build alone), the cache keyed on the lock's text."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from nfldeploy import locks
from nfldeploy.errors import ConfigError
from nfldeploy.image import context
from nfldeploy.render.dockerfile import ImageSpec

REQUIRES = [
    "typer>=0.29",
    "fastapi>=0.110; extra == 'serve'",
    "onnxruntime>=1.17; extra == 'serve'",
    "mangum>=0.17; extra == 'lambda'",
    "torch==2.13.0; extra == 'export'",
]


@pytest.mark.parametrize(
    ("spec", "platform", "set_name"),
    [
        (ImageSpec(), "linux/amd64", "image-server"),
        (ImageSpec(), "linux/arm64", "image-server"),
        (ImageSpec(kind="lambda"), "linux/arm64", "image-lambda"),
        (ImageSpec(runtime="torchscript"), "linux/amd64", "image-server-torchscript"),
        (ImageSpec(kind="lambda", runtime="torchscript"), "linux/amd64", "image-lambda-torchscript"),
    ],
)
def test_the_lock_of_the_images_kind_runtime_and_platform(
    spec: ImageSpec, platform: str, set_name: str
) -> None:
    lock = context.image_lock(spec, platform, REQUIRES)
    assert (lock.set_name, lock.platform) == (set_name, platform)
    names = {pin.name for pin in lock.pins}
    assert {"fastapi", "onnxruntime"} <= names and "typer" not in names  # the serve extra, not the CLI
    assert ("mangum" in names) == (spec.kind == "lambda")
    assert ("torch" in names) == (spec.runtime == "torchscript")
    assert lock.needs_torch_index == (spec.runtime == "torchscript")


def test_a_platform_without_a_lock_is_refused_naming_what_there_is() -> None:
    with pytest.raises(
        ConfigError, match=r"no lock of image-server-torchscript for linux/arm64 \(it has linux/amd64\)"
    ):
        context.image_lock(ImageSpec(runtime="torchscript"), "linux/arm64", REQUIRES)
    with pytest.raises(ConfigError, match="unsupported platform 'linux/s390x'"):
        context.image_lock(ImageSpec(), "linux/s390x", REQUIRES)


def test_a_wheel_whose_requirements_the_lock_does_not_meet_is_refused() -> None:
    """A wheel of another nfldeploy version (nfldeploy_wheel) asking for releases this lock lacks."""
    with pytest.raises(ConfigError, match=r"does not satisfy nfldeploy's wheel's requirement fastapi>=999"):
        context.image_lock(ImageSpec(), "linux/amd64", ["fastapi>=999; extra == 'serve'"])
    with pytest.raises(ConfigError, match="it has no left-pad"):
        context.image_lock(ImageSpec(), "linux/amd64", ["left-pad>=1; extra == 'serve'"])


def _lock(text: str, set_name: str = "image-server") -> locks.Lock:
    return locks.parse(text, set_name, "linux/amd64")


PIN_A = "fastapi==0.165.0 --hash=sha256:" + "a" * 64
PIN_B = "fastapi==0.166.0 --hash=sha256:" + "b" * 64
TORCH = "torch==2.13.0+cpu --hash=sha256:" + "c" * 64


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[list[str]]:
    """pip's commands, recorded; each "downloads" one file per requirement line into --dest."""
    monkeypatch.setenv("NFLDEPLOY_CACHE_DIR", str(tmp_path / "cache"))
    calls: list[list[str]] = []

    def run(command: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        requirements = Path(command[command.index("--requirement") + 1]).read_text()
        calls.append([*command, "<requirements>", requirements])
        dest = Path(command[command.index("--dest") + 1])
        for line in requirements.splitlines():
            name, version = line.split()[0].split("==")
            (dest / f"{name}-{version}-py3-none-any.whl").write_text(line)
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(context.subprocess, "run", run)
    return calls


def test_the_wheelhouse_downloads_exactly_the_locked_files_with_their_hashes(
    downloads: list[list[str]], tmp_path: Path
) -> None:
    folder = context.wheelhouse(_lock(f"# header\n{PIN_A}\n"))
    (command,) = downloads
    assert command[3:4] == ["download"]
    assert {"--require-hashes", "--no-deps", "--only-binary=:all:"} <= set(command)
    assert command[-1] == f"{PIN_A}\n"  # the pins, hashes included
    assert "--extra-index-url" not in command  # PyPI (the configured index) alone
    assert [p.name for p in folder.glob("*.whl")] == ["fastapi-0.165.0-py3-none-any.whl"]


def test_torchs_cpu_build_alone_is_asked_of_pytorchs_index(
    downloads: list[list[str]], tmp_path: Path
) -> None:
    context.wheelhouse(_lock(f"{PIN_A}\n{TORCH}\n", "image-server-torchscript"))
    plain, torch = downloads
    assert plain[-1] == f"{PIN_A}\n" and "--extra-index-url" not in plain
    assert torch[-1] == f"{TORCH}\n"
    assert torch[torch.index("--extra-index-url") + 1] == "https://download.pytorch.org/whl/cpu"


def test_the_cache_is_keyed_on_the_lock(downloads: list[list[str]], tmp_path: Path) -> None:
    """The same requirement ranges, a new lock (as a new nfldeploy brings): a new wheelhouse; the same lock
    again: the cached one, no download."""
    first = context.wheelhouse(_lock(f"{PIN_A}\n"))
    again = context.wheelhouse(_lock(f"{PIN_A}\n"))
    newer = context.wheelhouse(_lock(f"{PIN_B}\n"))
    assert first == again != newer
    assert len(downloads) == 2
    assert [p.name for p in newer.glob("*.whl")] == ["fastapi-0.166.0-py3-none-any.whl"]


def test_a_refused_download_is_a_build_error_naming_the_lock(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NFLDEPLOY_CACHE_DIR", str(tmp_path / "cache"))
    stderr = "ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE."
    monkeypatch.setattr(
        context.subprocess, "run", lambda command, **_: subprocess.CompletedProcess(command, 1, "", stderr)
    )
    from nfldeploy.errors import BuildError

    with pytest.raises(BuildError, match=r"lock image-server, linux/amd64.*DO NOT MATCH THE HASHES"):
        context.wheelhouse(_lock(f"{PIN_A}\n"))
    assert not list((tmp_path / "cache" / "nfldeploy" / "wheelhouse").glob("*/.complete"))


def test_the_dockerfile_installs_the_lock_with_require_hashes() -> None:
    from manifests import sample_manifest
    from nfldeploy.render.dockerfile import dockerfile_view, render_dockerfile

    for kind in ("server", "lambda"):
        spec = ImageSpec(kind=kind)  # type: ignore[arg-type]
        text = render_dockerfile(dockerfile_view(sample_manifest(), spec, "nfldeploy-0.1.0-py3-none-any.whl"))
        (install,) = [
            line
            for line in text.replace("\\\n", " ").splitlines()
            if "/requirements.txt" in line and "RUN" in line
        ]
        assert "--require-hashes" in install and "--no-index" in install
