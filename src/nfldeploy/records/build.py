"""build-record.json, next to the manifest: every image ``build`` made from this export (one per kind and
runtime), which was last, and the digests ``push`` sent it to. Deploy takes its default image from here."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from nfldeploy.records.schema import Record, read, write

BUILD_RECORD = "build-record.json"


class Build(Record):
    """One built image."""

    image_id: str
    tag: str
    size_bytes: int
    layers: int
    labels: dict[str, str]
    kind: Literal["server", "lambda"]
    runtime: Literal["onnx", "torchscript"]
    seconds: float
    cached_steps: int
    pushed: dict[str, str] = Field(default_factory=dict)  # reference -> digest, in push order
    built_at: float = 0.0

    @property
    def key(self) -> str:
        """``kind-runtime``: a later build of the same variant replaces this one."""
        return f"{self.kind}-{self.runtime}"

    @property
    def pushed_reference(self) -> str | None:
        """``repository@digest`` of the latest push, None when never pushed."""
        if not self.pushed:
            return None
        reference, digest = list(self.pushed.items())[-1]
        return f"{reference.rsplit(':', 1)[0]}@{digest}"


class BuildRecord(Record):
    """The builds of one export."""

    builds: dict[str, Build] = Field(default_factory=dict)
    last: str | None = None

    @property
    def last_build(self) -> Build | None:
        """The build made last."""
        return self.builds.get(self.last or "")

    def of_kind(self, kind: str) -> Build | None:
        """The build a target of ``kind`` (server or lambda) deploys: its ONNX variant when there is one."""
        found = [build for build in self.builds.values() if build.kind == kind]
        return self.builds.get(f"{kind}-onnx") or (found[0] if found else None)

    def with_build(self, build: Build) -> BuildRecord:
        """This record with ``build`` added (replacing its variant's earlier build) and marked last."""
        return BuildRecord(builds={**self.builds, build.key: build}, last=build.key)

    def with_push(self, tag: str, reference: str, digest: str) -> BuildRecord | None:
        """This record with the push of ``tag`` to ``reference`` added to every build of that tag; None when
        no build of it is recorded."""
        if not any(build.tag == tag for build in self.builds.values()):
            return None
        builds = {
            key: build.model_copy(update={"pushed": _moved_last(build.pushed, reference, digest)})
            if build.tag == tag
            else build
            for key, build in self.builds.items()
        }
        return BuildRecord(builds=builds, last=self.last)


def _moved_last(pushed: dict[str, str], reference: str, digest: str) -> dict[str, str]:
    return {**{key: value for key, value in pushed.items() if key != reference}, reference: digest}


def read_build_record(export_dir: Path) -> BuildRecord:
    """The export's build record; empty when nothing was built, a ConfigError when it is unreadable."""
    path = export_dir / BUILD_RECORD
    return read(BuildRecord, path, "build record") if path.exists() else BuildRecord()


def write_build_record(export_dir: Path, record: BuildRecord) -> Path:
    """Write the record; returns its path."""
    path = export_dir / BUILD_RECORD
    write(record, path)
    return path
