"""Export a training checkpoint to serving artifacts (ONNX, INT8 ONNX, TorchScript) with parity and accuracy
gates, golden requests and a manifest. ``run_export`` is the entry point."""

from nfldeploy.export.pipeline import ExportOptions, run_export

__all__ = ["ExportOptions", "run_export"]
