"""private_key_jwt client authentication (RFC 7523, OpenID Connect Core 9): clients registered with inline
`jwks` or a `jwks_uri` (served by the test on loopback), ES256 and RS256 assertions at the token, revocation
and introspection endpoints; replays, other audiences, expired or far-future assertions and foreign keys are
refused; a CIMD document may declare private_key_jwt with a jwks_uri."""

import json
import secrets
import time
from types import SimpleNamespace

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings
from django.test import override_settings

from oauth_app.client_assertions import JWT_BEARER, JwksFetcher
from oauth_app.models import AuditEvent, Client
from tests.oauth.flow import exchange, get_code, post_form
from tests.oauth.test_registration import (  # noqa: F401
    CIMD_URL, LoopbackDocumentFetcher, DocumentServer, cimd_document, cimd_settings, document_server,
)

pytestmark = pytest.mark.django_db
REDIRECT = "https://agent.example.com/callback"
TOKEN_ENDPOINT = f"{settings.OAUTH_ISSUER}/oauth/token"


class Signer:
    """A client's key pair: its public JWK (to register) and assertions signed with it."""

    def __init__(self, algorithm="ES256", kid=None):
        self.algorithm = algorithm
        self.key = ec.generate_private_key(ec.SECP256R1()) if algorithm == "ES256" else \
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = kid or secrets.token_hex(4)
        algorithm_class = jwt.algorithms.ECAlgorithm if algorithm == "ES256" else jwt.algorithms.RSAAlgorithm
        self.jwk = {**algorithm_class.to_jwk(self.key.public_key(), as_dict=True), "kid": self.kid,
                    "alg": algorithm, "use": "sig"}

    @property
    def jwks(self) -> dict:
        return {"keys": [self.jwk]}

    def assertion(self, client_id, *, aud=TOKEN_ENDPOINT, exp_in=60, jti=..., **changes) -> str:
        now = int(time.time())
        claims = {"iss": client_id, "sub": client_id, "aud": aud, "iat": now,
                  "exp": None if exp_in is None else now + exp_in,
                  "jti": secrets.token_urlsafe(12) if jti is ... else jti, **changes}
        return jwt.encode({k: v for k, v in claims.items() if v is not None}, self.key, algorithm=self.algorithm,
                          headers={"kid": self.kid})

    def fields(self, client_id, **changes) -> dict:
        return {"client_assertion_type": JWT_BEARER, "client_assertion": self.assertion(client_id, **changes)}


@pytest.fixture
def signer():
    return Signer()


def register(client, **metadata):
    with override_settings(DCR_OPEN_REGISTRATION=True):
        return client.post("/oauth/register", json.dumps({"redirect_uris": [REDIRECT], "client_name": "Agent",
                                                          "token_endpoint_auth_method": "private_key_jwt",
                                                          **metadata}), content_type="application/json")


def registered(client, signer, **metadata) -> Client:
    response = register(client, **({"jwks": signer.jwks} | metadata))
    assert response.status_code == 201, response.content
    assert "client_secret" not in response.json()
    return Client.objects.get(client_id=response.json()["client_id"])


def exchange_with(browser, oauth_client, assertion_fields):
    code, verifier, params = get_code(browser, oauth_client)
    return exchange(browser, oauth_client, code, verifier, params["redirect_uri"], **assertion_fields)


@pytest.mark.parametrize("algorithm", ["ES256", "RS256"])
def test_a_client_with_inline_jwks_gets_tokens_with_an_assertion_signed_by_its_key(browser, algorithm):
    signer = Signer(algorithm)
    agent = registered(browser, signer)
    response = exchange_with(browser, agent, signer.fields(agent.client_id))
    assert response.status_code == 200, response.content
    assert response.json()["access_token"]


def test_the_issuer_is_an_accepted_audience_too(browser, signer):
    agent = registered(browser, signer)
    assert exchange_with(browser, agent, signer.fields(agent.client_id, aud=settings.OAUTH_ISSUER)).status_code == 200


