"""Organisation sign-in against a real OpenID Connect provider (panva's oidc-provider, tests/support/idp.py),
over HTTP against gunicorn with PostgreSQL and Redis: the whole MCP flow through the IdP, provisioning and
group sync, key rotation, the lifecycle (OIDC_SESSION_MAX_AGE, back-channel logout on every worker) and the
errors a person can act on."""

import json
import re
import time
from html import unescape
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

from mcp_client import FlowError, McpOAuthClient, redirect_target
from tests.e2e.test_browser import browser, site  # noqa: F401  (headless chromium, the client's web site)
from tests.support.idp import CLIENT_ID, CLIENT_SECRET, Account, Idp, new_key
from harness.servers import drop_database, e2e_redis_url, free_port, make_deployment

pytestmark = [pytest.mark.e2e, pytest.mark.needs_tools]  # Node and oidc-provider from tools/

DCR_TOKEN = "sso-dcr-token-0123456789abcdef0123"
REDIRECT_URI = "http://127.0.0.1:33418/callback"
LOCAL_PASSWORD = "correct-horse-battery-staple-42"
ADA = Account("sub-ada-7f3a", "ada", "ada-idp-password", {
    "preferred_username": "ada", "email": "ada@example.com", "given_name": "Ada", "family_name": "Lovelace",
    "groups": ["mcp-users", "engineering", "unmapped-idp-group"]})
GRACE = Account("sub-grace-91c2", "grace", "grace-idp-password", {"preferred_username": "grace", "groups": []})
NAMELESS = Account("sub-nameless-03", "nameless", "nameless-idp-password", {"email": "nameless@example.com"})
IMPOSTOR = Account("sub-impostor-55", "impostor", "impostor-idp-password", {"preferred_username": "alice"})
GROUP_MAP = "mcp-users=mcp-users,engineering=engineers"
SHORT_MAX_AGE = 4


class Site:
    def __init__(self, deployment, url, idp):
        self.deployment, self.url, self.idp = deployment, url, idp

    def shell(self, code: str) -> str:
        # The last line: `shell` may print a banner first.
        return self.deployment.manage("shell", "-c", code).stdout.strip().splitlines()[-1]

    def user(self, username: str) -> dict:
        return json.loads(self.shell(
            "import json; from django.contrib.auth import get_user_model; "
            f"u = get_user_model().objects.filter(username={username!r}).first(); "
            "i = getattr(u, 'idp_identity', None) if u else None; "
            "print(json.dumps(None if u is None else {'pk': u.pk, 'email': u.email, 'first_name': u.first_name, "
            "'last_name': u.last_name, 'usable_password': u.has_usable_password(), "
            "'groups': sorted(u.groups.values_list('name', flat=True)), "
            "'subject': i.subject if i else None, 'issuer': i.issuer if i else None}))"))


@pytest.fixture(scope="module")
def sso(tmp_path_factory):
    if not e2e_redis_url():
        pytest.skip("revocation on every worker needs Redis (REDIS_URL is not set)")
    port, short_port = free_port(), free_port()
    workdir = tmp_path_factory.mktemp("sso")
    idp = Idp(free_port(), f"http://127.0.0.1:{port}", workdir,
              {a.login: a for a in (ADA, GRACE, NAMELESS, IMPOSTOR)},
              extra_rp_urls=[f"http://127.0.0.1:{short_port}"]).start()
    deployment = make_deployment(workdir, port, DCR_AUTH_TOKEN=DCR_TOKEN, OIDC_ISSUER=idp.issuer,
                                 OIDC_CLIENT_ID=CLIENT_ID, OIDC_CLIENT_SECRET=CLIENT_SECRET,
                                 OIDC_GROUP_MAP=GROUP_MAP, OIDC_PROVIDER_NAME="Test IdP")
    site = Site(deployment, f"http://127.0.0.1:{port}", idp)
    site.shell("from django.contrib.auth import get_user_model; from django.contrib.auth.models import Group; "
               f"u = get_user_model().objects.create_user('alice', password='{LOCAL_PASSWORD}'); "
               "u.groups.add(Group.objects.create(name='local-only'))")
    try:
        deployment.start_gunicorn(port, workers=2, log_path=workdir / "gunicorn.log")
        # The same database and IdP, served with a one-minute-long IdP sign-in lifetime shrunk to seconds.
        deployment.start_gunicorn(short_port, workers=1, log_path=workdir / "gunicorn-short.log", extra_env={
            "OAUTH_ISSUER": f"http://127.0.0.1:{short_port}", "OIDC_SESSION_MAX_AGE": str(SHORT_MAX_AGE)})
        site.short_url = f"http://127.0.0.1:{short_port}"
        yield site
    finally:
        deployment.stop()
        idp.stop()
        drop_database(deployment.database_url)


