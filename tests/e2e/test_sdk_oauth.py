"""The official MCP Python SDK's OAuthClientProvider against gunicorn (issue 3, item 9), then refresh,
rotation, replay detection and revocation over HTTP with mcp_client."""

import json

import pytest

from harness.servers import ROOT
from mcp_client import ClientCredentials, FlowError, McpOAuthClient, log_in_and_consent, tool_text
from tests.e2e.conftest import TEST_PASSWORD, TEST_USERNAME
from tests.support.line_process import LineProcess

SDK_PYTHON = ROOT / "tools" / "venv" / "bin" / "python"
SDK_CLIENT = ROOT / "tests" / "e2e" / "clients" / "sdk_oauth_client.py"
LOOPBACK_REDIRECT = "http://127.0.0.1:33418/callback"
SERVICENOW_REDIRECT = "https://acme.service-now.com/oauth_redirect.do"
pytestmark = pytest.mark.e2e


def run_sdk_client(deployment, redirect_uri: str, *options: str) -> dict:
    """Runs the SDK client; when its redirect handler asks, logs in and consents as alice."""
    if not SDK_PYTHON.exists():
        pytest.fail("tools/venv is missing: run `make tools`")
    run = LineProcess([str(SDK_PYTHON), str(SDK_CLIENT), f"{deployment.base_url}/mcp",
                       "--redirect-uri", redirect_uri, *options], cwd=ROOT)
    try:
        event = json.loads(run.expect(lambda line: line.startswith("{"), timeout=60))
        if event["event"] == "authorize":
            run.send(log_in_and_consent(event["url"], redirect_uri, TEST_USERNAME, TEST_PASSWORD))
            event = json.loads(run.expect(lambda line: line.startswith("{"), timeout=60))
        run.finish()
    finally:
        run.stop()
    return event


def paths(trace: list) -> list[tuple[str, str, int]]:
    return [(method, "/" + url.split("/", 3)[3], status) for method, url, status in trace]


@pytest.fixture(scope="module")
def dcr_token(issue_dcr_token) -> str:
    return issue_dcr_token("sdk-oauth")


@pytest.fixture(scope="module")
def servicenow_client(deployment) -> ClientCredentials:
    """A confidential client registered by the operator with client_secret_post, as for a ServiceNow instance."""
    output = deployment.manage("register_client", "--name", "ServiceNow acme", "--confidential",
                               "--redirect-uri", SERVICENOW_REDIRECT, "--auth-method", "client_secret_post").stdout
    printed = dict(line.split(": ", 1) for line in output.splitlines() if line.startswith("client_"))
    return ClientCredentials(printed["client_id"], printed["client_secret"], "client_secret_post",
                             SERVICENOW_REDIRECT)


@pytest.fixture
def signed_in(deployment, dcr_token) -> McpOAuthClient:
    """A public client registered with an initial access token, holding alice's first tokens."""
    client = McpOAuthClient(f"{deployment.base_url}/mcp")
    client.discover()
    client.register(redirect_uri=LOOPBACK_REDIRECT, initial_access_token=dcr_token)
    request = client.authorization_request()
    client.finish_authorization(request, log_in_and_consent(request.url, LOOPBACK_REDIRECT, TEST_USERNAME,
                                                            TEST_PASSWORD))
    client.initialize()
    return client


def mcp_status(client: McpOAuthClient, access_token: str) -> int:
    return client.post_mcp(client.message("tools/list"), token=access_token).status_code


