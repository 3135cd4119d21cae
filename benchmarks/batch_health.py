"""/health latency while /predict_batch is loaded: what admitting batches through the model queue buys.

    python benchmarks/batch_health.py [EXPORT_DIR] [--duration 8] [--concurrency 8] [--plays 64] [--json]

Three servers run on loopback with the same export, one after the other within each of three rounds:
``queued`` (the default: a batch's plays go through the bounded queue in model calls of at most MAX_BATCH
plays, in the event loop), ``queued+thread`` (the same with the model on its own thread,
NFLDEPLOY_MODEL_THREAD=true) and ``whole`` (NFLDEPLOY_BATCHING=false: each batch is one model call in the
event loop, the design before). Threads post batches of --plays golden plays at --concurrency while another thread polls
/health every 20 ms. Reports median over rounds of /health p50/p99 and batch throughput (plays/s).
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from common import ROOT, UNLIMITED, export_or_example, serve


def _measure(url: str, batch: list[Any], duration: float, concurrency: int) -> dict[str, float]:
    stop = time.monotonic() + duration
    plays = [0]
    lock = threading.Lock()

    def load() -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            while time.monotonic() < stop:
                if client.post("/predict_batch", json=batch).status_code == 200:
                    with lock:
                        plays[0] += len(batch)

    workers = [threading.Thread(target=load) for _ in range(concurrency)]
    for worker in workers:
        worker.start()
    time.sleep(0.5)
    latencies = []
    with httpx.Client(base_url=url, timeout=60) as client:
        while time.monotonic() < stop - 0.2:
            started = time.perf_counter()
            client.get("/health")
            latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(0.02)
    for worker in workers:
        worker.join()
    latencies.sort()
    return {
        "health_p50_ms": statistics.median(latencies),
        "health_p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "plays_per_s": plays[0] / duration,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("export_dir", nargs="?", type=Path, default=ROOT / "outputs" / "exported_models")
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--plays", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    export_dir = export_or_example(args.export_dir)
    golden = json.loads((export_dir / "golden" / "requests.json").read_text())
    batch = [golden[i % len(golden)] for i in range(args.plays)]
    designs = {
        "queued": {},
        "queued+thread": {"NFLDEPLOY_MODEL_THREAD": "true"},
        "whole": {"NFLDEPLOY_BATCHING": "false"},
    }
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in designs}
    for _ in range(args.rounds):
        for name, env in designs.items():
            process, url = serve(export_dir, {**UNLIMITED, "NFLDEPLOY_CACHE_SIZE": "0", **env})
            try:
                rounds[name].append(_measure(url, batch, args.duration, args.concurrency))
            finally:
                process.terminate()
                process.wait(timeout=30)
    result = {
        name: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        for name, runs in rounds.items()
    }
    result["ratio_health_p99_whole_over_queued"] = (
        result["whole"]["health_p99_ms"] / result["queued"]["health_p99_ms"]
    )
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"/health under {args.concurrency} x /predict_batch of {args.plays} plays (median of {args.rounds} rounds)"
    )
    for name in designs:
        r = result[name]
        print(
            f"  {name:13s} /health p50 {r['health_p50_ms']:7.1f} ms  p99 {r['health_p99_ms']:7.1f} ms  "
            f"batch throughput {r['plays_per_s']:7.0f} plays/s"
        )
    print(f"  /health p99, whole over queued: {result['ratio_health_p99_whole_over_queued']:.1f}x")


if __name__ == "__main__":
    main()
