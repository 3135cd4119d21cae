"""``nfldeploy bench``: throughput and latency from a separate process; cold starts of an image."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import typer
from rich.live import Live
from rich.table import Table

from nfldeploy.cli.common import EXPORT_DIR_OPTION, JSON_OPTION, MANIFEST_OPTION, check_url, export_dir_of
from nfldeploy.cli.output import print_json, stderr, stdout
from nfldeploy.errors import RemoteError, UsageError


def bench(
    url: str | None = typer.Option(None, "--url", help="A running service."),
    image: str | None = typer.Option(
        None, "--image", help="An image: started on a free port for the run, then removed."
    ),
    export_dir: Path = EXPORT_DIR_OPTION,
    manifest: Path | None = MANIFEST_OPTION,
    concurrency: list[int] = typer.Option(
        [1, 16], "--concurrency", "-c", help="Concurrent connections; repeatable."
    ),
    duration: float = typer.Option(10.0, "--duration", help="Seconds per concurrency level."),
    cold_start: int = typer.Option(
        0, "--cold-start", help="With --image: also measure this many cold starts."
    ),
    token: str | None = typer.Option(None, "--token", envvar="NFLDEPLOY_SMOKE_TOKEN", help="Bearer token."),
    modes: int | None = typer.Option(
        None,
        "--modes",
        min=1,
        help="Ask for the k most likely trajectories of every player (the request field 'modes'); default: "
        "the default answer, which decodes only the most likely one.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Load the service with the golden request over HTTP/1.1 keep-alive from a separate process: throughput,
    p50/p95/p99 and errors (by status or exception) per concurrency level, with a live display. With --image
    the container runs with its rate limit lifted (capacity, not the limiter, is measured). --cold-start N
    (with --image) measures container start -> /ready -> first /predict N times. The service's batching policy
    (plays per model call, measured at export) is reported with the figures."""
    from nfldeploy.bench.run import (
        DISTINCT_BODIES,
        cold_start_summary,
        cold_starts,
        describe_policy,
        golden_body,
        load,
        record_bench,
        service_under_test,
        serving_policy,
    )

    if (url is None) == (image is None):
        raise UsageError("give exactly one of --url and --image")
    url = check_url(url) if url is not None else None
    if cold_start and image is None:
        raise UsageError("--cold-start needs --image")
    body = golden_body(export_dir_of(export_dir, manifest))
    if modes is not None:
        body = {**body, "modes": modes}
    results: dict[str, Any] = {"levels": [], "modes": modes}
    with service_under_test(url, image, token) as url:
        title = f"bench {url} ({DISTINCT_BODIES} distinct bodies per level: the cache cannot answer)"
        table = Table(title=title, title_justify="left")
        for column in ("concurrency", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors"):
            table.add_column(column, justify="right")
        # a live table and progress on a terminal only: elsewhere (CI logs, pipes) one line per level
        interactive = stderr().is_terminal and not as_json
        live = Live(table, console=stderr(), refresh_per_second=4, transient=True) if interactive else None
        with live if live is not None else contextlib.nullcontext():
            for index, level in enumerate(concurrency):

                def on_progress(message: dict[str, Any], level: int = level) -> None:
                    if live is not None:
                        live.console.print(
                            f"c={level}: {message['elapsed']:.1f} s, {message['done']} ok, "
                            f"{message['errors']} errors",
                            end="\r",
                            highlight=False,
                        )

                result = load(url, body, level, duration, token, on_progress, offset=index * DISTINCT_BODIES)
                if not result["requests"]:
                    kinds = ", ".join(f"{kind}: {n}" for kind, n in result["errors"].items()) or "no answer"
                    raise RemoteError(f"no request to {url} succeeded at concurrency {level} ({kinds})")
                results["levels"].append(result)
                table.add_row(
                    str(level),
                    str(result["requests"]),
                    f"{result['throughput_rps']:.0f}",
                    f"{result['p50_ms']:.2f}",
                    f"{result['p95_ms']:.2f}",
                    f"{result['p99_ms']:.2f}",
                    str(sum(result["errors"].values())),
                )
                if live is not None:
                    live.refresh()
                elif not as_json:
                    stderr().print(
                        f"c={level}: {result['requests']} requests, {result['throughput_rps']:.0f} req/s",
                        highlight=False,
                    )
        results["batching"] = serving_policy(url, token)  # asked once it has answered: loaded and warm
    if cold_start and image is not None:
        from nfldeploy.image.engine import connect

        runs = cold_starts(
            connect(),
            image,
            body,
            cold_start,
            on_run=lambda i, r: stderr().print(
                f"cold start {i + 1}: ready {r['ready_s']:.2f} s, first /predict {r['first_predict_s']:.2f} s"
            ),
        )
        results["cold_start"] = cold_start_summary(runs)
    results["url"] = url
    record_bench(export_dir_of(export_dir, manifest), url, image, results["levels"])
    if as_json:
        print_json(results)
        return
    stdout().print(table)
    if results["batching"] is not None:
        stdout().print(describe_policy(results["batching"]), highlight=False)
    if "cold_start" in results:
        cs = results["cold_start"]
        stdout().print(
            f"cold start (median of {cold_start}): ready {cs['median_ready_s']:.2f} s, first /predict {cs['median_first_predict_s']:.2f} s"
        )