@pytest.mark.needs_tools
def test_sdk_client_goes_from_a_401_through_discovery_registration_login_and_consent_to_a_tool_result(
        deployment, dcr_token):
    event = run_sdk_client(deployment, LOOPBACK_REDIRECT, "--initial-access-token", dcr_token)

    assert event["event"] == "result", event
    assert event["result"]["isError"] is False
    assert event["result"]["content"][0]["text"] == "Echo: hello from the SDK"
    assert "echo" in event["tools"]
    assert event["client"]["token_endpoint_auth_method"] == "none"
    steps = paths(event["trace"])
    first_401 = steps.index(next(step for step in steps if step[1] == "/mcp" and step[2] == 401))
    assert steps[first_401 + 1:first_401 + 5] == [
        ("GET", "/.well-known/oauth-protected-resource/mcp", 200),
        ("GET", "/.well-known/oauth-authorization-server", 200),
        ("POST", "/oauth/register", 201),
        ("POST", "/oauth/token", 200),
    ]
    retried = steps[first_401 + 5]  # the request that got the 401, now with the token
    assert retried[:2] == ("POST", "/mcp") and retried[2] in (200, 202)


@pytest.mark.needs_tools
def test_sdk_client_refreshes_an_expired_access_token_and_gets_a_rotated_refresh_token(deployment, dcr_token):
    event = run_sdk_client(deployment, LOOPBACK_REDIRECT, "--initial-access-token", dcr_token,
                           "--expire-and-call-again")

    assert event["event"] == "result", event
    assert event["result"]["content"][0]["text"] == "Echo: hello from the SDK"
    first, last = event["first_tokens"], event["tokens"]
    assert last["access_token"] != first["access_token"]
    assert last["refresh_token"] != first["refresh_token"]
    assert [step for step in paths(event["trace"]) if step[1] == "/oauth/token"] == [
        ("POST", "/oauth/token", 200),  # authorization code
        ("POST", "/oauth/token", 200),  # refresh
    ]


@pytest.mark.needs_tools
def test_sdk_client_registration_without_the_initial_access_token_is_refused_with_401(deployment):
    event = run_sdk_client(deployment, LOOPBACK_REDIRECT)

    assert event["event"] == "error"
    steps = paths(event["trace"])
    assert ("POST", "/oauth/register", 401) in steps
    assert not [step for step in steps if step[1] == "/oauth/token"]


@pytest.mark.needs_tools
def test_sdk_client_with_a_preregistered_confidential_client_using_client_secret_post_servicenow_shape(
        deployment, servicenow_client):
    client = servicenow_client
    registered = {"client_id": client.client_id, "client_secret": client.client_secret,
                  "token_endpoint_auth_method": "client_secret_post", "redirect_uris": [SERVICENOW_REDIRECT],
                  "grant_types": ["authorization_code", "refresh_token"]}

    event = run_sdk_client(deployment, SERVICENOW_REDIRECT, "--client", json.dumps(registered),
                           "--auth-method", "client_secret_post")

    assert event["event"] == "result", event
    assert event["result"]["content"][0]["text"] == "Echo: hello from the SDK"
    steps = paths(event["trace"])
    assert ("POST", "/oauth/register", 201) not in steps
    assert ("POST", "/oauth/token", 200) in steps


def test_confidential_client_with_a_wrong_secret_gets_401_invalid_client(deployment, servicenow_client):
    credentials = servicenow_client
    client = McpOAuthClient(f"{deployment.base_url}/mcp")
    client.discover()
    client.use_client(ClientCredentials(credentials.client_id, "wrong-secret", "client_secret_post",
                                        SERVICENOW_REDIRECT))

    response = client.post_token({"grant_type": "refresh_token", "refresh_token": "anything"})

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers.get("WWW-Authenticate")


def test_servicenow_shaped_client_signs_in_refreshes_with_client_secret_post_and_calls_with_accept_json_only(
        deployment, servicenow_client):
    client = McpOAuthClient(f"{deployment.base_url}/mcp", accept="application/json")
    client.discover()
    client.use_client(servicenow_client)
    request = client.authorization_request()
    client.finish_authorization(request, log_in_and_consent(request.url, SERVICENOW_REDIRECT, TEST_USERNAME,
                                                            TEST_PASSWORD))
    first = client.tokens

    second = client.refresh()

    assert second.refresh_token != first.refresh_token
    client.initialize()
    assert tool_text(client.call_tool("echo", {"message": "now"})) == "Echo: now"


