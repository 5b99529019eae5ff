"""Steps of the authorization-code flow, driven through Django's test client (the personas who take them
are the fixtures of tests/conftest.py)."""

import base64
import hashlib
import secrets
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

from django.conf import settings
from django.db.models import F
from oauth2_provider.models import get_refresh_token_model

from oauth_app.models import TokenEndpointAuthMethod


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorization_params(oauth_client, challenge=None, **overrides) -> dict:
    params = {
        "response_type": "code",
        "client_id": oauth_client.client_id,
        "redirect_uri": oauth_client.redirect_uris.split()[0],
        "scope": "mcp:tools",
        "state": "state-" + secrets.token_hex(4),
    }
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    params.update(overrides)
    return {name: value for name, value in params.items() if value is not None}


def authorize(browser, params: dict):
    return browser.get("/oauth/authorize?" + urlencode(params, doseq=True))


def consent(browser, page, allow=True):
    """Submit the consent form shown on `page` (its hidden fields as rendered)."""
    data = {name: value for name, value in page.context["form"].initial.items() if value is not None}
    if allow:
        data["allow"] = "on"
    return browser.post("/oauth/authorize", data)


def redirect_query(response) -> dict:
    assert response.status_code == 302, (response.status_code, getattr(response, "content", b"")[:500])
    return {name: values[0] for name, values in parse_qs(urlsplit(response["Location"]).query).items()}


def get_code(browser, oauth_client, **overrides) -> tuple[str, str | None, dict]:
    """Run authorize + consent; return (code, verifier, the authorization params)."""
    verifier, challenge = pkce_pair()
    params = authorization_params(oauth_client, challenge, **overrides)
    page = authorize(browser, params)
    response = consent(browser, page) if page.status_code == 200 else page
    return redirect_query(response)["code"], verifier, params


def client_auth(oauth_client, secret=None) -> tuple[dict, dict]:
    """(body fields, headers) that authenticate `oauth_client` the way it registered."""
    method = oauth_client.token_endpoint_auth_method
    if method == TokenEndpointAuthMethod.CLIENT_SECRET_BASIC:
        basic = base64.b64encode(f"{oauth_client.client_id}:{secret}".encode()).decode()
        return {}, {"HTTP_AUTHORIZATION": f"Basic {basic}"}
    if method == TokenEndpointAuthMethod.CLIENT_SECRET_POST:
        return {"client_id": oauth_client.client_id, "client_secret": secret}, {}
    return {"client_id": oauth_client.client_id}, {}


def post_form(http, path, oauth_client, secret=None, **fields):
    body, headers = client_auth(oauth_client, secret)
    return http.post(path, urlencode({**body, **fields}, doseq=True),
                     content_type="application/x-www-form-urlencoded", **headers)


def exchange(http, oauth_client, code, verifier, redirect_uri=None, secret=None, **extra):
    fields = {"grant_type": "authorization_code", "code": code,
              "redirect_uri": redirect_uri or oauth_client.redirect_uris.split()[0], **extra}
    if verifier:
        fields["code_verifier"] = verifier
    return post_form(http, "/oauth/token", oauth_client, secret, **fields)


def refresh(http, oauth_client, refresh_token, secret=None, **extra):
    return post_form(http, "/oauth/token", oauth_client, secret,
                     grant_type="refresh_token", refresh_token=refresh_token, **extra)


def issue_tokens(browser, oauth_client, secret=None) -> dict:
    code, verifier, params = get_code(browser, oauth_client)
    response = exchange(browser, oauth_client, code, verifier, params["redirect_uri"], secret)
    assert response.status_code == 200, response.content
    return response.json()


def age_past_the_refresh_grace() -> None:
    """Move every rotation back past REFRESH_TOKEN_REUSE_GRACE_SECONDS: a reuse after this is a replay,
    not the retry of a lost response."""
    get_refresh_token_model().objects.filter(revoked__isnull=False).update(
        revoked=F("revoked") - timedelta(seconds=settings.REFRESH_TOKEN_REUSE_GRACE_SECONDS + 1)
    )
