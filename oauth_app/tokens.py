"""Access tokens: JWTs signed with JWT_SECRET, verified locally, revocation checked through the cache.

PostgreSQL is the truth: an access token is active while django-oauth-toolkit's AccessToken row
(stored as a SHA-256 checksum only) exists, has not expired and its client is enabled. The shared
cache (Redis) holds an allow-list entry per active token, keyed by that checksum, so the /mcp hot
path costs one cache GET and no SQL. Revoking deletes the row and the entry; a cache miss, or Redis
being down, falls back to the database, so a Redis restart (which forgets everything) can never
resurrect a revoked token.

The JWT itself is verified with hmac (HS256, our fixed header, constant-time compare: ~20 µs instead of
PyJWT's ~70-160) and each worker memoizes the verified claims of the tokens it has seen (bounded, each
entry dropped at its token's exp), so a client's next request skips even that.
"""

import base64
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass

import jwt
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

logger = logging.getLogger(__name__)

JWT_ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["iss", "sub", "aud", "exp", "iat", "jti", "client_id"]
# Bounds how long an entry can outlive a revocation whose cache delete failed (Redis unreachable).
ACTIVE_TOKEN_CACHE_SECONDS = 300
ACTIVE = "1"
REVOKED = "0"


class InvalidToken(Exception):
    """The bearer token is not acceptable; the message says why (for logs, not for clients)."""


@dataclass(frozen=True)
class TokenIdentity:
    """Who a verified access token speaks for. Built from the claims alone: no database query."""

    subject: str
    username: str
    client_id: str
    scopes: frozenset[str]
    expires_at: int
    jti: str

    @property
    def is_authenticated(self) -> bool:  # lets DRF treat this as request.user
        return True


def token_checksum(raw_token: str) -> str:
    """The value django-oauth-toolkit stores for a token (it never stores the token itself)."""
    return hashlib.sha256(raw_token.encode()).hexdigest()


def active_token_cache_key(checksum: str) -> str:
    return f"at:{checksum}"


def generate_access_token(request, refresh_token=False) -> str:
    """django-oauth-toolkit ACCESS_TOKEN_GENERATOR: a JWT for the /mcp resource."""
    now = int(time.time())
    user = request.user
    claims = {
        "iss": settings.OAUTH_ISSUER,
        "sub": str(user.pk) if user is not None else request.client.client_id,
        "username": user.get_username() if user is not None else "",
        "aud": settings.MCP_RESOURCE,
        "client_id": request.client.client_id,
        "scope": " ".join(request.scopes or []),
        "jti": secrets.token_hex(16),
        "iat": now,
        "exp": now + settings.ACCESS_TOKEN_LIFETIME,
    }
    return jwt.encode(claims, settings.JWT_SECRET, algorithm=JWT_ALGORITHM)


# --- Verification: HS256 with hmac, and a per-worker memo of verified claims ----------------------------
# The only header we issue (PyJWT writes it with sorted keys and no spaces). Anything else — alg "none",
# RS256, a kid, extra fields — is refused before the signature is even computed.
JWT_HEADER = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
# Verified claims by (token, secret, issuer, audience), so a repeated token costs one dict lookup instead of
# the HMAC, base64 and JSON work. Bounded; an entry is dropped when its token expires. The revocation check
# is not memoized: it goes to Redis on every request.
VERIFIED_MAX_ENTRIES = 4096
# A token issued on one host and checked on another a moment later must not look issued in the future.
CLOCK_SKEW_SECONDS = 30
verified: dict[tuple[str, str, str, str], dict] = {}
# A gthread worker's threads share the memo. Single dict operations are atomic; eviction reads then writes,
# so one thread at a time does it (the others find room made, or make more).
evicting = threading.Lock()


def b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def integer_claim(claims: dict, name: str) -> int:
    value = claims[name]
    try:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError
        return int(value)
    except (TypeError, ValueError, OverflowError):  # also NaN and Infinity, which json.loads accepts
        raise InvalidToken(f"claim {name} must be a number") from None


def verify_jwt(raw_token: str, secret: str, issuer: str, audience: str, now: int) -> dict:
    """Signature (HS256, constant-time), then every claim PyJWT's decode checked for us."""
    header, dot, rest = raw_token.partition(".")
    payload, dot2, signature = rest.partition(".")
    if not (dot and dot2) or header != JWT_HEADER:
        raise InvalidToken("not an HS256 JWT of ours")
    expected = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(base64.urlsafe_b64encode(expected).rstrip(b"="), signature.encode()):
        raise InvalidToken("bad signature")
    try:
        claims = json.loads(b64url_decode(payload))
    except ValueError:
        raise InvalidToken("payload is not base64url JSON") from None
    if not isinstance(claims, dict):
        raise InvalidToken("payload is not a JSON object")
    missing = [name for name in REQUIRED_CLAIMS if name not in claims]
    if missing:
        raise InvalidToken(f"missing claims: {', '.join(missing)}")
    if integer_claim(claims, "exp") <= now:
        raise InvalidToken("expired")
    if integer_claim(claims, "iat") > now + CLOCK_SKEW_SECONDS or (
        "nbf" in claims and integer_claim(claims, "nbf") > now + CLOCK_SKEW_SECONDS
    ):
        raise InvalidToken("not yet valid")
    if claims["iss"] != issuer:
        raise InvalidToken("wrong issuer")
    aud = claims["aud"]
    if not (aud == audience or (isinstance(aud, list) and audience in aud)):
        raise InvalidToken("wrong audience")
    return claims


