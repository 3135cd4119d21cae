"""Property-based tests of the inference API from its own OpenAPI document (schemathesis): generated and
mutated requests for every route, at least 500 in all; no 5xx, and every response matches what the document
says (status code, content type, body schema)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from nfldeploy.serving.app import create_app
from nfldeploy.serving.config import ServeConfig

pytestmark = pytest.mark.slow
EXAMPLES = {"POST": 250, "GET": 20}  # per operation; GETs without parameters have few distinct cases


def test_every_route_answers_within_its_documented_contract(example_export: Path) -> None:
    config = ServeConfig(
        model_dir=example_export, rate_limit_rps=1e9, rate_limit_burst=10**9, access_log=False, cache_size=0
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(config, preload=True))
    calls: dict[str, int] = {}
    for result in schema.get_all_operations():
        _fuzz(result.ok(), calls)
    assert {"POST /predict", "POST /predict_batch", "GET /health", "GET /version"} <= set(calls)
    assert sum(calls.values()) >= 500, calls


def _fuzz(operation: Any, calls: dict[str, int]) -> None:
    label = f"{operation.method.upper()} {operation.path}"

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES.get(operation.method.upper(), 20),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,  # the same cases every run: a failure here is reproducible
        database=None,
    )
    def run(case: Any) -> None:
        calls[label] = calls.get(label, 0) + 1
        # Two rules JSON Schema cannot state are left out of "valid data must be accepted": nfl_ids unique
        # within a play, and num_frames_output at most the model's horizon (both a documented 422).
        case.call_and_validate(excluded_checks=[positive_data_acceptance])

    run()
