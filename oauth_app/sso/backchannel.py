"""OpenID Connect Back-Channel Logout 1.0: the IdP tells us a person signed out; their tokens end at once.

The logout token is validated as section 2.6 asks: signed by a key of the IdP's JWKS (fetched again for an
unknown key id), our client id in aud, the IdP as iss, a recent iat, the back-channel logout event, sub
and/or sid, no nonce, and a jti not seen before (kept in the shared cache, so a replay to another worker
or host is refused too).
"""

import hashlib
import logging
import time

import requests
from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from common.storable import storable_text, text_problem
from oauth_app.models import IdpIdentity
from oauth_app.sso.client import SignInError, metadata, provider
from oauth_app.accounts import revoke_user_tokens

logger = logging.getLogger(__name__)

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
# Logout tokens are short-lived: one older than this is refused, so its jti need not be kept longer.
MAX_TOKEN_AGE_SECONDS = 300
CLOCK_SKEW_SECONDS = 30
# Asymmetric algorithms only: the JWKS holds public keys, and "none" or an HMAC over them proves nothing.
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]


class InvalidLogoutToken(Exception):
    """The logout token is not acceptable; the message says why (it becomes the error_description)."""


# Anyone can post a logout token naming an unknown key id: fetch the JWKS again at most this often per worker,
# so such posts cannot make us hammer the IdP.
JWKS_REFETCH_SECONDS = 30
last_refetch = {"at": 0.0}


def decode(raw: str):
    app = provider()
    try:
        try:
            return jwt.decode(raw, KeySet.import_key_set(app.fetch_jwk_set()), algorithms=ALGORITHMS)
        except InvalidKeyIdError:  # the IdP may have rotated its keys
            if time.monotonic() - last_refetch["at"] < JWKS_REFETCH_SECONDS:
                raise
            last_refetch["at"] = time.monotonic()
            return jwt.decode(raw, KeySet.import_key_set(app.fetch_jwk_set(force=True)), algorithms=ALGORITHMS)
    except (JoseError, ValueError) as exc:
        raise InvalidLogoutToken(f"signature or format: {exc}") from None
    except requests.RequestException as exc:
        raise InvalidLogoutToken(f"provider keys unavailable: {exc}") from None


def validated_claims(raw: str) -> dict:
    try:
        issuer = metadata()["issuer"]
    except SignInError as exc:
        raise InvalidLogoutToken(f"provider unavailable: {exc.detail}") from None
    token = decode(raw)
    claims = token.claims
    registry = JWTClaimsRegistry(
        leeway=CLOCK_SKEW_SECONDS,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": settings.OIDC_CLIENT_ID},
        iat={"essential": True},
        jti={"essential": True},
    )
    try:
        registry.validate(claims)
    except JoseError as exc:
        raise InvalidLogoutToken(f"claims: {exc}") from None
    now = time.time()
    if not isinstance(claims["iat"], (int, float)) or claims["iat"] < now - MAX_TOKEN_AGE_SECONDS:
        raise InvalidLogoutToken("iat is too old")
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(LOGOUT_EVENT), dict):
        raise InvalidLogoutToken("events claim lacks the back-channel logout event")
    if "nonce" in claims:
        raise InvalidLogoutToken("a logout token must not carry a nonce")
    if not (isinstance(claims.get("sub"), str) and claims["sub"]) and not (
        isinstance(claims.get("sid"), str) and claims["sid"]
    ):
        raise InvalidLogoutToken("neither sub nor sid")
    return claims


def remember_jti(issuer: str, jti: str) -> bool:
    """True the first time this jti is seen (atomic: of two concurrent deliveries one wins)."""
    key = "oidc-logout-jti:" + hashlib.sha256(f"{issuer}\n{jti}".encode()).hexdigest()
    return cache.add(key, "1", timeout=MAX_TOKEN_AGE_SECONDS + 2 * CLOCK_SKEW_SECONDS)


def logout(raw: str) -> int:
    """Validate a logout token and revoke the tokens of the person it names; how many identities matched."""
    claims = validated_claims(raw)
    if not remember_jti(claims["iss"], str(claims["jti"])):
        raise InvalidLogoutToken("jti already used (replay)")
    # The person (sub) when named, else whoever signed in with that IdP session (sid): all their tokens end.
    # PostgreSQL cannot be asked for a NUL: a sub holding one was refused at sign-in (nobody here has it),
    # a sid holding one was stored with U+FFFD in its place.
    if claims.get("sub"):
        who = Q(pk__in=[]) if text_problem(claims["sub"]) else Q(subject=claims["sub"])
    else:
        who = Q(sid=storable_text(claims["sid"]))
    identities = list(IdpIdentity.objects.select_related("user").filter(who, issuer=claims["iss"]))
    for identity in identities:
        revoke_user_tokens(user=identity.user)
        identity.signed_out_at = timezone.now()
        identity.save(update_fields=["signed_out_at"])
        logger.info("back-channel logout of %s at %s: tokens revoked", identity.subject, identity.issuer)
    return len(identities)
