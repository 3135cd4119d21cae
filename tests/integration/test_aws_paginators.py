"""Pagination from botocore's own models (issue 31 item 5): every operation the Lambda flows call (bootstrap,
deploy, a canary, status, promote, rollback, logs; the function URL and the HTTP API ways in) for which
botocore's paginator model has a paginator is called through that paginator, and every page is followed.

How a call is told to come from a paginator: botocore marks every request its paginator makes with the
feature id PAGINATOR, "C" in the ``m/`` list of the User-Agent header it sends (botocore.useragent's
feature table); the header is read from the request as signed. Every page followed: each answer that holds a
next token (the paginator model's output_token) is followed by a call of the same operation with that
token as its input_token. Real clients against moto's server, whose Lambda lists page at 50 (and API
Gateway's at 3), with botocore's event hooks (before-parameter-build, before-sign, after-call)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.session
import jmespath
import pytest

from bootstrapped import bootstrap
from ecr_local import recorded_image
from lambda_state import REGION, cheap_versions, settings_for
from nfldeploy.cloud.aws import AwsClients
from nfldeploy.service_logs import LogQuery
from nfldeploy.targets.aws_lambda import LambdaTarget, log_group


@dataclass(eq=False)  # compared by identity: the record of one request
class Call:
    service: str
    operation: str
    params: dict[str, Any]
    paginated: bool = False
    next_token: Any = None


@dataclass
class Recorder:
    """Every operation the clients call, whether botocore's paginator made it, and the next token answered."""

    calls: list[Call] = field(default_factory=list)
    models: dict[str, Any] = field(default_factory=dict)

    def attach(self, client: Any) -> Any:
        service = client.meta.service_model.service_name
        self.models[service] = botocore.session.get_session().get_paginator_model(service)
        events = client.meta.events
        events.register("before-parameter-build.*.*", self._before_call, unique_id=f"record-call-{id(self)}")
        events.register("before-sign.*.*", self._before_sign, unique_id=f"record-sign-{id(self)}")
        events.register("after-call.*.*", self._after_call, unique_id=f"record-answer-{id(self)}")
        return client

    def _before_call(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        call = Call(model.service_model.service_name, model.name, dict(params))
        context["nfldeploy_call"] = call
        self.calls.append(call)

    @staticmethod
    def _before_sign(request: Any, **_: Any) -> None:
        agent = request.headers.get("User-Agent", b"")
        agent = agent.decode() if isinstance(agent, bytes) else str(agent)
        metrics = next((part[2:].split(",") for part in agent.split() if part.startswith("m/")), [])
        call = request.context.get("nfldeploy_call")
        if call is not None:
            call.paginated = "C" in metrics  # botocore's PAGINATOR feature id

    def _after_call(self, model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        call = context.get("nfldeploy_call")
        config = self.paginator(model.service_model.service_name, model.name)
        if call is not None and config is not None:
            tokens = config["output_token"]
            tokens = tokens if isinstance(tokens, list) else [tokens]
            found = [jmespath.search(token, parsed) for token in tokens]
            call.next_token = found if any(found) else None

    def paginator(self, service: str, operation: str) -> dict[str, Any] | None:
        """botocore's paginator model of ``operation`` (None: it cannot paginate)."""
        model = self.models[service]
        try:
            return dict(model.get_paginator(operation))
        except ValueError:
            return None

    def pageable(self) -> Iterator[Call]:
        return (c for c in self.calls if self.paginator(c.service, c.operation) is not None)

    def followed(self, call: Call) -> bool:
        """Whether a later call of the same operation sent ``call``'s next token as its input token."""
        config = self.paginator(call.service, call.operation)
        assert config is not None
        inputs = config["input_token"]
        inputs = inputs if isinstance(inputs, list) else [inputs]
        later = self.calls[self.calls.index(call) + 1 :]
        return any(
            c.operation == call.operation and [c.params.get(name) for name in inputs] == call.next_token
            for c in later
        )


@pytest.fixture
def recorded(aws_env: str) -> tuple[Recorder, AwsClients]:
    recorder = Recorder()
    session = boto3.Session(region_name=REGION)

    def client(name: str) -> Any:
        return recorder.attach(session.client(name, endpoint_url=aws_env))  # type: ignore[call-overload]

    clients = AwsClients(
        client("lambda"),
        client("ecr"),
        client("iam"),
        client("apigatewayv2"),
        client("logs"),
        client("secretsmanager"),
    )
    return recorder, clients


def test_the_lambda_flows_page_through_botocores_paginators(
    recorded: tuple[Recorder, AwsClients], aws_env: str
) -> None:
    recorder, aws = recorded
    helper = boto3.Session(region_name=REGION)
    admin = AwsClients(*(helper.client(s, endpoint_url=aws_env) for s in ("lambda", "ecr", "iam")))
    for index in range(4):  # the stand-in answers three HTTP APIs a page: several pages of them
        helper.client("apigatewayv2", endpoint_url=aws_env).create_api(
            Name=f"other-{uuid.uuid4().hex[:6]}-{index}", ProtocolType="HTTP"
        )
    name = f"fn-{uuid.uuid4().hex[:6]}"
    settings = settings_for(name, lambda_keep_versions=3)
    bootstrap(aws, settings)
    image = recorded_image(admin.ecr, settings.repository)
    target = LambdaTarget(aws, name, REGION, waiter_config={"Delay": 0, "MaxAttempts": 5}, keep_versions=3)
    target.apply(target.plan(settings, image))
    cheap_versions(admin, name, 55)  # more versions than one page holds (not recorded: the admin's clients)
    target.apply(target.plan(settings.model_copy(update={"timeout": 61}), image, canary=10))
    target.status()
    target.apply(target.plan_promote())
    target.rollback()
    target.apply(target.plan(settings.model_copy(update={"timeout": 62}), image))  # retires old versions
    stream = f"2026/01/01/[1]{uuid.uuid4().hex}"
    helper.client("logs", endpoint_url=aws_env).create_log_stream(
        logGroupName=log_group(name), logStreamName=stream
    )
    helper.client("logs", endpoint_url=aws_env).put_log_events(
        logGroupName=log_group(name),
        logStreamName=stream,
        logEvents=[{"timestamp": int(time.time() * 1000), "message": f"line {i}"} for i in range(3)],
    )
    assert len(list(target.logs(LogQuery(limit=10)))) == 3
    fronted = settings.model_copy(update={"lambda_endpoint": "api_gateway", "allow_unauthenticated": True})
    bootstrap(aws, fronted)
    behind_api = LambdaTarget(aws, name, REGION, endpoint="api_gateway", keep_versions=3)
    behind_api.apply(behind_api.plan(fronted, image))
    behind_api.status()

    direct = sorted({f"{c.service}:{c.operation}" for c in recorder.pageable() if not c.paginated})
    assert not direct, f"called without botocore's paginator: {direct}"
    called = {(c.service, c.operation) for c in recorder.pageable()}
    assert called >= {  # the flows reached every list this tool reads (else the test would prove little)
        ("lambda", "ListVersionsByFunction"),
        ("lambda", "ListAliases"),
        ("lambda", "ListFunctionUrlConfigs"),
        ("apigatewayv2", "GetApis"),
        ("ecr", "DescribeRepositories"),
        ("ecr", "DescribeImages"),
        ("logs", "FilterLogEvents"),
        ("logs", "DescribeLogGroups"),
        ("iam", "ListAttachedRolePolicies"),
        ("iam", "ListRolePolicies"),
    }, sorted(called)
    dropped = [c for c in recorder.pageable() if c.next_token and not recorder.followed(c)]
    assert not dropped, f"a page left unread: {[(c.operation, c.next_token) for c in dropped]}"
    assert any(c.operation == "ListVersionsByFunction" and c.next_token for c in recorder.calls)
    assert any(c.operation == "GetApis" and c.next_token for c in recorder.calls)
