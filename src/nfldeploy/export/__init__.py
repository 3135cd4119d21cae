"""Export a training checkpoint to serving artifacts (ONNX, INT8 ONNX, TorchScript) with parity and accuracy
gates, golden requests and a manifest. ``nfldeploy.export.pipeline.run_export`` is the entry point; this
package's ``__init__`` imports nothing, so light modules (``layout``) load without torch or numpy."""
