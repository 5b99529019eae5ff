"""Registration refuses what authorization would refuse: a redirect URI that a browser or a person would read
differently from the string compared (non-ASCII or internationalised hosts, bidi and invisible characters,
controls, whitespace, fragments, user info, backslashes, odd hosts) is refused at registration with
invalid_redirect_uri, and the authorization endpoint refuses it too, through the same function, even for a
row stored before the rule. Client names are shown neutralised on the consent page."""

import json
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, assume, example, given, settings as hypothesis_settings, strategies as st

from oauth_app.models import Client
from oauth_app.redirect_uris import redirect_uri_problem
from tests.security.conftest import Grant, database_unchanged, issue_initial_access_token, pkce_pair
from tests.support.personas import AGENT_REDIRECT

pytestmark = pytest.mark.django_db


def stored_client(*, name="Acme agent", redirect_uri=AGENT_REDIRECT) -> Client:
    """A public client written straight to the table, past registration's checks (as rows stored before a
    rule existed, or by a careless script, would be)."""
    return Client.objects.create(
        name=name, client_type=Client.CLIENT_PUBLIC, authorization_grant_type=Client.GRANT_AUTHORIZATION_CODE,
        redirect_uris=redirect_uri, token_endpoint_auth_method="none", scope="mcp:tools",
    )

REFUSED = {
    "non-ascii-host": "https://exämple.com/callback",
    "fullwidth-host": "https://ａｇｅｎｔ.example.com/callback",
    "cyrillic-homograph": "https://аgent.example.com/callback",
    "bidi-override-in-path": "https://agent.example.com/\u202ekcabllac",
    "bidi-override-in-host": "https://agent.example.com\u202e.evil.com/callback",
    "zero-width-space": "https://agent\u200b.example.com/callback",
    "control-character": "https://agent.example.com/call\x01back",
    "delete-character": "https://agent.example.com/callback\x7f",
    "tab": "https://agent.example.com/\tcallback",
    "space": "https://agent.example.com/call back",
    "fragment": "https://agent.example.com/callback#x",
    "userinfo": "https://agent.example.com@evil.example/callback",
    "empty-userinfo": "https://@agent.example.com/callback",
    "backslash": "https://evil.example\\.agent.example.com/callback",
    "percent-encoded-host": "https://agent%2eexample.com/callback",
    "ipv6-zone": "http://[fe80::1%25eth0]:8080/callback",
    "bad-ipv4": "https://256.1.1.1/callback",
    "hyphen-label": "https://-agent.example.com/callback",
    "trailing-dot": "https://agent.example.com./callback",
    "private-scheme-bidi": "cursor://anysphere\u202e.cursor-mcp/oauth/callback",
    "stray-percent": "https://agent.example.com/100%",
    "brackets-in-path": "https://agent.example.com/[callback]",
    "ipv4-in-brackets": "https://[::127.0.0.1]/callback",
}
ACCEPTED = ["https://agent.example.com/callback", "https://xn--exmple-cua.com/callback",
            "http://127.0.0.1:8765/callback", "http://[::1]/callback", "cursor://anysphere.cursor-mcp/oauth/callback"]


@pytest.fixture(autouse=True)
def no_rate_limits(settings):
    settings.RATE_LIMIT_OAUTH_MAX = 100_000


@pytest.fixture
def browser(client, alice):
    client.force_login(alice)
    return client


def register(http, token=None, **metadata):
    body = {"client_name": "Acme agent", "redirect_uris": ["https://agent.example.com/callback"],
            "token_endpoint_auth_method": "none", **metadata}
    return http.post("/oauth/register", json.dumps(body), content_type="application/json",
                     HTTP_AUTHORIZATION=f"Bearer {token or issue_initial_access_token()}")


def authorize(http, oauth_client, redirect_uri):
    query = {"response_type": "code", "client_id": oauth_client.client_id, "redirect_uri": redirect_uri,
             "scope": "mcp:tools", "state": "s", "code_challenge": pkce_pair()[1], "code_challenge_method": "S256"}
    return http.get("/oauth/authorize?" + urlencode(query))


@pytest.mark.parametrize("uri", REFUSED.values(), ids=REFUSED.keys())
def test_registration_refuses_a_redirect_uri_the_authorization_endpoint_would_refuse(client, uri):
    token, before = issue_initial_access_token(), Client.objects.count()
    with database_unchanged():
        response = register(client, token, redirect_uris=[uri])
    assert response.status_code == 400, response.content[:300]
    assert response.json()["error"] == "invalid_redirect_uri"
    assert Client.objects.count() == before


