"""Dynamic client registration (RFC 7591) at /oauth/register and client configuration (RFC 7592)."""

import json
import time

import pytest
from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.test import override_settings

from oauth_app.hashers import token_digest
from oauth_app.models import AuditEvent, Client, InitialAccessToken
from oauth_app.registration import dcr_token_issue

SETTINGS_TOKEN = "seed-dcr-auth-token-0123456789abcdef"
CURSOR_URIS = [
    "cursor://anysphere.cursor-mcp/oauth/callback",
    "https://www.cursor.com/agents/mcp/oauth/callback",
    "http://localhost:8787/callback",
]


@pytest.fixture
def dcr_token(db):
    _, raw = dcr_token_issue(name="tests", max_uses=100)
    return raw


def register(client, body, token=None, **extra):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    payload = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/oauth/register", payload, content_type="application/json", **headers, **extra)


def assert_nothing_registered(response, error, clients_before):
    assert response.json()["error"] == error, response.json()
    assert response.json()["error_description"]
    assert Client.objects.count() == clients_before


@pytest.mark.parametrize("redirect_uris", [
    ["https://claude.ai/api/mcp/auth_callback"],
    ["https://claude.com/api/mcp/auth_callback"],
    ["https://vscode.dev/redirect"],
    ["http://127.0.0.1:33418/"],
    CURSOR_URIS,
    ["https://acme.service-now.com/oauth_redirect.do"],
    ["http://localhost:6274/oauth/callback"],
])
def test_the_redirect_uris_of_known_mcp_clients_register(client, dcr_token, redirect_uris):
    response = register(client, {"client_name": "known client", "redirect_uris": redirect_uris}, dcr_token)
    assert response.status_code == 201, response.json()
    assert response.json()["redirect_uris"] == redirect_uris
    assert Client.objects.get(client_id=response.json()["client_id"]).redirect_uris.split() == redirect_uris


def test_registration_returns_the_rfc7591_response_and_stores_secrets_hashed(client, dcr_token):
    response = register(client, {
        "client_name": "ServiceNow", "redirect_uris": ["https://acme.service-now.com/oauth_redirect.do"],
        "grant_types": ["authorization_code", "refresh_token"], "scope": "mcp:tools",
    }, dcr_token)
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["client_name"] == "ServiceNow"
    assert body["token_endpoint_auth_method"] == "client_secret_basic"
    assert body["grant_types"] == ["authorization_code", "refresh_token"]
    assert body["scope"] == "mcp:tools"
    assert body["client_secret_expires_at"] == 0
    assert abs(body["client_id_issued_at"] - time.time()) < 60
    assert len(body["client_secret"]) >= 43  # 32 random bytes, base64url
    assert body["registration_client_uri"] == f"http://localhost:8080/oauth/register/{body['client_id']}"
    stored = Client.objects.get(client_id=body["client_id"])
    assert stored.client_type == Client.CLIENT_CONFIDENTIAL
    assert stored.client_secret.startswith("machine_secret$")
    assert check_password(body["client_secret"], stored.client_secret)
    assert stored.registration_access_token_hash == token_digest(body["registration_access_token"])
    assert stored.registration_policy == "initial_access_token"
    assert AuditEvent.objects.filter(kind="client_registered", client_id=body["client_id"]).exists()


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_token_endpoint_auth_method_is_honoured_exactly(client, dcr_token, method):
    response = register(client, {"redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
                                  "token_endpoint_auth_method": method}, dcr_token)
    assert response.json()["token_endpoint_auth_method"] == method
    assert "client_secret" in response.json()
    assert Client.objects.get(client_id=response.json()["client_id"]).token_endpoint_auth_method == method


