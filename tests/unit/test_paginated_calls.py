"""No code path calls a pageable AWS operation directly (issue 31 item 5): the source names no client method
for which botocore's paginator model has a paginator, in any service nfldeploy's facade makes clients of;
such operations go through ``AwsCalls.pages`` (or ``get_paginator``), which name them as strings. The
integration test (tests/integration/test_aws_paginators.py) sees the flows it runs; this one sees every line."""

from __future__ import annotations

import ast
from pathlib import Path

import botocore.session
from botocore import xform_name

import nfldeploy

SERVICES = ("lambda", "ecr", "iam", "apigatewayv2", "logs", "secretsmanager", "sts")


def _pageable() -> dict[str, str]:
    """Client method name -> service, for every operation botocore can paginate."""
    session = botocore.session.get_session()
    found: dict[str, str] = {}
    for service in SERVICES:
        model = session.get_paginator_model(service)
        for operation in model._paginator_config:
            found[xform_name(operation)] = service
    return found


def _direct_calls(source: str, pageable: dict[str, str]) -> list[str]:
    return [
        f"{node.lineno}: .{node.attr} ({pageable[node.attr]})"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute) and node.attr in pageable
    ]


def test_the_source_calls_no_pageable_operation_directly() -> None:
    pageable = _pageable()
    assert "list_versions_by_function" in pageable and "filter_log_events" in pageable
    root = Path(nfldeploy.__file__).parent
    found = {
        str(path.relative_to(root)): calls
        for path in sorted(root.rglob("*.py"))
        if (calls := _direct_calls(path.read_text(), pageable))
    }
    assert not found, f"pageable operations called directly, not through their paginator: {found}"


def test_the_check_sees_a_direct_call() -> None:
    source = "versions = client.list_versions_by_function(FunctionName='f')['Versions']\n"
    assert _direct_calls(source, _pageable()) == ["1: .list_versions_by_function (lambda)"]
    paged = "calls.pages('listing', client, 'list_versions_by_function', 'Versions')\n"
    assert _direct_calls(paged, _pageable()) == []
