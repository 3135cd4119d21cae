"""``nfldeploy logs`` on Lambda (moto's CloudWatch Logs) and Kubernetes (a fake API server, the real kubectl).
Cloud Run's is in test_deploy_cli.py (the fake's revisions' output through the Logging API), the local
target's in test_local_target.py (the real engine)."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from typer.testing import CliRunner

from nfldeploy.cli.app import app
from nfldeploy.cloud.aws import AwsClients
from nfldeploy.errors import DeployError
from nfldeploy.service_logs import LogQuery
from nfldeploy.targets.aws_lambda import LambdaTarget, log_group
from services import unavailable

runner = CliRunner()


def _line(request_id: str, path: str, status: int, ts: str) -> str:
    return json.dumps(
        {
            "ts": ts,
            "level": "info",
            "logger": "nfldeploy.serving.access",
            "msg": "request",
            "request_id": request_id,
            "method": "POST",
            "path": path,
            "status": status,
            "duration_ms": 12.5,
        }
    )


def test_lambda_logs_come_from_the_functions_log_group(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_env)
    name = f"logs-fn-{uuid.uuid4().hex[:6]}"
    logs = boto3.client("logs", region_name="us-east-1")
    group = log_group(name)
    logs.create_log_group(logGroupName=group)
    now = int(time.time() * 1000)
    streams = {"2026/11/28/[3]0a1b2c": 3, "2026/11/28/[4]9f8e7d": 4}
    for stream, version in streams.items():
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        events = [
            {"timestamp": now - 5000 + version, "message": f"START RequestId: r{version} Version: {version}"},
            {"timestamp": now - 4000 + version, "message": _line(f"req-{version}", "/predict", 200, "x")},
            {"timestamp": now - 3000 + version, "message": f"REPORT RequestId: r{version} Duration: 12 ms"},
        ]
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)

    common = ["logs", "--target", "lambda", "--set", f"service_name={name}", "--export-dir", "no-export-here"]
    every = runner.invoke(app, [*common, "--json"])
    assert every.exit_code == 0, every.output
    rows = [json.loads(line) for line in every.stdout.splitlines()]
    assert len(rows) == 6 and [r["time"] for r in rows] == sorted(r["time"] for r in rows)
    access = [r for r in rows if r["route"]]
    assert [(r["revision"], r["request_id"], r["status"]) for r in access] == [
        (f"{name}:3", "req-3", 200),
        (f"{name}:4", "req-4", 200),
    ]
    assert {r["message"].split()[0] for r in rows if not r["structured"]} == {"START", "REPORT"}

    one = runner.invoke(app, [*common, "--request-id", "req-4", "--json"])
    assert [json.loads(line)["revision"] for line in one.stdout.splitlines()] == [f"{name}:4"]
    table = runner.invoke(app, [*common, "--limit", "2"], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "REPORT RequestId: r4" in table.stdout and "req-3" not in table.stdout

    never_ran = runner.invoke(app, ["logs", "--target", "lambda", "--set", "service_name=nothing-here"])
    assert never_ran.exit_code == 0 and "no log lines of nothing-here" in never_ran.stdout


def test_a_log_store_that_refuses_is_exit_4_with_the_apis_message() -> None:
    logs = boto3.client("logs", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    stub = Stubber(logs)
    stub.add_client_error(
        "filter_log_events",
        "AccessDeniedException",
        "User is not authorized to perform: logs:FilterLogEvents",
    )
    stub.activate()
    target = LambdaTarget(AwsClients(None, None, None, logs=logs), "fn", "us-east-1")
    with pytest.raises(DeployError) as caught:
        list(target.logs(LogQuery()))
    assert "logs:FilterLogEvents" in caught.value.message and caught.value.exit_code == 4
    assert caught.value.hint == "Check the caller's IAM permissions."


def test_kubernetes_logs_are_kubectl_logs_of_the_deployments_pods(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("kubectl") is None:
        unavailable("kubectl is not installed")
    from fake_kubernetes import FakeKubernetes

    fake = FakeKubernetes().start()
    try:
        monkeypatch.setenv("KUBECONFIG", str(fake.kubeconfig(tmp_path / "kubeconfig")))
        monkeypatch.setenv("KUBECACHEDIR", str(tmp_path / "kube-cache"))
        labels = {"app.kubernetes.io/name": "api"}
        fake.add_pod(
            "api-7d9f-a",
            labels,
            [
                ("2026-11-28T10:00:00.100000000Z", json.dumps({"level": "info", "msg": "model ready"})),
                ("2026-11-28T10:00:01.200000000Z", _line("k-1", "/predict", 200, "2026-11-28T10:00:01.2Z")),
            ],
        )
        fake.add_pod(
            "api-7d9f-b",
            labels,
            [("2026-11-28T10:00:02.300000000Z", _line("k-2", "/predict", 422, "2026-11-28T10:00:02.3Z"))],
        )
        fake.add_pod("other-1", {"app.kubernetes.io/name": "other"}, [("2026-11-28T10:00:00Z", "not ours")])
        common = [
            "logs",
            "--export-dir",
            "no-export-here",
            "--target",
            "kubernetes",
            "--set",
            "service_name=api",
            "--since",
            "2026-11-28T00:00:00Z",
        ]
        result = runner.invoke(app, [*common, "--json"])
        assert result.exit_code == 0, result.output
        rows: list[dict[str, Any]] = [json.loads(line) for line in result.stdout.splitlines()]
        assert [(r["revision"], r["request_id"], r["status"]) for r in rows] == [
            ("api-7d9f-a", None, None),
            ("api-7d9f-a", "k-1", 200),
            ("api-7d9f-b", "k-2", 422),
        ]
        one = runner.invoke(app, [*common, "--request-id", "k-2", "--json"])
        assert [json.loads(line)["status"] for line in one.stdout.splitlines()] == [422]
        later = runner.invoke(app, [*common[:-1], "2026-11-28T10:00:02Z", "--json"])
        assert [json.loads(line)["request_id"] for line in later.stdout.splitlines()] == ["k-2"]
    finally:
        fake.stop()


def test_logs_without_a_kube_context_say_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "empty-kubeconfig"))
    result = runner.invoke(app, ["logs", "--target", "kubernetes"])
    assert result.exit_code == 4 and "no kube context" in result.stderr


def test_lambda_logs_read_the_newest_window_first_and_follow_from_now(aws_env: str) -> None:
    """CloudWatch answers oldest first: --limit N is served from the last minutes when they hold N lines (a
    busy day is not paged through), and --follow starts at now (it printed the whole window first). Against
    moto's CloudWatch Logs, read through botocore's FilterLogEvents paginator as nfldeploy reads it."""
    import uuid
    from datetime import UTC, datetime, timedelta

    import boto3

    from nfldeploy.cloud.aws import AwsClients
    from nfldeploy.service_logs import LogQuery
    from nfldeploy.targets.aws_lambda import LambdaTarget
    from nfldeploy.targets.lambda_bootstrap import log_group

    now = datetime.now(UTC)
    ms = lambda when: int(when.timestamp() * 1000)  # noqa: E731
    function = f"fn-{uuid.uuid4().hex[:6]}"
    logs = boto3.client("logs", region_name="us-east-1", endpoint_url=aws_env)
    group = log_group(function)
    logs.create_log_group(logGroupName=group)

    def put(stream: str, events: list[tuple[datetime, str]]) -> None:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": ms(when), "message": text} for when, text in sorted(events)],
        )

    # a busy day: many old lines (version 1), a few recent ones (version 2)
    put("2026/12/07/[1]a", [(now - timedelta(hours=5, seconds=i), f"old {i}") for i in range(300)])
    put("2026/12/07/[2]b", [(now - timedelta(minutes=1, seconds=i), f"new {i}") for i in range(3)])
    starts: list[int] = []
    logs.meta.events.register(
        "provide-client-params.logs.FilterLogEvents", lambda params, **_: starts.append(params["startTime"])
    )

    target = LambdaTarget(AwsClients(None, None, None, None, logs), function, "us-east-1")
    since = now - timedelta(hours=24)
    recent = list(target.logs(LogQuery(since=since, limit=2)))
    assert [e.message for e in recent] == ["new 1", "new 0"] and len(set(starts)) == 1
    assert recent[0].revision == f"{function}:2"
    assert starts[0] >= ms(now - timedelta(minutes=11))  # only the last ten minutes were read
    starts.clear()
    wide = list(target.logs(LogQuery(since=since, limit=5)))
    assert len(wide) == 5 and wide[0].message.startswith("old") and starts[-1] <= ms(now - timedelta(hours=2))

    put("2026/12/07/[2]c", [(now + timedelta(seconds=30), "live")])
    followed = target.logs(LogQuery(since=since, follow=True))
    assert next(iter(followed)).message == "live"  # the day's lines are not replayed first
