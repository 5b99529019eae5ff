"""Signing keys for access tokens when JWT_ALGORITHM is ES256 or RS256: created, rotated, retired, published.

Private keys are stored encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under a key derived (HKDF-SHA256)
from JWT_KEY_ENCRYPTION_KEY, or from SECRET_KEY when that is empty: a database dump alone yields no signing
key, and changing that secret makes the stored keys unreadable (rotate then, see docs/keys.md). They are
decrypted in memory only, never printed or logged.

Each worker holds the key set (public keys by kid, the active private key) in memory, tagged with the
version it was loaded at. The version lives in the shared cache (VERSION_KEY); each rotation and
retirement writes a new one after its database commit. The /mcp hot path reads it in the same Redis
pipeline as the token's allow-list entry (mcp_app.authentication) and reloads the set — one query — only when
it changed, so a retired key's tokens are refused on the next request on every worker and host. Should
that cache write fail (Redis down), every worker still reloads within MAX_AGE_SECONDS.
"""

import base64
import hashlib
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

import jwt
from cryptography.fernet import Fernet, InvalidToken as UndecryptableKey
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from oauth_app.models import SigningKey

logger = logging.getLogger(__name__)

HS256, ES256, RS256 = "HS256", "ES256", "RS256"
ASYMMETRIC = (ES256, RS256)
ALGORITHMS = {ES256: ECAlgorithm(ECAlgorithm.SHA256), RS256: RSAAlgorithm(RSAAlgorithm.SHA256)}
RSA_KEY_BITS = 3072  # NIST SP 800-57: 128-bit security, like P-256
VERSION_KEY = "jwks:version"
# Bounds how long a worker can miss a version written while Redis was unreachable.
MAX_AGE_SECONDS = 300
UNSHARED_MAX_AGE_SECONDS = 5  # no shared cache to carry the version: re-read the keys often


class SigningKeyError(Exception):
    """A key operation that cannot be done (unknown kid, retiring the signing key…); the message says why."""


def is_asymmetric() -> bool:
    return settings.JWT_ALGORITHM in ASYMMETRIC


# --- Encryption at rest --------------------------------------------------------------------------
def key_cipher() -> Fernet:
    secret = (settings.JWT_KEY_ENCRYPTION_KEY or settings.SECRET_KEY).encode()
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"oauth_app signing keys").derive(secret)
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt_private_key(private_key) -> str:
    pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    return key_cipher().encrypt(pem).decode()


def decrypt_private_key(stored: str):
    try:
        pem = key_cipher().decrypt(stored.encode())
    except UndecryptableKey:
        raise SigningKeyError(
            "a signing key cannot be decrypted: JWT_KEY_ENCRYPTION_KEY (or SECRET_KEY) changed") from None
    return serialization.load_pem_private_key(pem, password=None)


