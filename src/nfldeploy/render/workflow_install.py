"""What the rendered workflow installs, every file pinned by its sha256: nfldeploy's wheel (vendored beside the
workflow, a path in the repository, or an https URL carrying its ``#sha256=``) and, for each job, a
requirements file of nfldeploy's shipped lock plus that wheel, installed with ``pip --require-hashes`` (pip then
refuses any file whose hash is not listed, and any dependency the file does not pin:
https://pip.pypa.io/en/stable/topics/secure-installs/#hash-checking-mode)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from nfldeploy import __version__, locks
from nfldeploy.errors import ConfigError

#: Where render puts the workflow's files beside it (copy github/ to .github/ in the training repository).
FOLDER = "github/nfldeploy"
IN_REPOSITORY = ".github/nfldeploy"
#: Where the test job puts nfldeploy's wheel, and the artifact that carries it to the later jobs.
WHEEL_DIR = "nfldeploy-wheel"
#: The workflow's jobs run on ubuntu-latest (x86_64) with setup-python's CPython 3.11.
RUNNER_PLATFORM = "linux/amd64"
#: job requirements file -> (lock set, nfldeploy's extras)
JOB_LOCKS = {
    "requirements-export.txt": ("workflow-export", "export"),
    "requirements-release.txt": ("workflow-release", ""),
}
#: Characters a path or URL may hold where the workflow's shell prints it (no quote, $, backtick, space).
SAFE = re.compile(r"[A-Za-z0-9._~:/?&=%+@,-]+")
URL = re.compile(r"(?P<url>https://[^#]+\.whl)#sha256=(?P<sha256>[0-9a-f]{64})")


@dataclass(frozen=True)
class Wheel:
    """nfldeploy's wheel as the workflow takes it: its file name, sha256, and where the test job gets it."""

    name: str
    sha256: str
    source: str  # a path in the repository, or an https URL (without its #sha256= fragment)

    @property
    def is_url(self) -> bool:
        return self.source.startswith("https://")

    @property
    def path(self) -> str:
        """Where every job finds it (the test job puts it there; an artifact carries it on)."""
        return f"{WHEEL_DIR}/{self.name}"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def vendored(wheel: Path) -> Wheel:
    """The wheel render copied into github/nfldeploy/."""
    return Wheel(wheel.name, sha256_of(wheel), f"{IN_REPOSITORY}/{wheel.name}")


def from_setting(setting: str, cwd: Path | None = None) -> Wheel:
    """The ``nfldeploy_wheel`` setting: an https URL must name its sha256 (``...whl#sha256=<64 hex>``, pip's
    own form); a path is read here (relative to the current directory, the repository's root) and pinned."""
    if not SAFE.fullmatch(setting.replace("#", "")):
        raise ConfigError(
            f"nfldeploy_wheel {setting!r} holds characters the workflow's shell would interpret",
            hint="Use a plain path or URL (letters, digits and ._~:/?&=%+@,-).",
        )
    if "://" in setting:
        match = URL.fullmatch(setting)
        if match is None:
            raise ConfigError(
                f"nfldeploy_wheel is a URL without its sha256 ({setting}); the workflow installs only a file "
                "whose hash the rendering pins",
                hint="Give it as https://.../nfldeploy-<version>-py3-none-any.whl#sha256=<64 hex digits> "
                "(sha256sum of the wheel).",
            )
        url = match.group("url")
        return Wheel(url.rsplit("/", 1)[-1], match.group("sha256"), url)
    path = Path(setting)
    if path.is_absolute() or ".." in path.parts or not setting.endswith(".whl"):
        raise ConfigError(
            f"nfldeploy_wheel {setting!r} is not a wheel path in the repository",
            hint="Give a .whl path relative to the repository's root (or an https URL with #sha256=).",
        )
    found = (cwd or Path.cwd()) / path
    if not found.is_file():
        raise ConfigError(
            f"nfldeploy_wheel {setting} is not a file here ({found}); render pins the wheel's sha256 into the "
            "workflow, so it reads the file",
            hint="Run nfldeploy render from the repository's root, or give an https URL with #sha256=.",
        )
    return Wheel(path.name, sha256_of(found), setting)


def requirement_files(wheel: Wheel, requires: list[str] | None) -> dict[str, str]:
    """Each job's requirements file (by name in github/nfldeploy/): the lock's pins, then the wheel by path
    with its sha256. ``requires`` (the wheel's Requires-Dist, when render has the file) must be covered by
    the lock, else a ConfigError."""
    files = {}
    for name, (set_name, extra) in JOB_LOCKS.items():
        lock = locks.load(set_name, RUNNER_PLATFORM)
        if requires is not None:
            lock.check_covers(locks.SETS[set_name].requirements(requires), wheel.name)
        suffix = f"[{extra}]" if extra else ""
        files[name] = (
            f"# Rendered by nfldeploy {__version__} for pip install --require-hashes --requirement {name}:\n"
            f"# nfldeploy's lock {set_name} ({RUNNER_PLATFORM}, CPython {locks.PYTHON_VERSION}), then "
            "nfldeploy's wheel by its sha256.\n# Do not edit: nfldeploy render writes it.\n"
            + lock.body()
            + f"{wheel.path}{suffix} --hash=sha256:{wheel.sha256}\n"
        )
    return files
