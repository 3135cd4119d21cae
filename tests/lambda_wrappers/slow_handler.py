"""A test-only wrapper of the Lambda image's handler, mounted into the container and named by the function's
command (as a function's ``ImageConfig.Command`` overrides the image's CMD): it sleeps for the seconds an
event's ``x-test-sleep`` header gives, then answers as the image's handler does, so that a test can run one
request past the function's timeout."""

from __future__ import annotations

import time
from typing import Any

from nfldeploy.serving.lambda_handler import handler as image_handler


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    time.sleep(float((event.get("headers") or {}).get("x-test-sleep", 0)))
    return image_handler(event, context)
