"""What moto's server lacks and the tests need, added in AWS's wire format (request and response shapes as
botocore's service model has them), so the real clients talk to it unchanged.

- API Gateway v2 ``UpdateStage`` (PATCH /v2/apis/{apiId}/stages/{stageName}): moto 5 answers it with a 500.
- API Gateway v2 ``GetApis`` pages its answer (``maxResults``, ``nextToken``: "The next page of elements from
  this collection", https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis.html); moto returns
  every API at once, which hides a client that reads only the first page. Pages here hold ``PAGE_SIZE``
  items unless ``maxResults`` asks for fewer (AWS does not document its default size; any size shows it).
- Lambda ``AddPermission``'s ``FunctionUrlAuthType`` and ``InvokedViaFunctionUrl``: moto stores them as
  top-level keys of the statement; AWS stores them as conditions (``lambda:FunctionUrlAuthType``,
  ``lambda:InvokedViaFunctionUrl``; https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html), which is
  what ``GetPolicy`` returns and what ``aws_rules`` evaluates.
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


PAGE_SIZE = 3


def _get_apis(self: Any) -> tuple[int, dict[str, str], str]:
    apis = [api.to_json() for api in self.apigatewayv2_backend.get_apis()]
    size = min(int(self._get_param("maxResults") or PAGE_SIZE), PAGE_SIZE)
    start = int(self._get_param("nextToken") or 0)
    page: dict[str, Any] = {"items": apis[start : start + size]}
    if start + size < len(apis):
        page["nextToken"] = str(start + size)
    return 200, {}, json.dumps(page)


#: AddPermission parameters AWS turns into a condition of the statement: (operator, condition key).
URL_CONDITIONS = {
    "FunctionUrlAuthType": ("StringEquals", "lambda:FunctionUrlAuthType"),
    "InvokedViaFunctionUrl": ("Bool", "lambda:InvokedViaFunctionUrl"),
}


def _with_url_conditions(decode: Any) -> Any:
    def decode_policy(self: Any, obj: dict[str, Any]) -> Any:
        policy = decode(self, obj)
        for statement in policy.statements:
            for field, (operator, key) in URL_CONDITIONS.items():
                if field in statement:
                    value = statement.pop(field)
                    value = str(value).lower() if isinstance(value, bool) else value
                    statement.setdefault("Condition", {}).setdefault(operator, {})[key] = value
        return policy

    decode_policy.nfldeploy_patched = True  # type: ignore[attr-defined]
    return decode_policy


def install() -> None:
    """Add the missing operations to moto's response classes (idempotent)."""
    from moto.apigatewayv2.responses import ApiGatewayV2Response
    from moto.awslambda.policy import Policy

    if not hasattr(ApiGatewayV2Response, "update_stage"):
        ApiGatewayV2Response.update_stage = _update_stage  # type: ignore[attr-defined]
    if getattr(ApiGatewayV2Response.get_apis, "__name__", "") != "_get_apis":
        ApiGatewayV2Response.get_apis = _get_apis  # type: ignore[method-assign]
    if not getattr(Policy.decode_policy, "nfldeploy_patched", False):
        Policy.decode_policy = _with_url_conditions(Policy.decode_policy)  # type: ignore[method-assign]