# --- The person at the browser ------------------------------------------------------------------------------
FORM = re.compile(r'<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>', re.S)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def link(page: str, element_id: str) -> str | None:
    found = re.search(rf'id="{element_id}" href="([^"]+)"|href="([^"]+)"[^>]*id="{element_id}"', page)
    return unescape(found.group(1) or found.group(2)) if found else None


def browse(browser: requests.Session, url: str, redirect_uri: str, account: Account | None, *,
           abort_at_idp: bool = False, allow: bool = True, max_hops: int = 20):
    """Follow the browser's path from `url`: our login page's IdP button, the IdP's form, our consent page.
    Returns the redirect to the MCP client's redirect URI, or the last response (a page we stop at)."""
    response = browser.get(url, allow_redirects=False, timeout=15)
    for _ in range(max_hops):
        if response.is_redirect:
            location = urljoin(response.url, response.headers["Location"])
            if redirect_target(location, redirect_uri):
                return location
            response = browser.get(location, allow_redirects=False, timeout=15)
            continue
        page = response.text
        if response.status_code != 200:
            return response
        if link(page, "oidc-sign-in"):
            response = browser.get(urljoin(response.url, link(page, "oidc-sign-in")), allow_redirects=False,
                                   timeout=15)
        elif "/interaction/" in response.url:
            if abort_at_idp:
                action = [a for a, _ in FORM.findall(page) if a.endswith("/abort")][0]
                data = {}
            else:
                action = [a for a, _ in FORM.findall(page) if a.endswith("/login")][0]
                data = {"username": account.login, "password": account.password}
            response = browser.post(urljoin(response.url, action), data=data, allow_redirects=False, timeout=15)
        elif 'id="authorizationForm"' in page:
            data = dict(HIDDEN.findall(page))
            if allow:
                data["allow"] = "on"
            response = browser.post(response.url, data=data, allow_redirects=False, timeout=15)
        else:
            return response
    raise FlowError(f"no end after {max_hops} pages")


def mcp_client(site_url: str) -> McpOAuthClient:
    client = McpOAuthClient(f"{site_url}/mcp")
    client.discover()
    client.register(redirect_uri=REDIRECT_URI, initial_access_token=DCR_TOKEN)
    return client


def signed_in_client(site_url: str, account: Account, browser: requests.Session | None = None):
    client = mcp_client(site_url)
    request = client.authorization_request()
    redirect = browse(browser or requests.Session(), request.url, REDIRECT_URI, account)
    assert isinstance(redirect, str), (redirect.status_code, redirect.text[:500])
    client.finish_authorization(request, redirect)
    return client


def whoami(client: McpOAuthClient) -> dict:
    return client.call_tool("whoami", {})["structuredContent"]


def mcp_status(client: McpOAuthClient) -> int:
    return client.post_mcp(client.message("tools/list")).status_code


def refresh_error(client: McpOAuthClient) -> str | None:
    response = client.post_token({"grant_type": "refresh_token", "refresh_token": client.tokens.refresh_token})
    return None if response.status_code == 200 else response.json()["error"]


def query(url: str) -> dict:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


# --- The flow ----------------------------------------------------------------------------------------------
def test_the_login_page_offers_the_idp_by_name(sso):
    page = requests.get(f"{sso.url}/accounts/login/?next=/oauth/authorize", timeout=10).text
    assert "Sign in with Test IdP" in page
    assert link(page, "oidc-sign-in").startswith("/accounts/oidc/login/?next=")


def test_an_mcp_client_gets_tokens_for_a_person_signed_in_at_the_idp_and_calls_whoami(sso):
    client = signed_in_client(sso.url, ADA)

    me = whoami(client)
    assert me["username"] == "ada" and me["client_id"] == client.client.client_id
    ada = sso.user("ada")
    assert me["subject"] == str(ada["pk"])
    assert (ada["issuer"], ada["subject"]) == (sso.idp.issuer, ADA.sub)
    assert (ada["email"], ada["first_name"], ada["last_name"]) == ("ada@example.com", "Ada", "Lovelace")
    assert not ada["usable_password"]  # no second password database
    assert ada["groups"] == ["engineers", "mcp-users"]  # through OIDC_GROUP_MAP; the unmapped group is not made


def test_the_idp_rotating_its_keys_and_renaming_the_person_keeps_one_account_and_syncs_its_groups(sso):
    before = sso.user("ada")
    sso.shell("from django.contrib.auth.models import Group; from django.contrib.auth import get_user_model; "
              "local, _ = Group.objects.get_or_create(name='local-only'); "
              "get_user_model().objects.get(username='ada').groups.add(local)")
    renamed = Account(ADA.sub, ADA.login, ADA.password, {**ADA.claims, "preferred_username": "ada.lovelace",
                                                          "groups": ["mcp-users"]})
    sso.idp.accounts[ADA.login] = renamed  # from now on, for the rest of the module
    sso.idp.rotate_keys()  # a new kid: our workers must fetch the JWKS again

    client = signed_in_client(sso.url, renamed)

    assert whoami(client)["username"] == "ada.lovelace"
    after = sso.user("ada.lovelace")
    assert after["pk"] == before["pk"] and sso.user("ada") is None
    assert after["groups"] == ["local-only", "mcp-users"]  # engineers removed; a group the map does not name kept


