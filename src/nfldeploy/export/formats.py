"""Writing the artifacts: ONNX (dynamo exporter), INT8 ONNX (onnxruntime dynamic quantization), TorchScript."""

from __future__ import annotations

import contextlib
import io
import logging
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nfldeploy.errors import ExportError
from nfldeploy.model.contracts import Shape
from nfldeploy.model.features import MAX_PLAYERS

MAX_BATCH = 4096
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _first_line(exc: Exception) -> str:
    return _ANSI.sub("", str(exc)).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__


@contextlib.contextmanager
def _quiet() -> Iterator[io.StringIO]:
    """Keep exporter chatter (progress lines, deprecation warnings) off the user's terminal."""
    buffer = io.StringIO()
    loggers = [
        logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")
    ]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(buffer),
            contextlib.redirect_stderr(buffer),
        ):
            warnings.simplefilter("ignore")
            yield buffer
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def export_onnx(
    model: Any,
    example: tuple[Any, ...],
    path: Path,
    inputs: dict[str, tuple[str, Shape]],
    output_names: tuple[str, ...],
    modes: int = 1,
) -> None:
    """ONNX through torch.export (dynamo), with dynamic batch (plays), player and decoded-mode axes
    (the example must have at least 2 of each: torch.export takes a size of 1 as a constant)."""
    import torch

    dims = {
        "batch": torch.export.Dim("batch", min=1, max=MAX_BATCH),
        "players": torch.export.Dim("players", min=1, max=MAX_PLAYERS),
        "modes_out": torch.export.Dim("modes_out", min=1, max=max(2, modes)),
    }
    dynamic = {
        name: {axis: dims[size] for axis, size in enumerate(shape) if size in dims}
        for name, (_, shape) in inputs.items()
    }
    with _quiet() as log:
        try:
            torch.onnx.export(
                model,
                example,
                str(path),
                dynamo=True,
                input_names=list(inputs),
                output_names=list(output_names),
                dynamic_shapes=dynamic,
                external_data=False,
                optimize=True,
                verbose=False,
            )
        except Exception as exc:
            tail = _ANSI.sub("", "\n".join(log.getvalue().strip().splitlines()[-5:]))
            raise ExportError(
                f"ONNX export failed: {type(exc).__name__}: {_first_line(exc)}",
                hint="A custom architecture must be traceable by torch.export; see the forward contract."
                + (f"\nexporter log:\n{tail}" if tail else ""),
            ) from exc


def quantize_onnx(source: Path, target: Path) -> None:
    """INT8 weights by onnxruntime's dynamic quantization (after its shape-inference pre-pass)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = target.with_suffix(".pre.onnx")
    with _quiet():
        try:
            quant_pre_process(str(source), str(prepared))
            quantize_dynamic(str(prepared), str(target), weight_type=QuantType.QInt8)
        finally:
            prepared.unlink(missing_ok=True)


def export_torchscript(model: Any, example: tuple[Any, ...], path: Path, int8: bool = False) -> None:
    """TorchScript by tracing (deprecated upstream, still served by the naive design). With ``int8`` the
    Linear layers are dynamically quantized first (torch.ao, also deprecated upstream)."""
    import copy

    import torch

    with _quiet():
        try:
            if int8:
                quantize = torch.ao.quantization.quantize_dynamic
                keep = set(getattr(model, "int8_exclude", ()))  # layers whose weights the model slices
                layers = {
                    name
                    for name, module in model.named_modules()
                    if isinstance(module, torch.nn.Linear) and name not in keep
                }
                model = quantize(copy.deepcopy(model), layers, dtype=torch.qint8)  # type: ignore[no-untyped-call]
            traced = torch.jit.trace(model, example, check_trace=False)  # type: ignore[no-untyped-call]
        except Exception as exc:
            kind = "TorchScript INT8" if int8 else "TorchScript"
            raise ExportError(f"{kind} export failed: {type(exc).__name__}: {_first_line(exc)}") from exc
        torch.jit.save(traced, str(path))