@pytest.mark.parametrize("why,changes", [
    ("wrong audience", {"aud": "https://other.example/oauth/token"}),
    ("expired", {"exp_in": -120}),
    ("exp too far away", {"exp_in": 3600}),
    ("no exp", {"exp_in": None}),
    ("no jti", {"jti": ""}),
    ("iss is not the client", {"iss": "someone-else"}),
])
def test_an_assertion_with_bad_claims_is_refused(browser, signer, why, changes):
    agent = registered(browser, signer)
    response = exchange_with(browser, agent, signer.fields(agent.client_id, **changes))
    assert response.status_code == 401, why
    assert response.json()["error"] == "invalid_client"


def test_a_replayed_assertion_is_refused(browser, signer):
    agent = registered(browser, signer)
    fields = signer.fields(agent.client_id)
    assert exchange_with(browser, agent, fields).status_code == 200
    response = exchange_with(browser, agent, fields)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    event = AuditEvent.objects.filter(kind=AuditEvent.Kind.CLIENT_AUTH_FAILED).first()
    assert "replay" in event.details["reason"]


def test_an_assertion_signed_by_another_key_or_with_another_algorithm_is_refused(browser, signer):
    agent = registered(browser, signer)
    impostor = Signer(kid=signer.kid)
    assert exchange_with(browser, agent, impostor.fields(agent.client_id)).status_code == 401
    hs256 = jwt.encode({"iss": agent.client_id, "sub": agent.client_id, "aud": TOKEN_ENDPOINT, "jti": "j",
                        "exp": int(time.time()) + 60}, signer.kid * 8, algorithm="HS512")
    assert exchange_with(browser, agent, {"client_assertion_type": JWT_BEARER,
                                          "client_assertion": hs256}).status_code == 401


def test_a_secret_client_cannot_switch_to_an_assertion_nor_combine_both(browser, signer):
    agent = registered(browser, signer)
    fields = {**signer.fields(agent.client_id), "client_secret": "anything"}
    assert exchange_with(browser, agent, fields).status_code == 401
    with override_settings(DCR_OPEN_REGISTRATION=True):
        body = browser.post("/oauth/register", json.dumps({"redirect_uris": [REDIRECT],
                                                          "token_endpoint_auth_method": "client_secret_post"}),
                            content_type="application/json").json()
    secret_client = Client.objects.get(client_id=body["client_id"])
    assert exchange_with(browser, secret_client, signer.fields(secret_client.client_id)).status_code == 401


def test_revocation_and_introspection_accept_assertions(browser, signer):
    agent = registered(browser, signer)
    access_token = exchange_with(browser, agent, signer.fields(agent.client_id)).json()["access_token"]
    answer = post_form(browser, "/oauth/introspect", agent, token=access_token, **signer.fields(agent.client_id))
    assert answer.status_code == 200 and answer.json()["active"] is True
    assert post_form(browser, "/oauth/revoke", agent, token=access_token,
                     **signer.fields(agent.client_id)).status_code == 200
    answer = post_form(browser, "/oauth/introspect", agent, token=access_token, **signer.fields(agent.client_id))
    assert answer.json() == {"active": False}


