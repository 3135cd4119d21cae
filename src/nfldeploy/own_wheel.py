"""nfldeploy's own wheel, for the image and the rendered workflow: the one the user names, else built from
the source checkout nfldeploy runs from (cached by its contents), else repacked from the installed
distribution. Never a name looked up on a package index: that breaks when this version is unpublished and
lets whoever publishes the name decide what the image runs."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

from nfldeploy.errors import BuildError, ConfigError
from nfldeploy.staging import cache_entry

#: What a checkout's wheel is made of: a change to any of these makes a new wheel.
SOURCES = ("pyproject.toml", "src/nfldeploy", "templates")
#: dist-info files the installer wrote; a wheel never carries them (PEP 376, PEP 610, PEP 627).
INSTALLER_FILES = {"INSTALLER", "REQUESTED", "direct_url.json", "RECORD"}


def cache_root() -> Path:
    """Where wheelhouses are kept between builds."""
    base = (
        os.environ.get("NFLDEPLOY_CACHE_DIR")
        or os.environ.get("XDG_CACHE_HOME")
        or str(Path.home() / ".cache")
    )
    return Path(base) / "nfldeploy"


def project_root() -> Path | None:
    """The source checkout nfldeploy runs from, if any (where its pyproject.toml is)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "src" / "nfldeploy").is_dir():
            return parent
    return None


def git_commit(root: Path | None) -> str | None:
    """The checkout's HEAD commit, when building from a git repository."""
    if root is None or not (root / ".git").exists():
        return None
    result = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    return result.stdout.strip() or None if result.returncode == 0 else None


def project_wheel(dest: Path, given: str | None = None, cache: Path | None = None) -> Path:
    """nfldeploy's wheel in ``dest``: ``given`` (the nfldeploy_wheel setting) if set, else the checkout's
    (built once per source state into ``cache``, default the cache root's own-wheel), else the installed
    distribution's, repacked."""
    dest.mkdir(parents=True, exist_ok=True)
    if given:
        return _given(given, dest)
    root = project_root()
    if root is None:
        return repack_installed(dest)
    folder = (cache or cache_root() / "own-wheel") / source_digest(root)
    wheels = sorted(folder.glob("nfldeploy-*.whl"))
    if not wheels:
        wheels = [_build_checkout(root, folder)]
    return Path(shutil.copy2(wheels[-1], dest / wheels[-1].name))


def _given(given: str, dest: Path) -> Path:
    if "://" in given:
        raise ConfigError(
            f"nfldeploy_wheel is a URL ({given}); build puts a local wheel file into the image",
            hint="Download the wheel and set nfldeploy_wheel (or NFLDEPLOY_WHEEL) to its path.",
        )
    wheel = Path(given)
    if not wheel.is_file() or not wheel.name.endswith(".whl"):
        raise ConfigError(f"nfldeploy_wheel is not a wheel file: {given}")
    return Path(shutil.copy2(wheel, dest / wheel.name))


def source_digest(root: Path) -> str:
    """A digest of the checkout's packaged files (names and contents)."""
    digest = hashlib.sha256()
    for name in SOURCES:
        path = root / name
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            if "__pycache__" in file.parts:
                continue
            digest.update(str(file.relative_to(root)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:16]


def _build_checkout(root: Path, folder: Path) -> Path:
    pip = [sys.executable, "-m", "pip", "wheel", "--disable-pip-version-check", "--quiet", "--no-deps"]
    with cache_entry(folder) as staging:
        result = subprocess.run(
            [*pip, "--wheel-dir", str(staging), str(root)], capture_output=True, text=True, check=False
        )
        if result.returncode != 0 or not list(staging.glob("nfldeploy-*.whl")):
            last = (result.stderr.strip().splitlines() or ["pip wrote no wheel"])[-1]
            raise BuildError(
                f"building nfldeploy's wheel from {root} failed: {last}",
                hint="Set nfldeploy_wheel (or NFLDEPLOY_WHEEL) to an nfldeploy wheel file.",
            )
    return sorted(folder.glob("nfldeploy-*.whl"))[-1]


def repack_installed(dest: Path) -> Path:
    """The installed nfldeploy as a wheel (PEP 427): its files as its RECORD lists them, without bytecode,
    the installer's own dist-info files and the generated scripts, with a new RECORD."""
    dist = metadata.distribution("nfldeploy")
    wheel_meta = dist.read_text("WHEEL") or ""
    tags = [line.split(":", 1)[1].strip() for line in wheel_meta.splitlines() if line.startswith("Tag:")]
    if not tags or dist.files is None:
        raise BuildError(
            "the installed nfldeploy has no WHEEL or RECORD to repack",
            hint="Set nfldeploy_wheel (or NFLDEPLOY_WHEEL) to an nfldeploy wheel file.",
        )
    name, version = dist.metadata["Name"], dist.version
    info = f"{name}-{version}.dist-info"
    target = dest / f"{name}-{version}-{tags[0]}.whl"
    rows: list[tuple[str, str, str]] = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry in sorted(dist.files, key=str):
            path = str(entry)
            dist_info_file = path.startswith(f"{info}/") and path.split("/", 1)[1] in INSTALLER_FILES
            if path.startswith("..") or "__pycache__" in path or path.endswith(".pyc") or dist_info_file:
                continue
            data = Path(str(dist.locate_file(entry))).read_bytes()
            archive.writestr(path, data)
            hashed = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            rows.append((path, f"sha256={hashed}", str(len(data))))
        record = io.StringIO()
        csv.writer(record, lineterminator="\n").writerows([*rows, (f"{info}/RECORD", "", "")])
        archive.writestr(f"{info}/RECORD", record.getvalue())
    return target


def wheel_requires(wheel: Path) -> list[str]:
    """Requires-Dist of a wheel (its METADATA), the one truth about what it needs."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        text = archive.read(name).decode()
    return [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Requires-Dist:")]
