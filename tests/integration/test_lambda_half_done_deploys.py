"""Regression tests for the violations the fault schedules found (issue 33): a Lambda deploy that stopped
part-way is a normal starting point for the next one, whose plan says what it found. Each test fails one call
of the real CLI (through the fault proxy in front of moto's server), runs the same deploy again without
faults, and compares the function with a twin that took the same steps without faults."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from faults import Schedule
from lambda_fault_runs import Harness, failing, harness


@pytest.fixture
def pair(aws_env: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Harness]:
    found = harness(aws_env, monkeypatch, tmp_path, "function_url")
    yield found
    found.close()


@pytest.fixture
def fresh(aws_env: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Harness]:
    found = harness(aws_env, monkeypatch, tmp_path, "function_url", deployed=False)
    yield found
    found.close()


def _rerun_plan(found: Harness) -> str:
    assert found.last_rerun is not None
    return found.last_rerun.output


def test_traffic_stays_old_after_a_fault_after_publish_version(pair: Harness) -> None:
    """The version was published, the client never heard: the re-run moved no traffic ($LATEST looked done)."""
    run, violations = pair.release(failing("PublishVersion"), None)
    assert run.exit_code == 4 and "AWS publish for" in run.output, run.output
    assert not violations, violations
    assert "reuse_version" in _rerun_plan(pair) and "takes no traffic" in _rerun_plan(pair)


def test_traffic_stays_old_after_a_fault_after_the_configuration_update(pair: Harness) -> None:
    """$LATEST has the spec, nothing was published: the re-run published nothing and moved no traffic."""
    run, violations = pair.release(failing("UpdateFunctionConfiguration"), None)
    assert run.exit_code == 4 and "AWS configuration update for" in run.output, run.output
    assert not violations, violations
    assert "the function has the new spec, no version" in _rerun_plan(pair)


def test_public_canary_url_left_on_a_version_without_traffic_after_a_failed_alias_update(
    pair: Harness,
) -> None:
    """A canary deploy whose check passed, then live's weights could not move: the canary's public URL stayed
    open on a version that takes no traffic, and the re-run (seeing $LATEST done) never released it."""
    run, violations = pair.release(failing("UpdateAlias", "error"), 20)
    assert run.exit_code == 4 and "AWS updating the alias for" in run.output, run.output
    assert "takes no traffic" in run.output, run.output
    assert not violations, violations


def test_canary_never_checked_again_after_a_failed_check(pair: Harness) -> None:
    """A canary that failed its check exits 3, and the fault-free re-run checks the same version again and
    gives it its share (before: the re-run found $LATEST done and released nothing)."""
    run, violations = pair.release(lambda _: Schedule(), 20, fail_smoke=True)
    assert run.exit_code == 3 and "failed its check" in run.output, run.output
    assert not violations, violations


def test_traceback_on_rerun_after_a_fault_after_create_function(fresh: Harness) -> None:
    """The function was created, the client never heard: the re-run found no alias and asserted one (exit 5,
    'internal error'), or found nothing to do."""
    run, violations = fresh.release(failing("CreateFunction"), None)
    assert run.exit_code == 4 and "AWS create for" in run.output, run.output
    assert not violations, violations


def test_status_shows_a_failed_canary_as_an_ordinary_version(pair: Harness) -> None:
    """After a canary failed its check, status listed its version as "active" like any other."""
    pair.step(pair.faulted, pair.faulted.settings.timeout + 1)
    pair.smoke.failing = True
    failed = pair.run(pair.faulted, 20)
    assert failed.exit_code == 3, failed.output
    status = pair.run(pair.faulted, None, command="status")
    assert status.exit_code == 0, status.output
    assert re.search(r":2 +. unreleased", status.output), status.output
    assert "version 2 took no traffic: its canary check failed" in status.output


def test_public_grants_left_on_the_ended_canary_when_revoking_them_fails(pair: Harness) -> None:
    """A deploy without --canary while a canary is in flight moved all traffic first, then could not revoke
    the canary's public grants: grants to everyone stayed on a version that takes no traffic."""
    _, violations = pair.release(lambda _: Schedule(), 20)
    assert not violations, violations
    run, violations = pair.release(failing("RemovePermission", "error"), None)
    assert run.exit_code == 4 and "AWS removing public invocation for" in run.output, run.output
    assert not violations, violations


def test_internal_error_when_the_connection_drops_on_every_configuration_update(pair: Harness) -> None:
    """Connections reset on every attempt of the configuration update: botocore's ConnectionClosedError
    escaped the role-propagation retry (it caught ClientError only) as an internal error, exit 5."""
    run, violations = pair.release(failing("UpdateFunctionConfiguration", "reset", "reset"), None)
    assert run.exit_code == 4 and "AWS configuration update for" in run.output, run.output
    assert "Connection was closed" in run.output
    assert not violations, violations


def test_internal_error_when_the_connection_drops_while_waiting_for_the_update(pair: Harness) -> None:
    """Connections reset on every attempt of the waiter's GetFunction after the code update: the waiter let
    ConnectionClosedError through (it caught WaiterError only) as an internal error, exit 5."""
    # GetFunction 0: the plan's read, 1: apply's (the RevisionId the code update names), 2: the waiter's
    run, violations = pair.release(failing("GetFunction", "reset", "reset", occurrence=2), None)
    assert run.exit_code == 4 and "waiting for it to be ready" in run.output, run.output
    assert not violations, violations
