"""Discovery: RFC 8414 authorization-server metadata and RFC 9728 protected-resource metadata."""

import json

import pytest
from django.conf import settings
from django.test import override_settings

from oauth2_provider.views.metadata import OAuthServerMetadataView

from oauth_app import capabilities
from oauth_app.models import TokenEndpointAuthMethod
from oauth_app.policies import RegistrationError, client_metadata_from_dict
from oauth_app.views.metadata import authorization_server_metadata

AS_METADATA = "/.well-known/oauth-authorization-server"
PR_METADATA = "/.well-known/oauth-protected-resource"
ORIGIN = "https://inspector.example.com"


def test_authorization_server_metadata_advertises_exactly_what_works(client):
    response = client.get(AS_METADATA)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    metadata = response.json()
    issuer = settings.OAUTH_ISSUER
    assert metadata["issuer"] == issuer
    assert metadata["authorization_endpoint"] == f"{issuer}/oauth/authorize"
    assert metadata["token_endpoint"] == f"{issuer}/oauth/token"
    assert metadata["registration_endpoint"] == f"{issuer}/oauth/register"
    assert metadata["revocation_endpoint"] == f"{issuer}/oauth/revoke"
    assert metadata["introspection_endpoint"] == f"{issuer}/oauth/introspect"
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["grant_types_supported"] == ["authorization_code", "refresh_token", "client_credentials"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert set(metadata["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic", "client_secret_post", "private_key_jwt", "none"}
    assert metadata["token_endpoint_auth_signing_alg_values_supported"] == ["ES256", "RS256"]
    assert metadata["scopes_supported"] == sorted(settings.OAUTH_SCOPES)
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert "client_id_metadata_document_supported" not in metadata


@override_settings(CIMD_ENABLED=True)
def test_client_id_metadata_documents_are_advertised_when_enabled(client):
    assert client.get(AS_METADATA).json()["client_id_metadata_document_supported"] is True


@override_settings(ALLOWED_HOSTS=["*"], USE_X_FORWARDED_HOST=True)
def test_the_issuer_comes_from_settings_never_from_request_headers(client):
    metadata = client.get(AS_METADATA, HTTP_HOST="evil.example.com", HTTP_X_FORWARDED_HOST="evil.example.com",
                          HTTP_X_FORWARDED_PROTO="https").json()
    assert metadata["issuer"] == settings.OAUTH_ISSUER
    assert all("evil" not in str(value) for value in metadata.values())


@override_settings(OAUTH_ISSUER="https://auth.example.com/tenant", MCP_RESOURCE="https://auth.example.com/tenant/mcp",
                   ALLOWED_HOSTS=["*"])
def test_an_issuer_with_a_path_is_also_served_at_the_path_inserted_url(client):
    response = client.get(f"{AS_METADATA}/tenant")
    assert response.status_code == 200
    assert response.json()["issuer"] == "https://auth.example.com/tenant"
    assert response.json()["token_endpoint"] == "https://auth.example.com/tenant/oauth/token"
    assert client.get(f"{AS_METADATA}/other").status_code == 404


def test_a_path_inserted_url_for_another_issuer_is_not_found(client):
    assert client.get(f"{AS_METADATA}/tenant").status_code == 404


@pytest.mark.parametrize("path", [PR_METADATA, f"{PR_METADATA}/mcp"])
def test_protected_resource_metadata_names_the_mcp_resource_and_this_issuer(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    metadata = response.json()
    assert metadata["resource"] == f"{settings.OAUTH_ISSUER}/mcp"
    as_issuer = client.get(AS_METADATA).json()["issuer"]
    assert metadata["authorization_servers"] == [as_issuer]  # byte-identical
    assert metadata["scopes_supported"] == sorted(settings.OAUTH_SCOPES)
    assert metadata["bearer_methods_supported"] == ["header"]


def test_protected_resource_metadata_for_an_unknown_resource_is_not_found(client):
    assert client.get(f"{PR_METADATA}/elsewhere").status_code == 404


@pytest.mark.parametrize("path", [AS_METADATA, PR_METADATA, f"{PR_METADATA}/mcp"])
def test_well_known_urls_never_redirect(client, path):
    for variant in (path, path + "/"):
        assert client.get(variant).status_code in (200, 404)


@override_settings(CORS_ALLOWED_ORIGINS=[ORIGIN])
@pytest.mark.parametrize("path", [AS_METADATA, PR_METADATA, f"{PR_METADATA}/mcp"])
def test_well_known_urls_answer_cors_for_allowed_origins_only(client, path):
    allowed = client.get(path, HTTP_ORIGIN=ORIGIN)
    assert allowed["Access-Control-Allow-Origin"] == ORIGIN
    other = client.get(path, HTTP_ORIGIN="https://evil.example.com")
    assert "Access-Control-Allow-Origin" not in other
    preflight = client.options(path, HTTP_ORIGIN=ORIGIN, HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET")
    assert preflight.status_code == 200
    assert preflight["Access-Control-Allow-Origin"] == ORIGIN


@override_settings(CORS_ALLOWED_ORIGINS=[ORIGIN])
def test_cors_covers_token_revocation_and_registration_but_not_the_authorization_page(client):
    for path in ("/oauth/token", "/oauth/revoke", "/oauth/register"):
        preflight = client.options(path, HTTP_ORIGIN=ORIGIN, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
        assert preflight["Access-Control-Allow-Origin"] == ORIGIN, path
        assert "WWW-Authenticate" in preflight.get("Access-Control-Expose-Headers", "") or path
    page = client.get("/oauth/authorize", HTTP_ORIGIN=ORIGIN)
    assert "Access-Control-Allow-Origin" not in page


# --- One source: what discovery advertises is what DOT's own views and registration use --------------

# DOT lists the token endpoint auth methods only next to its own token endpoint, which we do not mount.
SHARED_KEYS = ("response_types_supported", "grant_types_supported", "scopes_supported")


def test_our_rfc8414_document_agrees_with_the_one_dot_builds_from_the_same_settings(client, rf):
    ours = client.get(AS_METADATA).json()
    dots = json.loads(OAuthServerMetadataView.as_view()(rf.get(AS_METADATA)).content)
    assert {key: sorted(ours[key]) for key in SHARED_KEYS} == {key: sorted(dots[key]) for key in SHARED_KEYS}


def test_the_rfc9728_document_lists_the_bearer_methods_of_the_one_source(client):
    assert client.get(PR_METADATA).json()["bearer_methods_supported"] == list(capabilities.BEARER_METHODS)


def test_registration_accepts_every_advertised_auth_method_and_grant_and_refuses_others():
    metadata, advertised = client_metadata_from_dict, authorization_server_metadata()
    keys = {"private_key_jwt": {"jwks_uri": "https://app.example.com/jwks.json"}}
    for method in advertised["token_endpoint_auth_methods_supported"]:
        assert metadata({"redirect_uris": ["https://app.example.com/cb"], "token_endpoint_auth_method": method,
                         **keys.get(method, {})}).token_endpoint_auth_method == method
    grants = advertised["grant_types_supported"]
    people, machines = [grant for grant in grants if grant != "client_credentials"], ["client_credentials"]
    for kind in (people, machines):  # a client is one or the other (django-oauth-toolkit: one grant per client)
        assert metadata({"redirect_uris": ["https://app.example.com/cb"], "grant_types": kind}).grant_types == kind
    with pytest.raises(RegistrationError):
        metadata({"redirect_uris": ["https://app.example.com/cb"], "grant_types": [*grants, "password"]})
    assert tuple(TokenEndpointAuthMethod.values) == capabilities.TOKEN_ENDPOINT_AUTH_METHODS

