"""The checks a deployed endpoint must pass to prove it serves the exported model."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from nfldeploy.records.golden import GoldenSet, read_golden
from nfldeploy.records.manifest import Manifest, read_manifest
from nfldeploy.smoke.variants import variants

ON_FIELD_X = (-10.0, 130.0)
ON_FIELD_Y = (-10.0, 63.3)
ROUNDING = 1e-3  # the API rounds positions to the millimetre

BAD_INPUTS: list[tuple[str, bytes, str]] = [
    (
        "NaN literal",
        b'{"players": [{"x": NaN, "y": 26, "s": 5, "a": 0.5, "o": 90, "dir": 90}], "game_context": {"down": 1, "distance": 10}}',
        "application/json",
    ),
    (
        "string number",
        b'{"players": [{"x": "50", "y": 26, "s": 5, "a": 0.5, "o": 90, "dir": 90}], "game_context": {"down": 1, "distance": 10}}',
        "application/json",
    ),
    (
        "negative speed",
        b'{"players": [{"x": 50, "y": 26, "s": -5, "a": 0.5, "o": 90, "dir": 90}], "game_context": {"down": 1, "distance": 10}}',
        "application/json",
    ),
    ("no players", b'{"players": [], "game_context": {"down": 1, "distance": 10}}', "application/json"),
    ("truncated JSON", b'{"players": [{"x": 50, "y"', "application/json"),
    ("nested junk", b'{"players": ' + b"[" * 3000 + b"]" * 3000 + b"}", "application/json"),
    ("wrong content type", b"players=1", "text/plain"),
]


@dataclass
class CheckResult:
    """One row of the report. A skipped row verified nothing (its detail says why) and does not fail."""

    name: str
    passed: bool
    detail: str
    seconds: float = 0.0
    skipped: bool = False


class Skip(Exception):
    """A check that cannot verify anything here (the reason is the message)."""


@dataclass
class SmokeContext:
    """What the checks need: the endpoint, the local manifest and golden set, the token and budgets."""

    client: httpx.Client
    manifest: Manifest
    golden: GoldenSet
    token: str | None = None
    requests: int = 50
    p95_budget_ms: float = 250.0
    platform: str | None = None  # the deploy target serving it (lambda, cloudrun, ...); None: not said
    state: dict[str, Any] = field(default_factory=dict)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def post(self, path: str, body: Any) -> httpx.Response:
        return self.client.post(path, json=body, headers=self.headers())

    def get(self, path: str) -> httpx.Response:
        return self.client.get(path, headers=self.headers())


def load_context(
    client: httpx.Client,
    export_dir: Path,
    token: str | None,
    requests: int,
    budget: float,
    platform: str | None = None,
) -> SmokeContext:
    """Read the manifest and the golden set of an export directory."""
    manifest = read_manifest(export_dir)
    return SmokeContext(
        client,
        manifest,
        read_golden(export_dir, manifest.golden),
        token,
        requests,
        budget,
        platform,
    )


def _metric(text: str, name: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                total += sample.value
    return total


def check_health(ctx: SmokeContext) -> tuple[bool, str]:
    response = ctx.client.get("/health")
    return response.status_code == 200, f"/health answered {response.status_code}"


def check_ready(ctx: SmokeContext) -> tuple[bool, str]:
    response = ctx.client.get("/ready")
    return response.status_code == 200, f"/ready answered {response.status_code}"


def check_version(ctx: SmokeContext) -> tuple[bool, str]:
    response = ctx.get("/version")
    if response.status_code != 200:
        return False, f"/version answered {response.status_code}"
    served = response.json()
    ctx.state["artifact"] = served.get("artifact")
    ctx.state["rate_limit"] = served.get("rate_limit")
    expected = ctx.manifest
    problems = []
    if served.get("config_sha256") != expected.config.sha256:
        problems.append(f"config {str(served.get('config_sha256'))[:12]} != {expected.short_sha}")
    if served.get("checkpoint_sha256") != expected.checkpoint.sha256:
        problems.append(
            f"checkpoint {str(served.get('checkpoint_sha256'))[:12]} != {expected.checkpoint.sha256[:12]}"
        )
    artifact = expected.artifacts.get(str(served.get("artifact", "")))
    if artifact is None or served.get("model_sha256") != artifact.sha256:
        problems.append(
            f"model {str(served.get('model_sha256'))[:12]} is not the manifest's {served.get('artifact')}"
        )
    if problems:
        return False, "the deployed model is not the exported one: " + "; ".join(problems)
    return (
        True,
        f"{served['experiment_name']} config {served['config_sha256'][:12]}, {served['artifact']} {served['model_sha256'][:12]}",
    )


def _positions(body: dict[str, Any]) -> list[list[list[float]]]:
    return [p["predicted_positions"] for p in body["predictions"]]


def _max_gap(a: list[list[list[float]]], b: list[list[list[float]]]) -> float:
    return max(
        abs(x - y)
        for pa, pb in zip(a, b, strict=True)
        for fa, fb in zip(pa, pb, strict=True)
        for x, y in zip(fa, fb, strict=True)
    )


def _every_mode(ctx: SmokeContext) -> bool:
    """Whether to also ask for every mode (``modes: K``): models with several modes exported by an nfldeploy
    whose server takes the field (its export decodes only the modes asked for)."""
    inputs = {item.name for item in ctx.manifest.signature.inputs}
    return ctx.manifest.model.modes > 1 and "mode_ranks" in inputs  # model.modes.MODE_RANKS (needs numpy)


def _modes_gap(body: dict[str, Any], expected: list[list[list[list[float]]]]) -> float:
    """Largest gap between the answer's modes and the golden modes with the same ids, in yards."""
    return max(
        _max_gap([mode["positions"]], [expected[player][mode["mode"]]])
        for player, prediction in enumerate(body["predictions"])
        for mode in prediction["modes"]
    )


