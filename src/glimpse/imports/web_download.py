"""Fetching image data from a URL for the ``web-download`` import method, safely: every URL check is here.

A server that fetches what a user names can be pointed at what only it can
reach (cloud metadata at 169.254.169.254, databases on loopback, the private
network). So:

* the URL is parsed strictly (scheme, no credentials, a host, a port in the
  operator's allowlist, 80 and 443 by default);
* the host is resolved once, every address it resolves to is normalised
  (``127.1``, ``2130706433``, ``0x7f000001``, ``0177.0.0.1`` are all 127.0.0.1
  to the C library; ``::ffff:127.0.0.1``, NAT64 and 6to4 addresses carry an
  IPv4 address; zone ids are dropped) and refused unless globally routable or
  in a network the operator allows; the connection then goes to that checked
  address, so DNS cannot answer differently between check and use;
* every redirect is checked the same way, up to a limit;
* whatever stops the fetch before a server answers (a refused address, a
  closed port, an unreachable or unknown host, a timeout) is reported with the
  same message, so tasks cannot be used to scan ports.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx

from glimpse.errors import InvalidRequest, StoreUnavailable

#: Bytes per chunk read from the remote server.
CHUNK = 1024 * 1024
#: The one message for every failure before a server answers.
UNREACHABLE = "The import URL could not be fetched: its host cannot be reached from this service, or may not be."
_DEFAULT_PORTS = {"http": 80, "https": 443}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Unreachable(Exception):
    """The fetch stopped before a server answered; the reason is for the log, never for the task."""


@dataclass(frozen=True)
class Target:
    """A checked URL: its scheme, host name (lower case, IDNA), port and the path with query."""

    scheme: str
    host: str
    port: int
    path: str

    def url_for(self, address: Address) -> str:
        literal = f"[{address}]" if address.version == 6 else str(address)
        return f"{self.scheme}://{literal}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        default = _DEFAULT_PORTS[self.scheme] == self.port
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if default else f"{name}:{self.port}"


def normalise(host: str) -> Address | None:
    """The IP address ``host`` denotes in any notation the C library accepts, or ``None`` for a name."""
    bare = host.strip("[]").split("%", 1)[0]
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(bare)
    try:
        return ipaddress.IPv4Address(socket.inet_aton(bare))
    except OSError:
        return None


def embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4, Teredo), if any."""
    if address.version == 4:
        return None
    assert isinstance(address, ipaddress.IPv6Address)
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


@dataclass(frozen=True)
class UrlRules:
    """What web-download may fetch: schemes, ports (empty = any), host names and networks, and the limits."""

    schemes: Sequence[str] = ("http", "https")
    ports: Sequence[int] = (80, 443)
    allowed_hosts: Sequence[str] = ()
    disallowed_hosts: Sequence[str] = ()
    allowed_networks: Sequence[str] = ()
    disallowed_networks: Sequence[str] = ()
    max_redirects: int = 5
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    _allowed: tuple[Network, ...] = field(init=False, repr=False)
    _disallowed: tuple[Network, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_allowed", tuple(ipaddress.ip_network(n, strict=False)
                                                   for n in self.allowed_networks))
        object.__setattr__(self, "_disallowed", tuple(ipaddress.ip_network(n, strict=False)
                                                      for n in self.disallowed_networks))

    def check(self, uri: str) -> Target:
        """Parse ``uri`` strictly and apply the rules that need no network; :class:`InvalidRequest` if refused."""
        if any(ord(c) < 0x21 or ord(c) == 0x7F for c in uri) or "\\" in uri:
            raise InvalidRequest("The import URI contains spaces, control characters or backslashes.")
        try:
            parts = urlsplit(uri)
            port = parts.port
        except ValueError as exc:
            raise InvalidRequest(f"The import URI {uri!r} is not a valid URL: {exc}.") from None
        scheme = parts.scheme.lower()
        if scheme not in self.schemes or scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise InvalidRequest(f"The import URI must be an absolute {' or '.join(self.schemes)} URL.")
        if parts.username is not None or parts.password is not None:
            raise InvalidRequest("The import URI may not carry a user name or password.")
        port = port if port is not None else _DEFAULT_PORTS[scheme]
        if port == 0 or (self.ports and port not in self.ports):
            raise InvalidRequest(f"The import URI uses port {port}; allowed ports are "
                                 f"{', '.join(str(p) for p in self.ports)}.")
        host = parts.hostname.lower().rstrip(".")
        literal = normalise(host)
        if literal is None:
            try:
                host = host.encode("idna").decode("ascii")
            except UnicodeError:
                raise InvalidRequest(f"The import URI's host {parts.hostname!r} is not a valid name.") from None
        else:
            host = str(literal)
            if not self.address_allowed(literal):
                raise InvalidRequest(f"Importing from address {literal} is not allowed on this site.")
        if host in {h.lower() for h in self.disallowed_hosts} or (
                self.allowed_hosts and host not in {h.lower() for h in self.allowed_hosts}):
            raise InvalidRequest(f"Importing from host {host!r} is not allowed on this site.")
        return Target(scheme, host, port, (parts.path or "/") + (f"?{parts.query}" if parts.query else ""))

    def address_allowed(self, address: Address) -> bool:
        """Whether a connection to ``address`` may be made: operator networks first, then global addresses only."""
        inner = embedded_ipv4(address)
        candidates = [address] if inner is None else [address, inner]
        if any(c in net for c in candidates for net in self._disallowed if c.version == net.version):
            return False
        if self._allowed and all(any(c in net for net in self._allowed if c.version == net.version)
                                 for c in candidates[-1:]):
            return True
        return all(c.is_global and not c.is_multicast for c in candidates)

    def resolve(self, target: Target) -> Address:
        """The first address of ``target.host`` that may be reached; :class:`Unreachable` if none may."""
        literal = normalise(target.host)
        if literal is not None:
            addresses: list[Address] = [literal]
        else:
            try:
                found = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
            except (OSError, UnicodeError) as exc:
                raise Unreachable(f"cannot resolve {target.host}: {exc}") from None
            addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in found]
        allowed = [a for a in addresses if self.address_allowed(a)]
        if not allowed or len(allowed) != len(addresses):
            raise Unreachable(f"{target.host} resolves to a refused address ({', '.join(map(str, addresses))})")
        return allowed[0]


