"""Hash-locked dependency sets shipped with nfldeploy: for each thing nfldeploy installs (the image's
wheelhouse per kind, runtime and platform; the rendered workflow's jobs), the exact versions and the sha256 of
the very files pip resolved, for CPython 3.11. ``scripts/lock`` writes them with pip's own resolver
(``nfldeploy.locks.refresh``); every install of one runs ``pip --require-hashes``, so a file that is not the
one recorded here is refused (https://pip.pypa.io/en/stable/topics/secure-installs/#hash-checking-mode).

A lock belongs to the nfldeploy version that ships it: upgrading nfldeploy brings the dependency set that
version was tested with, and the image cache is keyed on the lock, so a new lock means a new wheelhouse."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from nfldeploy.errors import ConfigError

PYTHON_VERSION = "3.11"
#: The platforms a lock can be made for, with the wheel tags pip may take there (onnxruntime ships only
#: manylinux_2_28; pip matches each tag exactly).
PLATFORM_TAGS = {
    "linux/amd64": ["manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64"],
    "linux/arm64": ["manylinux2014_aarch64", "manylinux_2_17_aarch64", "manylinux_2_28_aarch64"],
}
#: torch's CPU build (PyPI's Linux torch pulls CUDA); it lives on PyTorch's own index.
TORCH_CPU = "torch==2.13.0+cpu"
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
LINE = re.compile(
    r"^(?P<name>[A-Za-z0-9._-]+)==(?P<version>\S+)(?P<hashes>(?:\s+--hash=sha256:[0-9a-f]{64})+)$"
)


@dataclass(frozen=True)
class LockSet:
    """What one lock covers: nfldeploy's core dependencies or not, which extras, what else."""

    name: str
    core: bool
    extras: tuple[str, ...]
    extra_requirements: tuple[str, ...]
    platforms: tuple[str, ...]

    def requirements(self, requires: list[str]) -> list[str]:
        """The set's requirements, from nfldeploy's Requires-Dist (its wheel's METADATA)."""
        wanted = set(self.extras)
        result = set(self.extra_requirements)
        extra_names = {canonicalize_name(Requirement(r).name) for r in self.extra_requirements}
        for line in requires:
            requirement = Requirement(line)
            if canonicalize_name(requirement.name) == "nfldeploy":
                continue  # its own extras (lambda includes nfldeploy[serve]): listed in ``extras`` instead
            extra = _extra_of(requirement)
            if (extra is None and self.core) or (extra is not None and extra in wanted):
                if canonicalize_name(requirement.name) in extra_names:
                    continue  # pinned more tightly by the set itself (torch's CPU build)
                requirement.marker = None
                result.add(str(requirement))
        return sorted(result)


def _extra_of(requirement: Requirement) -> str | None:
    if requirement.marker is None:
        return None
    match = re.search(r"""extra\s*==\s*['"]([^'"]+)['"]""", str(requirement.marker))
    return match.group(1) if match else None


SETS = {
    s.name: s
    for s in (
        LockSet("image-server", False, ("serve",), (), ("linux/amd64", "linux/arm64")),
        LockSet("image-lambda", False, ("serve", "lambda"), (), ("linux/amd64", "linux/arm64")),
        # torch's CPU wheel for aarch64 could not be authenticated (see refresh.KNOWN_FILES): amd64 only
        LockSet("image-server-torchscript", False, ("serve",), (TORCH_CPU,), ("linux/amd64",)),
        LockSet("image-lambda-torchscript", False, ("serve", "lambda"), (TORCH_CPU,), ("linux/amd64",)),
        # the rendered workflow's jobs run on ubuntu-latest (x86_64) with setup-python's CPython 3.11
        LockSet("workflow-release", True, (), (), ("linux/amd64",)),
        LockSet("workflow-export", True, ("export",), (TORCH_CPU, "pytest>=8"), ("linux/amd64",)),
    )
}


