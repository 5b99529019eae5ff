"""private_key_jwt client authentication (RFC 7523 section 2.2 and 3, OpenID Connect Core section 9).

A client registered with `token_endpoint_auth_method: private_key_jwt` and its public keys (`jwks`, or a
`jwks_uri` we fetch) authenticates at the token, revocation and introspection endpoints with a JWT it signs:
`iss` = `sub` = its client_id, `aud` = our issuer or our token endpoint, `exp` at most
MAX_ASSERTION_LIFETIME_SECONDS away, and a `jti` used once (kept in the database until the assertion
expires, so a replay is refused on every host). A `jwks_uri` is fetched with django-oauth-toolkit's
SSRF-hardened fetcher (https only, public addresses only, no redirects, timeout and size limit, as for CIMD
documents) and cached per its Cache-Control, within CIMD_METADATA_MIN/MAX_AGE_SECONDS; an unknown kid
fetches it again, at most once per REFETCH_SECONDS.
"""

import hashlib
import json
import time
from datetime import datetime, timezone as dt_timezone

import jwt
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string
from oauth2_provider.cimd import CIMDError

from oauth_app import capabilities, dot_seam
from oauth_app.dot_seam import MetadataFetcherSeam
from oauth_app.models import Client, TokenEndpointAuthMethod, UsedClientAssertion

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SIGNING_ALGORITHMS = capabilities.CLIENT_ASSERTION_SIGNING_ALGORITHMS
MAX_ASSERTION_LIFETIME_SECONDS = 300
CLOCK_SKEW_SECONDS = 30
REFETCH_SECONDS = 60
MAX_KEYS = 20
MIN_RSA_BITS = 2048
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


class AssertionRefused(Exception):
    """The client assertion does not authenticate anyone; the message says why (for the audit log)."""


# --- Registered keys -------------------------------------------------------------------------------
def checked_jwks(jwks) -> dict:
    """A JWK Set of public signing keys we can verify with; ValueError says what is wrong."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise ValueError("jwks must be an object with a non-empty keys array")
    if len(jwks["keys"]) > MAX_KEYS:
        raise ValueError(f"jwks may hold at most {MAX_KEYS} keys")
    for jwk in jwks["keys"]:
        if not isinstance(jwk, dict) or PRIVATE_MEMBERS & set(jwk):
            raise ValueError("jwks must hold public keys only (no private or symmetric members)")
        try:
            key = jwt.PyJWK(jwk)
        except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"jwks holds a key that cannot be read: {exc}") from None
        if key.key_type not in ("EC", "RSA") or (key.key_type == "EC" and jwk.get("crv") != "P-256"):
            raise ValueError("jwks keys must be EC P-256 (ES256) or RSA (RS256)")
        if key.key_type == "RSA" and key.key.key_size < MIN_RSA_BITS:
            raise ValueError(f"RSA keys must have at least {MIN_RSA_BITS} bits")
    return {"keys": jwks["keys"]}


def registered_key_source(data: dict, auth_method: str) -> dict:
    """The `jwks` or `jwks_uri` of RFC 7591 metadata, required for private_key_jwt (one of them, not both:
    section 2). ValueError says what is wrong."""
    jwks, jwks_uri = data.get("jwks"), data.get("jwks_uri")
    if auth_method != TokenEndpointAuthMethod.PRIVATE_KEY_JWT:
        return {}  # keys we would never use are not kept (RFC 7591 section 2 lets us ignore them)
    if (jwks is None) == (jwks_uri is None):
        raise ValueError("private_key_jwt needs exactly one of jwks or jwks_uri")
    if jwks is not None:
        return {"jwks": checked_jwks(jwks)}
    if not isinstance(jwks_uri, str) or not jwks_uri.startswith("https://") or len(jwks_uri) > 2048:
        raise ValueError("jwks_uri must be an https URL")
    return {"jwks_uri": jwks_uri}


def cimd_application_kwargs(metadata: dict) -> dict:
    """A CIMD document's Application fields, as django-oauth-toolkit builds them, with private_key_jwt and
    its jwks or jwks_uri accepted (DOT 3.4 accepts `none` only); every other method is still refused."""
    method = metadata.get("token_endpoint_auth_method", TokenEndpointAuthMethod.NONE)
    if method != TokenEndpointAuthMethod.PRIVATE_KEY_JWT:
        return {**dot_seam.cimd_application_kwargs(metadata), "token_endpoint_auth_method": method}  # none
    try:
        source = registered_key_source(metadata, method)
    except ValueError as exc:
        raise CIMDError(str(exc)) from None
    fields = dot_seam.cimd_application_kwargs({**metadata, "token_endpoint_auth_method": "none"})
    return {**fields, "client_type": Client.CLIENT_CONFIDENTIAL, "token_endpoint_auth_method": method,
            "registration_metadata": source}


class JwksFetcher(MetadataFetcherSeam):
    """django-oauth-toolkit's SSRF-hardened fetcher, reading a JWK Set instead of a client document."""

    def read_document(self, response):
        document, max_age = super().read_document(response)
        try:
            return checked_jwks(document), max_age
        except ValueError as exc:
            raise CIMDError(str(exc)) from None


def jwks_cache_key(uri: str) -> str:
    return f"client-jwks:{hashlib.sha256(uri.encode()).hexdigest()}"


