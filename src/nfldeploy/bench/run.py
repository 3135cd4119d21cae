"""``nfldeploy bench`` as a library: load from a separate process, and cold starts of an image."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from nfldeploy.errors import ConfigError, RemoteError
from nfldeploy.records.golden import read_golden
from nfldeploy.records.manifest import read_manifest
from nfldeploy.records.runs import BenchLevel, BenchRun, write_run
from nfldeploy.records.schema import now

DISTINCT_BODIES = 4096  # the serving cache holds 1024 by default
UNREACHABLE_LIMITS = {"NFLSERVE_RATE_LIMIT_RPS": "1000000", "NFLSERVE_RATE_LIMIT_BURST": "1000000"}


def golden_body(export_dir: Path) -> dict[str, object]:
    """The first golden request of an export: the body bench varies."""
    try:
        manifest = read_manifest(export_dir)
    except ConfigError as exc:
        raise ConfigError(
            f"{exc.message}", hint="Pass --export-dir EXPORT_DIR (the output of nfldeploy export)."
        ) from exc
    return read_golden(export_dir, manifest.golden).bodies[0]


@contextmanager
def service_under_test(
    url: str | None, image: str | None, token: str | None, client: Any = None
) -> Iterator[str]:
    """The URL to load: ``url`` itself, or a container of ``image`` started for the run (its rate limits
    out of reach: capacity is measured, not the limiter) and removed afterwards, even on failure."""
    if url is not None:
        yield url
        return
    assert image is not None
    from nfldeploy.image.engine import connect
    from nfldeploy.image.run import remove, start, wait_ready

    env = dict(UNREACHABLE_LIMITS, **({"NFLSERVE_API_KEYS": token} if token else {}))
    container, started = start(client or connect(), image, env=env)
    try:
        wait_ready(started, container)
        yield started
    finally:
        remove(container)


def serving_policy(url: str, token: str | None = None) -> dict[str, Any] | None:
    """How the service batches (from its /version: plays per model call, where that came from, the export's
    per-play cost by batch size); None when it does not say (older servers)."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.get(url.rstrip("/") + "/version", headers=headers, timeout=10.0)
        policy = response.json().get("batching") if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None
    return policy if isinstance(policy, dict) else None


def describe_policy(policy: dict[str, Any]) -> str:
    """One line for people: ``batching: up to 2 plays per model call (measured at export ...)``."""
    if not policy.get("enabled", True):
        return "batching: off (one model call per request)"
    line = f"batching: up to {policy.get('max_batch')} plays per model call ({policy.get('source')})"
    costs = policy.get("ms_per_play") or {}
    if costs:
        line += "; ms per play by batch size at export: " + ", ".join(
            f"{size}: {float(cost):.2f}" for size, cost in costs.items()
        )
    if isinstance(policy.get("max_batch"), int) and policy["max_batch"] <= 2 and costs:
        line += (
            "\nthe model is compute-bound (batching does not make a play cheaper): use every core with one "
            "worker each (nfldeploy serve --workers N, or one single-core instance per request stream)"
        )
    return line


def cold_start_summary(runs: list[dict[str, float]]) -> dict[str, Any]:
    """The runs and their medians."""
    return {
        "runs": runs,
        "median_first_predict_s": statistics.median(r["first_predict_s"] for r in runs),
        "median_ready_s": statistics.median(r["ready_s"] for r in runs),
    }


def load(
    url: str,
    body: dict[str, object],
    concurrency: int,
    duration: float,
    token: str | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    offset: int = 0,
) -> dict[str, Any]:
    """Drive ``url``/predict from a separate process with DISTINCT_BODIES variants of ``body`` from
    ``offset`` on (more than the server's default cache holds, so every request reaches the model); returns
    throughput, percentiles and errors."""
    spec = {
        "url": url.rstrip("/") + "/predict",
        "body": body,
        "distinct_bodies": DISTINCT_BODIES,
        "offset": offset,  # runs with different offsets share no body
        "concurrency": concurrency,
        "duration": duration,
        "headers": {"Authorization": f"Bearer {token}"} if token else {},
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "nfldeploy.bench.load"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    result: dict[str, Any] | None = None
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(json.dumps(spec))
    process.stdin.close()
    for line in process.stdout:
        message = json.loads(line)
        if message.get("progress") and on_progress:
            on_progress(message)
        elif "result" in message:
            result = message["result"]
    process.wait()
    if result is None:
        raise RemoteError(f"the load generator failed: {process.stderr.read() if process.stderr else ''}")
    return result


def cold_starts(
    client: Any,
    image: str,
    body: dict[str, object],
    runs: int,
    timeout: float = 120.0,
    on_run: Callable[[int, dict[str, float]], None] | None = None,
) -> list[dict[str, float]]:
    """Container start -> /ready -> first successful /predict, ``runs`` times (each container removed)."""
    from nfldeploy.image.run import remove, start

    results = []
    for run in range(runs):
        t0 = time.perf_counter()
        container, url = start(client, image)
        try:
            ready = first = None
            while time.perf_counter() - t0 < timeout and first is None:
                try:
                    if ready is None and httpx.get(url + "/ready", timeout=2).status_code == 200:
                        ready = time.perf_counter() - t0
                    if (
                        ready is not None
                        and httpx.post(url + "/predict", json=body, timeout=5).status_code == 200
                    ):
                        first = time.perf_counter() - t0
                except httpx.TransportError:
                    pass
                if first is None:
                    time.sleep(0.02)
            if ready is None or first is None:
                raise RemoteError(f"{image} did not answer within {timeout:g} s")
            row = {"ready_s": ready, "first_predict_s": first}
            results.append(row)
            if on_run:
                on_run(run, row)
        finally:
            remove(container)
    return results


def record_bench(export_dir: Path, url: str, image: str | None, levels: list[dict[str, Any]]) -> Path:
    """Keep the bench as evidence next to the export (``reports/bench.json``)."""
    run = BenchRun(
        at=now(), url=url, image=image, levels=[BenchLevel.model_validate(level) for level in levels]
    )
    return write_run(export_dir, "bench", run)
