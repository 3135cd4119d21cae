"""The Lambda handler answers real API Gateway HTTP API (v2) and Function URL event shapes."""

from __future__ import annotations

import base64
import importlib
import json
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

GUIDE_REQUEST = {
    "players": [{"x": 50, "y": 26, "s": 5.0, "a": 0.5, "dis": 1.2, "o": 90, "dir": 90}],
    "game_context": {"down": 1, "distance": 10},
}


@pytest.fixture(scope="module")
def handler_module(example_export: Path) -> ModuleType:
    mp = pytest.MonkeyPatch()
    mp.setenv("NFLSERVE_MODEL_DIR", str(example_export))
    mp.setenv("NFLSERVE_API_KEYS", "lambda-key")
    sys.modules.pop("nfldeploy.serving.lambda_handler", None)
    module = importlib.import_module("nfldeploy.serving.lambda_handler")
    mp.undo()
    return module


def _event(
    kind: str,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    base64_body: bool = False,
) -> dict[str, Any]:
    domain = (
        "abc123.execute-api.us-east-1.amazonaws.com"
        if kind == "apigw"
        else "abc123.lambda-url.us-east-1.on.aws"
    )
    raw = json.dumps(body) if body is not None and not isinstance(body, str) else body
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "host": domain,
            "content-type": "application/json",
            "user-agent": "curl/8.0",
            "x-forwarded-for": "203.0.113.9",
            "x-forwarded-proto": "https",
            "x-forwarded-port": "443",
            **(headers or {}),
        },
        "requestContext": {
            "accountId": "123456789012" if kind == "apigw" else "anonymous",
            "apiId": "abc123",
            "domainName": domain,
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.9",
                "userAgent": "curl/8.0",
            },
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "routeKey": "$default",
            "time": "26/Nov/2026:04:00:00 +0000",
            "timeEpoch": 1795665600000,
        },
        "isBase64Encoded": base64_body,
    }
    if kind == "apigw":
        event["requestContext"]["stage"] = "$default"
    if raw is not None:
        event["body"] = base64.b64encode(raw.encode()).decode() if base64_body else raw
    return event


CONTEXT = SimpleNamespace(
    function_name="nfl-trajectory", aws_request_id="req-1", get_remaining_time_in_millis=lambda: 30000
)
AUTH = {"authorization": "Bearer lambda-key"}


@pytest.mark.parametrize("kind", ["apigw", "function_url"])
def test_predict_through_the_handler(handler_module: ModuleType, kind: str) -> None:
    response = handler_module.handler(_event(kind, "POST", "/predict", GUIDE_REQUEST, AUTH), CONTEXT)
    assert response["statusCode"] == 200, response
    body = json.loads(response["body"])
    assert len(body["predictions"][0]["predicted_positions"]) == 10
    assert response["headers"]["x-request-id"]
    assert "modes" not in body["predictions"][0] and len(body["predictions"][0]["mode_probabilities"]) == 3
    every = handler_module.handler(
        _event(kind, "POST", "/predict", {**GUIDE_REQUEST, "modes": 3}, AUTH), CONTEXT
    )
    modes = json.loads(every["body"])["predictions"][0]["modes"]  # the k most likely, without batching
    assert [m["mode"] for m in modes] != [] and len(modes) == 3 and len(modes[0]["sigma_x"]) == 10
    too_many = handler_module.handler(
        _event(kind, "POST", "/predict", {**GUIDE_REQUEST, "modes": 4}, AUTH), CONTEXT
    )
    assert too_many["statusCode"] == 422


@pytest.mark.parametrize("kind", ["apigw", "function_url"])
def test_base64_body_health_and_errors(handler_module: ModuleType, kind: str) -> None:
    ok = handler_module.handler(
        _event(kind, "POST", "/predict", GUIDE_REQUEST, AUTH, base64_body=True), CONTEXT
    )
    assert ok["statusCode"] == 200
    assert handler_module.handler(_event(kind, "GET", "/health"), CONTEXT)["statusCode"] == 200
    assert handler_module.handler(_event(kind, "GET", "/ready"), CONTEXT)["statusCode"] == 200
    unauthorized = handler_module.handler(_event(kind, "POST", "/predict", GUIDE_REQUEST), CONTEXT)
    assert unauthorized["statusCode"] == 401
    bad = handler_module.handler(_event(kind, "POST", "/predict", '{"players": [', AUTH), CONTEXT)
    assert bad["statusCode"] == 422
    version = handler_module.handler(_event(kind, "GET", "/version", headers=AUTH), CONTEXT)
    assert json.loads(version["body"])["experiment_name"] == "nfl_production_v2"
