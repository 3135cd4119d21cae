"""Running the eager model and each exported artifact on the same encoded inputs; outputs by name."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from nfldeploy.model.modes import in_id_order, with_ranks

Outputs = dict[str, npt.NDArray[Any]]
Runner = Callable[[dict[str, Any]], Outputs]


@contextlib.contextmanager
def single_threaded_torch() -> Iterator[None]:
    """torch on one intra-op thread for the block. With two threads, eager CPU results of the same model on
    the same inputs differed between processes (about one in eight here: edge features off by 1e-4
    relative, trajectories by up to 0.04 yd), which made the parity gate fail at random; with one thread
    every process computes the same numbers."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def eager_runner(model: Any, input_names: Sequence[str], output_names: Sequence[str]) -> Runner:
    """The torch module itself, in eval mode without gradients."""
    import torch

    def run(inputs: dict[str, Any]) -> Outputs:
        with torch.no_grad():
            results = model(*(torch.from_numpy(inputs[name]) for name in input_names))
        return {name: value.numpy() for name, value in zip(output_names, results, strict=True)}

    return run


def onnx_runner(path: Path, threads: int = 1) -> Runner:
    """An onnxruntime session on the CPU; input and output names come from the model itself."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    inputs_wanted = [item.name for item in session.get_inputs()]
    outputs_given = [item.name for item in session.get_outputs()]

    def run(inputs: dict[str, Any]) -> Outputs:
        results = session.run(None, {name: inputs[name] for name in inputs_wanted})
        return dict(zip(outputs_given, results, strict=True))

    return run


def torchscript_runner(path: Path, input_names: Sequence[str], output_names: Sequence[str]) -> Runner:
    """A TorchScript module loaded from disk."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is deprecated upstream
        module = torch.jit.load(str(path), map_location="cpu").eval()  # type: ignore[no-untyped-call]
    return eager_runner(module, input_names, output_names)


def as_float(outputs: Outputs, name: str) -> npt.NDArray[np.float32]:
    """One output as float32."""
    return np.asarray(outputs[name], np.float32)


def in_mode_order(run: Runner, modes: int) -> Runner:
    """A mode-selecting model asked for all ``modes`` and answering in mode-id order, as a full decode
    does: the gates, golden outputs and accuracy then read it as any model."""

    def ordered(inputs: dict[str, Any]) -> Outputs:
        return in_id_order(run(with_ranks(inputs, modes)))

    return ordered
