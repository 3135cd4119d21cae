"""The client's address on Cloud Run and behind a Google load balancer: the entry the platform wrote, never
one the client sent, in both header shapes (the front end writes the caller's address; a load balancer
appends ``<client>,<load balancer>`` to what the client sent), and a forger cannot flush the rate limiter's
table of callers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from nfldeploy.errors import ConfigError
from nfldeploy.serving.clients import ClientAddress, parse_networks
from nfldeploy.serving.config import ServeConfig
from nfldeploy.serving.guard import Guard
from nfldeploy.serving.logs import AccessLog
from nfldeploy.serving.metrics import Metrics
from nfldeploy.serving.security import ApiKeys, RateLimiter
from nfldeploy.settings import DeploySettings

EVERYONE = parse_networks("0.0.0.0/0, ::/0")  # what the Cloud Run deploy sets (render.cloudrun_spec)
FRONT_END = "169.254.8.1"  # the peer: Google's front end
CALLER, FORGED, LB = "198.51.100.7", "10.9.9.9", "203.0.113.250"


@pytest.mark.parametrize(
    ("hops", "forwarded", "client"),
    [
        # run.app: the front end writes the caller's address (replacing the header, or appending to it)
        (0, CALLER, CALLER),
        (0, f"{FORGED}, {CALLER}", CALLER),  # a forged entry on the left is never believed
        (0, f"{FORGED},{FORGED}, {CALLER}", CALLER),
        (0, "2001:db8::1, 2001:db8:0:0::5", "2001:db8::5"),  # normalised
        # a load balancer appending <client>,<lb> with no TRUSTED_HOPS: everyone is the load balancer (one
        # bucket, never the forger's choice)
        (0, f"{FORGED}, {CALLER}, {LB}", LB),
        # TRUSTED_HOPS=2 behind a Google external Application Load Balancer
        (2, f"{CALLER}, {LB}", CALLER),
        (2, f"{FORGED}, {CALLER}, {LB}", CALLER),
        (2, f"{FORGED}, {FORGED}, {FORGED}, {CALLER}, {LB}", CALLER),
        (2, CALLER, CALLER),  # the request came straight to run.app: shorter than 2, its rightmost entry
        (2, f"{FORGED}, not-an-ip, {LB}", FRONT_END),  # a garbled entry where the client should be
        (1, f"{FORGED}, {CALLER}", CALLER),
        (0, "", FRONT_END),
        (0, " , ", FRONT_END),
    ],
)
def test_the_entry_the_platform_wrote(hops: int, forwarded: str, client: str) -> None:
    assert ClientAddress(EVERYONE, hops).resolve(FRONT_END, forwarded) == client


def test_an_untrusted_peer_names_only_itself_whatever_the_hops() -> None:
    resolver = ClientAddress(parse_networks("127.0.0.1/32"), hops=2)
    assert resolver.resolve("203.0.113.9", f"{CALLER}, {LB}") == "203.0.113.9"
    assert resolver.resolve("127.0.0.1", f"{FORGED}, {CALLER}, {LB}") == CALLER


def test_trusted_private_hops_give_the_address_the_nearest_proxy_saw() -> None:
    """nginx (compose) appends the address it saw; a client inside a trusted range cannot name another by
    writing the header first (the leftmost entry, which the old resolver returned)."""
    resolver = ClientAddress(parse_networks("10.0.0.0/8, 127.0.0.1/32"))
    assert resolver.resolve("10.0.0.2", "10.9.9.9, 10.0.0.5") == "10.0.0.5"


def test_trusted_hops_come_from_the_environment_and_must_not_be_negative() -> None:
    assert ServeConfig.from_env({"NFLSERVE_TRUSTED_HOPS": "2"}).trusted_hops == 2
    with pytest.raises(ConfigError, match="NFLSERVE_TRUSTED_HOPS='two' is not a valid int"):
        ServeConfig.from_env({"NFLSERVE_TRUSTED_HOPS": "two"})
    with pytest.raises(ConfigError, match="NFLSERVE_TRUSTED_HOPS must be 0 or more, not -1"):
        ClientAddress(EVERYONE, -1)


def test_the_deploy_setting_reaches_the_service_env_only_when_set() -> None:
    assert "NFLSERVE_TRUSTED_HOPS" not in DeploySettings().service_env()
    assert DeploySettings(trusted_hops=2).service_env()["NFLSERVE_TRUSTED_HOPS"] == "2"


async def _ok(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def _answer(guard: Guard, forwarded: str) -> int:
    answer: dict[str, int] = {}

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/version",
        "headers": [(b"x-forwarded-for", forwarded.encode())],
        "client": (FRONT_END, 40000),
    }
    await guard(scope, receive, send)
    return answer["status"]


def _statuses(guard: Guard, headers: list[str]) -> list[int]:
    """The status of one request per X-Forwarded-For in ``headers``, in order, in one event loop."""

    async def each() -> list[int]:
        return [await _answer(guard, forwarded) for forwarded in headers]

    return asyncio.run(each())


@pytest.mark.parametrize(
    ("hops", "shape"),
    [(0, "{forged}, {caller}"), (0, "{caller}"), (2, "{forged}, {caller}, " + LB)],
    ids=["run.app appends", "run.app overwrites", "load balancer appends"],
)
def test_a_forger_rotating_the_header_gets_no_fresh_bucket_and_flushes_nobody(hops: int, shape: str) -> None:
    """A forger writes a new address into every request: it stays in its one bucket (429 after the burst),
    the table of callers does not grow, and a real caller whose bucket is empty stays limited."""
    limiter = RateLimiter(rate=0.001, burst=3, max_callers=10_000)
    guard = Guard(
        _ok, Metrics(), ApiKeys(()), limiter, 1000, AccessLog(enabled=False), ClientAddress(EVERYONE, hops)
    )
    victim = "192.0.2.44"
    assert _statuses(guard, [shape.format(forged=FORGED, caller=victim)] * 4) == [200, 200, 200, 429]
    forger = "192.0.2.66"
    answers = _statuses(
        guard,
        [
            shape.format(forged=f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", caller=forger)
            for i in range(10_050)
        ],
    )
    assert answers[:3] == [200, 200, 200] and set(answers[3:]) == {429}
    assert len(limiter._buckets) == 2  # the victim and the forger: nothing was evicted
    assert _statuses(guard, [shape.format(forged=FORGED, caller=victim)]) == [429]  # its bucket was not reset
