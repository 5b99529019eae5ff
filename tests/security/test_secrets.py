"""No secret is ever written where an attacker could read it: the server's logs (at DEBUG, after a full
flow through gunicorn) and a dump of the database hold no usable client secret, initial access token,
registration token, authorization code, access or refresh token, session cookie, nor the user's password;
a session key read from the database, presented as the cookie, signs nobody in."""

import re
import shutil
import subprocess

import pytest
import requests

from harness.servers import drop_database, free_port, make_deployment
from mcp_client import McpOAuthClient, log_in_and_consent

pytestmark = pytest.mark.e2e

USERNAME, PASSWORD = "mallory-target", "a-password-nobody-guesses-9137"
REDIRECT_URI = "http://127.0.0.1:9/callback"
SIGNED_IN_PAGE = "/accounts/password_change/"  # 200 when signed in, else a redirect to the login page


def signed_in_session_cookie(base_url: str) -> str:
    """Signs in on the login form as a browser does; returns the session cookie's value."""
    browser = requests.Session()
    page = browser.get(f"{base_url}/accounts/login/", timeout=10)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = browser.post(f"{base_url}/accounts/login/", allow_redirects=False, timeout=10,
                            data={"csrfmiddlewaretoken": csrf, "username": USERNAME, "password": PASSWORD},
                            headers={"Referer": f"{base_url}/accounts/login/"})
    assert response.status_code == 302, response.text[:500]
    return browser.cookies["sessionid"]


def page_status_with_session_cookie(base_url: str, value: str) -> int:
    return requests.get(f"{base_url}{SIGNED_IN_PAGE}", cookies={"sessionid": value}, allow_redirects=False,
                        timeout=10).status_code


@pytest.fixture(scope="module")
def full_flow(tmp_path_factory):
    """Every secret a full flow handles, and where the server wrote its logs."""
    port = free_port()
    deployment = make_deployment(tmp_path_factory.mktemp("secrets"), port, LOG_LEVEL="DEBUG")
    log_path = tmp_path_factory.mktemp("logs") / "gunicorn.log"
    try:
        deployment.manage("shell", "-c", "from django.contrib.auth import get_user_model; "
                          f"get_user_model().objects.create_user('{USERNAME}', password='{PASSWORD}')")
        initial = deployment.manage("issue_dcr_token", "--name", "secrets").stdout.strip().splitlines()[-1]
        deployment.start_gunicorn(port, log_path=log_path)
        client = McpOAuthClient(f"http://127.0.0.1:{port}/mcp")
        client.discover()
        registered = client.register(redirect_uri=REDIRECT_URI, initial_access_token=initial,
                                     token_endpoint_auth_method="client_secret_post")
        request = client.authorization_request()
        code = client.authorization_code(request, log_in_and_consent(request.url, REDIRECT_URI, USERNAME, PASSWORD))
        first = client.exchange_code(request, code)
        client.initialize()
        client.call_tool("echo", {"message": "hello"})
        second = client.refresh()
        client.call_tool("echo", {"message": "again"})
        client.revoke(second.refresh_token, "refresh_token")
        base_url = f"http://127.0.0.1:{port}"
        session_cookie = signed_in_session_cookie(base_url)
        stored_keys = deployment.manage("shell", "-c", "from django.contrib.sessions.models import Session; "
                                        "print(*Session.objects.values_list('session_key', flat=True))"
                                        ).stdout.split()
        sessions = {
            "cookie": page_status_with_session_cookie(base_url, session_cookie),
            "stored keys": [page_status_with_session_cookie(base_url, key) for key in stored_keys],
        }
        secrets = {
            "initial access token": initial,
            "client secret": registered.client_secret,
            "registration access token": registered.registration["registration_access_token"],
            "authorization code": code,
            "first access token": first.access_token,
            "first refresh token": first.refresh_token,
            "second access token": second.access_token,
            "second refresh token": second.refresh_token,
            "password": PASSWORD,
            "session cookie": session_cookie,
        }
        deployment.stop()  # flushes the logs
        yield secrets, log_path.read_text(), deployment.database_url, sessions
    finally:
        deployment.stop()
        drop_database(deployment.database_url)


def leaked(secrets: dict, text: str) -> list[str]:
    found = []
    for name, value in secrets.items():
        assert value and len(value) >= 16, name
        # A JWT's signature alone would let nobody in, but its header+payload+signature would: look for the
        # whole value and for its last 24 characters (a truncated or re-quoted copy).
        if value in text or value[-24:] in text:
            found.append(name)
    return found


def test_the_logs_of_a_full_flow_hold_no_secret(full_flow):
    secrets, logs, _, _ = full_flow
    assert "POST /oauth/token" in logs and "POST /mcp" in logs  # the logs are the right ones
    assert leaked(secrets, logs) == []


def test_a_database_dump_holds_no_usable_secret(full_flow):
    secrets, _, database_url, _ = full_flow
    if database_url.startswith("postgres"):
        pg_dump = shutil.which("pg_dump") or "/usr/lib/postgresql/15/bin/pg_dump"
        dump = subprocess.run([pg_dump, "--data-only", database_url], capture_output=True, text=True,
                              timeout=60, check=True).stdout
    else:
        dump = open(database_url.removeprefix("sqlite:///"), "rb").read().decode("latin-1")
    assert "oauth_app_client" in dump and "oauth2_provider_accesstoken" in dump  # the dump has the tables
    assert leaked(secrets, dump) == []


def test_a_session_key_from_the_database_presented_as_the_cookie_signs_nobody_in(full_flow):
    *_, sessions = full_flow
    assert sessions["cookie"] == 200  # the real cookie is signed in
    assert sessions["stored keys"] and all(status == 302 for status in sessions["stored keys"])