# --- Keys ----------------------------------------------------------------------------------------
def thumbprint(jwk: dict) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url): our kid."""
    members = ("crv", "kty", "x", "y") if jwk["kty"] == "EC" else ("e", "kty", "n")
    canonical = json.dumps({name: jwk[name] for name in members}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def new_private_key(algorithm: str):
    if algorithm == ES256:
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)


def public_jwk_of(private_key, algorithm: str) -> dict:
    jwk = ALGORITHMS[algorithm].to_jwk(private_key.public_key(), as_dict=True)
    jwk = {name: value for name, value in jwk.items() if name in ("kty", "crv", "x", "y", "n", "e")}
    return {**jwk, "kid": thumbprint(jwk), "alg": algorithm, "use": "sig"}


def bump_version() -> None:
    """Tell every worker to reload the key set."""
    global current_set
    current_set = None  # this process: at once, shared cache or not
    try:
        cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:
        logger.error("cache unreachable: workers pick up the signing key change within %d s", MAX_AGE_SECONDS)


def changed() -> None:
    """A key was added or retired: bump the version now (this process, and whoever shares the transaction)
    and again once committed, so a worker that reloaded in between reloads the committed keys."""
    bump_version()
    transaction.on_commit(bump_version)


def rotate(algorithm: str | None = None) -> SigningKey:
    """A new active key; the previous one stops signing but keeps verifying until retired."""
    algorithm = algorithm or (settings.JWT_ALGORITHM if is_asymmetric() else ES256)
    if algorithm not in ASYMMETRIC:
        raise SigningKeyError(f"unsupported algorithm {algorithm!r}; use {' or '.join(ASYMMETRIC)}")
    private_key = new_private_key(algorithm)
    jwk = public_jwk_of(private_key, algorithm)
    with transaction.atomic():
        SigningKey.objects.select_for_update().filter(active=True).update(active=False, rotated_at=timezone.now())
        key = SigningKey.objects.create(kid=jwk["kid"], algorithm=algorithm, public_jwk=jwk, active=True,
                                        private_key_encrypted=encrypt_private_key(private_key))
    changed()
    return key


def retire(kid: str) -> SigningKey:
    """Remove a key from the JWKS; the tokens it signed are refused from the next request on."""
    key = SigningKey.objects.filter(kid=kid).first()
    if key is None:
        raise SigningKeyError(f"no signing key {kid!r}")
    if key.active:
        raise SigningKeyError(
            f"{kid} signs new tokens: run rotate_signing_key first, wait a token lifetime, then retire it")
    if key.retired_at is None:
        key.retired_at = timezone.now()
        key.save(update_fields=["retired_at"])
    changed()
    return key


def ensure_signing_key() -> None:
    """The first key, created on first use when the operator has not run rotate_signing_key yet."""
    if SigningKey.objects.filter(active=True).exists():
        return
    try:
        with transaction.atomic():
            rotate()
    except IntegrityError:  # another worker created it at the same moment: one active key, theirs
        pass


# --- The per-worker key set -----------------------------------------------------------------------
@dataclass(frozen=True)
class KeySet:
    version: str | None  # the VERSION_KEY value it was loaded at
    loaded_at: float
    verifiers: dict = field(default_factory=dict)  # kid -> (algorithm, public key)
    signer: tuple | None = None  # (kid, algorithm, private key) of the active key
    jwks: dict = field(default_factory=lambda: {"keys": []})


current_set: KeySet | None = None
loading = threading.Lock()


def read_version() -> str | None:
    if not settings.CACHE_IS_SHARED:
        return None
    try:
        return cache.get(VERSION_KEY)
    except Exception:
        return None


def load(version: str | None) -> KeySet:
    """Read the unretired keys (one query) and make them this worker's key set."""
    global current_set
    verifiers, signer, published = {}, None, []
    for key in SigningKey.objects.filter(retired_at__isnull=True).order_by("-created_at"):
        verifiers[key.kid] = (key.algorithm, ALGORITHMS[key.algorithm].from_jwk(key.public_jwk))
        published.append(key.public_jwk)
        if key.active:
            signer = (key.kid, key.algorithm, decrypt_private_key(key.private_key_encrypted))
    current_set = KeySet(version, time.monotonic(), verifiers, signer, {"keys": published})
    return current_set


def max_age() -> int:
    return MAX_AGE_SECONDS if settings.CACHE_IS_SHARED else UNSHARED_MAX_AGE_SECONDS


def key_set() -> KeySet:
    """This worker's key set; loaded on first use and when older than max_age() (no Redis round trip else)."""
    loaded = current_set
    if loaded is None or time.monotonic() - loaded.loaded_at > max_age():
        with loading:
            loaded = current_set
            if loaded is None or time.monotonic() - loaded.loaded_at > max_age():
                loaded = load(read_version())
    return loaded


def observe(version: str | None) -> bool:
    """Given the VERSION_KEY value a request read: reload when it changed. True when it did."""
    if version == key_set().version:
        return False
    with loading:
        if current_set is not None and current_set.version == version:
            return True  # another thread reloaded for this version already
        load(version)
    return True


def synced_key_set() -> KeySet:
    """The key set, checked against the shared version first (one cache GET): for the token endpoint,
    introspection and the JWKS, which are not on the hot path."""
    if settings.CACHE_IS_SHARED:
        observe(read_version())
    return key_set()


def sign(claims: dict) -> str:
    """An RFC 9068 access token signed with the active key (the first one is created when there is none)."""
    keys = synced_key_set()
    if keys.signer is None:
        ensure_signing_key()
        keys = load(read_version())
    kid, algorithm, private_key = keys.signer
    return jwt.encode(claims, private_key, algorithm=algorithm, headers={"kid": kid, "typ": "at+jwt"})


def public_jwks() -> dict:
    return synced_key_set().jwks