# --- Errors a person can act on ----------------------------------------------------------------------------
def test_a_username_held_by_a_local_account_is_refused_and_the_local_account_is_untouched(sso):
    alice_before = sso.user("alice")
    client = mcp_client(sso.url)
    page = browse(requests.Session(), client.authorization_request().url, REDIRECT_URI, IMPOSTOR)

    assert page.status_code == 409
    assert "An account with your user name already exists" in page.text
    assert sso.user("alice") == alice_before and alice_before["subject"] is None


def test_a_missing_username_claim_explains_itself_and_creates_nobody(sso):
    users = sso.shell("from django.contrib.auth import get_user_model; print(get_user_model().objects.count())")
    page = browse(requests.Session(), mcp_client(sso.url).authorization_request().url, REDIRECT_URI, NAMELESS)

    assert page.status_code == 400
    assert "did not send the &#x27;preferred_username&#x27; claim" in page.text
    assert sso.shell("from django.contrib.auth import get_user_model; "
                     "print(get_user_model().objects.count())") == users


def test_giving_up_at_the_idp_shows_a_page_whose_cancel_answers_access_denied_to_the_client(sso):
    client = mcp_client(sso.url)
    request = client.authorization_request()
    browser = requests.Session()
    page = browse(browser, request.url, REDIRECT_URI, GRACE, abort_at_idp=True)
    assert page.status_code == 400 and "Sign-in was cancelled or refused" in page.text
    assert link(page.text, "retry").startswith("/accounts/oidc/login/?next=%2Foauth%2Fauthorize")

    answer = browser.get(urljoin(sso.url, link(page.text, "cancel")), allow_redirects=False, timeout=10)

    assert answer.status_code == 302 and redirect_target(answer.headers["Location"], REDIRECT_URI)
    assert query(answer.headers["Location"]) == {"error": "access_denied", "state": request.state,
                                                 "iss": sso.url}


def test_a_cancel_link_for_another_site_or_an_unknown_client_redirects_nowhere(sso):
    for target in ("https://evil.example/oauth/authorize?client_id=x",
                   "/oauth/authorize?response_type=code&client_id=nobody&redirect_uri=https://evil.example/cb"):
        answer = requests.get(f"{sso.url}/accounts/oidc/cancel/", params={"next": target}, allow_redirects=False,
                              timeout=10)
        assert answer.status_code == 400 and "Location" not in answer.headers


def test_a_callback_whose_state_this_browser_never_sent_is_refused_with_a_page(sso):
    browser = requests.Session()
    browser.get(f"{sso.url}/accounts/oidc/login/?next=/oauth/authorize", allow_redirects=False, timeout=10)
    page = browser.get(f"{sso.url}/accounts/oidc/callback/?code=stolen&state=forged", timeout=10)

    assert page.status_code == 400 and "This sign-in link has expired" in page.text
    assert link(page.text, "retry") == "/accounts/oidc/login/?next=%2Foauth%2Fauthorize"


def test_an_unreachable_idp_gives_a_page_that_says_so(sso, tmp_path):
    port = free_port()
    sso.deployment.start_gunicorn(port, workers=1, extra_env={
        "OAUTH_ISSUER": f"http://127.0.0.1:{port}", "OIDC_ISSUER": f"http://127.0.0.1:{free_port()}"})
    page = requests.get(f"http://127.0.0.1:{port}/accounts/oidc/login/?next=/oauth/authorize", timeout=20)

    assert page.status_code == 502
    assert "The sign-in service is not answering" in page.text and 'id="retry"' in page.text


# --- Lifecycle ---------------------------------------------------------------------------------------------
def test_refresh_is_refused_once_oidc_session_max_age_has_passed_since_the_idp_sign_in(sso):
    client = signed_in_client(sso.short_url, GRACE)
    assert refresh_error(client) is None  # within the IdP sign-in's lifetime

    time.sleep(SHORT_MAX_AGE + 1)

    assert refresh_error(client) == "invalid_grant"


