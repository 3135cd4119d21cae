"""Who a request comes from behind proxies: the peer address, or, when the peer is a trusted proxy, the
rightmost address of ``X-Forwarded-For`` that is not itself a trusted proxy (what a client cannot forge:
every trusted hop appends the address it saw)."""

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


class ClientAddress:
    """Resolves the client's address from the peer and ``X-Forwarded-For`` with the trusted proxies."""

    def __init__(self, trusted: Iterable[Network]) -> None:
        self.trusted = tuple(trusted)

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
        for hop in reversed(hops):
            if not self._trusted(hop):
                try:
                    return str(ipaddress.ip_address(hop))
                except ValueError:
                    return peer  # a garbled hop: trust nothing past it
        return hops[0] if hops else peer