def check_golden(ctx: SmokeContext) -> tuple[bool, str]:
    artifact = ctx.state.get("artifact") or ctx.manifest.serving_default
    tolerance = ctx.manifest.golden.tolerance.get(artifact, 0.05) + ROUNDING
    worst = 0.0
    answers, full_answers = [], []
    for index, (request, expected) in enumerate(zip(ctx.golden.requests, ctx.golden.outputs, strict=True)):
        response = ctx.post("/predict", request.body())
        if response.status_code != 200:
            return False, f"golden request {index} answered {response.status_code}"
        body = response.json()
        answers.append(body)
        full = None
        if _every_mode(ctx) and expected.modes:
            response = ctx.post("/predict", {**request.body(), "modes": ctx.manifest.model.modes})
            if response.status_code != 200:
                return False, f"golden request {index} with every mode answered {response.status_code}"
            full = response.json()
            full_answers.append(full)
        try:
            gap = _max_gap(_positions(body), expected.predicted_positions)
            if expected.zone_coverage_probability is not None:  # the graph model's coverage head
                gap = max(gap, abs(body["zone_coverage_probability"] - expected.zone_coverage_probability))
            if full is not None:
                gap = max(gap, _modes_gap(full, expected.modes))
        except (KeyError, TypeError, ValueError, IndexError):
            return False, f"golden request {index}: the answer does not have the golden outputs' shape"
        worst = max(worst, gap)
    ctx.state["answers"], ctx.state["full_answers"] = answers, full_answers
    passed = worst <= tolerance
    every = f", every mode of {len(full_answers)}" if full_answers else ""
    return (
        passed,
        f"{len(answers)} golden plays{every}, max deviation {worst:.4f} yd (tolerance {tolerance:.4f})",
    )


