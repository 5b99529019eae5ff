"""The pure parts of mcp_client (the flow itself runs against gunicorn in tests/e2e)."""

import json
import subprocess
import sys
from pathlib import Path

import requests

from mcp_client import (
    authorization_server_metadata_url,
    parse_bearer_challenge,
    pkce_pair,
    read_jsonrpc_response,
    redirect_target,
    s256_challenge,
)


def response(body: str, content_type: str) -> requests.Response:
    built = requests.Response()
    built.status_code = 200
    built.headers["Content-Type"] = content_type
    built._content = body.encode()
    return built


def test_s256_challenge_matches_the_rfc_7636_appendix_b_example():
    assert s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_pkce_verifier_is_43_to_128_unreserved_characters_and_fresh_each_time():
    (first, challenge), (second, _) = pkce_pair(), pkce_pair()
    assert 43 <= len(first) <= 128 and first != second
    assert set(first) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    assert challenge == s256_challenge(first)


def test_bearer_challenge_params_are_read_from_www_authenticate():
    header = ('Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", '
              'scope="mcp:tools", error="invalid_token"')
    assert parse_bearer_challenge(header) == {
        "resource_metadata": "https://mcp.example.com/.well-known/oauth-protected-resource/mcp",
        "scope": "mcp:tools",
        "error": "invalid_token",
    }
    assert parse_bearer_challenge('Basic realm="x"') == {}


def test_authorization_server_metadata_url_inserts_the_well_known_segment_before_the_issuer_path():
    assert authorization_server_metadata_url("https://mcp.example.com") == \
        "https://mcp.example.com/.well-known/oauth-authorization-server"
    assert authorization_server_metadata_url("https://idp.example.com/tenant/a") == \
        "https://idp.example.com/.well-known/oauth-authorization-server/tenant/a"


def test_redirect_target_compares_the_redirect_uri_without_the_query():
    assert redirect_target("https://acme.service-now.com/oauth_redirect.do?code=x&state=y",
                           "https://acme.service-now.com/oauth_redirect.do")
    assert not redirect_target("https://acme.service-now.com.evil.example/oauth_redirect.do?code=x",
                               "https://acme.service-now.com/oauth_redirect.do")


def test_jsonrpc_response_is_read_from_json_and_from_an_event_stream():
    reply = {"jsonrpc": "2.0", "id": 7, "result": {"ok": True}}
    assert read_jsonrpc_response(response(json.dumps(reply), "application/json"), 7) == reply
    stream = (f'event: message\ndata: {json.dumps({"jsonrpc": "2.0", "method": "notifications/progress"})}\n\n'
              f"event: message\ndata: {json.dumps(reply)}\n\n")
    assert read_jsonrpc_response(response(stream, "text/event-stream"), 7) == reply


def test_the_client_package_imports_nothing_from_django_or_our_apps():
    """mcp_selftest points it at any deployment, and the benchmarks run it outside Django."""
    probe = ("import sys, mcp_client; print(sorted({m.split('.')[0] for m in sys.modules} & "
             "{'django', 'rest_framework', 'oauth2_provider', 'mcpsite', 'oauth_app', 'mcp_app', 'notes'}))")
    completed = subprocess.run([sys.executable, "-c", probe], cwd=Path(__file__).resolve().parents[2],
                               capture_output=True, text=True, timeout=60, check=True)
    assert completed.stdout.strip() == "[]"
