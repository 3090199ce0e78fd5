"""Who the client is: the address the throttles count and the audit log records.

Security contract
-----------------
* ``REMOTE_ADDR`` (the TCP peer, which a client cannot choose) is the client, unless it is one
  of ``NES_TRUSTED_PROXIES`` (IPs or CIDRs; empty by default). A client sending its own
  ``X-Forwarded-For`` straight to the web process is ignored: without trust, that header is just
  text anybody can write, and honouring it would let one client pose as any number of clients
  (no throttle) or as a victim's address (a throttle aimed at the victim).
* Behind trusted proxies, ``X-Forwarded-For`` is read **from the right**: each proxy appends the
  address it received the request from, so the rightmost entries are written by our proxies and
  the first entry, from the right, that is not a trusted proxy is the client as our outermost
  proxy saw it. Everything to its left was sent by the client and is never believed.
* An entry that is not an IP address (junk, ``unknown``, an obfuscated RFC 7239 name) stops the
  walk and the peer address is used instead: a correctly configured proxy never writes junk, so
  junk means a misconfiguration, and the proxy's own address is the safe answer (the throttle
  then counts everyone behind it as one client, which is too strict, never too lax).
* IPv6 clients are counted by their /64 (``client_key``): one subscriber line or host normally
  holds a whole /64 and can pick any address inside it, so counting single addresses would not
  limit anything. IPv4-mapped IPv6 addresses (``::ffff:192.0.2.1``) count as the IPv4 address.
  The audit log keeps the full address (``client_ip``).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

IPV6_PREFIX = 64


@lru_cache(maxsize=8)
def trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """``NES_TRUSTED_PROXIES`` as networks (a bare IP is a /32 or /128)."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry)


def parse_address(text: str) -> Address | None:
    """An IP address as proxies write it (``203.0.113.7``, ``2001:db8::1``, ``[2001:db8::1]``,
    ``203.0.113.7:51234``, ``[2001:db8::1]:443``), or None for anything else."""
    text = text.strip()
    if text.startswith("["):  # [v6] or [v6]:port
        text, bracket, port = text[1:].partition("]")
        if not bracket or (port and not port.startswith(":")):
            return None
    elif text.count(":") == 1:  # v4:port (a bare v6 address has at least two colons)
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_trusted(address: Address, networks: tuple[Network, ...]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def client_address(request: HttpRequest) -> Address | None:
    """The client's address (see the module docstring), or None if even the peer is not one
    (a misconfigured Unix-socket setup without REMOTE_ADDR)."""
    peer = parse_address(request.META.get("REMOTE_ADDR", ""))
    networks = trusted_networks(tuple(getattr(settings, "NES_TRUSTED_PROXIES", ())))
    if peer is None or not networks or not _is_trusted(peer, networks):
        return peer
    hops = [h for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    client = peer
    for hop in reversed(hops):
        address = parse_address(hop)
        if address is None:
            return peer
        client = address
        if not _is_trusted(address, networks):
            return address
    # Every hop was one of our proxies (a request from inside): the leftmost one sent it.
    return client


def client_ip(request: HttpRequest) -> str:
    """The client's address as text, ``""`` if unknown. What the audit log records."""
    address = client_address(request)
    return str(address) if address is not None else ""


def client_key(request: HttpRequest) -> str:
    """What the throttles count: the IPv4 address, or the /64 of an IPv6 address."""
    address = client_address(request)
    if address is None:
        return "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/{IPV6_PREFIX}", strict=False))
    return str(address)
