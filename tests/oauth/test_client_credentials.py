"""The client_credentials grant for machine clients (MCP extension io.modelcontextprotocol/oauth-client-credentials):
registered by DCR or manage.py, authenticated with client_secret_basic, client_secret_post or private_key_jwt;
the token's subject is the client itself (whoami says there is no user), audience-bound to /mcp; no refresh
token; the admin lists such clients as machine clients."""

import base64
import json
from io import StringIO

import jwt
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from oauth_app.models import Client
from tests.mcp.conftest import Mcp
from tests.oauth.test_client_assertions import Signer

pytestmark = pytest.mark.django_db


def register(client, **metadata):
    with override_settings(DCR_OPEN_REGISTRATION=True):
        return client.post("/oauth/register", json.dumps({"client_name": "Flow runner",
                                                          "grant_types": ["client_credentials"], **metadata}),
                           content_type="application/json")


def token_request(client, form: dict, headers: dict | None = None):
    return client.post("/oauth/token", {"grant_type": "client_credentials", **form}, **(headers or {}))


def credentials(method: str, client_id: str, secret: str | None, signer: Signer | None) -> tuple[dict, dict]:
    if method == "client_secret_basic":
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        return {}, {"HTTP_AUTHORIZATION": f"Basic {basic}"}
    if method == "client_secret_post":
        return {"client_id": client_id, "client_secret": secret}, {}
    return signer.fields(client_id), {}


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post", "private_key_jwt"])
def test_a_machine_client_gets_a_token_for_itself_with_each_authentication_method(client, method):
    signer = Signer() if method == "private_key_jwt" else None
    registration = register(client, token_endpoint_auth_method=method, **({"jwks": signer.jwks} if signer else {}))
    assert registration.status_code == 201, registration.content
    body = registration.json()
    assert body["grant_types"] == ["client_credentials"] and body["response_types"] == []
    form, headers = credentials(method, body["client_id"], body.get("client_secret"), signer)
    response = token_request(client, {**form, "scope": "mcp:tools", "resource": settings.MCP_RESOURCE}, headers)
    assert response.status_code == 200, response.content
    answer = response.json()
    assert "refresh_token" not in answer and answer["scope"] == "mcp:tools"
    claims = jwt.decode(answer["access_token"], options={"verify_signature": False})
    assert claims["sub"] == claims["client_id"] == body["client_id"]
    assert claims["aud"] == settings.MCP_RESOURCE and claims["username"] == ""


def test_whoami_says_a_machine_token_has_no_user(client):
    body = register(client, token_endpoint_auth_method="client_secret_post").json()
    form, _ = credentials("client_secret_post", body["client_id"], body["client_secret"], None)
    token = token_request(client, form).json()["access_token"]
    result = Mcp(client, token).call_tool("whoami")["structuredContent"]
    assert result["has_user"] is False and result["username"] == ""
    assert result["subject"] == result["client_id"] == body["client_id"]


def test_a_machine_token_for_another_resource_is_refused(client):
    body = register(client, token_endpoint_auth_method="client_secret_post").json()
    form, _ = credentials("client_secret_post", body["client_id"], body["client_secret"], None)
    response = token_request(client, {**form, "resource": "https://other.example/mcp"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_target"


def test_wrong_credentials_get_no_machine_token(client):
    body = register(client, token_endpoint_auth_method="client_secret_post").json()
    response = token_request(client, {"client_id": body["client_id"], "client_secret": "wrong"})
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("metadata,why", [
    ({"token_endpoint_auth_method": "none"}, "confidential"),
    ({"grant_types": ["client_credentials", "authorization_code"], "redirect_uris": ["https://a.example/cb"]},
     "cannot be combined"),
])
def test_public_or_mixed_machine_registrations_are_refused(client, metadata, why):
    response = register(client, **metadata)
    assert response.status_code == 400 and why in response.json()["error_description"]


def test_each_kind_of_client_keeps_to_its_grant(client):
    machine = register(client, token_endpoint_auth_method="client_secret_post").json()
    form, _ = credentials("client_secret_post", machine["client_id"], machine["client_secret"], None)
    response = client.post("/oauth/token", {"grant_type": "authorization_code", "code": "x",
                                            "redirect_uri": "https://a.example/cb", **form})
    assert response.status_code in (400, 401) and response.json()["error"] in ("unauthorized_client", "invalid_grant")
    with override_settings(DCR_OPEN_REGISTRATION=True):
        people = client.post("/oauth/register", json.dumps({"redirect_uris": ["https://a.example/cb"],
                                                           "token_endpoint_auth_method": "client_secret_post"}),
                             content_type="application/json").json()
    form, _ = credentials("client_secret_post", people["client_id"], people["client_secret"], None)
    response = token_request(client, form)
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"


def test_register_client_creates_a_machine_client_from_the_shell(client):
    out = StringIO()
    call_command("register_client", "--name", "ServiceNow flow", "--grant-type", "client_credentials",
                 "--auth-method", "client_secret_post", stdout=out)
    lines = dict(line.split(": ", 1) for line in out.getvalue().splitlines() if ": " in line)
    assert "machine client" in out.getvalue()
    form, _ = credentials("client_secret_post", lines["client_id"], lines["client_secret"], None)
    assert token_request(client, form).status_code == 200


def test_the_admin_lists_machine_clients_apart(admin_client):
    register(admin_client, token_endpoint_auth_method="client_secret_basic")
    Client.objects.create(name="People app", client_type=Client.CLIENT_CONFIDENTIAL,
                          authorization_grant_type=Client.GRANT_AUTHORIZATION_CODE,
                          redirect_uris="https://people.example/cb")
    page = admin_client.get("/admin/oauth_app/client/?kind=machine")
    assert page.status_code == 200
    names = [client.name for client in page.context["cl"].result_list]
    assert names == ["Flow runner"]
    assert b"machine" in admin_client.get("/admin/oauth_app/client/").content


def test_the_metadata_advertises_the_client_credentials_grant(client):
    metadata = client.get("/.well-known/oauth-authorization-server").json()
    assert "client_credentials" in metadata["grant_types_supported"]
