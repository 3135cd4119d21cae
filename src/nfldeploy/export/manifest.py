"""manifest.json: the one source of truth later steps read (build, serve /version, smoke-test)."""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from nfldeploy import __version__
from nfldeploy.errors import ConfigError
from nfldeploy.export.checkpoint import sha256_file
from nfldeploy.jsonfile import read_json_object

MANIFEST_NAME = "manifest.json"
SCHEMA_VERSION = 1


def library_versions() -> dict[str, str]:
    """Versions of the libraries that produced the artifacts."""
    result = {"python": platform.python_version(), "nfldeploy": __version__}
    for name in ("torch", "onnx", "onnxruntime", "onnxscript", "numpy"):
        try:
            result[name] = version(name)
        except PackageNotFoundError:
            result[name] = "not installed"
    return result


def file_entries(folder: Path) -> dict[str, dict[str, Any]]:
    """sha256 and size of every file under ``folder`` but the manifest itself, by relative path."""
    return {
        path.relative_to(folder).as_posix(): {"sha256": sha256_file(path), "bytes": path.stat().st_size}
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != MANIFEST_NAME
    }


def write_manifest(folder: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Add creation time, versions and file hashes, and write manifest.json."""
    full = {
        "schema_version": SCHEMA_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **manifest,
        "library_versions": library_versions(),
        "files": file_entries(folder),
    }
    (folder / MANIFEST_NAME).write_text(json.dumps(full, indent=2) + "\n")
    return full


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of an export directory."""
    path = folder / MANIFEST_NAME if folder.is_dir() else folder
    data = read_json_object(path, "export manifest")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ConfigError(f"{path}: unsupported manifest schema {data.get('schema_version')!r}")
    return data
