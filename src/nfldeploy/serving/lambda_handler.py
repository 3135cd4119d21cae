"""AWS Lambda entry point: ``nfldeploy.serving.lambda_handler.handler``.

The same app, behind API Gateway HTTP API (payload 2.0) or Function URL events, through mangum. The model is
loaded at init (outside the handler), so a warm invocation pays only for the request; micro-batching is off
(a Lambda instance serves one request at a time).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mangum import Mangum

from nfldeploy.serving.app import create_app
from nfldeploy.serving.config import ServeConfig, read_var

_task_root = Path(os.environ.get("LAMBDA_TASK_ROOT", "/var/task"))
_config = ServeConfig.from_env(
    batching=False,
    model_dir=None if read_var(os.environ, "model_dir") is not None else _task_root / "model",
)
app = create_app(_config, preload=True)
_mangum = Mangum(app, lifespan="off")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer one API Gateway v2 / Function URL event."""
    response: dict[str, Any] = _mangum(event, context)
    return response
