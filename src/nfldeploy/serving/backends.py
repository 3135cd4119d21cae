"""Model runtimes behind the API: onnxruntime (default) and TorchScript, chosen from the manifest."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from nfldeploy.errors import ConfigError
from nfldeploy.model.contracts import DEFAULT_OUTPUTS, REFERENCE

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

    manifest: dict[str, Any]
    backend: Backend
    artifact: str

    @property
    def version(self) -> str:
        """``experiment:config-sha[:12]:artifact``: what /predict answers as model_version."""
        return f"{self.manifest['experiment_name']}:{self.manifest['config']['sha256'][:12]}:{self.artifact}"


def read_manifest(model_dir: Path) -> dict[str, Any]:
    """The export manifest (without importing the export package, which needs torch)."""
    path = model_dir / "manifest.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"no readable export manifest at {path}: {exc}",
            hint="Point NFLDEPLOY_MODEL_DIR (or nfldeploy serve EXPORT_DIR) at the output of nfldeploy export.",
        ) from exc
    return data


def load_model(model_dir: Path, runtime: str = "auto", threads: int = 1) -> LoadedModel:
    """Open the artifact ``runtime`` names: ``auto`` (the manifest's serving default) or an artifact name
    (onnx, onnx_int8, torchscript, torchscript_int8)."""
    manifest = read_manifest(model_dir)
    artifacts = manifest.get("artifacts", {})
    name = manifest.get("serving_default", "onnx") if runtime == "auto" else runtime
    if name not in artifacts:
        raise ConfigError(
            f"the export in {model_dir} has no {name!r} artifact (it has {', '.join(artifacts) or 'none'})"
        )
    path = model_dir / artifacts[name]["file"]
    _verify(path, artifacts[name].get("sha256"))
    backend: Backend
    if artifacts[name]["format"] == "onnx":
        backend = OnnxBackend(path, name, threads)
    else:
        signature = manifest.get("signature", {})
        inputs = [item["name"] for item in signature.get("inputs", [])] or list(REFERENCE.input_names)
        outputs = [item["name"] for item in signature.get("outputs", [])] or list(DEFAULT_OUTPUTS)
        backend = TorchScriptBackend(path, name, threads, inputs, outputs)
    return LoadedModel(manifest, backend, name)


def _verify(path: Path, expected: str | None) -> None:
    """The artifact is the one the manifest describes (a corrupt or swapped model never serves)."""
    try:
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise ConfigError(f"cannot read model artifact {path}: {exc.strerror}") from exc
    if expected and actual != expected:
        raise ConfigError(
            f"model artifact {path} does not match its manifest (sha256 {actual[:12]}, expected {expected[:12]})",
            hint="Re-export, or copy the whole export directory again.",
        )
