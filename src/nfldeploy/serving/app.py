"""The inference API (FastAPI): /predict, /predict_batch, /, /health, /ready, /version, /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ValidationError

from nfldeploy import __version__
from nfldeploy.errors import ConfigError, NfldeployError
from nfldeploy.model.features import Play
from nfldeploy.records.manifest import Manifest
from nfldeploy.serving.backends import LoadedModel, load_model
from nfldeploy.serving.batching import DeadlineExceeded, Draining, MicroBatcher, ModelFailed, QueueFull
from nfldeploy.serving.cache import LRUCache
from nfldeploy.serving.clients import ClientAddress, parse_networks
from nfldeploy.serving.config import LEGACY_PREFIX, PREFIX, ServeConfig
from nfldeploy.serving.guard import Guard, error_body
from nfldeploy.serving.logs import AccessLog
from nfldeploy.serving.metrics import Metrics
from nfldeploy.serving.predictor import Job, PlayResult, Predictor, to_json
from nfldeploy.serving.schemas import (
    BatchRequest,
    BatchResponse,
    ErrorResponse,
    PredictRequest,
    PredictResponse,
)
from nfldeploy.serving.security import ApiKeys, RateLimiter

log = logging.getLogger("nfldeploy.serving")


class Service:
    """Everything one app instance holds: the model (once loaded), batcher, cache, metrics."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.metrics = Metrics()
        self.cache: LRUCache[PlayResult] = LRUCache(config.cache_size)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        self.predictor: Predictor | None = None
        self.batcher: MicroBatcher[Job, PlayResult] | None = None
        self.load_error: str | None = None
        self.max_batch, self.batch_source = DEFAULT_MAX_BATCH, "default"

    def load(self, model: LoadedModel | None = None) -> None:
        """Open and warm the model (blocking)."""
        try:
            loaded = model or load_model(self.config.model_dir, self.config.runtime, self.config.threads)
            predictor = Predictor(loaded)
            self.max_batch, self.batch_source = batch_policy(self.config, loaded.manifest)
            # the largest model call the batcher makes (Lambda, without batching, keeps its cold start short)
            predictor.warm_up(self.max_batch if self.config.batching else 1)
        except NfldeployError as exc:
            self.load_error = exc.message
            log.error("model failed to load", extra={"error": exc.message})
            return
        except Exception as exc:  # a corrupt artifact can fail in many ways inside the runtime
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.exception("model failed to load")
            return
        manifest = loaded.manifest
        self.metrics.model_info.labels(
            experiment=manifest.experiment_name,
            config_sha256=manifest.config.sha256,
            artifact=loaded.artifact,
            format=manifest.artifacts[loaded.artifact].format,
            version=predictor.version,
        ).set(1)
        self.predictor = predictor
        tune_gc(self.config.gc_threshold)
        log.info(
            "model ready",
            extra={
                "model_version": predictor.version,
                "max_batch": self.max_batch if self.config.batching else 1,
                "max_batch_source": self.batch_source,
            },
        )

    def start_batcher(self) -> None:
        """Start micro-batching on the running loop (when enabled and the model is loaded)."""
        if self.predictor is None or not self.config.batching or self.batcher is not None:
            return

        def on_batch(size: int, seconds: float) -> None:
            self.metrics.batch_size.observe(size)
            self.metrics.model_seconds.observe(seconds)

        self.batcher = MicroBatcher(
            self.predictor.run_jobs,
            self.executor if self.config.model_thread else None,
            max_batch=self.max_batch,
            max_wait=self.config.max_wait_ms / 1000.0,
            queue_size=self.config.queue_size,
            on_batch=on_batch,
        )
        self.batcher.start()

    async def run_direct(self, jobs: list[Job]) -> list[PlayResult]:
        """One model call for ``jobs`` (on the model thread when configured, with the request deadline,
        else in the loop); ``ModelFailed`` when it raises, ``DeadlineExceeded`` past the deadline."""
        assert self.predictor is not None
        try:
            if self.config.model_thread:
                loop = asyncio.get_running_loop()
                call = loop.run_in_executor(self.executor, self.predictor.run_jobs, jobs)
                results = await asyncio.wait_for(call, self.config.request_timeout_ms / 1000.0)
            else:
                results = self.predictor.run_jobs(jobs)
        except TimeoutError:
            raise DeadlineExceeded from None
        except Exception as exc:
            log.exception("a model call failed", extra={"plays": len(jobs)})
            raise ModelFailed(f"{type(exc).__name__}: {exc}") from exc
        self.metrics.batch_size.observe(len(jobs))
        self.metrics.model_seconds.observe(results[0].seconds)
        return results