def test_refresh_token_rotates_on_every_use_and_the_new_access_token_works(signed_in):
    first = signed_in.tokens
    second = signed_in.refresh()
    third = signed_in.refresh()

    assert len({first.refresh_token, second.refresh_token, third.refresh_token}) == 3
    assert len({first.access_token, second.access_token, third.access_token}) == 3
    assert tool_text(signed_in.call_tool("echo", {"message": "rotated"})) == "Echo: rotated"


def test_refresh_token_replay_is_refused_and_revokes_the_family(deployment, signed_in):
    first = signed_in.tokens
    second = signed_in.refresh()
    deployment.manage("shell", "-c", "from tests.oauth.flow import age_past_the_refresh_grace as age; age()")

    replay = signed_in.post_token({"grant_type": "refresh_token", "refresh_token": first.refresh_token})

    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    latest = signed_in.post_token({"grant_type": "refresh_token", "refresh_token": second.refresh_token})
    assert latest.status_code == 400 and latest.json()["error"] == "invalid_grant"
    assert mcp_status(signed_in, second.access_token) == 401


def test_authorization_code_replay_is_refused_and_what_it_issued_is_revoked(deployment, dcr_token):
    client = McpOAuthClient(f"{deployment.base_url}/mcp")
    client.discover()
    client.register(redirect_uri=LOOPBACK_REDIRECT, initial_access_token=dcr_token)
    request = client.authorization_request()
    code = client.authorization_code(request, log_in_and_consent(request.url, LOOPBACK_REDIRECT, TEST_USERNAME,
                                                                 TEST_PASSWORD))
    issued = client.exchange_code(request, code)

    replay = client.post_token({"grant_type": "authorization_code", "code": code,
                                "redirect_uri": LOOPBACK_REDIRECT, "code_verifier": request.code_verifier})

    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert mcp_status(client, issued.access_token) == 401
    refreshed = client.post_token({"grant_type": "refresh_token", "refresh_token": issued.refresh_token})
    assert refreshed.status_code == 400


def test_revoked_access_token_is_refused_on_the_very_next_request(signed_in):
    token = signed_in.tokens.access_token
    assert mcp_status(signed_in, token) == 200

    signed_in.revoke(token, "access_token")

    # Two gunicorn workers: every one of several requests must refuse it.
    responses = [signed_in.post_mcp(signed_in.message("tools/list"), token=token) for _ in range(6)]
    assert {response.status_code for response in responses} == {401}
    assert 'error="invalid_token"' in responses[0].headers["WWW-Authenticate"]


def test_revoked_refresh_token_can_no_longer_be_used(signed_in):
    signed_in.revoke(signed_in.tokens.refresh_token, "refresh_token")

    response = signed_in.post_token({"grant_type": "refresh_token",
                                     "refresh_token": signed_in.tokens.refresh_token})

    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_revocation_of_an_unknown_token_answers_200(signed_in):
    # RFC 7009 section 2.2: invalid tokens do not cause an error response.
    signed_in.revoke("not-a-token-this-server-issued", "access_token")


def test_refused_consent_redirects_with_access_denied_and_the_same_state(deployment, dcr_token):
    client = McpOAuthClient(f"{deployment.base_url}/mcp")
    client.discover()
    client.register(redirect_uri=LOOPBACK_REDIRECT, initial_access_token=dcr_token)  # new: no consent remembered
    request = client.authorization_request()

    redirected = log_in_and_consent(request.url, LOOPBACK_REDIRECT, TEST_USERNAME, TEST_PASSWORD, approve=False)

    assert "error=access_denied" in redirected and f"state={request.state}" in redirected
    with pytest.raises(FlowError, match="access_denied"):
        client.authorization_code(request, redirected)
