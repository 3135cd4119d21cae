"""Model runtimes behind the API: onnxruntime (default) and TorchScript, chosen from the manifest."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from nfldeploy.errors import ConfigError
from nfldeploy.records.manifest import Manifest, read_manifest, sha256_file

Outputs = dict[str, npt.NDArray[np.float32]]


class Backend(Protocol):
    """Runs the exported model on encoded inputs."""

    name: str

    def run(self, inputs: dict[str, Any]) -> Outputs:
        """Outputs by name: trajectories [B, P, M, T, 2], mode_probs [B, P, M], and the architecture's others
        (uncertainty, coverage_logit)."""
        ...


class OnnxBackend:
    """onnxruntime on the CPU."""

    def __init__(self, path: Path, name: str, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = [item.name for item in self.session.get_inputs()]
        self.outputs = [item.name for item in self.session.get_outputs()]
        self.name = name

    def run(self, inputs: dict[str, Any]) -> Outputs:
        results = self.session.run(None, {name: inputs[name] for name in self.inputs})
        return dict(zip(self.outputs, results, strict=True))


class TorchScriptBackend:
    """A TorchScript module (imports torch; the ONNX image does not have it)."""

    def __init__(self, path: Path, name: str, threads: int, inputs: list[str], outputs: list[str]) -> None:
        import warnings

        import torch

        torch.set_num_threads(threads)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self.module = torch.jit.load(str(path), map_location="cpu").eval()  # type: ignore[no-untyped-call]
        self.torch = torch
        self.name = name
        self.inputs, self.outputs = inputs, outputs

    def run(self, inputs: dict[str, Any]) -> Outputs:
        with self.torch.inference_mode():
            results = self.module(*(self.torch.from_numpy(inputs[name]) for name in self.inputs))
        return {name: value.numpy() for name, value in zip(self.outputs, results, strict=True)}


@dataclass(frozen=True)
class LoadedModel:
    """The manifest and the backend serving it."""

    manifest: Manifest
    backend: Backend
    artifact: str

    @property
    def version(self) -> str:
        """``experiment:config-sha[:12]:artifact``: what /predict answers as model_version."""
        return f"{self.manifest.experiment_name}:{self.manifest.short_sha}:{self.artifact}"


def read_served_manifest(model_dir: Path) -> Manifest:
    """The export manifest of the model directory, with the hint a server's operator needs."""
    try:
        return read_manifest(model_dir)
    except ConfigError as exc:
        raise ConfigError(
            f"no readable export manifest in {model_dir}: {exc.message}",
            hint="Point NFLSERVE_MODEL_DIR (or nfldeploy serve EXPORT_DIR) at the output of nfldeploy export.",
        ) from exc


def load_model(model_dir: Path, runtime: str = "auto", threads: int = 1) -> LoadedModel:
    """Open the artifact ``runtime`` names: ``auto`` (the manifest's serving default) or an artifact name
    (onnx, onnx_int8, torchscript, torchscript_int8)."""
    manifest = read_served_manifest(model_dir)
    name = manifest.serving_default if runtime == "auto" else runtime
    artifact = manifest.artifact(name, model_dir)
    path = model_dir / artifact.file
    _verify(path, artifact.sha256)
    backend: Backend
    if artifact.format == "onnx":
        backend = OnnxBackend(path, name, threads)
    else:
        inputs = [item.name for item in manifest.signature.inputs]
        outputs = [item.name for item in manifest.signature.outputs]
        backend = TorchScriptBackend(path, name, threads, inputs, outputs)
    return LoadedModel(manifest, backend, name)


def _verify(path: Path, expected: str | None) -> None:
    """The artifact is the one the manifest describes (a corrupt or swapped model never serves)."""
    try:
        actual = sha256_file(path)
    except OSError as exc:
        raise ConfigError(f"cannot read model artifact {path}: {exc.strerror}") from exc
    if expected and actual != expected:
        raise ConfigError(
            f"model artifact {path} does not match its manifest (sha256 {actual[:12]}, expected {expected[:12]})",
            hint="Re-export, or copy the whole export directory again.",
        )
