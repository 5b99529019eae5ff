"""The production configuration, as `ENVIRONMENT=production` really loads it: `check --deploy` is clean,
plain http is redirected to https (except /health), responses carry HSTS, nosniff and a referrer policy,
the login and consent pages refuse to be framed, and cookies are Secure, HttpOnly and SameSite."""

import json

import pytest

from harness.servers import drop_database, e2e_redis_url, free_port, make_deployment
from tests.support.production import safe_production_settings

pytestmark = pytest.mark.e2e

# Runs inside the production settings (a `manage.py shell`): requests through Django's own stack.
PROBE = r'''
import json, base64, hashlib, secrets
from django.test import Client
from django.contrib.auth import get_user_model
from oauth_app.models import Client as OAuthClient
user = get_user_model().objects.create_user("probe", password="probe-password-0123456789")
app = OAuthClient.objects.create(name="Probe agent", client_type="public",
                                 authorization_grant_type="authorization-code",
                                 redirect_uris="http://127.0.0.1:9/cb", token_endpoint_auth_method="none")
challenge = base64.urlsafe_b64encode(hashlib.sha256(b"v" * 50).digest()).rstrip(b"=").decode()
http = Client()
def seen(response):
    return {"status": response.status_code, "headers": dict(response.headers),
            "cookies": {name: {"secure": bool(c["secure"]), "httponly": bool(c["httponly"]),
                               "samesite": c["samesite"]} for name, c in response.cookies.items()}}
out = {"health_http": seen(http.get("/health")), "login_http": seen(http.get("/accounts/login/")),
       "login": seen(http.get("/accounts/login/", secure=True))}
out["signed_in"] = seen(http.post("/accounts/login/", {"username": "probe", "password": "probe-password-0123456789"},
                                  secure=True, HTTP_REFERER="https://localhost/accounts/login/"))
out["consent"] = seen(http.get("/oauth/authorize", {"response_type": "code", "client_id": app.client_id,
    "redirect_uri": "http://127.0.0.1:9/cb", "scope": "mcp:tools", "state": "s", "code_challenge": challenge,
    "code_challenge_method": "S256"}, secure=True))
print("PROBE" + json.dumps(out))
'''


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    deployment = make_deployment(tmp_path_factory.mktemp("production"), free_port())
    settings = {**safe_production_settings(e2e_redis_url() or "redis://127.0.0.1:6379/14"),
                "ALLOWED_HOSTS": "testserver,localhost", "LOG_LEVEL": "WARNING"}
    yield deployment, settings
    drop_database(deployment.database_url)


@pytest.fixture(scope="module")
def probe(production) -> dict:
    deployment, settings = production
    output = deployment.manage("shell", "-c", PROBE, extra_env=settings).stdout
    return json.loads(output.split("PROBE", 1)[1])


def test_check_deploy_is_clean_with_a_production_configuration(production):
    deployment, settings = production
    result = deployment.manage("check", "--deploy", "--fail-level", "WARNING", extra_env=settings, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_on_an_unsafe_production_configuration(production):
    deployment, settings = production
    result = deployment.manage("check", "--deploy", extra_env={**settings, "SECURE_HSTS_SECONDS": "0",
                                                                "SECURE_SSL_REDIRECT": "false"}, check=False)
    assert result.returncode != 0 or "security.W004" in result.stdout + result.stderr


def test_plain_http_is_redirected_to_https_except_the_health_check(probe):
    assert probe["health_http"]["status"] == 200
    assert probe["login_http"]["status"] == 301
    assert probe["login_http"]["headers"]["Location"].startswith("https://")


def test_https_responses_carry_hsts_nosniff_and_a_referrer_policy(probe):
    headers = probe["login"]["headers"]
    assert "max-age=31536000" in headers["Strict-Transport-Security"]
    assert "includeSubDomains" in headers["Strict-Transport-Security"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize("page", ["login", "consent"])
def test_the_login_and_consent_pages_refuse_to_be_framed(probe, page):
    assert probe[page]["status"] == 200, probe[page]
    assert probe[page]["headers"]["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in probe[page]["headers"]["Content-Security-Policy"]


def test_session_and_csrf_cookies_are_secure_httponly_and_samesite(probe):
    cookies = {**probe["login"]["cookies"], **probe["signed_in"]["cookies"]}
    assert probe["signed_in"]["status"] == 302, probe["signed_in"]
    assert {"sessionid", "csrftoken"} <= set(cookies)
    for name in ("sessionid", "csrftoken"):
        assert cookies[name] == {"secure": True, "httponly": True, "samesite": "Lax"}, name