@contextlib.contextmanager
def fetch(uri: str, rules: UrlRules, *,
          headers: Mapping[str, str] | None = None) -> Iterator[tuple[Iterator[bytes], int | None]]:
    """Open ``uri`` for streaming within ``rules``: yields the body's chunks and its length when given.

    ``headers`` (credentials, for glance-download) go to ``uri``'s own scheme,
    host and port only: never to where a redirect to another origin leads.

    Raises :class:`InvalidRequest` for a URL the rules refuse outright, and
    :class:`StoreUnavailable` with :data:`UNREACHABLE` for any failure before a
    server answers, or naming the HTTP status a server answered with.
    """
    timeout = httpx.Timeout(rules.read_timeout, connect=rules.connect_timeout)
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        target = rules.check(uri)
        origin = (target.scheme, target.host, target.port)
        for _ in range(rules.max_redirects + 1):
            sent = dict(headers or {}) if (target.scheme, target.host, target.port) == origin else {}
            try:
                address = rules.resolve(target)
                request = client.build_request("GET", target.url_for(address),
                                               headers={**sent, "Host": target.host_header},
                                               extensions={} if normalise(target.host) else
                                               {"sni_hostname": target.host})
                response = client.send(request, stream=True)
            except (Unreachable, httpx.TransportError):
                raise StoreUnavailable(UNREACHABLE) from None
            try:
                if response.is_redirect and "location" in response.headers:
                    location = urljoin(f"{target.scheme}://{target.host_header}{target.path}",
                                       response.headers["location"])
                    try:
                        target = rules.check(location)
                    except InvalidRequest:
                        raise StoreUnavailable(UNREACHABLE) from None
                    continue
                if response.status_code != 200:
                    raise StoreUnavailable(_refusal(response))
                length = response.headers.get("content-length")
                yield _chunks(response), int(length) if length and length.isdigit() else None
                return
            finally:
                response.close()
        raise StoreUnavailable(f"The import URL redirected more than {rules.max_redirects} times.")


def _chunks(response: httpx.Response) -> Iterator[bytes]:
    try:
        yield from response.iter_bytes(CHUNK)
    except httpx.TransportError:
        raise StoreUnavailable("The import URL's server stopped sending before the image was complete.") from None


def _refusal(response: httpx.Response) -> str:
    """What the task says when a server answered, but not with the image (a status other than 200)."""
    status = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
    if response.status_code in (401, 403):
        return (f"Fetching the import URL answered {status}: the server wants credentials. web-download sends "
                "none; use a URL anyone may read (for example a pre-signed one).")
    if response.status_code == 404:
        return f"Fetching the import URL answered {status}: there is nothing at that URL. Check it and import again."
    return f"Fetching the import URL answered {status}; web-download needs an answer of 200 with the image data."