def test_auth_method_none_registers_a_public_client_without_a_secret(client, dcr_token):
    response = register(client, {"redirect_uris": ["http://127.0.0.1:33418/"],
                                  "token_endpoint_auth_method": "none"}, dcr_token)
    body = response.json()
    assert response.status_code == 201
    assert body["token_endpoint_auth_method"] == "none"
    assert "client_secret" not in body and "client_secret_expires_at" not in body
    stored = Client.objects.get(client_id=body["client_id"])
    assert stored.client_type == Client.CLIENT_PUBLIC
    assert not check_password("", stored.client_secret)  # an empty secret never authenticates


def test_unknown_scopes_are_replaced_by_the_scopes_we_serve(client, dcr_token):
    response = register(client, {"redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
                                  "scope": "admin mcp:tools openid"}, dcr_token)
    assert response.status_code == 201
    assert response.json()["scope"] == "mcp:tools"


def test_null_optional_fields_are_treated_as_absent(client, dcr_token):
    response = register(client, {"redirect_uris": ["http://localhost:3030/callback"], "grant_types": None,
                                  "contacts": None, "logo_uri": None, "scope": None, "client_name": None}, dcr_token)
    assert response.status_code == 201, response.json()
    assert "logo_uri" not in response.json() and "contacts" not in response.json()
    assert response.json()["grant_types"] == ["authorization_code", "refresh_token"]


def test_unknown_fields_are_ignored(client, dcr_token):
    response = register(client, {"redirect_uris": ["https://vscode.dev/redirect"], "frobnicate": True,
                                  "client_uri": "https://code.visualstudio.com"}, dcr_token)
    assert response.status_code == 201
    assert "frobnicate" not in response.json()
    assert response.json()["client_uri"] == "https://code.visualstudio.com"


@pytest.mark.parametrize("uri", [
    "javascript:alert(1)",
    "data:text/html,hi",
    "http://evil.example.com/callback",
    "https://*.example.com/callback",
    "https://example.com/callback#fragment",
    "file:///etc/passwd",
    "unknown-app://callback",
    "/relative/callback",
    "https://user:pass@example.com/cb",
])
def test_unacceptable_redirect_uris_get_invalid_redirect_uri(client, dcr_token, uri):
    before = Client.objects.count()
    response = register(client, {"redirect_uris": ["https://claude.ai/api/mcp/auth_callback", uri]}, dcr_token)
    assert response.status_code == 400
    assert_nothing_registered(response, "invalid_redirect_uri", before)
    assert AuditEvent.objects.filter(kind="registration_refused").exists()