def fetched_jwks(uri: str, refetch: bool = False) -> dict:
    """The key set at `uri`, from the cache while its Cache-Control allows."""
    cached = cache.get(jwks_cache_key(uri))
    if cached is not None and not (refetch and time.time() - cached["fetched_at"] > REFETCH_SECONDS):
        return cached["jwks"]
    try:
        jwks, max_age = import_string(settings.CLIENT_JWKS_FETCHER)().fetch(uri)
    except CIMDError as exc:
        if cached is not None:
            return cached["jwks"]
        raise AssertionRefused(f"jwks_uri could not be fetched: {exc}") from None
    cache.set(jwks_cache_key(uri), {"jwks": jwks, "fetched_at": time.time()}, timeout=max_age)
    return jwks


def candidate_keys(client, kid, algorithm: str, refetch: bool = False) -> list:
    """The client's registered keys that could have signed: the kid's, or every key of the algorithm's type."""
    metadata = client.registration_metadata or {}
    if metadata.get("jwks"):
        jwks = metadata["jwks"]
    elif metadata.get("jwks_uri"):
        jwks = fetched_jwks(metadata["jwks_uri"], refetch)
    else:
        raise AssertionRefused("the client registered no keys")
    key_type = "EC" if algorithm == "ES256" else "RSA"
    return [jwt.PyJWK(jwk, algorithm=algorithm) for jwk in jwks["keys"]
            if jwk.get("kty") == key_type and (kid is None or jwk.get("kid") == kid)
            and jwk.get("alg", algorithm) == algorithm and jwk.get("use", "sig") == "sig"]


# --- Verification ----------------------------------------------------------------------------------
def audiences() -> list[str]:
    return [settings.OAUTH_ISSUER, settings.OAUTH_ISSUER + reverse("oauth-token")]


def has_assertion(request) -> bool:
    return getattr(request, "client_assertion", None) is not None or \
        getattr(request, "client_assertion_type", None) is not None


def authenticate(request, load_client):
    """The client the request's assertion authenticates (`load_client(client_id, request)` finds it, CIMD
    documents included). Raises AssertionRefused."""
    assertion = getattr(request, "client_assertion", None)
    assertion_type = getattr(request, "client_assertion_type", None)
    if assertion_type != JWT_BEARER or not isinstance(assertion, str) or not assertion:
        raise AssertionRefused(f"client_assertion_type must be {JWT_BEARER} with a client_assertion")
    try:
        header = jwt.get_unverified_header(assertion)
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise AssertionRefused("client_assertion is not a JWT") from None
    algorithm, client_id = header.get("alg"), unverified.get("sub")
    if algorithm not in SIGNING_ALGORITHMS:
        raise AssertionRefused(f"client_assertion must be signed with {' or '.join(SIGNING_ALGORITHMS)}")
    if not isinstance(client_id, str) or unverified.get("iss") != client_id:
        raise AssertionRefused("client_assertion iss and sub must both be the client_id")
    if getattr(request, "client_id", None) not in (None, client_id):
        raise AssertionRefused("client_id does not match the client_assertion")
    client = load_client(client_id, request)
    if client is None:
        raise AssertionRefused("unknown or disabled client")
    if client.token_endpoint_auth_method != TokenEndpointAuthMethod.PRIVATE_KEY_JWT:
        raise AssertionRefused(f"client registered {client.token_endpoint_auth_method}, used private_key_jwt")
    claims = verified_claims(assertion, client, header.get("kid"), algorithm)
    spend_jti(client_id, claims)
    return client


def verified_claims(assertion: str, client, kid, algorithm: str) -> dict:
    keys = candidate_keys(client, kid, algorithm)
    if not keys and kid is not None:
        keys = candidate_keys(client, kid, algorithm, refetch=True)  # the client may have rotated its keys
    for key in keys:
        try:
            claims = jwt.decode(assertion, key, algorithms=[algorithm], audience=audiences(),
                                leeway=CLOCK_SKEW_SECONDS, options={"require": ["iss", "sub", "aud", "exp", "jti"]})
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError as exc:
            raise AssertionRefused(f"client_assertion refused: {exc}") from None
        if claims["exp"] > time.time() + MAX_ASSERTION_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS:
            raise AssertionRefused(f"client_assertion exp is more than {MAX_ASSERTION_LIFETIME_SECONDS} s away")
        if not isinstance(claims["jti"], str) or not claims["jti"]:
            raise AssertionRefused("client_assertion jti must be a non-empty string")
        return claims
    raise AssertionRefused("client_assertion is not signed by a registered key")


def spend_jti(client_id: str, claims: dict) -> None:
    """Record the jti until the assertion expires; a second use is a replay (the unique index decides)."""
    now = timezone.now()
    digest = hashlib.sha256(json.dumps([client_id, claims["jti"]]).encode()).hexdigest()
    expires_at = datetime.fromtimestamp(int(claims["exp"]) + CLOCK_SKEW_SECONDS, tz=dt_timezone.utc)
    UsedClientAssertion.objects.filter(expires_at__lte=now).delete()
    try:
        with transaction.atomic():
            UsedClientAssertion.objects.create(digest=digest, expires_at=expires_at)
    except IntegrityError:
        raise AssertionRefused("client_assertion jti already used (replay)") from None