def check_schema(ctx: SmokeContext) -> tuple[bool, str]:
    horizon = ctx.manifest.model.horizon
    modes = ctx.manifest.model.modes
    outputs = ctx.manifest.model.outputs
    for index, (request, body) in enumerate(
        zip(ctx.golden.requests, ctx.state.get("answers", []), strict=False)
    ):
        predictions = body.get("predictions")
        if not isinstance(predictions, list) or len(predictions) != len(request.players):
            return (
                False,
                f"play {index}: {len(request.players)} players but {len(predictions or [])} predictions",
            )
        for player, prediction in zip(request.players, predictions, strict=True):
            if prediction.get("player_id") != player.get("nfl_id"):
                return (
                    False,
                    f"play {index}: player_id {prediction.get('player_id')} != nfl_id {player.get('nfl_id')}",
                )
            if len(prediction.get("predicted_positions", [])) != horizon:
                return (
                    False,
                    f"play {index}: {len(prediction.get('predicted_positions', []))} positions, horizon is {horizon}",
                )
            confidence = prediction.get("confidence")
            if not isinstance(confidence, float | int) or not 0 <= confidence <= 1:
                return False, f"play {index}: confidence {confidence!r} is not in [0, 1]"
            probabilities = prediction.get("mode_probabilities", [])
            if modes > 1 and (len(probabilities) != modes or abs(sum(probabilities) - 1.0) > 1e-3):
                return (
                    False,
                    f"play {index}: mode_probabilities {probabilities!r} are not {modes} that sum to 1",
                )
        zone = body.get("zone_coverage_probability")
        if "coverage_logit" in outputs and not (isinstance(zone, float | int) and 0 <= zone <= 1):
            return False, f"play {index}: zone_coverage_probability {zone!r} is not in [0, 1]"
        for key in ("model_version", "inference_time_ms"):
            if key not in body:
                return False, f"play {index}: no {key}"
    for index, body in enumerate(ctx.state.get("full_answers", [])):
        for prediction in body.get("predictions", []):
            if len(prediction.get("modes", [])) != modes:
                return False, f"play {index}: {len(prediction.get('modes', []))} modes asked for all {modes}"
            if "uncertainty" in outputs and (problem := _uncertainty_problem(prediction, horizon)):
                return False, f"play {index}: {problem}"
    if not ctx.state.get("answers"):
        return False, "no golden answers to check"
    return True, f"{len(ctx.state['answers'])} answers: players, horizon {horizon}, confidence, {modes} modes"


def _uncertainty_problem(prediction: dict[str, Any], horizon: int) -> str | None:
    """What is wrong with a player's per-mode sigma_x, sigma_y, rho (None when they are sound)."""
    for mode in prediction.get("modes", []):
        sigma_x, sigma_y, rho = mode.get("sigma_x"), mode.get("sigma_y"), mode.get("rho")
        if not all(isinstance(values, list) and len(values) == horizon for values in (sigma_x, sigma_y, rho)):
            return f"a mode without sigma_x, sigma_y and rho for the {horizon} frames"
        if min(sigma_x + sigma_y) <= 0 or max(abs(value) for value in rho) > 1:
            return "a mode with sigma <= 0 or |rho| > 1"
    return None


def check_positions(ctx: SmokeContext) -> tuple[bool, str]:
    count = 0
    for body in ctx.state.get("answers", []):
        for track in _positions(body):
            for x, y in track:
                count += 1
                if not (math.isfinite(x) and math.isfinite(y)):
                    return False, f"non-finite position ({x}, {y})"
                if not (ON_FIELD_X[0] <= x <= ON_FIELD_X[1] and ON_FIELD_Y[0] <= y <= ON_FIELD_Y[1]):
                    return False, f"position ({x:.1f}, {y:.1f}) is off the field"
    return count > 0, f"{count} positions finite and on the field"


def check_batch(ctx: SmokeContext) -> tuple[bool, str]:
    if not ctx.state.get("answers"):
        raise Skip("no /predict answers to compare with (the golden requests failed)")
    response = ctx.post("/predict_batch", {"plays": ctx.golden.bodies})
    if response.status_code != 200:
        return False, f"/predict_batch answered {response.status_code}"
    results = response.json().get("results", [])
    if len(results) != len(ctx.golden.requests):
        return False, f"{len(results)} results for {len(ctx.golden.requests)} plays"
    gap = max(
        _max_gap(_positions(a), _positions(b)) for a, b in zip(results, ctx.state["answers"], strict=False)
    )
    return gap <= 0.01, f"{len(results)} plays in one call, max deviation from /predict {gap:.4f} yd"


