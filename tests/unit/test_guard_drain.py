"""How much of a refused request's body the guard reads: a caller refused before admission (401, 429) at most
max_body_bytes, an admitted caller's bad request at most DRAIN_FACTOR times that; past the bound the answer
says ``Connection: close``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from nfldeploy.serving.guard import DRAIN_FACTOR, Guard
from nfldeploy.serving.metrics import Metrics
from nfldeploy.serving.security import ApiKeys, RateLimiter

LIMIT = 1000
CHUNK = 100


async def _app(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("a refused request reached the app")


def _call(body_size: int, headers: dict[str, str], declare: bool = False) -> tuple[int, dict[str, str], int]:
    """One POST through the guard; (status, response headers, body bytes the guard read)."""
    guard = Guard(_app, Metrics(), ApiKeys(["good-key"]), RateLimiter(1000.0, 1000), max_body_bytes=LIMIT)
    sent = {"bytes": 0}
    chunks = [CHUNK] * (body_size // CHUNK)

    async def receive() -> dict[str, Any]:
        if not chunks:
            return {"type": "http.disconnect"}
        size = chunks.pop()
        sent["bytes"] += size
        return {"type": "http.request", "body": b" " * size, "more_body": bool(chunks)}

    answer: dict[str, Any] = {}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
            answer["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}

    raw = {"content-type": "application/json", **headers}
    if declare:
        raw["content-length"] = str(body_size)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/predict",
        "headers": [(k.encode(), v.encode()) for k, v in raw.items()],
        "client": ("127.0.0.1", 5000),
    }
    asyncio.run(guard(scope, receive, send))
    return answer["status"], answer["headers"], sent["bytes"]


@pytest.mark.parametrize("size", [LIMIT // 2, 50 * LIMIT])
def test_an_unauthenticated_body_is_read_at_most_max_body_bytes(size: int) -> None:
    status, headers, read = _call(size, {})
    assert status == 401
    assert read <= LIMIT + CHUNK
    assert (headers.get("connection") == "close") == (size > LIMIT)  # a short body ended: keep-alive


def test_an_unauthenticated_declared_length_past_the_bound_is_not_read() -> None:
    status, headers, read = _call(5 * LIMIT, {}, declare=True)
    assert (status, read, headers.get("connection")) == (401, 0, "close")


def test_an_admitted_oversized_body_is_drained_so_clients_read_the_413() -> None:
    auth = {"authorization": "Bearer good-key"}
    status, headers, read = _call(4 * LIMIT, auth)  # chunked: read to the limit, then drained to its end
    assert (status, read, headers.get("connection")) == (413, 4 * LIMIT, None)
    status, headers, read = _call(4 * LIMIT, auth, declare=True)  # refused by its length, drained
    assert (status, read, headers.get("connection")) == (413, 4 * LIMIT, None)


def test_an_admitted_body_past_the_drain_bound_gets_connection_close() -> None:
    auth = {"authorization": "Bearer good-key"}
    size = 2 * DRAIN_FACTOR * LIMIT
    status, headers, read = _call(size, auth)
    assert status == 413 and headers.get("connection") == "close"
    assert read <= DRAIN_FACTOR * LIMIT + 2 * CHUNK  # the chunk over the limit, then the drain
    status, headers, read = _call(size, auth, declare=True)
    assert (status, read, headers.get("connection")) == (413, 0, "close")


def test_a_whole_body_in_one_message_past_the_limit_is_answered_without_waiting_for_more() -> None:
    """mangum (the Lambda handler's adapter) hands the event's whole body in one message with more_body
    False, and its receive() then blocks until the response is sent: a guard that drains after that final
    message waited DRAIN_SECONDS for every oversized body on Lambda (found under AWS's emulator)."""
    guard = Guard(_app, Metrics(), ApiKeys([]), RateLimiter(1000.0, 1000), max_body_bytes=LIMIT)
    messages = [{"type": "http.request", "body": b" " * (3 * LIMIT), "more_body": False}]
    answer: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        if not messages:
            raise AssertionError("receive() called after the body's last message")
        return messages.pop()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
            answer["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/predict",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 5000),
    }
    asyncio.run(guard(scope, receive, send))
    assert answer["status"] == 413 and answer["headers"].get("connection") is None  # the body ended
