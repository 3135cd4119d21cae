"""Prometheus metrics of one app (its own registry, so several apps can live in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, disable_created_metrics

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
        self.in_flight = Gauge("nfldeploy_requests_in_flight", "HTTP requests being served", registry=r)
        self.queue_depth = Gauge("nfldeploy_batch_queue_depth", "Plays waiting for the model", registry=r)
        self.rejected = Counter(
            "nfldeploy_rejected_requests",
            "Requests refused before inference by reason",
            ["reason"],
            registry=r,
        )
        self.model_info = Info("nfldeploy_model", "The served model's lineage", registry=r)
