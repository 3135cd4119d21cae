"""The fault layer (tests/faults.py) itself: every call is named as botocore's model names it, each fault
reaches boto3 as the error the real service gives (botocore parses its code from the wire shape), a retrying
client gets through a throttle, and a fault after the change leaves the change made."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError

from faults import Call, Fault, FaultProxy, Schedule

REGION = "us-east-1"


@pytest.fixture
def proxy(moto_server: str) -> Iterator[FaultProxy]:
    front = FaultProxy(moto_server).start()
    yield front
    front.stop()


def _client(service: str, proxy: FaultProxy, attempts: int = 1, read_timeout: float = 60) -> Any:
    config = Config(retries={"mode": "standard", "total_max_attempts": attempts}, read_timeout=read_timeout)
    return boto3.client(
        service,
        endpoint_url=proxy.endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing-secret-value",
        config=config,
    )


def test_every_call_is_named_as_botocores_model_names_it(proxy: FaultProxy) -> None:
    _client("lambda", proxy).list_functions()
    _client("ecr", proxy).describe_repositories()
    _client("iam", proxy).list_roles()
    _client("apigatewayv2", proxy).get_apis()
    _client("logs", proxy).describe_log_groups()
    _client("sts", proxy).get_caller_identity()
    with pytest.raises(ClientError):
        _client("lambda", proxy).get_alias(FunctionName="missing", Name="live")
    assert [(c.service, c.operation) for c in proxy.calls] == [
        ("lambda", "ListFunctions"),
        ("ecr", "DescribeRepositories"),
        ("iam", "ListRoles"),
        ("apigatewayv2", "GetApis"),
        ("logs", "DescribeLogGroups"),
        ("sts", "GetCallerIdentity"),
        ("lambda", "GetAlias"),
    ]


@pytest.mark.parametrize(
    ("service", "call", "throttled", "failed"),
    [
        ("lambda", lambda c: c.list_functions(), "TooManyRequestsException", "ServiceException"),
        ("ecr", lambda c: c.describe_repositories(), "ThrottlingException", "InternalFailure"),
        ("iam", lambda c: c.list_roles(), "Throttling", "ServiceUnavailable"),
        ("apigatewayv2", lambda c: c.get_apis(), "TooManyRequestsException", "ServiceException"),
    ],
)
def test_a_fault_reaches_boto3_as_the_services_own_error(
    proxy: FaultProxy, service: str, call: Any, throttled: str, failed: str
) -> None:
    for kind, code in (("throttle", throttled), ("error", failed)):
        proxy.reset(Schedule({0: Fault(kind)}))
        with pytest.raises(ClientError) as refused:
            call(_client(service, proxy))
        assert refused.value.response["Error"]["Code"] == code
        proxy.reset(Schedule({0: Fault(kind)}))
        call(_client(service, proxy, attempts=3))  # botocore's standard retry mode gets through
        assert [c.fault for c in proxy.calls] == [kind, None]


def test_a_reset_and_a_slow_answer_are_connection_faults(proxy: FaultProxy) -> None:
    proxy.reset(Schedule({0: Fault("reset")}))
    with pytest.raises(ConnectionClosedError):
        _client("lambda", proxy).list_functions()
    proxy.reset(Schedule({0: Fault("slow", delay=2.0)}))
    with pytest.raises(ReadTimeoutError):
        _client("lambda", proxy, read_timeout=0.5).list_functions()


def test_a_fault_after_the_change_leaves_the_change_made(proxy: FaultProxy, moto_server: str) -> None:
    name = f"faulted-{uuid.uuid4().hex[:6]}"
    proxy.reset(Schedule({0: Fault("after")}, admits=lambda call: call.mutating))
    with pytest.raises(ConnectionClosedError):
        _client("ecr", proxy).create_repository(repositoryName=name)
    direct = boto3.client(
        "ecr",
        endpoint_url=moto_server,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing-secret-value",
    )
    assert direct.describe_repositories(repositoryNames=[name])["repositories"][0]["repositoryName"] == name
    assert proxy.calls == [Call("ecr", "CreateRepository", "after", None)]


def test_a_seeded_schedule_is_the_same_for_the_same_seed_and_never_faults_a_read_after() -> None:
    baseline = [Call("lambda", op) for op in ("GetFunction", "CreateFunction", "GetAlias", "PublishVersion")]
    first, again = (Schedule.seeded(7, baseline, count=2) for _ in range(2))
    assert first.picks == again.picks and len(first.picks) == 2
    for seed in range(200):
        for index, fault in Schedule.seeded(seed, baseline, count=4).picks.items():
            assert fault.kind != "after" or baseline[index].mutating


@pytest.mark.docker
def test_a_fault_reaches_the_cloud_run_client_as_googles_own_error(docker_client: Any) -> None:
    from google.api_core import exceptions

    from fake_cloudrun import FakeCloudRun
    from nfldeploy.cloud.gcp import services_client

    fake = FakeCloudRun(docker_client).start()
    front = FaultProxy(fake.endpoint).start()
    try:
        client = services_client(front.endpoint)
        name = "projects/p/locations/us-central1/services/absent"
        with pytest.raises(exceptions.NotFound):
            client.get_service(name=name, retry=None)
        front.reset(Schedule({0: Fault("throttle")}))
        with pytest.raises(exceptions.TooManyRequests) as throttled:
            client.get_service(name=name, retry=None)
        assert "Quota exceeded" in str(throttled.value)  # the google.rpc.Status message, parsed
        front.reset(Schedule({0: Fault("error")}))
        with pytest.raises(exceptions.ServiceUnavailable):
            client.get_service(name=name, retry=None)
        assert [(c.service, c.operation, c.fault) for c in front.calls] == [
            ("run", "run.projects.locations.services.get", "error")
        ]
    finally:
        front.stop()
        fake.stop()
