"""Soak: the server under steady load for minutes, watching errors, latency per minute and memory.

    python benchmarks/soak.py [EXPORT_DIR] [--minutes 10] [--concurrency 16] [--json]

Starts ``nfldeploy serve`` (one worker, rate limit lifted, the cache on at its default size) and drives
/predict from a separate process (nfldeploy's load generator: distinct bodies, so the cache cannot answer
and its memory bound is exercised) in one-minute slices. Reports per minute: requests, errors, p50 and p99,
and the server's resident memory (VmRSS); then the totals and the RSS growth from the first minute to the
last, and over the second half (a leak keeps growing there; allocator warm-up has levelled off). Targets:
0 errors and RSS growth under 10 %.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import ROOT, UNLIMITED, export_or_example, serve

from nfldeploy.bench.run import DISTINCT_BODIES, load


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("export_dir", nargs="?", type=Path, default=ROOT / "outputs" / "exported_models")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--slice-seconds", type=float, default=60.0, help="length of one reported slice")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    export_dir = export_or_example(args.export_dir)
    body = json.loads((export_dir / "golden" / "requests.json").read_text())[0]
    server, url = serve(export_dir, UNLIMITED)
    try:
        slices = []
        count = max(1, round(args.minutes * 60 / args.slice_seconds))
        for index in range(count):
            result = load(url, body, args.concurrency, args.slice_seconds, offset=index * DISTINCT_BODIES)
            slices.append(
                {
                    "slice": index + 1,
                    "requests": result["requests"],
                    "errors": sum(result["errors"].values()),
                    "p50_ms": result["p50_ms"],
                    "p99_ms": result["p99_ms"],
                    "rss_mb": _rss_mb(server.pid),
                }
            )
            if not args.json:
                s = slices[-1]
                print(
                    f"slice {s['slice']:3d}: {s['requests']:7d} requests, {s['errors']} errors, "
                    f"p50 {s['p50_ms']:6.1f} ms, p99 {s['p99_ms']:6.1f} ms, RSS {s['rss_mb']:6.1f} MB",
                    flush=True,
                )
    finally:
        server.terminate()
        server.wait(timeout=40)
    summary = {
        "minutes": args.minutes,
        "concurrency": args.concurrency,
        "requests": sum(s["requests"] for s in slices),
        "errors": sum(s["errors"] for s in slices),
        "rss_first_mb": slices[0]["rss_mb"],
        "rss_last_mb": slices[-1]["rss_mb"],
        "rss_growth": slices[-1]["rss_mb"] / slices[0]["rss_mb"] - 1,
        # a leak keeps growing; allocator warm-up (onnxruntime's arena, Python's heap) levels off
        "rss_growth_second_half": slices[-1]["rss_mb"] / slices[len(slices) // 2]["rss_mb"] - 1,
        "slices": slices,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(
        f"{summary['requests']} requests, {summary['errors']} errors; RSS {summary['rss_first_mb']:.1f} -> "
        f"{summary['rss_last_mb']:.1f} MB ({summary['rss_growth']:+.1%}; over the second half "
        f"{summary['rss_growth_second_half']:+.1%}); targets: 0 errors, growth < 10 %"
    )


if __name__ == "__main__":
    main()