@pytest.mark.parametrize("uri", [uri for uri in REFUSED.values() if not any(ch.isspace() for ch in uri)],
                         ids=[name for name, uri in REFUSED.items() if not any(ch.isspace() for ch in uri)])
def test_authorization_refuses_such_a_redirect_uri_even_when_a_stored_client_holds_it(browser, uri):
    oauth_client = stored_client(redirect_uri=uri)  # stored directly, as before the rule
    with database_unchanged():
        response = authorize(browser, oauth_client, uri)
    assert response.status_code == 400, response.status_code
    assert "Location" not in response
    assert not Grant.objects.exists()


@pytest.mark.parametrize("uri", ACCEPTED)
def test_well_formed_redirect_uris_register_and_reach_the_consent_page(browser, uri):
    registered = register(browser, redirect_uris=[uri])
    assert registered.status_code == 201, registered.content[:300]
    oauth_client = Client.objects.get(client_id=registered.json()["client_id"])
    assert authorize(browser, oauth_client, uri).status_code == 200


nasty = st.sampled_from(["\u202e", "\u200b", "ä", "а", "\\", "@", "#", "%", "%2e", ":", "[", "]", "\x01", "*", "."])
uris = st.builds(lambda scheme, host, path: f"{scheme}://{host}{path}",
                 st.sampled_from(["https", "http", "cursor", "javascript"]),
                 st.lists(st.sampled_from(["agent", "example", "com", "127.0.0.1", "localhost", "-x", "xn--bcher-kva"])
                          | nasty, min_size=1, max_size=5).map("".join),
                 st.lists(st.sampled_from(["/", "cb", "?x=1"]) | nasty, max_size=4).map("".join))


@hypothesis_settings(max_examples=40, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(uri=uris)
@example(uri="https://agent.example.com/%")  # oauthlib refuses a stray % at authorization: so does registration
def test_registration_and_authorization_agree_on_every_redirect_uri(browser, uri):
    assume(not any(ch.isspace() for ch in uri))  # a stored row separates URIs with spaces
    registered = register(browser, redirect_uris=[uri])
    assert registered.status_code in (201, 400), registered.content[:300]
    if registered.status_code == 201:
        oauth_client = Client.objects.get(client_id=registered.json()["client_id"])
    else:
        assert registered.json()["error"] == "invalid_redirect_uri"
        oauth_client = stored_client(redirect_uri=uri)
    answered = authorize(browser, oauth_client, uri)
    assert (answered.status_code == 200) == (registered.status_code == 201) == (redirect_uri_problem(uri) is None), uri


# --- Client names on the consent page -----------------------------------------------------------------

HIDDEN = ["\u202e", "\u202d", "\u2066", "\u200b", "\u200f", "\ufeff", "\x1b", "\n", "\r", "\u2028"]


def test_registration_stores_the_client_name_neutralised_and_bounded(client):
    response = register(client, client_name="Acme\u202e\u200b agent\r\nfdp.exe" + "x" * 200)
    assert response.status_code == 201
    name = Client.objects.get(client_id=response.json()["client_id"]).name
    assert response.json()["client_name"] == name
    assert name.startswith("Acme agent fdp.exe") and len(name) <= 100
    assert not any(ch in name for ch in HIDDEN)


def test_the_consent_page_shows_a_stored_name_with_bidi_and_control_characters_neutralised(browser):
    spoof = "Acme \u202eelif.exe\u202c\u200b\x1b[31m\nSign in as admin" + "y" * 150
    oauth_client = stored_client(name=spoof)  # stored directly: display neutralises whatever is stored
    page = authorize(browser, oauth_client, oauth_client.redirect_uris).content.decode()
    assert not any(ch in page for ch in HIDDEN[:6])
    assert "\x1b" not in page
    assert "Acme elif.exe[31m Sign in as admin" in page
    assert "y" * 100 not in page


def test_a_name_of_only_invisible_characters_shows_the_client_id(browser):
    oauth_client = stored_client(name="\u202e\u200b\u2066")
    page = authorize(browser, oauth_client, oauth_client.redirect_uris).content.decode()
    assert f"<strong>{oauth_client.client_id}</strong>" in page
