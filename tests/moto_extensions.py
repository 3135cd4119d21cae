"""What moto's server lacks and the tests need, added in AWS's wire format (request and response shapes as
botocore's service model has them), so the real clients talk to it unchanged.

- API Gateway v2 ``UpdateStage`` (PATCH /v2/apis/{apiId}/stages/{stageName}): moto 5 answers it with a 500.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import unquote

STAGE_FIELDS = {
    "defaultRouteSettings": "default_route_settings",
    "autoDeploy": "auto_deploy",
    "description": "description",
    "routeSettings": "route_settings",
    "stageVariables": "stage_variables",
    "accessLogSettings": "access_log_settings",
}


def _update_stage(self: Any) -> tuple[int, dict[str, str], str]:
    parts = self.path.split("?")[0].split("/")
    api_id, stage_name = parts[-3], unquote(parts[-1])
    stage = self.apigatewayv2_backend.get_stage(api_id, stage_name)
    body = json.loads(self.body or "{}")
    for wire, attribute in STAGE_FIELDS.items():
        if wire in body:
            current = getattr(stage, attribute, None)
            value = body[wire]
            setattr(stage, attribute, {**current, **value} if isinstance(current, dict) else value)
    stage.updated = datetime.now()
    return 200, {}, json.dumps(stage.to_json())


def install() -> None:
    """Add the missing operations to moto's response classes (idempotent)."""
    from moto.apigatewayv2.responses import ApiGatewayV2Response

    if not hasattr(ApiGatewayV2Response, "update_stage"):
        ApiGatewayV2Response.update_stage = _update_stage  # type: ignore[attr-defined]
