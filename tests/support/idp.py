"""A real OpenID Connect provider for the tests: panva's oidc-provider (tests/e2e/idp/provider.js), on loopback.

The tests own its signing keys (so they can also mint tokens signed the way the IdP signs, or with keys it
never published) and its accounts. Node comes from tools/node_modules (Node 22; `make test` installs it).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from joserfc import jwt
from joserfc.jwk import RSAKey

from harness.servers import ROOT, stop_process, wait_for_http

NODE = ROOT / "tools" / "node_modules" / ".bin" / "node"
PROVIDER_JS = ROOT / "tests" / "e2e" / "idp" / "provider.js"
CLIENT_ID = "mcp-server"
CLIENT_SECRET = "idp-client-secret-" + "z" * 32
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def require_node() -> Path:
    import pytest

    has_provider = (ROOT / "tools" / "node_modules" / "oidc-provider").is_dir()
    if not (NODE.exists() and has_provider):
        message = "tools/node_modules lacks Node or oidc-provider (run tools/install.sh)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    return NODE


def new_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": uuid.uuid4().hex[:12], "use": "sig", "alg": "RS256"})


@dataclass
class Account:
    sub: str
    login: str
    password: str
    claims: dict


@dataclass
class Idp:
    port: int
    rp_url: str
    workdir: Path
    accounts: dict[str, Account]
    extra_rp_urls: list[str] = field(default_factory=list)  # more instances of our server at the same client
    key: RSAKey = field(default_factory=new_key)
    process: subprocess.Popen | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> dict:
        return {
            "port": self.port,
            "jwks": {"keys": [self.key.as_dict(private=True)]},
            "cookie_key": secrets.token_hex(16),
            "client": {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": [f"{url}/accounts/oidc/callback/" for url in [self.rp_url, *self.extra_rp_urls]],
                "post_logout_redirect_uris": [f"{self.rp_url}/"],
                "backchannel_logout_uri": f"{self.rp_url}/accounts/oidc/backchannel-logout/",
                "backchannel_logout_session_required": True,
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
            },
            "accounts": {a.sub: {"login": a.login, "password": a.password, "claims": a.claims}
                         for a in self.accounts.values()},
        }

    def start(self) -> Idp:
        require_node()
        path = self.workdir / f"idp-{uuid.uuid4().hex[:6]}.json"
        path.write_text(json.dumps(self.config()))
        log = open(self.workdir / "idp.log", "a")
        self.process = subprocess.Popen([str(NODE), str(PROVIDER_JS), str(path)], cwd=ROOT, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_http(f"{self.issuer}/.well-known/openid-configuration", self.process)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def rotate_keys(self) -> None:
        """Restart with a new signing key (a new kid): what an IdP's key rotation looks like to us."""
        self.stop()
        self.key = new_key()
        self.start()

    def logout_token(self, key: RSAKey | None = None, **claims) -> str:
        """A logout token as the IdP would sign it; `claims` override or (with None) remove its claims."""
        now = int(time.time())
        payload = {"iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 120, "jti": uuid.uuid4().hex,
                   "events": {LOGOUT_EVENT: {}}}
        payload.update(claims)
        payload = {name: value for name, value in payload.items() if value is not None}
        signing = key or self.key
        return jwt.encode({"alg": "RS256", "kid": signing.kid, "typ": "logout+jwt"}, payload, signing)
