"""The "retry later" answer comes in the format of the app that owns the path (each app registers its
own writer at start-up; common.errors knows none), with Retry-After on every one."""

import json

import pytest
from django.test import RequestFactory

from common.errors import retry_later


def answer(path: str, status: int):
    return retry_later(RequestFactory().post(path), status=status, retry_after=7, title="Service unavailable",
                       message="The service is temporarily unavailable; retry shortly.")


@pytest.mark.parametrize("status, code", [(429, -32029), (503, -32030)])
def test_mcp_gets_a_json_rpc_error_with_the_servers_own_code(status, code):
    response = answer("/mcp", status)
    body = json.loads(response.content)
    assert (response.status_code, response["Retry-After"]) == (status, "7")
    assert body["jsonrpc"] == "2.0" and body["id"] is None
    assert body["error"]["code"] == code and body["error"]["data"] == {"retry_after": 7}


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/register", "/.well-known/oauth-authorization-server"])
def test_oauth_paths_get_rfc_6749_temporarily_unavailable(path):
    response = answer(path, 503)
    assert (response.status_code, response["Retry-After"], response["Cache-Control"]) == (503, "7", "no-store")
    assert json.loads(response.content)["error"] == "temporarily_unavailable"


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/", "/health"])
def test_every_other_path_gets_a_page(path):
    response = answer(path, 503)
    assert (response.status_code, response["Retry-After"]) == (503, "7")
    assert response["Content-Type"].startswith("text/html")
    assert b"<h1>Service unavailable</h1>" in response.content
