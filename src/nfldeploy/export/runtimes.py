"""Running the eager model and each exported artifact on the same encoded inputs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from nfldeploy.model.features import INPUT_NAMES

Outputs = tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]
Runner = Callable[[dict[str, Any]], Outputs]


def eager_runner(model: Any) -> Runner:
    """The torch module itself, in eval mode without gradients."""
    import torch

    def run(inputs: dict[str, Any]) -> Outputs:
        with torch.no_grad():
            traj, probs = model(*(torch.from_numpy(inputs[name]) for name in INPUT_NAMES))
        return traj.numpy(), probs.numpy()

    return run


def onnx_runner(path: Path, threads: int = 1) -> Runner:
    """An onnxruntime session on the CPU."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(inputs: dict[str, Any]) -> Outputs:
        traj, probs = session.run(None, {name: inputs[name] for name in INPUT_NAMES})
        return traj, probs

    return run


def torchscript_runner(path: Path) -> Runner:
    """A TorchScript module loaded from disk."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is deprecated upstream
        module = torch.jit.load(str(path), map_location="cpu").eval()  # type: ignore[no-untyped-call]
    return eager_runner(module)