def test_a_back_channel_logout_from_the_idp_ends_the_persons_tokens_on_every_worker(sso):
    browser = requests.Session()  # keeps the IdP's session cookie, as the person's browser does
    client = signed_in_client(sso.url, GRACE, browser)
    other = signed_in_client(sso.url, GRACE, browser)
    assert {mcp_status(client) for _ in range(6)} == {200}

    end = browser.get(f"{sso.idp.issuer}/session/end", timeout=10)
    action, fields = FORM.search(end.text).groups()
    signed_out = browser.post(urljoin(end.url, action), data={**dict(HIDDEN.findall(fields)), "logout": "yes"},
                              allow_redirects=False, timeout=15)
    assert signed_out.status_code in (302, 303, 200), (signed_out.status_code, signed_out.text[:300])

    deadline = time.monotonic() + 10
    while mcp_status(client) != 401 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert {mcp_status(c) for c in (client, other) for _ in range(6)} == {401}  # both workers, both clients
    assert refresh_error(client) == "invalid_grant"


# --- The back-channel logout endpoint, attacked ------------------------------------------------------------
def post_logout(sso, token: str) -> requests.Response:
    return requests.post(f"{sso.url}/accounts/oidc/backchannel-logout/", data={"logout_token": token}, timeout=10)


# What is wrong with the token -> (its claims, a fragment of the error_description that says so)
FORGERIES = {
    "signed with a key the IdP never published": ({"key": "foreign"}, "signature"),
    "for another client": ({"aud": "someone-else"}, "'aud'"),
    "from another issuer": ({"iss": "https://evil.example"}, "'iss'"),
    "carrying a nonce, like an ID token": ({"nonce": "n-0S6"}, "nonce"),
    "without the logout event": ({"events": None}, "events"),
    "with another event": ({"events": {"http://schemas.openid.net/event/other": {}}}, "events"),
    "naming neither sub nor sid": ({"sub": None}, "neither sub nor sid"),
    "issued long ago": ({"iat": int(time.time()) - 3600, "exp": None}, "iat is too old"),
    "without a jti": ({"jti": None}, "'jti'"),
}


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_a_logout_token_that_fails_a_check_is_refused_and_revokes_nothing(sso, forgery):
    client = signed_in_client(sso.url, sso.idp.accounts[ADA.login])
    claims, reason = FORGERIES[forgery]
    claims = dict(claims)
    key = new_key() if claims.pop("key", None) == "foreign" else None
    token = sso.idp.logout_token(key, **{"sub": ADA.sub, **claims})

    answer = post_logout(sso, token)

    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    assert reason in answer.json()["error_description"]
    assert answer.headers["Cache-Control"] == "no-store"
    assert mcp_status(client) == 200


def test_a_valid_logout_token_revokes_at_once_and_its_replay_is_refused(sso):
    client = signed_in_client(sso.url, sso.idp.accounts[ADA.login])
    token = sso.idp.logout_token(sub=ADA.sub)

    assert post_logout(sso, token).status_code == 200
    assert mcp_status(client) == 401 and refresh_error(client) == "invalid_grant"
    replay = post_logout(sso, token)
    assert replay.status_code == 400 and "replay" in replay.json()["error_description"]


@pytest.mark.parametrize("names", [{"sub": "nul\x00inside"}, {"sub": None, "sid": "nul\x00inside"}],
                         ids=["sub", "sid"])
def test_a_signed_logout_token_naming_text_no_identity_can_hold_revokes_nothing(sso, names):
    client = signed_in_client(sso.url, sso.idp.accounts[ADA.login])

    answer = post_logout(sso, sso.idp.logout_token(**names))  # PostgreSQL cannot even be asked for a NUL

    assert answer.status_code == 200
    assert mcp_status(client) == 200


# --- The same sign-in in a real browser --------------------------------------------------------------------
@pytest.mark.browser
def test_a_person_signs_in_through_the_idp_in_headless_chromium_and_the_client_calls_whoami(sso, browser, site):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def wait_for(element_id):
        return WebDriverWait(browser, 15).until(lambda driver: driver.find_element(By.ID, element_id))

    client = McpOAuthClient(f"{sso.url}/mcp")
    client.discover()
    client.register(redirect_uri=f"{site}/callback", initial_access_token=DCR_TOKEN)
    request = client.authorization_request()
    browser.get(request.url)
    wait_for("oidc-sign-in").click()
    account = sso.idp.accounts[GRACE.login]
    wait_for("username").send_keys(account.login)
    browser.find_element(By.ID, "password").send_keys(account.password)
    browser.find_element(By.ID, "sign-in").click()
    wait_for("authorizationForm")
    assert f"Signed in as {account.claims['preferred_username']}" in browser.find_element(By.TAG_NAME, "body").text
    browser.find_element(By.CSS_SELECTOR, "button[name=allow]").click()
    WebDriverWait(browser, 15).until(lambda driver: driver.current_url.startswith(f"{site}/callback"))

    client.finish_authorization(request, browser.current_url)
    assert whoami(client)["username"] == "grace"
