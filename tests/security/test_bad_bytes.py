"""Bad bytes get a 4xx, never a 500: a NUL character (raw, %00, inside Basic credentials or a cookie) or a
lone UTF-16 surrogate in any OAuth parameter or registration field answers the endpoint's standard error,
and the database does not move. PostgreSQL is the backend that refuses NUL: these run against it."""

import base64
import json
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from oauth_app.models import Client
from tests.security.conftest import Grant, database_unchanged, issue_initial_access_token, pkce_pair
from tests.support.personas import AGENT_REDIRECT as REDIRECT_URI

pytestmark = pytest.mark.django_db

PROPERTY = hypothesis_settings(max_examples=60, deadline=None,
                               suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
OAUTH_ERRORS = {"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type",
                "invalid_scope", "invalid_target"}
REGISTRATION_ERRORS = {"invalid_client_metadata", "invalid_redirect_uri"}
METADATA = {"client_name": "Acme agent", "redirect_uris": ["https://agent.example.com/callback"],
            "token_endpoint_auth_method": "none"}

UNSTORABLE = st.sampled_from(["\x00", "%00", "\ud800", "\udfff", "\udbff\udbff"])
hostile_text = st.lists(UNSTORABLE | st.sampled_from(["\u202e", "\r\n", "\ufffd", "é", "+", "%"])
                        | st.characters(exclude_categories=()), min_size=1, max_size=12).map("".join)
# Strings that can never be stored: something around a NUL or a lone surrogate.
unstorable_text = st.tuples(st.text(max_size=6), st.sampled_from(["\x00", "\ud800", "\udfff"]),
                            st.text(max_size=6)).map("".join)


@pytest.fixture(autouse=True)
def no_rate_limits(settings):
    settings.RATE_LIMIT_OAUTH_MAX = 100_000


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode("utf-8", "surrogatepass")).decode()


def post_form(http, path: str, data: dict, authorization: str | None = None):
    """Form-encoded as a client would send it; a lone surrogate goes out as the invalid UTF-8 it encodes to."""
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    body = urlencode(data, encoding="utf-8", errors="surrogatepass")
    return http.post(path, body, content_type="application/x-www-form-urlencoded", **headers)