@pytest.mark.parametrize("metadata,why", [
    ({}, "exactly one of jwks or jwks_uri"),
    ({"jwks": {"keys": []}}, "non-empty keys"),
    ({"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}, "public keys only"),
    ({"jwks_uri": "http://agent.example.com/jwks.json"}, "https"),
    ({"jwks_uri": "https://agent.example.com/jwks.json", "jwks": {"keys": [{}]}}, "exactly one"),
])
def test_registration_needs_exactly_one_source_of_public_keys(client, metadata, why):
    response = register(client, **metadata)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata" and why in response.json()["error_description"]


def test_a_private_key_in_the_jwks_is_refused(client, signer):
    private = {**signer.jwk, "d": "AAAA"}
    response = register(client, jwks={"keys": [private]})
    assert response.status_code == 400 and "public keys only" in response.json()["error_description"]


def test_the_metadata_advertises_private_key_jwt_and_its_algorithms(client):
    metadata = client.get("/.well-known/oauth-authorization-server").json()
    for endpoint in ("token", "revocation", "introspection"):
        assert "private_key_jwt" in metadata[f"{endpoint}_endpoint_auth_methods_supported"]
        assert metadata[f"{endpoint}_endpoint_auth_signing_alg_values_supported"] == ["ES256", "RS256"]


# --- jwks_uri ------------------------------------------------------------------------------------
class LoopbackJwksFetcher:
    """Reads the key set through JwksFetcher's parser from the loopback server (the SSRF guard rightly
    refuses loopback addresses; tests/oauth/test_registration.py does the same for CIMD documents)."""

    server = None
    fetches = 0

    def fetch(self, uri):
        LoopbackJwksFetcher.fetches += 1
        return JwksFetcher().read_document(self.server.response())


@pytest.fixture
def jwks_server():
    server = DocumentServer()
    LoopbackJwksFetcher.server, LoopbackJwksFetcher.fetches = server, 0
    with override_settings(CLIENT_JWKS_FETCHER=f"{__name__}.LoopbackJwksFetcher"):
        yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.mark.parametrize("algorithm", ["ES256", "RS256"])
def test_a_client_with_a_jwks_uri_gets_tokens_and_its_key_set_is_cached(browser, jwks_server, algorithm):
    signer = Signer(algorithm)
    jwks_server.serve(signer.jwks)
    agent = registered(browser, signer, jwks=None, jwks_uri="https://agent.example.com/jwks.json")
    assert agent.registration_metadata["jwks_uri"] == "https://agent.example.com/jwks.json"
    for _ in range(2):
        assert exchange_with(browser, agent, signer.fields(agent.client_id)).status_code == 200
    assert LoopbackJwksFetcher.fetches == 1


def test_an_unknown_kid_fetches_the_jwks_uri_again_once_the_cached_copy_is_old(browser, jwks_server, monkeypatch):
    from oauth_app import client_assertions

    old, new = Signer(), Signer()
    jwks_server.serve(old.jwks)
    agent = registered(browser, old, jwks=None, jwks_uri="https://agent.example.com/jwks.json")
    assert exchange_with(browser, agent, old.fields(agent.client_id)).status_code == 200
    jwks_server.serve(new.jwks)  # the client rotated its key
    assert exchange_with(browser, agent, new.fields(agent.client_id)).status_code == 401  # too soon to refetch
    monkeypatch.setattr(client_assertions, "REFETCH_SECONDS", -1)  # as if a minute had passed
    assert exchange_with(browser, agent, new.fields(agent.client_id)).status_code == 200


def test_a_cimd_document_may_declare_private_key_jwt_with_a_jwks_uri(browser, document_server, jwks_server):
    from oauth2_provider.cimd import resolve_cimd_application

    signer = Signer()
    jwks_server.serve(signer.jwks)
    document_server.serve(cimd_document(token_endpoint_auth_method="private_key_jwt", redirect_uris=[REDIRECT],
                                        jwks_uri="https://clients.example.com/jwks.json"))
    LoopbackDocumentFetcher.server = document_server
    with cimd_settings(CIMD_METADATA_FETCHER="tests.oauth.test_registration.LoopbackDocumentFetcher"):
        agent = resolve_cimd_application(CIMD_URL, SimpleNamespace(headers={}))
        assert agent is not None
        assert agent.token_endpoint_auth_method == "private_key_jwt" and not agent.is_public
        assert exchange_with(browser, agent, signer.fields(CIMD_URL)).status_code == 200
        assert exchange_with(browser, agent, {}).status_code == 401  # a confidential client: no assertion, no token
