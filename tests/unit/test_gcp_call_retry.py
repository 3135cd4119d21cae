"""Each Cloud Run call is retried as the settings say (cloud_call_attempts, cloud_call_timeout), with
google-api-core's Retry: transient errors only, attempts bounded, each attempt with the timeout, waits growing
from FIRST_BACKOFF; a create whose retry meets ALREADY_EXISTS is decided by reading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from google.api_core import exceptions
from google.cloud import run_v2

from nfldeploy.cloud.call_limits import FIRST_BACKOFF, MAX_BACKOFF, CallLimits
from nfldeploy.cloud.gcp import CloudRunServices, Landed
from nfldeploy.errors import DeployError
from nfldeploy.settings import DeploySettings
from nfldeploy.targets.select import TargetName, make_target

NAME = "projects/p/locations/us-central1/services/nfl"


class Flaky:
    """A client whose get_service fails with ``errors`` in turn, then answers; records each call's kwargs."""

    def __init__(self, *errors: Exception) -> None:
        self.errors, self.calls = list(errors), []  # type: ignore[var-annotated]
        self.service = run_v2.Service(name=NAME)

    def get_service(self, **kwargs: Any) -> run_v2.Service:
        self.calls.append(kwargs)
        if self.errors:
            raise self.errors.pop(0)
        return self.service


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr("google.api_core.retry.retry_unary.time.sleep", slept.append)
    return slept


@pytest.mark.parametrize(
    "error",
    [
        exceptions.TooManyRequests("Quota exceeded"),
        exceptions.ServiceUnavailable("unavailable"),
        exceptions.InternalServerError("internal"),
        requests.ConnectionError("Connection reset by peer"),
        requests.ReadTimeout("read timed out"),
    ],
)
def test_a_transient_error_is_retried_with_the_settings_timeout(
    error: Exception, sleeps: list[float]
) -> None:
    client = Flaky(error, error)
    api = CloudRunServices(client, NAME, CallLimits(attempts=3, timeout=7.5))  # type: ignore[arg-type]
    assert api.current() is client.service
    assert len(client.calls) == 3
    assert all(call["timeout"] == 7.5 and call["retry"] is None for call in client.calls)
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= FIRST_BACKOFF and sleeps[1] <= 2 * FIRST_BACKOFF


def test_attempts_are_bounded_by_the_setting(sleeps: list[float]) -> None:
    client = Flaky(*[exceptions.ServiceUnavailable("unavailable")] * 9)
    api = CloudRunServices(client, NAME, CallLimits(attempts=4, timeout=1))  # type: ignore[arg-type]
    with pytest.raises(DeployError, match=r"reading the service for nfl failed: unavailable"):
        api.current()
    assert len(client.calls) == 4 and len(sleeps) == 3
    assert all(s <= MAX_BACKOFF for s in sleeps)


def test_a_permanent_error_is_not_retried(sleeps: list[float]) -> None:
    client = Flaky(exceptions.PermissionDenied("denied"))
    api = CloudRunServices(client, NAME, CallLimits(attempts=5, timeout=1))  # type: ignore[arg-type]
    with pytest.raises(DeployError, match="denied"):
        api.current()
    assert len(client.calls) == 1 and not sleeps


def test_a_retried_create_that_meets_already_exists_is_decided_by_reading(sleeps: list[float]) -> None:
    """The first create reached the API but its answer was lost (a reset): the retry's ALREADY_EXISTS is the
    create's own, so the deploy waits on the service instead of failing."""

    class LostAnswer(Flaky):
        def create_service(self, **kwargs: Any) -> Any:
            self.calls.append(kwargs)
            if len(self.calls) == 1:
                self.service = kwargs["service"]
                self.service.name = NAME
                raise requests.ConnectionError("Connection reset by peer")
            raise exceptions.from_http_status(409, "Resource 'nfl' already exists.")  # what REST raises

    client = LostAnswer()
    api = CloudRunServices(client, NAME, CallLimits(attempts=3, timeout=1))  # type: ignore[arg-type]
    template = {"revision": "nfl-abc", "containers": [{"image": "x@sha256:" + "0" * 64}]}
    traffic = [{"type_": 2, "revision": "nfl-abc", "percent": 100}]
    assert isinstance(api.submit(None, template, traffic, {}, {}), Landed)


def test_a_create_refused_as_existing_on_its_first_attempt_is_an_error(sleeps: list[float]) -> None:
    class Taken(Flaky):
        def create_service(self, **kwargs: Any) -> Any:
            raise exceptions.AlreadyExists("Resource 'nfl' already exists.")

    api = CloudRunServices(Taken(), NAME, CallLimits(attempts=3, timeout=1))  # type: ignore[arg-type]
    with pytest.raises(DeployError, match="already exists"):
        api.submit(None, {"revision": "nfl-abc", "containers": [{"image": "x"}]}, [], {}, {})


def test_the_target_gets_the_limits_of_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NFLDEPLOY_CLOUDRUN_ENDPOINT", "http://127.0.0.1:9")
    settings = DeploySettings(project="p", cloud_call_attempts=2, cloud_call_timeout=3.5)
    target = make_target(TargetName.cloudrun, settings, export_dir=tmp_path)
    assert target.api.limits == CallLimits(attempts=2, timeout=3.5)  # type: ignore[attr-defined]


def test_each_poll_of_an_operation_has_its_own_attempts(
    sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One retry object served every poll of a wait, and the attempts it counts were shared: with 2 attempts
    a rollout whose second poll met one 503 failed, though each poll was retried only once."""
    from google.api_core import operation as operations
    from google.longrunning import operations_pb2
    from google.protobuf import empty_pb2

    pending = operations_pb2.Operation(name="op", done=False)
    done = operations_pb2.Operation(name="op", done=True)
    done.response.Pack(empty_pb2.Empty())
    answers: list[Any] = [exceptions.ServiceUnavailable("blip"), pending] * 3 + [done]
    calls: list[dict[str, Any]] = []

    def refresh(**kwargs: Any) -> Any:
        calls.append(kwargs)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    future = operations.Operation(pending, refresh, lambda: None, result_type=empty_pb2.Empty)
    api = CloudRunServices(Flaky(), NAME, CallLimits(attempts=2, timeout=3.0))  # type: ignore[arg-type]
    api.result(future, timeout=60)
    assert not answers and len(calls) == 7
    assert all(call["timeout"] == 3.0 and call["retry"] is None for call in calls)
