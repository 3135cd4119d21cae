"""Bearer keys and the token bucket."""

from __future__ import annotations

import pytest

from nfldeploy.errors import ConfigError
from nfldeploy.serving.cache import LRUCache
from nfldeploy.serving.clients import ClientAddress, parse_networks
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


def test_rate_limiter_table_stays_bounded_under_address_churn() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, max_callers=1000)
    for i in range(50_000):
        limiter.acquire(f"ip:10.{i // 65536}.{i // 256 % 256}.{i % 256}")
    assert len(limiter._buckets) == 1000


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("203.0.113.7", "198.51.100.1", "203.0.113.7"),  # an untrusted peer cannot name someone else
        ("127.0.0.1", "203.0.113.9", "203.0.113.9"),  # the proxy says who it served
        ("127.0.0.1", "1.2.3.4, 203.0.113.9", "203.0.113.9"),  # the client's own prefix is not believed
        ("127.0.0.1", "203.0.113.9, 10.1.2.3", "203.0.113.9"),  # trusted hops are skipped from the right
        ("127.0.0.1", "203.0.113.9, not-an-ip", "127.0.0.1"),  # a garbled hop: nothing past it is trusted
        (
            "127.0.0.1",
            "10.1.2.3, 10.4.5.6",
            "10.4.5.6",
        ),  # every hop trusted: the rightmost, never the client's
        ("127.0.0.1", None, "127.0.0.1"),
        (None, "203.0.113.9", "unknown"),
        ("::1", "2001:db8::5", "2001:db8::5"),
    ],
)
def test_the_client_behind_trusted_proxies(peer: str | None, forwarded: str | None, client: str) -> None:
    resolver = ClientAddress(parse_networks("127.0.0.1/32, ::1/128, 10.0.0.0/8"))
    assert resolver.resolve(peer, forwarded) == client


def test_trusted_proxies_must_be_addresses() -> None:
    with pytest.raises(ConfigError, match=r"'10\.0\.0\.0/33' is not an address or CIDR"):
        parse_networks("127.0.0.1, 10.0.0.0/33")
