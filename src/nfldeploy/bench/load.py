"""The load generator, run as its own process: ``python -m nfldeploy.bench.load`` with its spec (JSON) on
stdin.

HTTP/1.1 keep-alive connections, ``concurrency`` workers posting the bodies in turn (distinct bodies, so the
server's prediction cache cannot answer) for ``duration`` seconds. Progress
lines (JSON) every half second on stdout, then the result line: throughput, latency percentiles, errors.
"""

from __future__ import annotations

import asyncio
import json
import math
import statistics
import sys
import time
from typing import Any

import httpx

from nfldeploy.smoke.variants import vary


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return math.nan
    return sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(q / 100 * len(sorted_values)) - 1))]


async def generate(
    url: str, bodies: list[bytes], concurrency: int, duration: float, headers: dict[str, str]
) -> dict[str, Any]:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    started = time.perf_counter()
    deadline = started + duration
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        limits=limits, timeout=30.0, headers={"Content-Type": "application/json", **headers}
    ) as client:
        sent = [0]

        async def worker() -> None:
            while time.perf_counter() < deadline:
                body = bodies[sent[0] % len(bodies)]
                sent[0] += 1
                t0 = time.perf_counter()
                try:
                    response = await client.post(url, content=body)
                    if response.status_code == 200:
                        latencies.append((time.perf_counter() - t0) * 1000)
                    else:
                        errors[str(response.status_code)] = errors.get(str(response.status_code), 0) + 1
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

        async def progress() -> None:
            while time.perf_counter() < deadline:
                await asyncio.sleep(0.5)
                elapsed = time.perf_counter() - started
                print(
                    json.dumps(
                        {
                            "progress": True,
                            "elapsed": elapsed,
                            "done": len(latencies),
                            "errors": sum(errors.values()),
                        }
                    ),
                    flush=True,
                )

        await asyncio.gather(progress(), *(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": elapsed,
        "concurrency": concurrency,
        "throughput_rps": len(latencies) / elapsed,
        "distinct_bodies": len(bodies),
        "p50_ms": statistics.median(ordered) if ordered else math.nan,
        "p95_ms": percentile(ordered, 95),
        "p99_ms": percentile(ordered, 99),
        "quantiles_ms": [round(percentile(ordered, q), 3) for q in range(101)] if ordered else [],
    }


def main() -> None:
    spec = json.loads(sys.stdin.read())
    count = int(spec.get("distinct_bodies", 4096))
    first = int(spec.get("offset", 0))
    bodies = [json.dumps(vary(spec["body"], first + index)).encode() for index in range(count)]
    result = asyncio.run(
        generate(spec["url"], bodies, spec["concurrency"], spec["duration"], spec.get("headers", {}))
    )
    print(json.dumps({"result": result}), flush=True)


if __name__ == "__main__":
    main()
