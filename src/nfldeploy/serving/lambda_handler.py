"""AWS Lambda entry point: ``nfldeploy.serving.lambda_handler.handler``.

The same app, behind API Gateway HTTP API (payload 2.0) or Function URL events, through mangum. The model is
loaded at init (outside the handler), so a warm invocation pays only for the request; micro-batching is off
(a Lambda instance serves one request at a time).

An environment that cannot serve fails its init, as Lambda expects of a function's static code: a setting
that is wrong, an API keys secret that cannot be read, or a model that does not load raise ``InitError``
after one JSON log line (``init failed``, with the error and a hint). Lambda then answers the invocation with
the init error and runs init again on the next one, so a transient cause (a throttled Secrets Manager)
heals by itself, and a deploy's canary check sees an error rather than an environment alive but answering
503 (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html, "Init phase" and
"Failures during the init phase"; https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html,
"Initialization error").
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, NoReturn

from mangum import Mangum

from nfldeploy.errors import NfldeployError
from nfldeploy.serving import logs
from nfldeploy.serving.app import create_app
from nfldeploy.serving.config import ServeConfig, read_var, var

log = logging.getLogger("nfldeploy.serving")


class InitError(Exception):
    """The function cannot serve (Lambda reports it by this name as the invocation's ``errorType``)."""


def _fail(message: str, hint: str | None) -> NoReturn:
    log.error("init failed", extra={"error": message, "hint": hint})
    raise InitError(f"{message} ({hint})" if hint else message) from None


def _init() -> tuple[Any, Mangum]:
    logs.configure_lambda((read_var(os.environ, "log_level") or "INFO").upper())
    task_root = Path(os.environ.get("LAMBDA_TASK_ROOT", "/var/task"))
    try:
        config = ServeConfig.from_env(
            batching=False,
            model_dir=None if read_var(os.environ, "model_dir") is not None else task_root / "model",
        )
        app = create_app(config, preload=True)
    except NfldeployError as exc:
        _fail(exc.message, exc.hint)
    error = app.app.state.service.load_error  # the Guard in front of the FastAPI app
    if error is not None:
        _fail(
            f"the model in {config.model_dir} failed to load: {error}",
            f"the image holds its export under {task_root / 'model'}; {var('model_dir')} overrides it",
        )
    return app, Mangum(app, lifespan="off")


app, _mangum = _init()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer one API Gateway v2 / Function URL event."""
    response: dict[str, Any] = _mangum(event, context)
    return response
