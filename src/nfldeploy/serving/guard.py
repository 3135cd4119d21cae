"""The ASGI layer in front of every route: request ids, body and content-type limits, auth, rate limits,
metrics and one JSON log line per request. Pure ASGI, so it costs little per request."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from nfldeploy.serving.clients import ClientAddress
from nfldeploy.serving.logs import AccessLog
from nfldeploy.serving.metrics import Metrics
from nfldeploy.serving.security import ApiKeys, RateLimiter, retry_after

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OPEN_PATHS = frozenset({"/health", "/ready"})  # no auth: probes must work without a key
UNLIMITED_PATHS = OPEN_PATHS | {"/metrics"}
ROUTES = frozenset(
    {
        "/",
        "/health",
        "/ready",
        "/version",
        "/metrics",
        "/predict",
        "/predict_batch",
        "/openapi.json",
        "/docs",
        "/redoc",
    }
)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
#: A refused request's body is read and dropped before the answer goes out: a server that answers and closes
#: while the client still sends resets the connection, and clients such as urllib then see "connection reset"
#: instead of the 413 / 401 / 429. Bounded: a caller refused before admission (401, 429) makes the server
#: read at most max_body_bytes, the most an admitted request may send; an admitted caller's bad request (413,
#: 415) at most DRAIN_FACTOR times that; each within DRAIN_SECONDS. Past the bound the answer carries
#: ``Connection: close`` and the connection closes under the rest.
DRAIN_FACTOR = 16
#: Set when the server drains before it stops (serving.server): every answer then closes its connection.
DRAINING = threading.Event()
DRAIN_SECONDS = 10.0
CLOSE = (b"connection", b"close")


async def send_json(
    send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """A complete JSON response."""
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def error_body(code: str, message: str, request_id: str) -> dict[str, Any]:
    """The shape of every error the API answers."""
    return {"error": {"code": code, "message": message}, "request_id": request_id}


class Guard:
    """Wraps the FastAPI app; see the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        keys: ApiKeys,
        limiter: RateLimiter,
        max_body_bytes: int,
        access_log: AccessLog | None = None,
        clients: ClientAddress | None = None,
        auth_failures: RateLimiter | None = None,
    ) -> None:
        self.app, self.metrics, self.keys, self.limiter = app, metrics, keys, limiter
        self.max_body_bytes = max_body_bytes
        self.access_log = access_log or AccessLog()
        self.clients = clients or ClientAddress(())
        self.auth_failures = auth_failures or RateLimiter(1.0, 10)  # bad tokens per address

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        given = headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        path, method = scope["path"], scope["method"]
        route = path if path in ROUTES else "other"
        status_holder = [500]
        id_header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                answer_headers = [*message.get("headers", []), id_header]
                if DRAINING.is_set() and CLOSE not in answer_headers:
                    answer_headers.append(CLOSE)
                message["headers"] = answer_headers
            await send(message)

        self.metrics.in_flight.inc()
        caller = ""
        try:
            caller, refusal = self._admit(path, method, headers, scope)
            if refusal is not None:
                status, code, message, extra = refusal
                self.metrics.rejected.labels(code).inc()
                admitted = status not in (401, 429)
                if not await _drain(receive, headers, self._drain_limit(admitted)):
                    extra = [*extra, CLOSE]
                await send_json(send_with_id, status, error_body(code, message, request_id), extra)
                return
            if method == "POST":
                body, ended = await self._read_body(receive)
                if body is None:
                    self.metrics.rejected.labels("body_too_large").inc()
                    message = f"request body exceeds max_body_bytes ({self.max_body_bytes} bytes)"
                    drained = ended or await _drain(
                        receive, headers, self._drain_limit(True) - self.max_body_bytes
                    )
                    await send_json(
                        send_with_id,
                        413,
                        error_body("body_too_large", message, request_id),
                        [] if drained else [CLOSE],
                    )
                    return
                receive = _replay(body, receive)
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            status = status_holder[0]
            self.metrics.in_flight.dec()
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.request_seconds.labels(route).observe(elapsed)
            self.access_log.write(
                {
                    "request_id": request_id,
                    "method": method,
                    "path": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 3),
                    "caller": caller,
                    "peer": peer[0]
                    if (peer := scope.get("client"))
                    else None,  # what trusted_proxies matches
                }
            )

    def _admit(
        self, path: str, method: str, headers: dict[str, str], scope: Scope
    ) -> tuple[str, tuple[int, str, str, list[tuple[bytes, bytes]]] | None]:
        peer = scope.get("client")
        address = self.clients.resolve(peer[0] if peer else None, headers.get("x-forwarded-for"))
        caller = f"ip:{address}"
        if self.keys.enabled and path not in OPEN_PATHS:
            identity = self.keys.check(headers.get("authorization"))
            if identity is None:
                wait = self.auth_failures.acquire(caller)  # token guessing is throttled per address
                if wait > 0:
                    retry = [(b"retry-after", retry_after(wait).encode())]
                    return caller, (429, "too_many_auth_failures", "too many bad tokens; retry later", retry)
                challenge = [(b"www-authenticate", b'Bearer realm="nfldeploy"')]
                return caller, (401, "unauthorized", "a valid bearer token is required", challenge)
            caller = identity
        if path not in UNLIMITED_PATHS:
            wait = self.limiter.acquire(caller)
            if wait > 0:
                retry = [(b"retry-after", retry_after(wait).encode())]
                return caller, (429, "rate_limited", "too many requests; retry later", retry)
        if method == "POST":
            content_type = headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type != "application/json":
                message = f"content type must be application/json, got {content_type or 'none'}"
                return caller, (415, "unsupported_media_type", message, [])
            length = headers.get("content-length")
            if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
                message = f"request body exceeds max_body_bytes ({self.max_body_bytes} bytes)"
                return caller, (413, "body_too_large", message, [])
        return caller, None

    def _drain_limit(self, admitted: bool) -> int:
        """How much of a refused body is read: see DRAIN_FACTOR."""
        return self.max_body_bytes * (DRAIN_FACTOR if admitted else 1)

    async def _read_body(self, receive: Receive) -> tuple[bytes | None, bool]:
        """The body (None past max_body_bytes), and whether its last message was read: then nothing is left
        to drain, and asking for more would wait for a disconnect that may never come (mangum, on Lambda, hands
        the whole body in one message and then answers ``receive()`` only once the response is sent)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b"".join(chunks), True
            chunk = message.get("body", b"")
            size += len(chunk)
            ended = not message.get("more_body", False)
            if size > self.max_body_bytes:
                return None, ended
            chunks.append(chunk)
            if ended:
                return b"".join(chunks), True


async def _drain(receive: Receive, headers: dict[str, str], limit: int) -> bool:
    """Read and drop what is left of a refused request's body, within ``limit`` bytes and DRAIN_SECONDS; True
    when the body ended (the connection can serve the next request). Nothing is read when the client waits
    for ``100 Continue`` (it has sent nothing, and the answer tells it not to) or declares more than
    ``limit``: then the connection closes under it, as it must."""
    if "100-continue" in headers.get("expect", "").lower():
        return False
    length = headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        return False
    loop = asyncio.get_running_loop()
    deadline, drained = loop.time() + DRAIN_SECONDS, 0
    while drained <= limit:
        remaining = deadline - loop.time()
        if remaining <= 0:
            return False
        try:
            message = await asyncio.wait_for(receive(), remaining)
        except TimeoutError:
            return False
        if message["type"] != "http.request":
            return False
        drained += len(message.get("body", b""))
        if not message.get("more_body", False):
            return drained <= limit
    return False


def _replay(body: bytes, original: Receive) -> Receive:
    """Hand the app the body already read, then the connection's own events (a real disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await original()

    return receive