def assert_oauth_error(response):
    assert response.status_code in (400, 401), (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"] in OAUTH_ERRORS
    assert response["Cache-Control"] == "no-store"


def assert_registration_error(response):
    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert response.json()["error"] in REGISTRATION_ERRORS
    assert "client_id" not in response.json()


# --- Token, introspection, revocation (properties) --------------------------------------------------

TOKEN_FIELDS = ["grant_type", "code", "redirect_uri", "client_id", "client_secret", "code_verifier", "refresh_token",
                "resource", "scope"]
CLIENT_FIELDS = ["token", "token_type_hint", "client_id", "client_secret"]


@PROPERTY
@given(fields=st.dictionaries(st.sampled_from(TOKEN_FIELDS), hostile_text, min_size=1),
       credentials=st.none() | hostile_text)
def test_hostile_text_in_any_token_parameter_gets_the_standard_oauth_error(client, confidential_client, fields,
                                                                           credentials):
    oauth_client, secret = confidential_client
    data = {"grant_type": "authorization_code", "code": "not-a-code", "redirect_uri": REDIRECT_URI,
            "client_id": oauth_client.client_id, "client_secret": secret, "code_verifier": "v" * 43, **fields}
    authorization = basic(credentials, secret) if credentials is not None else None
    with database_unchanged():
        response = post_form(client, "/oauth/token", data, authorization)
    assert_oauth_error(response)


@PROPERTY
@given(fields=st.dictionaries(st.sampled_from(CLIENT_FIELDS), hostile_text, min_size=1),
       credentials=st.none() | hostile_text)
def test_hostile_text_in_any_introspection_parameter_gets_a_standard_answer(client, confidential_client, fields,
                                                                            credentials):
    oauth_client, secret = confidential_client
    data = {"token": "not-a-token", "client_id": oauth_client.client_id, "client_secret": secret, **fields}
    authorization = basic(credentials, secret) if credentials is not None else None
    with database_unchanged():
        response = post_form(client, "/oauth/introspect", data, authorization)
    if response.status_code == 200:
        assert response.json() == {"active": False}
    else:
        assert_oauth_error(response)


@PROPERTY
@given(fields=st.dictionaries(st.sampled_from(CLIENT_FIELDS), hostile_text, min_size=1),
       credentials=st.none() | hostile_text)
def test_hostile_text_in_any_revocation_parameter_gets_a_standard_answer(client, confidential_client, fields,
                                                                         credentials):
    oauth_client, secret = confidential_client
    data = {"token": "not-a-token", "client_id": oauth_client.client_id, "client_secret": secret, **fields}
    authorization = basic(credentials, secret) if credentials is not None else None
    with database_unchanged():
        response = post_form(client, "/oauth/revoke", data, authorization)
    if response.status_code != 200:  # RFC 7009 section 2.2: an unknown token is revoked with a 200
        assert_oauth_error(response)


# --- Registration (properties) ---------------------------------------------------------------------

REGISTRATION_FIELDS = ["client_name", "scope", "logo_uri", "software_id", "token_endpoint_auth_method",
                       "application_type", "redirect_uris", "contacts", "grant_types", "a key"]


def poisoned(body: dict, field: str, bad: str) -> dict:
    """`body` with an unstorable string in `field` (in a list for list fields, as the key for "a key")."""
    body = dict(body)
    if field == "a key":
        body[bad] = "x"
    elif field in ("redirect_uris", "contacts", "grant_types"):
        body[field] = [*body.get(field, ["authorization_code"] if field == "grant_types" else []), bad]
    else:
        body[field] = bad
    return body


@PROPERTY
@given(field=st.sampled_from(REGISTRATION_FIELDS), bad=unstorable_text)
def test_registration_with_an_unstorable_string_in_any_field_is_refused(client, field, bad):
    token = issue_initial_access_token()
    with database_unchanged():
        response = client.post("/oauth/register", json.dumps(poisoned(METADATA, field, bad)),
                               content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert_registration_error(response)


@PROPERTY
@given(fields=st.dictionaries(st.sampled_from(REGISTRATION_FIELDS[:-1]), hostile_text | st.lists(hostile_text)))
def test_registration_with_hostile_text_registers_or_refuses_and_never_half_registers(client, fields):
    token = issue_initial_access_token()
    before = Client.objects.count()
    response = client.post("/oauth/register", json.dumps({**METADATA, **fields}), content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code in (201, 400), (response.status_code, response.content[:300])
    if response.status_code == 400:
        assert_registration_error(response)
        assert Client.objects.count() == before
    else:
        assert Client.objects.count() == before + 1


@pytest.fixture
def registered(client):
    token = issue_initial_access_token()
    response = client.post("/oauth/register", json.dumps(METADATA), content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 201
    return response.json()


@PROPERTY
@given(field=st.sampled_from(REGISTRATION_FIELDS), bad=unstorable_text)
def test_an_rfc_7592_update_with_an_unstorable_string_is_refused_and_changes_nothing(client, registered, field,
                                                                                     bad):
    stored = Client.objects.get(client_id=registered["client_id"])
    body = poisoned({**METADATA, "client_id": registered["client_id"]}, field, bad)
    with database_unchanged():
        response = client.put(f"/oauth/register/{registered['client_id']}", json.dumps(body),
                              content_type="application/json",
                              HTTP_AUTHORIZATION=f"Bearer {registered['registration_access_token']}")
    assert_registration_error(response)
    after = Client.objects.get(pk=stored.pk)
    assert (after.name, after.registration_metadata, after.registration_access_token_hash) == (
        stored.name, stored.registration_metadata, stored.registration_access_token_hash)


# --- Every other entry point: pages, paths, credentials, cookies ---------------------------------------

@pytest.fixture
def browser(client, alice):
    client.force_login(alice)
    return client


def authorize_query(oauth_client, **overrides) -> str:
    params = {"response_type": "code", "client_id": oauth_client.client_id, "redirect_uri": REDIRECT_URI,
              "scope": "mcp:tools", "state": "s", "code_challenge": pkce_pair()[1], "code_challenge_method": "S256"}
    return urlencode({**params, **overrides})


@pytest.mark.parametrize("field", ["client_id", "redirect_uri", "scope", "state", "code_challenge", "resource"])
@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
def test_a_nul_in_any_authorization_parameter_is_a_400_page(client, alice, public_client, field, signed_in):
    if signed_in:
        client.force_login(alice)
    with database_unchanged():
        response = client.get("/oauth/authorize?" + authorize_query(public_client, **{field: "a\x00b"}))
    assert response.status_code == 400
    assert "Location" not in response


@pytest.mark.parametrize("field", ["client_id", "redirect_uri", "scope", "state", "code_challenge"])
def test_a_nul_in_the_consent_form_is_a_400_and_no_code(browser, public_client, field):
    form = {"client_id": public_client.client_id, "redirect_uri": REDIRECT_URI, "scope": "mcp:tools", "state": "s",
            "response_type": "code", "code_challenge": pkce_pair()[1], "code_challenge_method": "S256",
            "allow": "on", field: "a\x00b"}
    with database_unchanged():
        response = post_form(browser, "/oauth/authorize", form)
    assert response.status_code == 400
    assert not Grant.objects.exists()


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_a_nul_in_the_sign_in_form_is_a_400(client, alice, encoding):
    form = {"username": "alice\x00", "password": "whatever"}
    with database_unchanged():
        response = (post_form(client, "/accounts/login/", form) if encoding == "urlencoded"
                    else client.post("/accounts/login/", form))
    assert response.status_code == 400


@pytest.mark.parametrize("credentials", [("a\x00", "b"), ("a", "b\x00"), ("a%00", "b")],
                         ids=["nul-client-id", "nul-secret", "percent-encoded-nul"])
def test_a_nul_inside_basic_credentials_gets_invalid_request(client, credentials):
    with database_unchanged():
        response = post_form(client, "/oauth/token", {"grant_type": "authorization_code", "code": "x"},
                             basic(*credentials))
    assert_oauth_error(response)
    assert response.json()["error"] == "invalid_request"


# Base64 that decodes to bytes which are not UTF-8 and hold a NUL: one in eight random 32-byte values does.
NOT_CREDENTIALS = "Basic " + base64.b64encode(b"\xff\x00\x9c" + bytes(range(200, 230))).decode()


def test_a_basic_value_that_is_no_credentials_is_refused_by_client_authentication_not_as_a_nul(client, db):
    with database_unchanged():
        token = post_form(client, "/oauth/token", {"grant_type": "authorization_code", "code": "x"},
                          NOT_CREDENTIALS)
        registration = client.post("/oauth/register", {"redirect_uris": ["https://agent.example.com/cb"]},
                                   content_type="application/json", HTTP_AUTHORIZATION=NOT_CREDENTIALS)
    assert (token.status_code, token.json()["error"]) == (401, "invalid_client")
    assert (registration.status_code, registration.json()["error"]) == (401, "invalid_token")


@pytest.mark.parametrize("method", ["get", "delete"])
def test_a_nul_in_the_client_configuration_path_gets_the_registration_error(client, method):
    with database_unchanged():
        response = getattr(client, method)("/oauth/register/a%00b", HTTP_AUTHORIZATION="Bearer x")
    assert_registration_error(response)


@pytest.mark.parametrize("path", ["/.well-known/oauth-authorization-server/a%00b",
                                  "/.well-known/oauth-protected-resource?x=%00", "/admin/oauth_app/client/?q=%00"])
def test_a_nul_in_any_other_path_or_query_is_a_400(admin_client, path):
    assert admin_client.get(path).status_code == 400


def test_a_cookie_spelling_a_nul_is_a_400(client):
    response = client.get("/accounts/login/", HTTP_COOKIE='sessionid="\\000abcdefghijklmnop"')
    assert response.status_code == 400


@pytest.mark.parametrize("challenge", ["c" * 129, "é" * 43, "c" * 42],
                         ids=["longer-than-128", "non-ascii", "shorter-than-43"])
def test_a_malformed_pkce_challenge_is_refused_before_consent_and_never_stored(browser, public_client, challenge):
    with database_unchanged():
        response = browser.get("/oauth/authorize?" + authorize_query(public_client, code_challenge=challenge))
    assert response.status_code == 302
    assert "error=invalid_request" in response["Location"]
