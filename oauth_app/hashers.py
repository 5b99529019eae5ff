"""A hasher for machine-generated secrets (client secrets, initial access tokens).

These are 256-bit random values, so a brute-force search is hopeless whatever the hash costs:
PBKDF2's deliberate slowness (about 0.7 s of CPU per check on a 2-core machine) would only
slow down every token request. A salted HMAC-SHA256 is enough and costs microseconds.
Never use it for passwords people choose; PASSWORD_HASHERS lists it after PBKDF2.
"""

import hashlib
import hmac

from django.contrib.auth.hashers import BasePasswordHasher, mask_hash
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_noop as _


class MachineSecretHasher(BasePasswordHasher):
    algorithm = "machine_secret"

    def encode(self, password, salt):
        self._check_encode_args(password, salt)
        digest = hmac.new(salt.encode(), password.encode(), hashlib.sha256).hexdigest()
        return f"{self.algorithm}${salt}${digest}"

    def decode(self, encoded):
        algorithm, salt, digest = encoded.split("$", 2)
        assert algorithm == self.algorithm
        return {"algorithm": algorithm, "hash": digest, "salt": salt}

    def verify(self, password, encoded):
        decoded = self.decode(encoded)
        return constant_time_compare(self.encode(password, decoded["salt"]), encoded)

    def safe_summary(self, encoded):
        decoded = self.decode(encoded)
        return {_("algorithm"): decoded["algorithm"], _("salt"): mask_hash(decoded["salt"]), _("hash"): mask_hash(decoded["hash"])}

    def harden_runtime(self, password, encoded):
        pass


def token_digest(raw_token: str) -> str:
    """Unsalted SHA-256 for lookups by value (tokens are high-entropy, so this is safe at rest)."""
    return hashlib.sha256(raw_token.encode()).hexdigest()