@pytest.mark.parametrize("body,fragment", [
    ({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "tls_client_auth"},
     "token_endpoint_auth_method"),
    ({"redirect_uris": ["https://a.example/cb"], "grant_types": ["password"]}, "grant_types"),
    ({"redirect_uris": ["https://a.example/cb"], "grant_types": ["refresh_token"]}, "authorization_code"),
    ({"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}, "response_types"),
    ({"redirect_uris": ["https://a.example/cb"], "client_name": 7}, "client_name"),
    ({"redirect_uris": "https://a.example/cb"}, "redirect_uris"),
    ([1, 2], "JSON object"),
    (b"{not json", "valid JSON"),
])
def test_invalid_metadata_gets_invalid_client_metadata(client, dcr_token, body, fragment):
    before = Client.objects.count()
    response = register(client, body, dcr_token)
    assert response.status_code == 400
    assert_nothing_registered(response, "invalid_client_metadata", before)
    assert fragment in response.json()["error_description"]


def test_missing_redirect_uris_gets_invalid_redirect_uri(client, dcr_token):
    response = register(client, {"client_name": "no uris"}, dcr_token)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_redirect_uri"


VALID = {"client_name": "x", "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"]}


def test_a_missing_initial_access_token_gets_401_invalid_token(client, db):
    response = register(client, VALID)
    assert response.status_code == 401
    assert_nothing_registered(response, "invalid_token", 0)
    assert response["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def test_a_wrong_initial_access_token_gets_401_and_registers_nothing(client, dcr_token):
    response = register(client, VALID, dcr_token + "x")
    assert response.status_code == 401
    assert_nothing_registered(response, "invalid_token", 0)
    assert "WWW-Authenticate" in response


def test_an_expired_initial_access_token_gets_401(client, db):
    token, raw = dcr_token_issue(name="old")
    InitialAccessToken.objects.filter(pk=token.pk).update(expires_at="2020-01-01T00:00:00Z")
    response = register(client, VALID, raw)
    assert response.status_code == 401
    assert_nothing_registered(response, "invalid_token", 0)
    assert "expired" in response.json()["error_description"]


def test_an_exhausted_initial_access_token_gets_401(client, db):
    token, raw = dcr_token_issue(name="once", max_uses=1)
    assert register(client, VALID, raw).status_code == 201
    response = register(client, VALID, raw)
    assert response.status_code == 401
    assert_nothing_registered(response, "invalid_token", 1)
    token.refresh_from_db()
    assert token.uses == 1


def test_a_refused_registration_does_not_spend_a_use(client, db):
    token, raw = dcr_token_issue(name="once", max_uses=1)
    assert register(client, {"redirect_uris": ["http://evil.example/cb"]}, raw).status_code == 400
    token.refresh_from_db()
    assert token.uses == 0
    assert register(client, VALID, raw).status_code == 201


@override_settings(DCR_AUTH_TOKEN=SETTINGS_TOKEN)
def test_the_seed_dcr_auth_token_is_accepted(client, db):
    response = register(client, VALID, SETTINGS_TOKEN)
    assert response.status_code == 201
    event = AuditEvent.objects.get(kind="client_registered", client_id=response.json()["client_id"])
    assert event.details["initial_access_token"] == "DCR_AUTH_TOKEN (settings)"
    assert register(client, VALID, SETTINGS_TOKEN[:-1]).status_code == 401


@override_settings(DCR_OPEN_REGISTRATION=True)
def test_open_registration_needs_no_token_and_records_its_policy(client, db):
    response = register(client, {**VALID, "token_endpoint_auth_method": "none"})
    assert response.status_code == 201
    assert Client.objects.get(client_id=response.json()["client_id"]).registration_policy == "open"


@override_settings(DCR_OPEN_REGISTRATION=True)
def test_open_registration_still_refuses_a_wrong_token(client, db):
    assert register(client, VALID, "wrong").status_code == 401
    assert Client.objects.count() == 0


@override_settings(DCR_OPEN_REGISTRATION=True, RATE_LIMIT_OAUTH_MAX=2)
def test_open_registration_is_rate_limited(client, db):
    assert [register(client, VALID).status_code for _ in range(3)] == [201, 201, 429]
    assert Client.objects.count() == 2


# --- RFC 7592 ----------------------------------------------------------------------------------------

@pytest.fixture
def registered(client, dcr_token):
    return register(client, {**VALID, "token_endpoint_auth_method": "client_secret_post"}, dcr_token).json()


def manage(client, method, registered, token=None, body=None):
    token = token or registered["registration_access_token"]
    url = registered["registration_client_uri"].removeprefix("http://localhost:8080")
    kwargs = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    if body is not None:
        return getattr(client, method)(url, json.dumps(body), content_type="application/json", **kwargs)
    return getattr(client, method)(url, **kwargs)


def test_rfc7592_read_returns_the_registration_without_the_secret(client, registered):
    response = manage(client, "get", registered)
    assert response.status_code == 200
    assert response.json()["client_id"] == registered["client_id"]
    assert response.json()["token_endpoint_auth_method"] == "client_secret_post"
    assert "client_secret" not in response.json()


def test_rfc7592_refuses_a_wrong_token_or_another_clients_token(client, registered, dcr_token):
    other = register(client, VALID, dcr_token).json()
    assert manage(client, "get", registered, token="nope").status_code == 401
    response = manage(client, "get", registered, token=other["registration_access_token"])
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_rfc7592_update_replaces_metadata_and_rotates_the_registration_token(client, registered):
    body = {"client_id": registered["client_id"], "client_name": "renamed",
            "redirect_uris": ["https://claude.com/api/mcp/auth_callback"],
            "token_endpoint_auth_method": "client_secret_post"}
    response = manage(client, "put", registered, body=body)
    assert response.status_code == 200, response.json()
    assert response.json()["client_name"] == "renamed"
    stored = Client.objects.get(client_id=registered["client_id"])
    assert stored.redirect_uris == "https://claude.com/api/mcp/auth_callback"
    assert manage(client, "get", registered).status_code == 401  # the old token is gone
    assert manage(client, "get", registered, token=response.json()["registration_access_token"]).status_code == 200


def test_rfc7592_update_validates_like_registration(client, registered):
    response = manage(client, "put", registered, body={"redirect_uris": ["http://evil.example/cb"],
                                                       "token_endpoint_auth_method": "client_secret_post"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_redirect_uri"
    response = manage(client, "put", registered, body={"redirect_uris": ["https://a.example/cb"],
                                                       "token_endpoint_auth_method": "none"})
    assert response.json()["error"] == "invalid_client_metadata"


def test_rfc7592_delete_removes_the_client(client, registered):
    assert manage(client, "delete", registered).status_code == 204
    assert not Client.objects.filter(client_id=registered["client_id"]).exists()
    assert AuditEvent.objects.filter(kind="client_deleted", client_id=registered["client_id"]).exists()


def test_a_client_without_registration_token_cannot_be_managed(client, db):
    from oauth_app.policies import client_metadata_from_dict
    from oauth_app.registration import client_create

    created = client_create(metadata=client_metadata_from_dict(VALID), policy="command")
    response = client.get(f"/oauth/register/{created.client.client_id}", HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 401


# --- Client secret hashing cost (figures for the README) --------------------------------------------

def test_client_secret_check_costs_microseconds_where_pbkdf2_costs_a_large_fraction_of_a_second():
    secret = "s" * 43
    costs = {}
    for hasher in ("machine_secret", "pbkdf2_sha256"):
        encoded = make_password(secret, hasher=hasher)
        rounds = 200 if hasher == "machine_secret" else 3
        start = time.process_time()
        for _ in range(rounds):
            assert check_password(secret, encoded)
        costs[hasher] = (time.process_time() - start) / rounds
    print(f"\nclient secret check, CPU per verification: machine_secret {costs['machine_secret'] * 1e6:.0f} µs, "
          f"PBKDF2 {costs['pbkdf2_sha256'] * 1e3:.0f} ms")
    assert costs["machine_secret"] < 0.001
    assert costs["pbkdf2_sha256"] > 50 * costs["machine_secret"]


# --- Client ID Metadata Documents (django-oauth-toolkit's resolver, our fetcher and rules) -----------

CIMD_URL = "https://clients.example.com/mcp-client.json"


class DocumentServer:
    """A real HTTP server on loopback that serves one document, for the parts of a fetch after TLS."""

    def __init__(self):
        import http.server
        import threading

        self.body, self.content_type = b"{}", "application/json"
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", server.content_type)
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/doc.json"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def serve(self, document, content_type="application/json"):
        self.body = document if isinstance(document, bytes) else json.dumps(document).encode()
        self.content_type = content_type

    def response(self):
        import urllib3

        return urllib3.PoolManager().request("GET", self.url, preload_content=False, timeout=5)


@pytest.fixture
def document_server():
    server = DocumentServer()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


class LoopbackDocumentFetcher:
    """Reads the document through CimdMetadataFetcher._read_document from the loopback server (the SSRF
    guard rightly refuses loopback, and there is no public https host in the test environment)."""

    server = None

    def fetch(self, client_id):
        from oauth_app.registration import CimdMetadataFetcher

        return CimdMetadataFetcher()._read_document(self.server.response())


def cimd_settings(**overrides):
    return override_settings(OAUTH2_PROVIDER={**settings.OAUTH2_PROVIDER, "CIMD_ENABLED": True,
                                              "CIMD_ALLOWED_HOSTS": ["clients.example.com", "localhost"],
                                              **overrides})


def cimd_document(**changes):
    return {"client_id": CIMD_URL, "client_name": "Example agent", "token_endpoint_auth_method": "none",
            "redirect_uris": ["http://127.0.0.1:33418/"], "grant_types": ["authorization_code"], **changes}


def test_cimd_documents_are_read_with_our_redirect_uri_rules_and_limits(document_server):
    from oauth2_provider.cimd import CIMDError

    from oauth_app.registration import CimdMetadataFetcher

    document_server.serve(cimd_document())
    metadata, max_age = CimdMetadataFetcher()._read_document(document_server.response())
    assert metadata["client_id"] == CIMD_URL and max_age > 0
    for document, content_type, why in [
        (cimd_document(redirect_uris=["http://evil.example.com/cb"]), "application/json", "invalid_redirect_uri"),
        (cimd_document(redirect_uris=["javascript:alert(1)"]), "application/json", "invalid_redirect_uri"),
        (b"{" + b" " * 20000 + b"}", "application/json", "maximum allowed size"),
        (cimd_document(), "text/html", "not JSON"),
    ]:
        document_server.serve(document, content_type)
        with pytest.raises(CIMDError, match=why):
            CimdMetadataFetcher()._read_document(document_server.response())


@pytest.mark.parametrize("url,why", [
    ("http://clients.example.com/c.json", "https"),
    ("https://127.0.0.1/c.json", "non-public address"),
    ("https://localhost:8443/c.json", "non-public address"),
    ("https://[::1]/c.json", "non-public address"),
])
def test_cimd_documents_are_fetched_over_https_from_public_addresses_only(url, why):
    from oauth2_provider.cimd import CIMDError

    from oauth_app.registration import CimdMetadataFetcher

    with pytest.raises(CIMDError, match=why):
        CimdMetadataFetcher().fetch(url)


def test_cimd_resolves_only_allow_listed_hosts(db):
    from types import SimpleNamespace

    from django.core.cache import cache
    from oauth2_provider.cimd import _backoff_cache_key, resolve_cimd_application

    with cimd_settings():
        assert resolve_cimd_application("https://127.0.0.1/c.json", SimpleNamespace(headers={})) is None
        assert cache.get(_backoff_cache_key("https://127.0.0.1/c.json")) is None  # refused before any fetch
        assert resolve_cimd_application("https://localhost/c.json", SimpleNamespace(headers={})) is None
        assert cache.get(_backoff_cache_key("https://localhost/c.json"))  # fetched, refused (loopback)
    with cimd_settings(CIMD_ALLOWED_HOSTS=[]):
        assert resolve_cimd_application(CIMD_URL, SimpleNamespace(headers={})) is None  # empty list: no host
    assert Client.objects.count() == 0


def test_a_cimd_client_is_public_with_cimd_provenance(db, document_server):
    from types import SimpleNamespace

    from oauth2_provider.cimd import resolve_cimd_application

    document_server.serve(cimd_document())
    LoopbackDocumentFetcher.server = document_server
    with cimd_settings(CIMD_METADATA_FETCHER=f"{__name__}.LoopbackDocumentFetcher"):
        client = resolve_cimd_application(CIMD_URL, SimpleNamespace(headers={}))
    assert client is not None and client.client_id == CIMD_URL
    client.refresh_from_db()
    assert client.client_type == "public" and client.token_endpoint_auth_method == "none"
    assert client.registration_policy == "cimd"
    assert client.redirect_uris == "http://127.0.0.1:33418/"
