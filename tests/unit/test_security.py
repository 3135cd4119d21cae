"""Bearer keys and the token bucket."""

from __future__ import annotations

import pytest

from nfldeploy.serving.cache import LRUCache
from nfldeploy.serving.security import ApiKeys, RateLimiter, retry_after


def test_api_keys() -> None:
    keys = ApiKeys(["alpha-key", "beta-key"])
    assert keys.enabled and not ApiKeys([]).enabled
    alpha = keys.check("Bearer alpha-key")
    assert alpha is not None and alpha.startswith("key:") and "alpha" not in alpha
    assert keys.check("bearer beta-key") not in (None, alpha)
    for header in (None, "", "Bearer", "Bearer wrong", "Basic alpha-key", "alpha-key", "Bearer alpha-keyX"):
        assert keys.check(header) is None


def test_token_bucket() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=3, clock=lambda: now[0])
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.acquire("a")
    assert wait == pytest.approx(0.5)
    assert limiter.acquire("b") == 0.0  # callers have separate buckets
    now[0] += 0.5
    assert limiter.acquire("a") == 0.0
    assert retry_after(wait) == "1" and retry_after(2.2) == "3"


def test_rate_limiter_forgets_the_oldest_callers() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, max_callers=2)
    for caller in ("a", "b", "c"):
        limiter.acquire(caller)
    assert limiter.acquire("a") == 0.0  # "a" was evicted, so it starts with a full bucket again


def test_lru_cache() -> None:
    cache: LRUCache[int] = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and len(cache) == 2
    off: LRUCache[int] = LRUCache(0)
    off.put("a", 1)
    assert off.get("a") is None