def check_bad_inputs(ctx: SmokeContext) -> tuple[bool, str]:
    failures = []
    for name, body, content_type in BAD_INPUTS:
        response = ctx.client.post(
            "/predict", content=body, headers={**ctx.headers(), "Content-Type": content_type}
        )
        if not 400 <= response.status_code < 500:
            failures.append(f"{name} -> {response.status_code}")
    if failures:
        return False, "bad inputs not answered with 4xx: " + ", ".join(failures)
    return True, f"{len(BAD_INPUTS)} bad inputs answered 4xx"


def check_auth(ctx: SmokeContext) -> tuple[bool, str]:
    if not ctx.token:
        raise Skip("no token given: auth not checked (pass --token to check it)")
    request = ctx.golden.bodies[0]
    anonymous = ctx.client.post("/predict", json=request)
    wrong = ctx.client.post(
        "/predict", json=request, headers={"Authorization": "Bearer nfldeploy-smoke-wrong-token"}
    )
    good = ctx.post("/predict", request)
    if anonymous.status_code != 401 or wrong.status_code != 401:
        return (
            False,
            f"auth expected but no token -> {anonymous.status_code}, wrong token -> {wrong.status_code}",
        )
    if good.status_code != 200:
        return False, f"the given token was refused ({good.status_code})"
    return True, "no token -> 401, wrong token -> 401, good token -> 200"


def check_metrics(ctx: SmokeContext) -> tuple[bool, str]:
    before = ctx.get("/metrics")
    if before.status_code != 200:
        return False, f"/metrics answered {before.status_code}"
    try:
        count_before = _metric(before.text, "nfldeploy_requests_total")
        ctx.post("/predict", ctx.golden.bodies[0])
        count_after = _metric(ctx.get("/metrics").text, "nfldeploy_requests_total")
    except ValueError as exc:
        return False, f"/metrics does not parse: {exc}"
    return count_after > count_before, f"nfldeploy_requests_total {count_before:.0f} -> {count_after:.0f}"


def check_latency(ctx: SmokeContext) -> tuple[bool, str]:
    # distinct bodies (the golden play moved by a few cm each time): every request reaches the model
    bodies = variants(ctx.golden.bodies[0], ctx.requests + 1)[1:]
    times = []
    for body in bodies:
        started = time.perf_counter()
        response = ctx.post("/predict", body)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            return False, f"a latency request answered {response.status_code}"
    times.sort()
    p95 = times[min(len(times) - 1, math.ceil(0.95 * len(times)) - 1)]
    p99 = times[min(len(times) - 1, math.ceil(0.99 * len(times)) - 1)]
    ctx.state["latency"] = {"p50_ms": statistics.median(times), "p95_ms": p95, "p99_ms": p99}
    detail = f"{len(times)} distinct requests (no cache hits): p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms (budget p95 {ctx.p95_budget_ms:g} ms)"
    return p95 <= ctx.p95_budget_ms, detail


#: Provoking a 429: cheap refused requests (415 before any model work), this many at once, at most this many;
#: then at most this long for the bucket to refill.
RATE_WAVE = 16
RATE_MAX_REQUESTS = 1000
RATE_REFILL_MAX_S = 30.0


#: Why the row cannot be checked on Lambda. Each execution environment serves one request at a time and keeps
#: its own buckets, and concurrent requests run in as many environments
#: (https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html), so 16 requests at once empty no
#: bucket, and nothing from here can tell which environment answered or how many there are.
LAMBDA_SKIP = (
    "not checkable on Lambda: each execution environment keeps its own rate-limit buckets and concurrent "
    "requests land on separate environments, so one caller's burst empties none of them and proves nothing "
    "(smoke-test --image checks the limiter of this image; behind lambda_endpoint = api_gateway the HTTP "
    "API's stage throttle limits all callers together)"
)


