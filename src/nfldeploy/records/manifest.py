"""manifest.json: what an export holds and how it was checked, the source of truth for build, serve
(/version), deploy labels and smoke-test."""

from __future__ import annotations

import hashlib
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Literal

from pydantic import Field

from nfldeploy import __version__
from nfldeploy.records.schema import Record, now, read, write

MANIFEST_NAME = "manifest.json"
SCHEMA_VERSION = 1


class Source(Record):
    """The training config copied into the export."""

    file: str
    sha256: str
    source: str = ""


class Checkpoint(Record):
    """The checkpoint the artifacts were exported from."""

    source: str
    sha256: str
    hyper_parameters: dict[str, object] | None = None  # None: a plain state dict
    ignored_keys: list[str] = Field(default_factory=list)


class ModelSpec(Record):
    """What a client of the model needs (the architecture's sizes are kept as extra keys)."""

    horizon: int
    modes: int
    max_players: int
    history_len: int
    feature_contract: str = "reference-v1"
    feature_set: str = "sincos9"
    frame_seconds: float = 0.1
    outputs: list[str] = Field(default_factory=list)


class Tensor(Record):
    """One input or output of the exported graph."""

    name: str
    dtype: str
    shape: list[int | str]


class Signature(Record):
    """The exported graph's inputs and outputs."""

    contract: str
    inputs: list[Tensor]
    outputs: list[Tensor]
    max_players: int


class Artifact(Record):
    """One exported model file."""

    file: str
    format: Literal["onnx", "torchscript"]
    precision: Literal["fp32", "int8"]
    bytes: int
    sha256: str


class Parity(Record):
    """An artifact against the eager model on the held-out plays."""

    max_abs_error: float
    max_prob_error: float
    rmse_delta: float
    tolerance: float
    passed: bool
    output_errors: dict[str, float] = Field(default_factory=dict)
    top1_error: float | None = None  # its decode of the most likely mode alone vs eager's full decode


class TopK(Record):
    """Eager decoding only the k most likely modes against its full decode (same values, same order)."""

    k: list[int]
    max_abs_error: float
    tolerance: float
    passed: bool


class Batching(Record):
    """The serving default's cost per play by batch size (ms, one thread, the default request) and the largest
    batch the server makes with it."""

    artifact: str
    ms_per_play: dict[str, float]
    max_batch: int
    modes: int = 1
    threads: int = 1
    slack: float = 0.1


class Metrics(Record):
    """Accuracy against the held-out truth, yards."""

    rmse: float
    ade: float
    fde: float


class Int8Gate(Record):
    """Whether an INT8 artifact stayed close enough to FP32 to be kept."""

    fp32: Metrics
    int8: Metrics
    tolerance: float
    kept: bool
    reason: str


class Accuracy(Record):
    """FP32 accuracy and the INT8 gates."""

    fp32: Metrics
    onnx_int8: Int8Gate | None = Field(default=None, exclude_if=lambda gate: gate is None)  # not quantized
    torchscript_int8: Int8Gate | None = Field(default=None, exclude_if=lambda gate: gate is None)


class Heldout(Record):
    """The simulated plays the gates ran on."""

    plays: int
    seed: int


class GoldenFiles(Record):
    """Where the golden set lives in the export and how close each artifact must come to it (yards)."""

    requests: str
    outputs: str
    tolerance: dict[str, float]


class FileEntry(Record):
    """One file of the export."""

    sha256: str
    bytes: int


class Manifest(Record):
    """The export manifest."""

    schema_version: Literal[1]
    created_at: str
    experiment_name: str
    architecture: str
    config: Source
    checkpoint: Checkpoint
    model: ModelSpec
    signature: Signature
    artifacts: dict[str, Artifact]
    serving_default: str
    batching: Batching | None = Field(
        default=None, exclude_if=lambda entry: entry is None
    )  # earlier exports: none
    parity: dict[str, Parity]
    top_k: TopK | None = Field(default=None, exclude_if=lambda check: check is None)  # models that select
    accuracy: Accuracy
    heldout: Heldout
    golden: GoldenFiles
    warnings: list[str] = Field(default_factory=list)
    export_seconds: float = 0.0
    library_versions: dict[str, str] = Field(default_factory=dict)
    files: dict[str, FileEntry] = Field(default_factory=dict)

    def artifact(self, name: str, where: Path | None = None) -> Artifact:
        """The artifact ``name``; a ConfigError listing what the export (in ``where``) has otherwise."""
        from nfldeploy.errors import ConfigError

        if name not in self.artifacts:
            export = f"the export in {where}" if where is not None else "the export"
            raise ConfigError(
                f"{export} has no {name!r} artifact (it has {', '.join(self.artifacts) or 'none'})"
            )
        return self.artifacts[name]

    @property
    def short_sha(self) -> str:
        """The config's sha256, first 12 characters: image tags and versions carry it."""
        return self.config.sha256[:12]


def manifest_path(location: Path) -> Path:
    """The manifest of an export directory, or ``location`` itself when it is the file."""
    return location / MANIFEST_NAME if location.is_dir() else location


def read_manifest(location: Path) -> Manifest:
    """The manifest of an export directory (or the manifest file itself), checked against its schema."""
    return read(Manifest, manifest_path(location), "export manifest")


def read_manifest_if_any(folder: Path) -> Manifest | None:
    """The manifest when the folder has one (status and rollback work without it)."""
    return read_manifest(folder) if (folder / MANIFEST_NAME).is_file() else None


def library_versions() -> dict[str, str]:
    """Versions of the libraries that produced the artifacts."""
    result = {"python": platform.python_version(), "nfldeploy": __version__}
    for name in ("torch", "onnx", "onnxruntime", "onnxscript", "numpy"):
        try:
            result[name] = version(name)
        except PackageNotFoundError:
            result[name] = "not installed"
    return result


def sha256_file(path: Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_entries(folder: Path) -> dict[str, FileEntry]:
    """sha256 and size of every file under ``folder`` but the manifest itself, by relative path."""
    return {
        path.relative_to(folder).as_posix(): FileEntry(sha256=sha256_file(path), bytes=path.stat().st_size)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != MANIFEST_NAME
    }


def write_manifest(folder: Path, **fields: object) -> Manifest:
    """Stamp creation time, library versions and file hashes onto ``fields``, check and write manifest.json."""
    manifest = Manifest.model_validate(
        {
            "schema_version": SCHEMA_VERSION,
            "created_at": now(),
            **fields,
            "library_versions": library_versions(),
            "files": file_entries(folder),
        }
    )
    write(manifest, folder / MANIFEST_NAME)
    return manifest
