"""What an export directory holds and where it is by default (no heavy imports: every command reads this)."""

from __future__ import annotations

from pathlib import Path

FORMATS = ("onnx", "torchscript")
ARTIFACT_FILES = {
    "onnx": "model.onnx",
    "onnx_int8": "model.int8.onnx",
    "torchscript": "model.torchscript.pt",
    "torchscript_int8": "model.int8.torchscript.pt",
}
DEFAULT_OUT = Path("outputs/exported_models")
