"""Prometheus metrics of one app (its own registry, so several apps can live in one process).

With several worker processes (``PROMETHEUS_MULTIPROC_DIR`` set before they start, as ``nfldeploy serve
--workers N`` does), every worker writes its samples to that folder and /metrics reports the totals of all
workers (prometheus_client's multiprocess mode): counters and histograms add up, the gauges in flight and
queue depth are summed over live workers."""

from __future__ import annotations

import os

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

disable_created_metrics()  # type: ignore[no-untyped-call]  # the *_created series double the output and nothing here reads them

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class Metrics:
    """Requests, latencies, batch sizes, cache and model info."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "nfldeploy_requests",
            "HTTP requests by route, method and status",
            ["route", "method", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "nfldeploy_request_duration_seconds",
            "HTTP request latency",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.model_seconds = Histogram(
            "nfldeploy_model_inference_seconds",
            "Model call latency (one batch)",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "nfldeploy_batch_size", "Plays per model call", buckets=BATCH_BUCKETS, registry=r
        )
        self.cache_hits = Counter("nfldeploy_cache_hits", "Prediction cache hits", registry=r)
        self.cache_misses = Counter("nfldeploy_cache_misses", "Prediction cache misses", registry=r)
        self.in_flight = Gauge(
            "nfldeploy_requests_in_flight",
            "HTTP requests being served",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.queue_depth = Gauge(
            "nfldeploy_batch_queue_depth",
            "Plays waiting for the model",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.rejected = Counter(
            "nfldeploy_rejected_requests",
            "Requests refused before inference by reason",
            ["reason"],
            registry=r,
        )
        self.model_info = Gauge(
            "nfldeploy_model_info",
            "The served model's lineage (1 per model served)",
            ["experiment", "config_sha256", "artifact", "format", "version"],
            registry=r,
            multiprocess_mode="max",
        )

    def exposition(self) -> bytes:
        """The text /metrics answers: this app's registry, or every worker's totals in multiprocess mode."""
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            return bytes(generate_latest(self.registry))
        combined = CollectorRegistry()
        multiprocess.MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
        return bytes(generate_latest(combined))