def check_rate_limit(ctx: SmokeContext) -> tuple[bool, str]:
    """Past its burst the service answers 429 rate_limited with Retry-After. Runs last: it empties this
    caller's bucket, then waits burst / rps (from /version) for it to refill, so a smoke test or a client
    right after it finds the whole burst. A 429 whose body is not the service's own (a platform's or a
    gateway's throttle) fails the row: it shows nothing about the service's limiter. Skipped on Lambda
    (LAMBDA_SKIP)."""
    if ctx.platform == "lambda":
        raise Skip(LAMBDA_SKIP)
    headers = {**ctx.headers(), "Content-Type": "text/plain"}

    def one(_: int) -> httpx.Response:
        return ctx.client.post("/predict", content=b"x", headers=headers)

    sent = 0
    with ThreadPoolExecutor(RATE_WAVE) as pool:
        while sent < RATE_MAX_REQUESTS:
            answers = list(pool.map(one, range(RATE_WAVE)))
            sent += len(answers)
            limited = [a for a in answers if a.status_code == 429]
            foreign = next((a for a in limited if _error_code(a) is None), None)
            if foreign is not None:
                return False, (
                    f"429 after {sent} requests from something in front of the service, not its rate "
                    f"limiter ({_foreign_429(foreign)}): nothing shows that the service limits callers"
                )
            if limited:
                code = _error_code(limited[0])
                retry = limited[0].headers.get("retry-after")
                if code != "rate_limited":
                    return False, f"429 {code} after {sent} requests, not the rate limiter"
                refill = _refill_seconds(ctx.state.get("rate_limit"), retry)
                time.sleep(refill)
                return retry is not None, (
                    f"429 after {sent} requests at {RATE_WAVE} at once"
                    + (f", Retry-After {retry} s" if retry else ", no Retry-After")
                    + f"; waited {refill:g} s for the bucket to refill"
                )
            unexpected = [a.status_code for a in answers if a.status_code != 415]
            if 401 in unexpected and not ctx.token:
                raise Skip("the service requires a token: pass --token to provoke a 429")
            if unexpected:
                return False, f"a refused request answered {unexpected[0]} (expected 415, then 429)"
    return False, f"no 429 after {sent} requests at {RATE_WAVE} at once: no rate limit reached"


def _foreign_429(response: httpx.Response) -> str:
    """What answered a 429 that is not the service's: the AWS error type when it says one, and the body."""
    kind = response.headers.get("x-amzn-errortype", "").split(":", 1)[0]
    body = " ".join(response.text.split())[:120] or "an empty body"
    return f"{kind}: {body}" if kind else body


def _refill_seconds(limit: Any, retry_after: str | None) -> float:
    """How long the emptied bucket takes to fill: burst / rps from /version, else Retry-After."""
    if isinstance(limit, dict) and limit.get("rps"):
        return min(RATE_REFILL_MAX_S, round(float(limit["burst"]) / float(limit["rps"]), 2))
    return float(retry_after) if retry_after and retry_after.isdigit() else 1.0


def _error_code(response: httpx.Response) -> str | None:
    """The service's error code (its body ``{"error": {"code": ...}}``), None for a body that is not ours:
    Lambda's throttle (TooManyRequestsException, ``{"Reason": ..., "Type": "User", "message": "Rate
    Exceeded."}``), API Gateway's (``{"message":"Too Many Requests"}``), a front end's text."""
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


CHECKS: list[tuple[str, Callable[[SmokeContext], tuple[bool, str]]]] = [
    ("health", check_health),
    ("ready", check_ready),
    ("version matches the manifest", check_version),
    ("golden outputs", check_golden),
    ("response schema", check_schema),
    ("positions finite and on the field", check_positions),
    ("predict_batch", check_batch),
    ("bad inputs get 4xx", check_bad_inputs),
    ("auth", check_auth),
    ("metrics", check_metrics),
    ("latency", check_latency),
    ("rate limiting", check_rate_limit),
]


def run_checks(
    ctx: SmokeContext, on_result: Callable[[CheckResult], None] | None = None
) -> list[CheckResult]:
    """Every check, in order; a check that raises fails with the error, and the others still run."""
    results = []
    for name, check in CHECKS:
        started = time.perf_counter()
        skipped = False
        try:
            passed, detail = check(ctx)
        except Skip as skip:
            passed, detail, skipped = True, str(skip), True
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            passed, detail = False, f"{type(exc).__name__}: {exc}"
        result = CheckResult(name, passed, detail, round(time.perf_counter() - started, 3), skipped)
        results.append(result)
        if on_result:
            on_result(result)
    return results
