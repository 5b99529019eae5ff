"""Access tokens: JWTs signed with JWT_SECRET (HS256) or a signing key (ES256/RS256, oauth_app.keys),
verified locally, revocation checked through the cache.

PostgreSQL is the truth: an access token is active while django-oauth-toolkit's AccessToken row
(stored as a SHA-256 checksum only) exists, has not expired and its client is enabled. The shared
cache (Redis) holds an allow-list entry per active token, keyed by that checksum, so the /mcp hot
path costs one cache GET and no SQL. Revoking deletes the row and the entry; a cache miss, or Redis
being down, falls back to the database, so a Redis restart (which forgets everything) can never
resurrect a revoked token.

The JWT itself is verified with hmac (HS256, our fixed header, constant-time compare: ~20 µs instead of
PyJWT's ~70-160) and each worker memoizes the verified claims of the tokens it has seen (bounded, each
entry dropped at its token's exp), so a client's next request skips even that. With JWT_ALGORITHM ES256 or
RS256, tokens follow RFC 9068 (header typ at+jwt and the signing key's kid) and are verified with the worker's
key set; HS256 tokens signed before the switch keep working until they expire (or JWT_SECRET changes).
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

from oauth_app import keys

logger = logging.getLogger(__name__)

JWT_ALGORITHM = keys.HS256
ACCESS_TOKEN_TYPE = "at+jwt"  # RFC 9068 section 2.1
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
    has_user: bool = True  # False for client_credentials: the subject is the client itself (RFC 9068 section 2.2)

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
    if keys.is_asymmetric():
        return keys.sign(claims)
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
verified: dict[tuple, dict] = {}
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


def verify_jwt(raw_token: str, secret: str, issuer: str, audience: str, now: int, key_set=None) -> dict:
    """Signature (HS256 constant-time, or ES256/RS256 with `key_set`), then every claim PyJWT's decode checked."""
    header, dot, rest = raw_token.partition(".")
    payload, dot2, signature = rest.partition(".")
    if not (dot and dot2):
        raise InvalidToken("not a JWT")
    if header != JWT_HEADER:
        if key_set is None:
            raise InvalidToken("not an HS256 JWT of ours")
        verify_asymmetric_signature(header, payload, signature, key_set)
    else:
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


def verify_asymmetric_signature(header: str, payload: str, signature: str, key_set) -> None:
    """An RFC 9068 header naming one of our unretired keys with that key's algorithm, and its signature."""
    try:
        fields = json.loads(b64url_decode(header))
        algorithm, kid = fields["alg"], fields["kid"]
        signature_bytes = b64url_decode(signature)
    except (ValueError, TypeError, KeyError):
        raise InvalidToken("malformed JOSE header") from None
    if fields.get("typ") != ACCESS_TOKEN_TYPE or set(fields) != {"alg", "kid", "typ"}:
        raise InvalidToken("not an at+jwt header of ours")
    expected_algorithm, public_key = key_set.verifiers.get(kid, (None, None))
    if public_key is None or algorithm != expected_algorithm:  # unknown, retired, or an algorithm swap
        raise InvalidToken("unknown or retired signing key")
    if not keys.ALGORITHMS[algorithm].verify(f"{header}.{payload}".encode(), public_key, signature_bytes):
        raise InvalidToken("bad signature")


def decode_access_token(raw_token: str) -> dict:
    """The verified claims of an access token (signature, algorithm, issuer, audience, expiry), from this
    worker's memo when it verified the same token before. The caller must not modify them."""
    now = int(time.time())
    key_set = keys.key_set() if keys.is_asymmetric() else None
    # The key set is part of the memo key: a reloaded set (a key retired) verifies every token again.
    key = (raw_token, settings.JWT_SECRET, settings.OAUTH_ISSUER, settings.MCP_RESOURCE,
           key_set.loaded_at if key_set else None)
    claims = verified.get(key)
    if claims is not None:
        if claims["exp"] > now:
            return claims
        verified.pop(key, None)
        raise InvalidToken("expired")
    claims = verify_jwt(raw_token, *key[1:4], now, key_set)
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
    """The whole bearer check: JWT verification, then the revocation state (and the key set's version) in
    one cache round trip."""
    try:
        claims = decode_access_token(raw_token)
    except InvalidToken:
        if not key_set_gets():
            raise
        claims = None  # perhaps signed by a key this worker has not loaded yet: the version says
    gets = round_trip_gets(raw_token, claims)
    values, reachable = [None] * len(gets), False
    if settings.CACHE_IS_SHARED:
        try:
            found = cache.get_many(gets)
            values, reachable = [found.get(key) for key in gets], True
        except Exception:
            logger.warning("token cache unreachable; checking the database")
    identity = identity_given(raw_token, claims, values, cache_reachable=reachable)
    if identity is None:
        raise InvalidToken("token revoked, expired, its client disabled or its signing key retired")
    return identity


def key_set_gets() -> list[str]:
    """What the bearer check reads from the cache besides the allow-list entry: the key set's version,
    when tokens are signed with keys that can be retired (oauth_app.keys)."""
    return [keys.VERSION_KEY] if keys.is_asymmetric() and settings.CACHE_IS_SHARED else []


def round_trip_gets(raw_token: str, claims: dict | None) -> list[str]:
    """The cache keys of a bearer check's one round trip: the allow-list entry (for verified claims),
    then key_set_gets()."""
    return ([active_token_cache_key(token_checksum(raw_token))] if claims is not None else []) + key_set_gets()


def identity_given(raw_token: str, claims: dict | None, values: list, cache_reachable: bool) -> TokenIdentity | None:
    """Finish a bearer check from what its round trip read (the values of round_trip_gets): a changed key
    set is reloaded and the token verified again; then the allow-list entry decides, or the database."""
    entry = values[0] if claims is not None and values else None
    if key_set_gets() and cache_reachable and keys.observe(values[-1]):
        try:
            claims = decode_access_token(raw_token)
        except InvalidToken:
            return None
    if claims is None:
        return None
    if not is_active_given_entry(token_checksum(raw_token), int(claims["exp"]), entry, cache_reachable):
        return None
    return identity_from_claims(claims)


def identity_from_claims(claims: dict) -> TokenIdentity:
    return TokenIdentity(
        subject=str(claims["sub"]),
        username=str(claims.get("username", "")),
        client_id=str(claims["client_id"]),
        scopes=frozenset(str(claims.get("scope", "")).split()),
        expires_at=int(claims["exp"]),
        jti=str(claims["jti"]),
        has_user=str(claims["sub"]) != str(claims["client_id"]),
    )

