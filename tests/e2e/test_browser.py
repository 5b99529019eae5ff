"""Login and consent in a real browser (headless Debian chromium through chromedriver) against gunicorn:
the person signs in, sees who asks (client name, redirect host, scopes), approves and lands on the client's
redirect URI with a code; denying sends access_denied; another site cannot frame the pages."""

import secrets
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from harness.servers import free_port
from mcp_client import pkce_pair
from tests.e2e.conftest import TEST_PASSWORD, TEST_USERNAME
from tests.support.binaries import require_binary

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CLIENT_NAME = "Browser Test Agent"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1024,768"]


class Site(BaseHTTPRequestHandler):
    """The client's side: its redirect URI, and a page that tries to frame the server's pages."""

    frame_target = ""

    def do_GET(self):
        if self.path.startswith("/frame"):
            body = f'<html><body><iframe id="victim" src="{self.frame_target}" width="600" height="400"></iframe>'
        else:
            body = "<html><body><h1 id='landed'>Client callback</h1>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site():
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def oauth_client(deployment, issue_dcr_token, site) -> dict:
    """A new client per test: an approval is remembered per client, and each test must see the consent page."""
    response = requests.post(f"{deployment.base_url}/oauth/register", timeout=10, json={
        "client_name": CLIENT_NAME, "redirect_uris": [f"{site}/callback"], "token_endpoint_auth_method": "none"},
        headers={"Authorization": f"Bearer {issue_dcr_token('browser')}"})
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def browser():
    require_binary("chromium", "chromium")
    require_binary("chromedriver", "chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    profile = tempfile.TemporaryDirectory(prefix="chromium-")
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile.name}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        profile.cleanup()


def authorization_url(deployment, oauth_client, state) -> str:
    _, challenge = pkce_pair()
    return f"{deployment.base_url}/oauth/authorize?" + urlencode({
        "response_type": "code", "client_id": oauth_client["client_id"],
        "redirect_uri": oauth_client["redirect_uris"][0], "scope": "mcp:tools", "state": state,
        "code_challenge": challenge, "code_challenge_method": "S256"})


def sign_in_to_consent(browser, deployment, oauth_client, state):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(authorization_url(deployment, oauth_client, state))
    browser.find_element(By.NAME, "username").send_keys(TEST_USERNAME)
    browser.find_element(By.NAME, "password").send_keys(TEST_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form [type=submit]").click()
    # The click returns before the next page has loaded: wait for the consent form (or fail with the page).
    try:
        return WebDriverWait(browser, 15).until(lambda driver: driver.find_element(By.ID, "authorizationForm"))
    except TimeoutException:
        pytest.fail(f"no consent form at {browser.current_url}: {browser.page_source[:1500]}")


def landed(browser, site) -> dict:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 15).until(lambda driver: driver.current_url.startswith(f"{site}/callback"))
    return {key: values[0] for key, values in parse_qs(urlsplit(browser.current_url).query).items()}


def test_a_person_signs_in_sees_who_asks_approves_and_the_client_gets_a_code(browser, deployment, oauth_client,
                                                                             site):
    from selenium.webdriver.common.by import By

    state = secrets.token_urlsafe(8)
    sign_in_to_consent(browser, deployment, oauth_client, state)
    page = browser.find_element(By.TAG_NAME, "body").text
    assert CLIENT_NAME in page
    assert "127.0.0.1" in page  # the redirect host the person is sent back to
    assert "Use the tools, resources and prompts" in page  # the scope, in words
    browser.find_element(By.CSS_SELECTOR, "button[name=allow]").click()
    query = landed(browser, site)
    assert query["state"] == state
    assert len(query["code"]) >= 20
    assert "error" not in query


def test_denying_consent_sends_access_denied_to_the_client(browser, deployment, oauth_client, site):
    from selenium.webdriver.common.by import By

    state = secrets.token_urlsafe(8)
    form = sign_in_to_consent(browser, deployment, oauth_client, state)
    form.find_element(By.XPATH, ".//button[not(@name='allow')]").click()
    query = landed(browser, site)
    assert query["error"] == "access_denied"
    assert query["state"] == state
    assert "code" not in query


def frame_text(browser, site, target) -> str:
    """What a page on another origin shows when it frames `target` (empty when the browser refused)."""
    from selenium.webdriver.common.by import By

    Site.frame_target = target
    browser.get(f"{site}/frame")
    browser.switch_to.frame(browser.find_element(By.ID, "victim"))
    try:
        return browser.execute_script("return document.URL + ' ' + (document.body ? document.body.innerText : '')")
    finally:
        browser.switch_to.default_content()


def test_the_login_and_consent_pages_refuse_to_be_framed_by_another_site(browser, deployment, oauth_client, site):
    # Control: a page that allows framing shows its text inside the frame.
    assert "Client callback" in frame_text(browser, site, f"{site}/callback")
    login = frame_text(browser, site, f"{deployment.base_url}/accounts/login/")
    assert "chrome-error://" in login and "Password" not in login
    sign_in_to_consent(browser, deployment, oauth_client, "framed")  # signed in: the consent page itself
    consent = frame_text(browser, site, authorization_url(deployment, oauth_client, "framed"))
    assert "chrome-error://" in consent and CLIENT_NAME not in consent