def decode_access_token(raw_token: str) -> dict:
    """The verified claims of an access token (signature, algorithm, issuer, audience, expiry), from this
    worker's memo when it verified the same token before. The caller must not modify them."""
    now = int(time.time())
    key = (raw_token, settings.JWT_SECRET, settings.OAUTH_ISSUER, settings.MCP_RESOURCE)
    claims = verified.get(key)
    if claims is not None:
        if claims["exp"] > now:
            return claims
        verified.pop(key, None)
        raise InvalidToken("expired")
    claims = verify_jwt(raw_token, *key[1:], now)
    claims["exp"] = int(claims["exp"])
    if len(verified) >= VERIFIED_MAX_ENTRIES:
        with evicting:
            if len(verified) >= VERIFIED_MAX_ENTRIES:
                forget_expired(now)
    verified[key] = claims
    return claims


def forget_expired(now: int) -> None:
    """Make room in the memo: drop expired entries, or all of them if none has expired."""
    expired = [key for key, claims in list(verified.items()) if claims["exp"] <= now]
    if not expired:
        verified.clear()
    for key in expired:
        verified.pop(key, None)


def is_active_in_database(checksum: str) -> bool:
    return (
        get_access_token_model()
        .objects.filter(token_checksum=checksum, expires__gt=timezone.now(), application__is_enabled=True)
        .exists()
    )


def is_active(checksum: str, expires_at: int) -> bool:
    """Is the token with this checksum still active? One cache GET when Redis is configured."""
    if not settings.CACHE_IS_SHARED:
        # A per-process cache cannot carry a revocation to the other workers: ask the database.
        return is_active_in_database(checksum)
    try:
        entry = cache.get(active_token_cache_key(checksum))
    except Exception:
        logger.warning("token cache unreachable; checking the database")
        return is_active_in_database(checksum)
    return is_active_given_entry(checksum, expires_at, entry, cache_reachable=True)


def is_active_given_entry(checksum: str, expires_at: int, entry, cache_reachable: bool) -> bool:
    """Decide from an allow-list entry the caller already read (possibly in a pipeline of its own).

    Only ACTIVE is trusted; a miss or a REVOKED marker is settled by the database.
    """
    if entry == ACTIVE:
        return True
    if not is_active_in_database(checksum):
        return False
    if cache_reachable:
        remember_active(checksum, expires_at)
    return True


def remember_active(checksum: str, expires_at: int) -> None:
    """Add the allow-list entry, unless one is there: a REVOKED marker written by a revocation that
    raced this request's database check must win, or the revoked token would be cached as active."""
    ttl = min(ACTIVE_TOKEN_CACHE_SECONDS, expires_at - int(time.time()))
    if ttl <= 0:
        return
    try:
        cache.add(active_token_cache_key(checksum), ACTIVE, timeout=ttl)
    except Exception:
        logger.warning("token cache unreachable; entry not cached")


def forget_active(checksums: list[str]) -> None:
    """Replace allow-list entries with REVOKED markers, so the next request with these tokens goes to
    the database and no concurrent request can put them back as active."""
    if not checksums or not settings.CACHE_IS_SHARED:
        return
    try:
        cache.set_many(
            {active_token_cache_key(checksum): REVOKED for checksum in checksums}, timeout=ACTIVE_TOKEN_CACHE_SECONDS
        )
    except Exception:
        logger.error(
            "token cache unreachable while revoking %d token(s); cached entries expire within %d s",
            len(checksums),
            ACTIVE_TOKEN_CACHE_SECONDS,
        )


def verify_access_token(raw_token: str) -> TokenIdentity:
    """The whole bearer check of the /mcp hot path: JWT verification, then the revocation state."""
    claims = decode_access_token(raw_token)
    if not is_active(token_checksum(raw_token), int(claims["exp"])):
        raise InvalidToken("token revoked, expired or its client disabled")
    return identity_from_claims(claims)


def identity_from_claims(claims: dict) -> TokenIdentity:
    return TokenIdentity(
        subject=str(claims["sub"]),
        username=str(claims.get("username", "")),
        client_id=str(claims["client_id"]),
        scopes=frozenset(str(claims.get("scope", "")).split()),
        expires_at=int(claims["exp"]),
        jti=str(claims["jti"]),
    )

