"""Management commands, through call_command: thin shells over oauth_app.registration."""

from io import StringIO

import pytest
from django.contrib.auth.hashers import check_password
from django.core.management import CommandError, call_command
from oauth2_provider.models import get_access_token_model

from oauth_app import tokens
from oauth_app.hashers import token_digest
from oauth_app.models import AuditEvent, Client, InitialAccessToken
from tests.support.tokens import issue_access_token

AccessToken = get_access_token_model()


def run(*args) -> list[str]:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().splitlines()


def test_issue_dcr_token_prints_the_token_once_alone_on_the_last_line(client, db):
    lines = run("issue_dcr_token", "--name", "servicenow-prod", "--expires-in", "7d", "--max-uses", "3")
    raw = lines[-1]
    assert raw.startswith("dcr_") and " " not in raw
    assert sum(raw in line for line in lines) == 1
    token = InitialAccessToken.objects.get()
    assert token.token_hash == token_digest(raw) and token.max_uses == 3
    assert 6.9 * 86400 < (token.expires_at - token.created_at).total_seconds() <= 7 * 86400
    response = client.post("/oauth/register", {"redirect_uris": ["https://acme.service-now.com/oauth_redirect.do"]},
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 201


@pytest.mark.parametrize("args", [["--expires-in", "7y"], ["--max-uses", "0"]])
def test_issue_dcr_token_refuses_bad_limits(db, args):
    with pytest.raises(CommandError):
        run("issue_dcr_token", "--name", "x", *args)
    assert not InitialAccessToken.objects.exists()


def test_list_dcr_tokens_shows_status_and_uses_but_never_the_token(db):
    raw = run("issue_dcr_token", "--name", "alpha", "--max-uses", "2")[-1]
    run("issue_dcr_token", "--name", "beta", "--expires-in", "12h")
    beta = InitialAccessToken.objects.get(name="beta")
    run("revoke_dcr_token", beta.token_prefix)
    listing = "\n".join(run("list_dcr_tokens"))
    assert "alpha" in listing and "0/2" in listing and "active" in listing
    assert "beta" in listing and "revoked" in listing
    assert raw not in listing
    active = "\n".join(run("list_dcr_tokens", "--active"))
    assert "alpha" in active and "beta" not in active


def test_revoke_dcr_token_by_id_refuses_registrations(client, db):
    raw = run("issue_dcr_token", "--name", "alpha")[-1]
    token = InitialAccessToken.objects.get()
    assert "Revoked" in run("revoke_dcr_token", str(token.pk))[0]
    assert "already revoked" in run("revoke_dcr_token", str(token.pk))[0]
    response = client.post("/oauth/register", {"redirect_uris": ["https://claude.ai/api/mcp/auth_callback"]},
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 401
    with pytest.raises(CommandError):
        run("revoke_dcr_token", "nope")


def test_register_client_confidential_prints_id_and_secret_once(db):
    lines = run("register_client", "--name", "ServiceNow", "--redirect-uri",
                "https://acme.service-now.com/oauth_redirect.do", "--auth-method", "client_secret_post")
    client_id = next(line for line in lines if line.startswith("client_id: ")).split(": ")[1]
    secret = next(line for line in lines if line.startswith("client_secret: ")).split(": ")[1]
    stored = Client.objects.get(client_id=client_id)
    assert stored.token_endpoint_auth_method == "client_secret_post"
    assert stored.client_type == "confidential" and stored.registration_policy == "command"
    assert check_password(secret, stored.client_secret) and len(secret) >= 43
    assert stored.require_pkce


def test_register_client_public_has_no_secret_and_several_redirect_uris(db):
    lines = run("register_client", "--name", "Cursor", "--public",
                "--redirect-uri", "cursor://anysphere.cursor-mcp/oauth/callback",
                "--redirect-uri", "http://localhost:8787/callback")
    assert not any(line.startswith("client_secret") for line in lines)
    stored = Client.objects.get(name="Cursor")
    assert stored.client_type == "public" and stored.token_endpoint_auth_method == "none"
    assert stored.redirect_uris.split() == ["cursor://anysphere.cursor-mcp/oauth/callback",
                                            "http://localhost:8787/callback"]


def test_register_client_no_pkce_switch_and_refusals(db):
    run("register_client", "--name", "legacy", "--redirect-uri", "https://legacy.example/cb", "--no-pkce")
    assert Client.objects.get(name="legacy").require_pkce is False
    with pytest.raises(CommandError, match="invalid_redirect_uri"):
        run("register_client", "--name", "bad", "--redirect-uri", "http://evil.example/cb")
    with pytest.raises(CommandError):
        run("register_client", "--name", "bad", "--public", "--no-pkce", "--redirect-uri", "https://a.example/cb")
    assert Client.objects.count() == 1


def test_revoke_client_revokes_tokens_and_disable_stops_the_client(servicenow_client, alice):
    client = servicenow_client
    raw = issue_access_token(client, alice, refresh_token=True)
    tokens.verify_access_token(raw)
    assert run("revoke_client", client.client_id) == [f"Revoked 1 access token(s) of client {client.client_id}."]
    with pytest.raises(tokens.InvalidToken):
        tokens.verify_access_token(raw)
    raw = issue_access_token(client, alice, refresh_token=True)
    run("revoke_client", client.client_id, "--disable", "--keep-tokens")
    client.refresh_from_db()
    assert not client.is_enabled and AccessToken.objects.filter(application=client).exists()
    with pytest.raises(tokens.InvalidToken):
        tokens.verify_access_token(raw)
    run("revoke_client", client.client_id, "--enable")
    assert tokens.verify_access_token(raw).client_id == client.client_id
    kinds = list(AuditEvent.objects.filter(actor="command:revoke_client").values_list("kind", flat=True))
    assert sorted(kinds) == ["admin_action", "client_disabled", "client_enabled"]
    with pytest.raises(CommandError):
        run("revoke_client", "no-such-client")
