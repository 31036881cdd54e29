"""Who is asking: the client's address, from a trusted proxy's headers only.

Behind a reverse proxy every request arrives from the proxy's address; the
client's is in `X-Forwarded-For`, which anyone can also send directly. So
the forwarded headers count only on requests whose peer is one of
ATLAS_TRUSTED_PROXIES. The client is then the right-most address of
`X-Forwarded-For` that is not itself a trusted proxy: every proxy appends
the address it received the request from, so entries to its left are
whatever the client claimed.
"""

import ipaddress

from django.conf import settings

FORWARDED_HEADERS = (
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_FORWARDED",
)
PEER = "atlas.peer_address"


def _address(text):
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # 192.0.2.1:443
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def is_trusted_proxy(address, proxies=None):
    proxies = settings.ATLAS_TRUSTED_PROXIES if proxies is None else proxies
    if address is None or not proxies:
        return False
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address.version == net.version and address in net for net in proxies)


def forwarded_client(peer, forwarded_for, proxies=None):
    """The client's address for a request from `peer` carrying `forwarded_for`."""
    peer_address = _address(peer)
    if not is_trusted_proxy(peer_address, proxies):
        return peer
    hops = [hop for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            # Garbage where a trusted proxy should have written an address:
            # believe nothing further left.
            return peer
        if not is_trusted_proxy(address, proxies):
            return str(address)
    return str(_address(hops[0])) if hops else peer


def resolve_client(meta):
    """Rewrite a request's META in place: REMOTE_ADDR becomes the client's address.

    From a trusted proxy, REMOTE_ADDR is taken from X-Forwarded-For (the
    proxy's own address stays under `atlas.peer_address`); from anyone
    else, the forwarded headers are removed, so neither Django
    (X-Forwarded-Host, -Proto) nor this server ever reads a forged one.
    """
    peer = meta.get("REMOTE_ADDR", "")
    meta[PEER] = peer
    # Without trusted proxies (the default) no address needs parsing.
    if settings.ATLAS_TRUSTED_PROXIES and is_trusted_proxy(_address(peer)):
        meta["REMOTE_ADDR"] = forwarded_client(peer, meta.get("HTTP_X_FORWARDED_FOR", ""))
        return
    for name in FORWARDED_HEADERS:
        meta.pop(name, None)


def client_address(request):
    """The address of the client behind `request` (after TrustedProxyMiddleware)."""
    return request.META.get("REMOTE_ADDR") or "unknown"