DEFAULT_MAX_BATCH = 32  # plays per model call when neither the setting nor the export says


def batch_policy(config: ServeConfig, manifest: Manifest) -> tuple[int, str]:
    """Plays per model call and where that came from: ``NFLSERVE_MAX_BATCH`` when set, else the export's
    measurement (the largest batch that does not cost more per play: a compute-bound model is never batched
    past its best size), else 32."""
    if config.max_batch > 0:
        return config.max_batch, "setting"
    if manifest.batching is not None:
        return manifest.batching.max_batch, f"measured at export ({manifest.batching.artifact})"
    return DEFAULT_MAX_BATCH, "default"


def tune_gc(threshold: str) -> None:
    """Fewer, cheaper garbage collections: freeze what start-up allocated (the model, the app) so collections
    skip it, and collect the young generation less often. Each request allocates many short-lived objects;
    with the default thresholds collections ran every few requests and made the latency tail (measured:
    p95 54 -> 21 ms and +39 % throughput at concurrency 16)."""
    if not threshold:
        return
    try:
        values = [int(part) for part in threshold.split(",")]
    except ValueError as exc:
        raise ConfigError(f"NFLSERVE_GC_THRESHOLD must be three integers, got {threshold!r}") from exc
    gc.collect()
    gc.freeze()
    gc.set_threshold(*values)


def _validation_error(exc: ValidationError, request_id: str, prefix: str = "") -> JSONResponse:
    fields = []
    for err in exc.errors(include_url=False, include_input=False):
        location = prefix + ".".join(str(part) for part in err["loc"])
        fields.append({"field": location or "body", "message": err["msg"], "type": err["type"]})
    first = fields[0]
    message = f"{first['field']}: {first['message']}" + (
        f" (and {len(fields) - 1} more)" if len(fields) > 1 else ""
    )
    body = error_body("invalid_request", message, request_id)
    body["error"]["fields"] = fields
    return JSONResponse(body, status_code=422)


