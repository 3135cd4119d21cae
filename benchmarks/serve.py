"""Serving benchmark: nfldeploy's server (default request and every mode) vs the guide's naive design vs the
bare model call, one run.

    python benchmarks/serve.py [EXPORT_DIR] [--duration 5] [--rounds 3] [--workers 2] [--json]

Both servers run as separate processes on loopback with the same exported model; wrk (Debian's ``wrk``)
drives them from another process with HTTP/1.1 keep-alive at concurrency 1 and 16, alternating the variants
round by round so machine noise hits them alike. Each request is one play of 22 players (a golden request,
with history). The variants: ``naive`` (the guide's design: TorchScript in FastAPI's thread pool, every mode
decoded, the best path returned), ``default`` (nfldeploy, the default request: the best path, its confidence
and every mode's probability; only the most likely mode is decoded) and ``k=K`` (nfldeploy asked for every
mode with ``modes``). The prediction cache is off so every request reaches the model. Reports median
p50/p95/p99 latency, throughput, the response's size, and throughput as a fraction of the physical limit
(cores / the bare model call at that k), plus nfldeploy's server-side p50 and the bare in-process calls.
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

import numpy as np
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


def _bare(export_dir: Path, request: dict[str, Any], modes: int) -> dict[str, float]:
    """Median ms of the bare model call (one play, one thread) decoding 1 and ``modes`` modes, and of the
    in-process predict (features + model + decode) of the default request."""
    from nfldeploy.serving.backends import load_model
    from nfldeploy.serving.predictor import Predictor
    from nfldeploy.serving.schemas import PredictRequest

    predictor = Predictor(load_model(export_dir, "auto", threads=1))
    play = PredictRequest.model_validate(request).to_play()

    def inputs(k: int) -> dict[str, Any]:
        encoded = predictor.contract.encode([play], predictor.feature_set)
        if predictor.selects_modes:
            encoded["mode_ranks"] = np.arange(k)
        return encoded

    calls = {
        "model_k1": lambda run=inputs(1): predictor.model.backend.run(run),
        f"model_k{modes}": lambda run=inputs(modes): predictor.model.backend.run(run),
        "predict": lambda: predictor.run_plays([play]),
    }
    timings: dict[str, list[float]] = {name: [] for name in calls}
    repeats = 50
    for _ in range(5):
        for name, call in calls.items():
            start = time.perf_counter()
            for _ in range(repeats):
                call()
            timings[name].append((time.perf_counter() - start) / repeats * 1000)
    return {f"{name}_ms": statistics.median(values) for name, values in timings.items()}


def _size(url: str, body: Path) -> int:
    request = urllib.request.Request(
        url, data=body.read_bytes(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return len(response.read())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("export_dir", nargs="?", type=Path, default=ROOT / "outputs" / "exported_models")
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="nfldeploy worker processes (one per core; the naive server has one)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk (scripts/test-services installs it)")
    export_dir = export_or_example(args.export_dir)
    modes = json.loads((export_dir / "manifest.json").read_text())["model"]["modes"]
    work = Path(tempfile.mkdtemp())
    request = json.loads((export_dir / "golden" / "requests.json").read_text())[0]
    bodies = {"default": work / "default.json", "every": work / "every.json"}
    bodies["default"].write_text(json.dumps(request))
    bodies["every"].write_text(json.dumps({**request, "modes": modes}))
    scripts = {}
    for name, body in bodies.items():
        scripts[name] = work / f"{name}.lua"
        scripts[name].write_text(LUA.replace("{body}", str(body)))

    env = {
        **os.environ,
        "NFLSERVE_RATE_LIMIT_RPS": "1e9",
        "NFLSERVE_RATE_LIMIT_BURST": "1000000000",
        "NFLSERVE_CACHE_SIZE": "0",
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
    every = f"k={modes}"
    variants = {  # name -> (server, request body)
        "naive": ("naive", "default"),
        "default": ("nfldeploy", "default"),
        every: ("nfldeploy", "every"),
    }
    sizes: dict[str, int] = {}
    try:
        _wait(f"http://127.0.0.1:{ports['nfldeploy']}/ready", servers["nfldeploy"])
        time.sleep(2)  # the naive server has no readiness route; give it the same head start
        results: dict[str, dict[int, list[dict[str, float]]]] = {name: {1: [], 16: []} for name in variants}
        server_side: list[float] = []
        for name, (server, body) in variants.items():  # warm-up
            url = f"http://127.0.0.1:{ports[server]}/predict"
            sizes[name] = _size(url, bodies[body])
            _wrk(url, scripts[body], 4, 1)
        for _ in range(args.rounds):
            for concurrency in (1, 16):
                for name, (server, body) in variants.items():
                    before = log_path.read_text().count("\n")
                    url = f"http://127.0.0.1:{ports[server]}/predict"
                    results[name][concurrency].append(_wrk(url, scripts[body], concurrency, args.duration))
                    if name == "default" and concurrency == 1:
                        lines = log_path.read_text().splitlines()[before:]
                        server_side += [
                            json.loads(line)["duration_ms"] for line in lines if '"/predict"' in line
                        ]
    finally:
        for process in servers.values():
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    bare = _bare(export_dir, request, modes)
    cores = os.cpu_count() or 1
    limits = {  # requests per second if every core did nothing but bare model calls
        "naive": cores * 1000.0 / bare[f"model_k{modes}_ms"],
        "default": cores * 1000.0 / bare["model_k1_ms"],
        every: cores * 1000.0 / bare[f"model_k{modes}_ms"],
    }
    summary: dict[str, Any] = {
        "bare": bare,
        "server_side_p50_ms_c1": statistics.median(server_side),
        "response_bytes": sizes,
        "physical_limit_rps": limits,
        "workers": args.workers,
    }
    for name, by_concurrency in results.items():
        for concurrency, runs in by_concurrency.items():
            summary[f"{name}_c{concurrency}"] = {
                key: statistics.median(run[key] for run in runs) for key in runs[0]
            }
    summary["default_over_naive_c16"] = summary["default_c16"]["rps"] / summary["naive_c16"]["rps"]
    summary[f"{every}_over_naive_c16"] = summary[f"{every}_c16"]["rps"] / summary["naive_c16"]["rps"]
    summary["fraction_of_limit_c16"] = {
        name: summary[f"{name}_c16"]["rps"] / limits[name] for name in variants
    }
    summary["server_p50_over_bare_predict_c1"] = summary["server_side_p50_ms_c1"] / bare["predict_ms"]
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(
        f"one play of 22 players per request; median of {args.rounds} rounds of {args.duration} s; {cores} cores; "
        f"nfldeploy --workers {args.workers}"
    )
    print(
        f"{'variant':<9} {'conc':>4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>7} {'of limit':>8} "
        f"{'bytes':>7} {'errors':>6}"
    )
    for name in variants:
        for concurrency in (1, 16):
            r = summary[f"{name}_c{concurrency}"]
            print(
                f"{name:<9} {concurrency:>4} {r['p50_ms']:>8.2f} {r['p95_ms']:>8.2f} {r['p99_ms']:>8.2f} "
                f"{r['rps']:>7.0f} {r['rps'] / limits[name]:>8.0%} {sizes[name]:>7} {r['errors']:>6.0f}"
            )
    print(
        f"bare model call, one play: k=1 {bare['model_k1_ms']:.2f} ms, k={modes} {bare[f'model_k{modes}_ms']:.2f} ms; "
        f"predict (features + model + decode, default) {bare['predict_ms']:.2f} ms"
    )
    print(
        f"physical limit ({cores} cores / bare model call): k=1 {limits['default']:.0f} req/s, "
        f"k={modes} {limits[every]:.0f} req/s"
    )
    print(
        f"nfldeploy server-side p50 at concurrency 1 (default request): {summary['server_side_p50_ms_c1']:.2f} ms "
        f"= {summary['server_p50_over_bare_predict_c1']:.2f}x the bare predict"
    )
    print(
        f"throughput at concurrency 16 over naive: default {summary['default_over_naive_c16']:.2f}x, "
        f"{every} {summary[f'{every}_over_naive_c16']:.2f}x"
    )


if __name__ == "__main__":
    main()
