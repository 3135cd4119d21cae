"""Which URL smoke-test reaches from a target's status."""

from __future__ import annotations

import pytest

from nfldeploy.errors import ConfigError
from nfldeploy.targets.base import Status
from nfldeploy.targets.select import endpoint_of


def _status(url: str | None, traffic: dict[str, int], canary_url: str | None = None) -> Status:
    return Status("cloudrun", "nfl", url, next(iter(traffic), None), traffic, [], canary_url=canary_url)


def test_the_service_url() -> None:
    endpoint = endpoint_of(_status("https://nfl.run.app", {"r1": 100}))
    assert (endpoint.url, endpoint.canary, endpoint.note) == ("https://nfl.run.app", False, None)


def test_the_canary_has_its_own_url() -> None:
    status = _status("https://nfl.run.app", {"r1": 90, "r2": 10}, "https://canary---nfl.run.app")
    assert endpoint_of(status, canary=True).url == "https://canary---nfl.run.app"
    assert endpoint_of(status, canary=True).canary and not endpoint_of(status).canary


def test_no_canary_in_flight_tests_the_revision_that_took_everything() -> None:
    endpoint = endpoint_of(_status("https://nfl.run.app", {"r1": 100}), canary=True)
    assert endpoint.url == "https://nfl.run.app" and not endpoint.canary
    assert endpoint.note is not None and "r1 serves all traffic" in endpoint.note


def test_a_split_without_a_canary_url_or_nothing_serving_is_an_error() -> None:
    with pytest.raises(ConfigError, match="has no canary"):
        endpoint_of(_status("https://nfl.run.app", {"r1": 50, "r2": 50}), canary=True)
    with pytest.raises(ConfigError, match="nothing serves nfl on the cloudrun target"):
        endpoint_of(_status(None, {}))
