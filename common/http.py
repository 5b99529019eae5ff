"""What a request says about its caller: the address (X-Forwarded-For believed only from TRUSTED_PROXIES),
the group of addresses per-address limits count it in, and the bearer token of its Authorization header."""

import functools
import ipaddress

from django.conf import settings


@functools.lru_cache(maxsize=8)
def trusted_networks(proxies: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def parse_address(value: str):
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def is_trusted_proxy(address) -> bool:
    return any(address in network for network in trusted_networks(tuple(settings.TRUSTED_PROXIES)))


def client_address(request) -> str | None:
    """The caller's address: REMOTE_ADDR, or, when that is a trusted proxy, the address the proxies saw.

    X-Forwarded-For is read from the right (the nearest proxy's entry) past every trusted proxy; entries
    further left were written by the client and could be anything.
    """
    if request is None:
        return None
    if getattr(request, "client_address", None):
        return request.client_address
    remote = parse_address(request.META.get("REMOTE_ADDR", ""))
    if remote is None:
        return None
    address = remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded and is_trusted_proxy(remote):
        for entry in reversed(forwarded.split(",")):
            hop = parse_address(entry)
            if hop is None:
                break  # garbage: stop at the last address we could trust
            address = hop
            if not is_trusted_proxy(hop):
                break
    request.client_address = str(address)
    return request.client_address


def address_group(request) -> str:
    """What per-address limits count: an IPv4 address, or the /64 of an IPv6 address.

    One IPv6 subscriber (a home, a VM) is routinely handed a whole /64 and can pick any address in it, so
    counting single IPv6 addresses would give each caller 2**64 budgets.
    """
    address = client_address(request)
    parsed = parse_address(address) if address else None
    if parsed is None:
        return "-"
    if parsed.version == 4:
        return str(parsed)
    if parsed.ipv4_mapped:  # an IPv4 client seen through a dual-stack socket
        return str(parsed.ipv4_mapped)
    return str(ipaddress.IPv6Network((parsed, 64), strict=False))


def bearer_token(request) -> str | None:
    """The token of `Authorization: Bearer <token>` ("" if empty), None when no bearer credentials were sent."""
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None
