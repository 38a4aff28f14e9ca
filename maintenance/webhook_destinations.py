"""Where a tenant's webhook may point: a guard against server-side request forgery.

A tenant admin sets the webhook URL, but the platform makes the request, from inside its
own network. Without a guard a tenant could aim it at the platform's Redis, its metadata
database, a cloud metadata service (169.254.169.254) or any private host. So by default
only http and https to globally routable addresses are allowed: a host that resolves to a
loopback, private (RFC 1918, fc00::/7), link-local (169.254/16, fe80::/10), multicast,
unspecified or otherwise reserved address is refused.

``MINGZHOU_WEBHOOK_ALLOW`` (comma-separated host names and/or addresses and CIDR
networks) lets an operator allow specific internal destinations, e.g. an on-premises
deployment's own ticketing system: ``MINGZHOU_WEBHOOK_ALLOW=tickets.corp,10.20.0.0/16``.
A listed host name is allowed whatever it resolves to; an address is allowed when it is in
a listed network.

The URL is checked when it is saved and again at send time (DNS may have changed since):
every address the host resolves to is checked, and the request then goes to the checked
address itself (the Host header and TLS server name stay the original host), so a DNS
server that answers differently the second time cannot slip an internal address in.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass

import httpx

ALLOW_VARIABLE = "MINGZHOU_WEBHOOK_ALLOW"
SCHEMES = ("http", "https")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class DestinationRefused(ValueError):
    """The URL may not be sent to under the policy; the message says why and what to do."""


class DestinationUnresolved(ValueError):
    """The host does not resolve (now): nothing to check, nothing to connect to."""


@dataclass(frozen=True)
class Destination:
    """A checked URL: ``address`` is the address to connect to."""

    url: httpx.URL
    address: IPAddress

    @property
    def pinned_url(self) -> httpx.URL:
        """The URL with the checked address as its host, so the connection goes there."""
        return self.url.copy_with(host=str(self.address))

    @property
    def host_header(self) -> str:
        return self.url.netloc.decode("ascii")

    @property
    def server_name(self) -> str:
        return self.url.raw_host.decode("ascii")


@dataclass(frozen=True)
class DestinationPolicy:
    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, text: str) -> DestinationPolicy:
        """``text`` as in MINGZHOU_WEBHOOK_ALLOW: host names, addresses, CIDR networks."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in (e.strip() for e in text.split(",")):
            if not entry:
                continue
            try:
                # strict=False: 10.20.1.5/16 means the /16, not an error.
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            if any(c in entry for c in "/:@ ") or entry.startswith("."):
                raise ValueError(
                    f"{ALLOW_VARIABLE}: {entry!r} is neither a host name nor an address or "
                    "CIDR network (write e.g. tickets.corp, 10.0.0.5 or 10.20.0.0/16)"
                )
            hosts.add(_host_key(entry))
        return cls(frozenset(hosts), tuple(networks))

    @classmethod
    def from_environment(cls) -> DestinationPolicy:
        """Read at each use, so a changed setting needs no restart of the delivery job."""
        return cls.parse(os.environ.get(ALLOW_VARIABLE, ""))

    def refusal(self, host: str, address: IPAddress) -> str | None:
        """Why ``address`` (which ``host`` resolved to) is refused, or None if allowed."""
        if _host_key(host) in self.allowed_hosts:
            return None
        if any(address in network for network in self.allowed_networks):
            return None
        # ::ffff:127.0.0.1 is 127.0.0.1; Python 3.11's properties do not see through it.
        plain = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        return special_use(plain or address)

    def check(self, url: str) -> Destination:
        """Parse, resolve and check ``url``; raises DestinationRefused (the policy says
        no) or DestinationUnresolved (the host does not resolve)."""
        parsed = _parse(url)
        host = parsed.raw_host.decode("ascii")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        addresses = resolve(host, port)
        for address in addresses:  # every one: the connection must not pick a bad one
            reason = self.refusal(host, address)
            if reason is not None:
                resolves = "is" if str(address) == host else "resolves to"
                raise DestinationRefused(
                    f"webhook_url {url!r} is refused: its host {host!r} {resolves} {address}, "
                    f"{reason}, which a webhook may not reach from inside the platform. "
                    f"If this is a destination you trust, an operator can allow it with "
                    f"the platform setting {ALLOW_VARIABLE}={host} (comma-separated host "
                    "names, addresses and CIDR networks)"
                )
        return Destination(parsed, addresses[0])


def special_use(address: IPAddress) -> str | None:
    """What kind of non-public address ``address`` is, or None for a global one. The most
    telling reason first: 127.0.0.1 and 169.254.169.254 are also "private"."""
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_loopback:
        return "a loopback address (this machine)"
    if address.is_link_local:
        return "a link-local address (where cloud metadata services live)"
    if address.is_multicast:
        return "a multicast address"
    if address.is_reserved:  # before private: Python counts 240.0.0.0/4 as both
        return "a reserved address"
    if address.is_private:
        return "a private-network address"
    if not address.is_global:  # e.g. 100.64.0.0/10, shared carrier-grade NAT space
        return "an address that is not globally routable"
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an address literal is itself), through
    socket.getaddrinfo. Tests replace this function to play a DNS server."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise DestinationUnresolved(f"{host!r} does not resolve: {exc}") from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        # An IPv6 sockaddr may carry a scope ("fe80::1%eth0"); the address is before it.
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise DestinationUnresolved(f"{host!r} resolves to no address")
    return addresses


def _parse(url: str) -> httpx.URL:
    # httpx parses it here because httpx sends it: two parsers that disagree about the host
    # of an odd URL are a classic way past a check like this one.
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise DestinationRefused(f"webhook_url {url!r} is not a URL: {exc}") from None
    if parsed.scheme not in SCHEMES:
        raise DestinationRefused(
            f"webhook_url {url!r} is refused: only http:// and https:// are allowed"
        )
    if not parsed.raw_host:
        raise DestinationRefused(f"webhook_url {url!r} is refused: it names no host")
    return parsed


def _host_key(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()
