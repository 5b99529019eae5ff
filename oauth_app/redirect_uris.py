"""Which redirect URIs this server ever sends a user to: one rule, applied at registration
(oauth_app.policies) and again at authorization (Client.redirect_uri_allowed), so a URI that one
refuses the other cannot accept.

django-oauth-toolkit 3.4.1 accepts any `http` redirect URI and compares the rest as strings. A redirect
URI here is an ASCII URI (RFC 3986) that may be:
- https (no wildcard, no fragment, no user info) on a well-formed host name or IP address;
- http on a loopback host (127.0.0.0/8, [::1], localhost), any port: RFC 8252 section 7.3;
- a private-use scheme listed in settings.OAUTH_ALLOWED_REDIRECT_SCHEMES (`cursor://…`), RFC 8252 7.1.
Non-ASCII (an internationalised host, bidi overrides), whitespace, control characters and backslashes
are refused: a browser or a person reads such a URI differently from the string compared here.
"""

import ipaddress
import re
from urllib.parse import urlsplit

from django.conf import settings
from oauthlib.uri_validate import is_absolute_uri

MAX_URI_LENGTH = 2048
LOOPBACK_NAMES = {"localhost"}
DNS_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def is_loopback_host(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_private_schemes() -> set[str]:
    return {scheme.lower() for scheme in settings.OAUTH_ALLOWED_REDIRECT_SCHEMES}


def host_problem(netloc: str, hostname: str | None) -> str | None:
    """Why the authority's host is not a plain DNS name or IP literal (None when it is)."""
    if not hostname:
        return "must name a host"
    if "[" in netloc:
        try:
            address = ipaddress.ip_address(hostname)
        except ValueError:
            return "the bracketed host is not an IPv6 address"
        if address.version != 6:
            return "the bracketed host is not an IPv6 address"
        return "an IPv6 zone is not allowed" if "%" in hostname else None
    if re.fullmatch(r"[0-9.]+", hostname):
        try:
            ipaddress.IPv4Address(hostname)
        except ValueError:
            return "the host is not a valid IPv4 address"
        return None
    labels = hostname.split(".")
    if len(hostname) > 253 or not all(DNS_LABEL.match(label) for label in labels):
        return "the host must be a DNS name (letters, digits, hyphens; an IDN in its xn-- form) or an IP address"
    return None


def redirect_uri_problem(uri) -> str | None:
    """Why this redirect URI is refused, or None when it is acceptable."""
    if not isinstance(uri, str) or not uri:
        return "each redirect URI must be a non-empty string"
    if len(uri) > MAX_URI_LENGTH:
        return f"longer than {MAX_URI_LENGTH} characters"
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in uri):
        return "contains whitespace or control characters"
    if not uri.isascii():
        return ("contains non-ASCII characters (bidi or invisible characters, an internationalised host): "
                "use the host's xn-- form and percent-encode the rest (RFC 3986)")
    if "\\" in uri:
        return "contains a backslash, which browsers read as a slash"
    if "*" in uri:
        return "wildcards are not allowed; register each URI exactly"
    if "#" in uri:
        return "a redirect URI must not contain a fragment (RFC 6749 section 3.1.2)"
    if not is_absolute_uri(uri):  # oauthlib refuses these at the authorization endpoint
        return "not an absolute URI in RFC 3986 syntax (a stray %, brackets outside an IPv6 host, no scheme…)"
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - an out-of-range or non-numeric port raises ValueError here
    except ValueError:
        return "not a valid URI"
    scheme = parts.scheme.lower()
    if not scheme:
        return "must be an absolute URI"
    if "@" in parts.netloc:
        return "must not contain user information"
    if scheme in ("http", "https"):
        problem = host_problem(parts.netloc, parts.hostname)
        if problem:
            return problem
        if scheme == "http" and not is_loopback_host(parts.hostname):
            return "http is allowed only for loopback hosts (127.0.0.1, [::1], localhost); use https"
        return None
    if scheme in allowed_private_schemes():
        if not (parts.netloc or parts.path.strip("/")):
            return f"a {scheme}: URI must name a host or a path"
        return host_problem(parts.netloc, parts.hostname) if parts.netloc else None
    allowed = ", ".join(sorted(allowed_private_schemes())) or "none"
    return f"scheme {scheme!r} is not allowed (https, loopback http, or a private-use scheme: {allowed})"