@dataclass(frozen=True)
class Pinned:
    name: str
    version: str
    hashes: tuple[str, ...]

    def line(self) -> str:
        return f"{self.name}=={self.version} " + " ".join(f"--hash=sha256:{h}" for h in self.hashes)

    @property
    def on_torch_index(self) -> bool:
        """torch's CPU build: only PyTorch's own index has it."""
        return self.name == "torch" and "+cpu" in self.version


@dataclass(frozen=True)
class Lock:
    """One lock file: its set, platform, the requirements it was resolved from, and its pins."""

    set_name: str
    platform: str
    requirements: tuple[str, ...]
    pins: tuple[Pinned, ...]
    text: str

    @property
    def needs_torch_index(self) -> bool:
        return any(pin.on_torch_index for pin in self.pins)

    def body(self) -> str:
        """The pins alone, one requirement line each (for a file that adds its own lines)."""
        return "".join(f"{pin.line()}\n" for pin in self.pins)

    def check_covers(self, requirements: list[str], what: str) -> None:
        """Every requirement (a wheel's Requires-Dist) is satisfied by a pin, else a ConfigError naming it:
        the lock belongs to another nfldeploy version than the wheel being installed."""
        pinned = {canonicalize_name(p.name): p.version for p in self.pins}
        for line in requirements:
            requirement = Requirement(line)
            version = pinned.get(canonicalize_name(requirement.name))
            if version is None or not requirement.specifier.contains(version, prereleases=True):
                found = (
                    f"it pins {requirement.name}=={version}" if version else f"it has no {requirement.name}"
                )
                raise ConfigError(
                    f"nfldeploy's lock {self.set_name} ({self.platform}) does not satisfy {what}'s "
                    f"requirement {line} ({found})",
                    hint="Build with the nfldeploy version that made this wheel (its locks match it), or "
                    "refresh the locks in a checkout (scripts/lock).",
                )


def file_name(set_name: str, platform: str) -> str:
    return f"{set_name}-{platform.replace('/', '-')}.txt"


def lock_dir() -> Path:
    return Path(str(resources.files("nfldeploy"))) / "locks"


def load(set_name: str, platform: str, folder: Path | None = None) -> Lock:
    """The shipped lock of ``set_name`` for ``platform``; a ConfigError when nfldeploy has none."""
    lock_set = SETS[set_name]
    if platform not in lock_set.platforms:
        raise ConfigError(
            f"nfldeploy has no lock of {set_name} for {platform} (it has {', '.join(lock_set.platforms)})",
            hint="Choose another --platform (or the onnx runtime).",
        )
    path = (folder or lock_dir()) / file_name(set_name, platform)
    if not path.is_file():
        raise ConfigError(f"nfldeploy's lock file {path.name} is missing", hint="Reinstall nfldeploy.")
    return parse(path.read_text(), set_name, platform)


def parse(text: str, set_name: str, platform: str) -> Lock:
    """A lock file's text; a line that is not ``name==version --hash=sha256:...`` is an error."""
    requirements: tuple[str, ...] = ()
    pins = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("# requirements:"):
            requirements = tuple(line.split(":", 1)[1].split())
        if not line.strip() or line.startswith("#"):
            continue
        match = LINE.match(line)
        if match is None:
            raise ConfigError(f"lock {set_name} ({platform}) line {number} is not name==version with sha256")
        hashes = tuple(h.split(":", 1)[1] for h in match.group("hashes").split())
        pins.append(Pinned(match.group("name"), match.group("version"), hashes))
    return Lock(set_name, platform, requirements, tuple(pins), text)


def requirement_words(requirements: list[str]) -> list[str]:
    """Requirements as the header's words (no spaces inside one)."""
    words = []
    for line in requirements:
        try:
            words.append(str(Requirement(line)).replace(" ", ""))
        except InvalidRequirement as exc:
            raise ConfigError(f"not a requirement: {line}") from exc
    return words
