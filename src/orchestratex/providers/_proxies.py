"""Which of the environment's proxies carries a request to a URL, decided as httpx (httpx2, which the adapters' SDKs
send through) decides it: `HTTP_PROXY`, `HTTPS_PROXY` and `ALL_PROXY` as mounts, each `NO_PROXY` entry as a pattern
that bypasses them (httpx2 `_utils.get_environment_proxies`), the most specific pattern matching the URL deciding
(`URLPattern.priority`).

`NO_PROXY` entries, as httpx reads them: `*` (no proxy at all); `example.com` (it and its subdomains); `.example.com`
and `*.example.com` (its subdomains only); `localhost`; an entry with a port (`example.com:8443`, `localhost:8080`,
`[::1]:8080`: that port only); an IPv4 or IPv6 address (`10.0.0.1`, `::1`) or network (`10.0.0.0/8`, `fd00::/8`);
a URL (`http://example.com`: that scheme only). An entry httpx cannot read (`10.0.0.0/x`, a path after a name) is
ignored, as by curl and Go.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import urlsplit

__all__ = ["proxy_for"]

_DEFAULT_PORTS = {"ftp": 21, "http": 80, "https": 443, "ws": 80, "wss": 443}
"""The ports httpx leaves out of a URL (its `URL.port` is None): `https://example.com:443` is `https://example.com`."""

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class _Pattern(NamedTuple):
    """httpx's `URLPattern`: a scheme ('' for any), a host ('' for any, `*.d` or `*d` a suffix), a port (None for
    any), or a network in place of the host; `proxy` is what the mount carries (None: no proxy)."""

    scheme: str
    host: str
    port: int | None
    network: _Network | None
    proxy: str | None

    def priority(self) -> tuple[int, int, int, int, int]:
        """httpx's order, most specific first: with a port, then exact hosts, smaller networks, longer hosts, longer
        schemes."""
        network = self.network
        return (
            0 if self.port is not None else 1,
            1 if network is not None else 0 if self.host else 2,
            network.num_addresses if network is not None else 0,
            -len(self.host) if network is None else 0,
            -len(self.scheme),
        )

    def matches(self, scheme: str, host: str, port: int | None) -> bool:
        if self.scheme and self.scheme != scheme:
            return False
        if self.network is not None:
            try:
                if ipaddress.ip_address(host) not in self.network:
                    return False
            except ValueError:
                return False
        elif self.host.startswith("*."):
            if not re.fullmatch(rf".+\.{re.escape(self.host[2:])}", host):
                return False
        elif self.host.startswith("*"):
            if not re.fullmatch(rf"(.+\.)?{re.escape(self.host[1:])}", host):
                return False
        elif self.host and self.host != host:
            return False
        return self.port is None or self.port == port


def _pattern(text: str, proxy: str | None) -> _Pattern | None:
    """The pattern of a mount's key (`https://`, `all://*example.com:8443`, `all://10.0.0.0/8`), or None where httpx
    finds it invalid (and ignores it)."""
    scheme, _, rest = text.partition("://")
    scheme = scheme.lower()
    netloc, slash, path = rest.partition("/")
    netloc = netloc.partition("?")[0].partition("#")[0].rpartition("@")[2]
    if netloc.startswith("["):
        host, _, after = netloc[1:].partition("]")
        if after and not after.startswith(":"):
            return None
        port_text = after[1:]
    else:
        host, _, port_text = netloc.partition(":")
    if port_text and not port_text.isdigit():
        return None
    port = int(port_text) if port_text else None
    host = host.lower()
    if port is not None and _DEFAULT_PORTS.get(scheme) == port:
        port = None
    network: _Network | None = None
    prefix = path.partition("?")[0].partition("#")[0]
    if slash and prefix and _is_ip(host):
        shown = f"[{host}]" if ":" in host else host
        if "@" in text or "%" in text or not prefix.isdigit() or not text.endswith(f"{shown}/{prefix}"):
            return None
        try:
            network = ipaddress.ip_network(f"{host}/{prefix}", strict=False)
        except ValueError:
            return None
    return _Pattern("" if scheme == "all" else scheme, "" if host == "*" else host, port, network, proxy)


def _is_ip(text: str, kind: type[ipaddress.IPv4Address | ipaddress.IPv6Address] | None = None) -> bool:
    """Whether `text` is an IP address (of `kind`, when given)."""
    try:
        if kind is None:
            ipaddress.ip_address(text)
        else:
            kind(text)
    except ValueError:
        return False
    return True


def _no_proxy_key(entry: str) -> str | None:
    """The mount key httpx makes of one `NO_PROXY` entry (not `*`), or None for one it skips."""
    address = entry.split("/")[0]
    if "://" in entry:
        return entry
    if _is_ip(address, ipaddress.IPv4Address):  # (an address or a network)
        return f"all://{entry}"
    if _is_ip(address, ipaddress.IPv6Address):
        if "/" in entry:
            _, _, subnet = entry.partition("/")
            return f"all://[{address}]/{subnet}"
        return f"all://[{entry}]"
    if entry.lower() == "localhost" or entry.startswith("[") or (entry.startswith("*.") and "/" not in entry):
        return f"all://{entry}"
    if "/" not in entry:
        return f"all://*{entry}"
    return None


def proxy_for(url: str, proxies: Mapping[str, str]) -> str | None:
    """Which proxy of `proxies` (`urllib.request.getproxies()`: by scheme, `all`, and `no` for `NO_PROXY`) carries a
    request to `url` as httpx sends it: `"http"`, `"https"` or `"all"`, or None (no proxy, or `NO_PROXY` bypasses
    them for this URL)."""
    mounts: dict[str, str | None] = {f"{s}://": s for s in ("http", "https", "all") if proxies.get(s)}
    if not mounts:
        return None
    for entry in (e.strip() for e in proxies.get("no", "").split(",")):
        if entry == "*":
            return None
        key = _no_proxy_key(entry) if entry else None
        if key is not None:
            mounts[key] = None
    patterns = [p for key, proxy in mounts.items() if (p := _pattern(key, proxy)) is not None]
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None and _DEFAULT_PORTS.get(scheme) == port:
        port = None
    for pattern in sorted(patterns, key=_Pattern.priority):
        if pattern.matches(scheme, host, port):
            return pattern.proxy
    return None
