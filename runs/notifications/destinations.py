"""Where notifications may go: http(s) URLs on public addresses.

A webhook URL is chosen by an environment's admin, but the request leaves
from the worker, inside the operator's network: without these rules it
could reach the cloud's metadata service, a database port or an admin page
on localhost. So only http and https are allowed, and by default only
globally routable addresses (ATLAS_NOTIFY_ALLOW_PRIVATE=true also allows
private, loopback and link-local ones, for receivers on the premises).

The rule is checked when a configuration is saved and again on the
resolved addresses at every delivery, and the connection then goes to the
address that was checked (`sender.py`), so a name that resolves somewhere
else a second time (DNS rebinding) gains nothing.
"""

import ipaddress
import socket
from contextlib import suppress
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

SCHEMES = {"http": 80, "https": 443}
MAX_URL_LENGTH = 2000


class DestinationRefused(Exception):
    """The URL or the address it resolves to is not allowed."""


@dataclass(frozen=True)
class Destination:
    scheme: str
    host: str
    port: int
    target: str  # path and query, as sent in the request line


def parse(url):
    """The parts of an allowed URL; DestinationRefused says why not."""
    if not isinstance(url, str) or not url.strip():
        raise DestinationRefused("is required")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise DestinationRefused(f"is longer than {MAX_URL_LENGTH} characters")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise DestinationRefused("must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DestinationRefused(f"is not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise DestinationRefused("must be an http:// or https:// URL")
    if not parts.hostname:
        raise DestinationRefused("has no host")
    if parts.username is not None or parts.password is not None:
        raise DestinationRefused(
            "must not contain a user name or password: verify the signature instead"
        )
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return Destination(scheme, parts.hostname.lower(), port or SCHEMES[scheme], target)


def address_problem(address, allow_private=None):
    """What is wrong with contacting `address` (an IP address), or None."""
    if allow_private is None:
        allow_private = settings.ATLAS_NOTIFY_ALLOW_PRIVATE
    ip = ipaddress.ip_address(address)
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_unspecified or ip.is_multicast:
        return "not a unicast address"
    if ip.is_global:
        return None
    if allow_private and (ip.is_private or ip.is_loopback or ip.is_link_local):
        return None
    if ip.is_loopback:
        kind = "a loopback address"
    elif ip.is_link_local:
        kind = "a link-local address"
    elif ip.is_private:
        kind = "a private address"
    else:
        kind = "a reserved address"
    if allow_private:
        return kind
    return f"{kind} (ATLAS_NOTIFY_ALLOW_PRIVATE=true allows private receivers)"


def resolve(destination):
    """Every address the host resolves to, each checked; the first one to
    connect to. Refused when any of them is not allowed, so a name cannot
    mix a public address with a private one."""
    try:
        infos = socket.getaddrinfo(
            destination.host, destination.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (socket.gaierror, UnicodeError) as exc:
        raise LookupError(f"{destination.host} cannot be resolved ({exc})") from None
    addresses = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = sockaddr[0].split("%", 1)[0]
        problem = address_problem(address)
        if problem:
            raise DestinationRefused(f"points to {address}, {problem}")
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise LookupError(f"{destination.host} has no address")
    return addresses


def check_url(url):
    """Refuse a URL that may not be saved: bad scheme or form, or a host
    that resolves to an address that is not allowed. A host that does not
    resolve yet is accepted: the delivery will say so."""
    destination = parse(url)
    with suppress(LookupError):
        resolve(destination)
    return url.strip()
