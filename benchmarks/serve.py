"""Serving benchmark: nfldeploy's server vs the guide's naive design vs the bare model call, one run.

    python benchmarks/serve.py [EXPORT_DIR] [--duration 5] [--rounds 3] [--json]

Both servers run as separate processes on loopback with the same exported model; wrk (Debian's ``wrk``)
drives them from another process with HTTP/1.1 keep-alive at concurrency 1 and 16, alternating servers
round by round so machine noise hits both alike. Each request is one play of 22 players (a golden request,
with history). The prediction cache is off so every request reaches the model. Reports median
p50/p95/p99 latency and throughput over rounds, nfldeploy's server-side p50 (from its access log) and the
bare in-process calls: ``model`` (onnxruntime run) and ``predict`` (features + model + decode).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from common import export_or_example

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "outputs" / "nfl_production_v2_config.json"
LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("{body}", "r"); wrk.body = f:read("*a"); f:close()
done = function(summary, latency, requests)
  io.write(string.format("RESULT %f %f %f %f %d\\n", latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, summary.requests / (summary.duration / 1e6),
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited early: {url}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server never became ready: {url}")


def _wrk(url: str, script: Path, connections: int, seconds: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"RESULT (\S+) (\S+) (\S+) (\S+) (\d+)", out)
    assert match, out
    p50, p95, p99, rps, errors = match.groups()
    return {
        "p50_ms": float(p50),
        "p95_ms": float(p95),
        "p99_ms": float(p99),
        "rps": float(rps),
        "errors": int(errors),
    }


def _bare(export_dir: Path, request: dict[str, Any]) -> dict[str, float]:
    from nfldeploy.serving.backends import load_model
    from nfldeploy.serving.predictor import Predictor
    from nfldeploy.serving.schemas import PredictRequest

    predictor = Predictor(load_model(export_dir, "auto", threads=1))
    play = PredictRequest.model_validate(request).to_play()
    inputs = predictor.contract.encode([play], predictor.feature_set)
    timings: dict[str, list[float]] = {"model": [], "predict": []}
    for _ in range(7):
        for name, call in (
            ("model", lambda: predictor.model.backend.run(inputs)),
            ("predict", lambda: predictor.run_plays([play])),
        ):
            start = time.perf_counter()
            for _ in range(300):
                call()
            timings[name].append((time.perf_counter() - start) / 300 * 1000)
    return {f"{name}_ms": statistics.median(values) for name, values in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("export_dir", nargs="?", type=Path, default=ROOT / "outputs" / "exported_models")
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--workers", type=int, default=1, help="nfldeploy worker processes (the naive server has one)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk (scripts/test-services installs it)")
    export_dir = export_or_example(args.export_dir)
    work = Path(tempfile.mkdtemp())
    request = json.loads((export_dir / "golden" / "requests.json").read_text())[0]
    (work / "body.json").write_text(json.dumps(request))
    script = work / "post.lua"
    script.write_text(LUA.replace("{body}", str(work / "body.json")))

    env = {
        **os.environ,
        "NFLDEPLOY_RATE_LIMIT_RPS": "1e9",
        "NFLDEPLOY_RATE_LIMIT_BURST": "1000000000",
        "NFLDEPLOY_CACHE_SIZE": "0",
    }
    ports = {"nfldeploy": _port(), "naive": _port()}
    log_path = work / "nfldeploy.log"
    servers = {
        "nfldeploy": subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nfldeploy",
                "serve",
                str(export_dir),
                "--port",
                str(ports["nfldeploy"]),
                "--workers",
                str(args.workers),
            ],
            stdout=log_path.open("wb"),
            stderr=subprocess.STDOUT,
            env=env,
        ),
        "naive": subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "benchmarks" / "naive_server.py"),
                str(export_dir),
                str(ports["naive"]),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        ),
    }
    try:
        _wait(f"http://127.0.0.1:{ports['nfldeploy']}/ready", servers["nfldeploy"])
        time.sleep(2)  # the naive server has no readiness route; give it the same head start
        results: dict[str, dict[int, list[dict[str, float]]]] = {name: {1: [], 16: []} for name in servers}
        server_side: list[float] = []
        for name in servers:  # warm-up
            _wrk(f"http://127.0.0.1:{ports[name]}/predict", script, 4, 1)
        for _ in range(args.rounds):
            for concurrency in (1, 16):
                for name in servers:
                    before = log_path.read_text().count("\n")
                    results[name][concurrency].append(
                        _wrk(f"http://127.0.0.1:{ports[name]}/predict", script, concurrency, args.duration)
                    )
                    if name == "nfldeploy" and concurrency == 1:
                        lines = log_path.read_text().splitlines()[before:]
                        server_side += [
                            json.loads(line)["duration_ms"] for line in lines if '"/predict"' in line
                        ]
    finally:
        for process in servers.values():
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    bare = _bare(export_dir, request)
    summary: dict[str, Any] = {"bare": bare, "server_side_p50_ms_c1": statistics.median(server_side)}
    for name, by_concurrency in results.items():
        for concurrency, runs in by_concurrency.items():
            summary[f"{name}_c{concurrency}"] = {
                key: statistics.median(run[key] for run in runs) for key in runs[0]
            }
    summary["throughput_ratio_c16"] = summary["nfldeploy_c16"]["rps"] / summary["naive_c16"]["rps"]
    summary["server_p50_over_bare_predict_c1"] = summary["server_side_p50_ms_c1"] / bare["predict_ms"]
    summary["server_p50_over_bare_model_c1"] = summary["server_side_p50_ms_c1"] / bare["model_ms"]
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(
        f"one play of 22 players per request; median of {args.rounds} rounds of {args.duration} s; {os.cpu_count()} cores"
    )
    print(f"{'server':<11} {'conc':>4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>8} {'errors':>6}")
    for name in servers:
        for concurrency in (1, 16):
            r = summary[f"{name}_c{concurrency}"]
            print(
                f"{name:<11} {concurrency:>4} {r['p50_ms']:>8.2f} {r['p95_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['rps']:>8.0f} {r['errors']:>6.0f}"
            )
    print(
        f"bare in-process calls: model {bare['model_ms']:.3f} ms, predict (features + model + decode) {bare['predict_ms']:.3f} ms"
    )
    print(
        f"nfldeploy server-side p50 at concurrency 1: {summary['server_side_p50_ms_c1']:.3f} ms "
        f"= {summary['server_p50_over_bare_predict_c1']:.2f}x the bare predict, {summary['server_p50_over_bare_model_c1']:.2f}x the bare model call"
    )
    print(f"throughput at concurrency 16: nfldeploy / naive = {summary['throughput_ratio_c16']:.2f}x")


if __name__ == "__main__":
    main()
