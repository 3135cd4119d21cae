"""Bearer-token auth (constant-time) and per-caller token-bucket rate limiting."""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass


class ApiKeys:
    """The accepted bearer tokens. Comparison is constant-time against every key."""

    def __init__(self, keys: Sequence[str]) -> None:
        self._keys = [key.encode() for key in keys]

    @property
    def enabled(self) -> bool:
        """Whether any key is configured (then every route but /health and /ready needs one)."""
        return bool(self._keys)

    def check(self, authorization: str | None) -> str | None:
        """The caller's identity (a short hash of its key, never the key) if the header carries a valid
        key, else None."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        presented = token.strip().encode()
        matched = False
        for key in self._keys:  # no early exit: timing does not tell which key or how much matched
            matched |= hmac.compare_digest(presented, key)
        return "key:" + hashlib.sha256(presented).hexdigest()[:12] if matched else None


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token bucket per caller: ``rate`` tokens per second up to ``burst``; tracks at most ``max_callers``."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic, max_callers: int = 10_000
    ) -> None:
        self.rate, self.burst, self.clock, self.max_callers = rate, float(burst), clock, max_callers
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def acquire(self, caller: str) -> float:
        """0 when the request may go ahead, else the seconds to wait before retrying."""
        now = self.clock()
        bucket = self._buckets.get(caller)
        if bucket is None:
            bucket = self._buckets[caller] = _Bucket(self.burst, now)
            if len(self._buckets) > self.max_callers:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(caller)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate


def retry_after(seconds: float) -> str:
    """A Retry-After header value (whole seconds, at least 1)."""
    return str(max(1, math.ceil(seconds)))
