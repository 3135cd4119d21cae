"""Rules AWS enforces that moto's server does not, evaluated on what moto stores, so a test fails where a
real deploy would.

- Function URLs (https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html, "Control access to Lambda
  function URLs"): "Starting in October 2025, new function URLs will require both lambda:InvokeFunctionUrl
  and lambda:InvokeFunction permissions." With AuthType NONE the function's resource-based policy must grant
  both to Principal "*": InvokeFunctionUrl under the condition lambda:FunctionUrlAuthType = NONE, and
  InvokeFunction (the console and ``add-permission --invoked-via-function-url`` add the condition
  lambda:InvokedViaFunctionUrl = true). Without both, every call through the URL is answered 403.
"""

from __future__ import annotations

import json
from typing import Any


def _public(statement: dict[str, Any]) -> bool:
    return statement.get("Effect") == "Allow" and statement.get("Principal") in ("*", {"AWS": "*"})


def _condition(statement: dict[str, Any], operator: str, key: str) -> str | None:
    value = statement.get("Condition", {}).get(operator, {}).get(key)
    return None if value is None else str(value).lower()


def public_url_refusal(policy: dict[str, Any] | None) -> str | None:
    """Why a public (AuthType NONE) function URL call is refused under ``policy``; None when it goes through."""
    statements = (policy or {}).get("Statement", [])
    url = any(
        _public(s)
        and s.get("Action") == "lambda:InvokeFunctionUrl"
        and _condition(s, "StringEquals", "lambda:FunctionUrlAuthType") == "none"
        for s in statements
    )
    invoke = any(
        _public(s)
        and s.get("Action") == "lambda:InvokeFunction"
        and _condition(s, "Bool", "lambda:InvokedViaFunctionUrl") in (None, "true")
        for s in statements
    )
    if not url:
        return "403: no statement grants lambda:InvokeFunctionUrl to * for AuthType NONE"
    if not invoke:
        return "403: no statement grants lambda:InvokeFunction to * (required with InvokeFunctionUrl since 2025-10)"
    return None


def policy_of(lambda_client: Any, function: str, qualifier: str) -> dict[str, Any] | None:
    """The resource-based policy of ``function:qualifier`` (None when it has none)."""
    try:
        found = lambda_client.get_policy(FunctionName=function, Qualifier=qualifier)
    except lambda_client.exceptions.ResourceNotFoundException:
        return None
    policy: dict[str, Any] = json.loads(found["Policy"])
    return policy
