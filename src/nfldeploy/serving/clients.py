"""Who a request comes from behind proxies: the peer address, or, when the peer is a trusted proxy, an
address of ``X-Forwarded-For`` that a client cannot forge.

A proxy either replaces the header with the address it saw or appends that address to whatever the client
sent, so only entries on the right were written by proxies; everything left of them is the client's own text.
Two ways to say which entry names the client:

- ``trusted_proxies`` alone: walk from the right past every trusted proxy; the first address that is not one
  is the client. When every entry is trusted (``0.0.0.0/0``, as on Cloud Run) the rightmost entry, the one
  the nearest proxy wrote, never the leftmost, which the client may have written itself.
- ``trusted_hops`` N: the platform in front writes the N rightmost entries and the client is the leftmost of
  them (``hops[-N]``). A Google external Application Load Balancer appends ``<client-ip>,<load-balancer-ip>``
  to what the client sent (https://cloud.google.com/load-balancing/docs/https#x-forwarded-for_header), so N
  is 2 there. A header shorter than N (the request came another way) gives its rightmost entry.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from nfldeploy.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(spec: str) -> tuple[Network, ...]:
    """``"127.0.0.1/32, 10.0.0.0/8"`` -> networks; a bad entry is a ConfigError naming it."""
    networks = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError as exc:
            raise ConfigError(f"NFLSERVE_TRUSTED_PROXIES: {part!r} is not an address or CIDR") from exc
    return tuple(networks)


def _address(text: str) -> str | None:
    """``text`` as a normalised IP address, None when it is not one."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


class ClientAddress:
    """Resolves the client's address from the peer and ``X-Forwarded-For`` (see the module docstring)."""

    def __init__(self, trusted: Iterable[Network], hops: int = 0) -> None:
        if hops < 0:
            raise ConfigError(f"NFLSERVE_TRUSTED_HOPS must be 0 or more, not {hops}")
        self.trusted, self.hops = tuple(trusted), hops

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)

    def resolve(self, peer: str | None, forwarded_for: str | None) -> str:
        """The client's address (``unknown`` without a peer)."""
        if not peer:
            return "unknown"
        if not forwarded_for or not self._trusted(peer):
            return peer
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        if not hops:
            return peer
        if self.hops:
            return _address(hops[-min(self.hops, len(hops))]) or peer  # a garbled entry: only the peer
        for hop in reversed(hops):
            if not self._trusted(hop):
                return _address(hop) or peer  # a garbled hop: trust nothing past it
        return _address(hops[-1]) or peer  # every hop trusted: the one the nearest proxy wrote
