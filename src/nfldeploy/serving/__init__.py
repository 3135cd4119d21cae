"""The runtime inside the container: the inference API, its backends, micro-batching, cache, security,
metrics and the Lambda handler. Imports neither torch (when serving ONNX) nor the CLI's cloud SDKs."""