ERROR_DESCRIPTIONS = {
    401: "no bearer token, or a wrong one (when the service has API keys)",
    413: "the body exceeds max_body_bytes, or a batch exceeds max_batch_plays",
    415: "the content type is not application/json",
    422: "the request is invalid; the fields are named",
    429: "rate limited, or too many bad tokens from this address (Retry-After)",
    503: "not ready yet, overloaded, shutting down, or the model call failed (Retry-After)",
    504: "no answer from the model before the request's deadline",
}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the errors a route can answer, all in the ErrorResponse shape."""
    return {code: {"model": ErrorResponse, "description": ERROR_DESCRIPTIONS[code]} for code in codes}


#: Why an inference request was not answered with a prediction (each a 503 or 504, never a 500).
INFERENCE_REFUSALS = (QueueFull, Draining, ModelFailed, DeadlineExceeded)


def _refusal(service: Service, exc: Exception, request_id: str, full: str) -> JSONResponse:
    """The answer for one of INFERENCE_REFUSALS; ``full`` says how the queue was full."""
    if isinstance(exc, QueueFull):
        service.metrics.rejected.labels("queue_full").inc()
        return _unavailable("overloaded", f"{full}; retry shortly", request_id)
    if isinstance(exc, Draining):
        return _unavailable("shutting_down", "the server is shutting down", request_id)
    return _model_trouble(service, exc, request_id)


def _model_trouble(service: Service, exc: Exception, request_id: str) -> JSONResponse:
    """503 for a model call that failed, 504 for a request past its deadline; logged with the request id."""
    if isinstance(exc, DeadlineExceeded):
        service.metrics.rejected.labels("timeout").inc()
        seconds = service.config.request_timeout_ms / 1000.0
        log.error("request past its deadline", extra={"request_id": request_id, "timeout_s": seconds})
        body = error_body("timeout", f"no answer from the model within {seconds:g} s", request_id)
        return JSONResponse(body, status_code=504)
    service.metrics.rejected.labels("model_error").inc()
    log.error("model call failed", extra={"request_id": request_id, "error": str(exc)})
    return _unavailable("model_error", "the model call failed; retry shortly", request_id)


def _beyond_model(
    requests: list[PredictRequest], horizon: int, modes: int, request_id: str
) -> JSONResponse | None:
    """422 for a request asking more than the model gives: ``num_frames_output`` past its horizon or
    ``modes`` past its number of modes."""
    for index, item in enumerate(requests):
        for name, asked, most, what in (
            ("num_frames_output", item.num_frames_output, horizon, "frames"),
            ("modes", item.modes, modes, "modes"),
        ):
            if asked is None or asked <= most:
                continue
            field = name if len(requests) == 1 else f"plays.{index}.{name}"
            message = f"{field}: the model predicts {most} {what}; ask for at most {most}"
            body = error_body("invalid_request", message, request_id)
            body["error"]["fields"] = [{"field": field, "message": message, "type": "less_than_equal"}]
            return JSONResponse(body, status_code=422)
    return None


def _cache_key(request: PredictRequest) -> str:
    """A fixed-size digest of the canonical request (what the model sees; the frames asked for are cut from
    the cached answer), so an entry's key costs 32 bytes whatever the body's size."""
    canonical = request.model_dump_json(exclude={"num_frames_output"})
    return hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()


def _unavailable(code: str, message: str, request_id: str) -> JSONResponse:
    """503 with Retry-After: the request was fine, the service cannot take it now."""
    return JSONResponse(error_body(code, message, request_id), status_code=503, headers={"Retry-After": "1"})


def _not_ready(service: Service, request_id: str) -> JSONResponse:
    message = f"model failed to load: {service.load_error}" if service.load_error else "model is loading"
    return _unavailable("not_ready", message, request_id)


def _request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


def _body_schema(model: type[BaseModel], bare_array_of: type[BaseModel] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"$ref": f"#/components/schemas/{model.__name__}"}
    if bare_array_of is not None:
        items = {"$ref": f"#/components/schemas/{bare_array_of.__name__}"}
        schema = {"anyOf": [schema, {"type": "array", "items": items, "minItems": 1}]}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def create_app(config: ServeConfig, model: LoadedModel | None = None, preload: bool = False) -> Any:
    """The ASGI app. The model loads in the background after start-up (``/ready`` is 503 until it is
    warm) unless ``model`` is given or ``preload`` (Lambda: load at init) is set."""
    service = Service(config)
    for name in config.legacy_names:
        log.warning(
            f"{name} is the old name of {PREFIX}{name.removeprefix(LEGACY_PREFIX)}: rename it (read for this release)"
        )
    if model is not None or preload:
        service.load(model)
    # Buffered access lines, flushed by a timer; without a lifespan (Lambda) every line goes out at once.
    access_log = AccessLog(interval=0.5 if config.batching else 0.0, enabled=config.access_log)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        loader = None
        if service.predictor is None and service.load_error is None:
            loop = asyncio.get_running_loop()

            async def load_then_batch() -> None:
                await loop.run_in_executor(service.executor, service.load)
                service.start_batcher()

            loader = loop.create_task(load_then_batch())
        else:
            service.start_batcher()

        async def flush_logs() -> None:
            while True:
                await asyncio.sleep(access_log.interval)
                access_log.flush()

        flusher = asyncio.get_running_loop().create_task(flush_logs())
        try:
            yield
        finally:
            flusher.cancel()
            if loader is not None and not loader.done():
                loader.cancel()
            if service.batcher is not None:
                await service.batcher.drain()
            service.executor.shutdown(wait=True)
            access_log.flush()

    api = FastAPI(
        title="nfldeploy inference API",
        version=__version__,
        description="Future (x, y) positions of every player of an NFL play, from a model exported by nfldeploy.",
        lifespan=lifespan,
    )
    api.state.service = service

    @api.get("/", summary="Service information", responses=_errors(401, 429))
    async def info() -> dict[str, Any]:
        predictor = service.predictor
        return {
            "service": "nfldeploy inference API",
            "nfldeploy_version": __version__,
            "model_version": predictor.version if predictor else None,
            "ready": predictor is not None,
            "endpoints": ["/predict", "/predict_batch", "/health", "/ready", "/version", "/metrics", "/docs"],
        }

    @api.get("/health", summary="Liveness")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/ready", summary="Readiness: 200 once the model is loaded and warm", responses=_errors(503))
    async def ready(request: Request) -> Any:
        if service.predictor is None:
            return _not_ready(service, _request_id(request))
        return {"status": "ready", "model_version": service.predictor.version}

    @api.get(
        "/version",
        summary="The served model's lineage (from the export manifest)",
        responses=_errors(401, 429, 503),
    )
    async def version(request: Request) -> Any:
        if service.predictor is None:
            return _not_ready(service, _request_id(request))
        loaded = service.predictor.model
        manifest = loaded.manifest
        artifact = manifest.artifacts[loaded.artifact]
        return {
            "experiment_name": manifest.experiment_name,
            "config_sha256": manifest.config.sha256,
            "checkpoint_sha256": manifest.checkpoint.sha256,
            "model_sha256": artifact.sha256,
            "artifact": loaded.artifact,
            "format": artifact.format,
            "precision": artifact.precision,
            "model_version": service.predictor.version,
            "architecture": manifest.architecture,
            "feature_contract": manifest.model.feature_contract,
            # sizes (read from the weights for the graph model), horizon, modes
            "model": manifest.model.model_dump(mode="json"),
            "batching": {
                "enabled": config.batching,
                "max_batch": service.max_batch if config.batching else 1,
                "source": service.batch_source if config.batching else "batching off",
                "ms_per_play": manifest.batching.ms_per_play if manifest.batching else None,
            },
            # what a client may send: past it, 429 with Retry-After (the smoke test waits burst / rps after
            # provoking one, so the next caller finds its bucket full)
            "rate_limit": {"rps": config.rate_limit_rps, "burst": config.rate_limit_burst},
            "exported_at": manifest.created_at,
            "exported_with": manifest.library_versions.get("nfldeploy"),
            "nfldeploy_version": __version__,
        }

    @api.get("/metrics", summary="Prometheus metrics", response_class=Response, responses=_errors(401))
    async def metrics() -> Response:
        if service.batcher is not None:
            service.metrics.queue_depth.set(service.batcher.depth())
        return Response(service.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    async def predict_one(request: PredictRequest) -> tuple[Play, PlayResult, bool]:
        play = request.to_play()
        key = _cache_key(request) if service.cache.size else ""
        hit = service.cache.get(key) if key else None
        if hit is not None:
            service.metrics.cache_hits.inc()
            return play, hit, True
        service.metrics.cache_misses.inc()
        job = (play, request.modes or 1)
        if service.batcher is not None:
            result = await service.batcher.submit(job, config.request_timeout_ms / 1000.0)
        else:
            result = (await service.run_direct([job]))[0]
        if key:
            service.cache.put(key, result)
        return play, result, False

    async def predict_many(requests: list[PredictRequest], plays: list[Play]) -> list[PlayResult]:
        """The plays of one /predict_batch: cached ones from the cache, the rest through the same bounded
        queue as /predict (coalesced into model calls of at most max_batch plays, so the event loop is never
        held for a whole batch), or one direct call without batching (Lambda)."""
        jobs = [(play, request.modes or 1) for play, request in zip(plays, requests, strict=True)]
        if service.batcher is None:
            return await service.run_direct(jobs)
        keys = [_cache_key(request) if service.cache.size else "" for request in requests]
        found = [service.cache.get(key) if key else None for key in keys]
        missing = [i for i, hit in enumerate(found) if hit is None]
        service.metrics.cache_hits.inc(len(plays) - len(missing))
        service.metrics.cache_misses.inc(len(missing))
        computed = await service.batcher.submit_many(
            [jobs[i] for i in missing], config.request_timeout_ms / 1000.0
        )
        for i, result in zip(missing, computed, strict=True):
            found[i] = result
            if keys[i]:
                service.cache.put(keys[i], result)
        return [result for result in found if result is not None]

    @api.post(
        "/predict",
        summary="Predict one play",
        response_model=PredictResponse,
        responses=_errors(401, 413, 415, 422, 429, 503, 504),
        openapi_extra=_body_schema(PredictRequest),
    )
    async def predict(request: Request) -> Any:
        request_id = _request_id(request)
        try:
            body = PredictRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            return _validation_error(exc, request_id)
        if service.predictor is None:
            return _not_ready(service, request_id)
        too_far = _beyond_model([body], service.predictor.horizon, service.predictor.modes, request_id)
        if too_far is not None:
            return too_far
        try:
            play, result, cached = await predict_one(body)
        except INFERENCE_REFUSALS as exc:
            return _refusal(
                service, exc, request_id, f"the model queue is full ({config.queue_size} waiting)"
            )
        return Response(
            to_json(service.predictor.respond(body, play, result, cached)), media_type="application/json"
        )

    @api.post(
        "/predict_batch",
        summary="Predict many plays with one model call",
        response_model=BatchResponse,
        responses=_errors(401, 413, 415, 422, 429, 503, 504),
        openapi_extra=_body_schema(BatchRequest, bare_array_of=PredictRequest),
    )
    async def predict_batch(request: Request) -> Any:
        request_id = _request_id(request)
        raw = await request.body()
        if raw.lstrip()[:1] == b"[":  # the deployment guide's form: a bare array of play requests
            raw = b'{"plays":' + raw + b"}"
        try:
            body = BatchRequest.model_validate_json(raw)
        except ValidationError as exc:
            return _validation_error(exc, request_id)
        if len(body.plays) > config.max_batch_plays:
            message = f"{len(body.plays)} plays exceed max_batch_plays ({config.max_batch_plays})"
            return JSONResponse(error_body("batch_too_large", message, request_id), status_code=413)
        if service.predictor is None:
            return _not_ready(service, request_id)
        too_far = _beyond_model(body.plays, service.predictor.horizon, service.predictor.modes, request_id)
        if too_far is not None:
            return too_far
        plays = [item.to_play() for item in body.plays]
        try:
            results = await predict_many(body.plays, plays)
        except INFERENCE_REFUSALS as exc:
            return _refusal(service, exc, request_id, f"the model queue has no room for {len(plays)} plays")
        predictor = service.predictor
        answers = [
            predictor.respond(item, play, res, False)
            for item, play, res in zip(body.plays, plays, results, strict=True)
        ]
        batch_body = {
            "results": answers,
            "inference_time_ms": round(results[0].seconds * 1000.0, 3),
            "model_version": predictor.version,
        }
        return Response(to_json(batch_body), media_type="application/json")

    _add_request_schemas(api)
    keys = ApiKeys(config.api_keys)
    share = max(
        1, config.workers
    )  # each worker process enforces its share: the instance enforces the setting
    limiter = RateLimiter(config.rate_limit_rps / share, max(1, round(config.rate_limit_burst / share)))
    return Guard(
        api,
        service.metrics,
        keys,
        limiter,
        config.max_body_bytes,
        access_log,
        clients=ClientAddress(parse_networks(config.trusted_proxies), config.trusted_hops),
        auth_failures=RateLimiter(
            config.auth_failure_rps / share, max(1, round(config.auth_failure_burst / share))
        ),
    )


def _add_request_schemas(api: FastAPI) -> None:
    """Put the raw-body request models into the OpenAPI components (the routes parse bodies themselves)."""
    original = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema:
            return api.openapi_schema
        schema = original()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (PredictRequest, BatchRequest):
            full = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(full.pop("$defs", {}))
            components[model.__name__] = full
        api.openapi_schema = schema
        return schema

    api.openapi = openapi  # type: ignore[method-assign]


def app_from_env() -> Any:
    """Factory for uvicorn (``--factory``) and workers: settings from ``NFLSERVE_*``."""
    return create_app(ServeConfig.from_env())
