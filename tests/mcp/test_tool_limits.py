"""Per-tool rate limits (`@tool(rate_limit=...)`) and step-up authorization for a tool's scopes."""

import pytest
from django.core.cache import cache

from mcp_app.tool_limits import RETRY_AFTER_META_KEY
from tests.mcp import tools_for_access  # noqa: F401  (registers the tools these tests use)
from tests.mcp.conftest import Mcp
from tests.support.tokens import issue_access_token


def test_a_rate_limited_tool_answers_a_tool_error_with_retry_after_once_over_its_limit(mcp):
    for _ in range(3):
        assert mcp.call_tool("test_limited") == {"content": [{"type": "text", "text": "done"}]}
    limited = mcp.call_tool("test_limited")  # still HTTP 200 and a JSON-RPC result: the model can act on it
    assert limited["isError"] is True
    retry_after = limited["_meta"][RETRY_AFTER_META_KEY]
    assert 0 < retry_after <= 60
    assert f"Retry after {retry_after} seconds" in limited["content"][0]["text"]


def test_the_limit_counts_per_client_and_user(client, mcp, django_user_model, servicenow_client):
    for _ in range(3):
        mcp.call_tool("test_limited")
    bob = Mcp(client, issue_access_token(servicenow_client, django_user_model.objects.create_user("bob")))
    assert "isError" not in bob.call_tool("test_limited")
    assert mcp.call_tool("test_limited")["isError"] is True


def test_the_limit_is_counted_in_the_shared_cache(mcp):
    for _ in range(3):
        mcp.call_tool("test_limited")
    cache.clear()  # what every worker and host counts in: its loss resets the window
    assert "isError" not in mcp.call_tool("test_limited")


def test_other_tools_are_not_limited_by_a_tools_limit(mcp):
    for _ in range(4):
        mcp.call_tool("test_limited")
    assert mcp.call_tool("echo", {"message": "x"})["content"][0]["text"] == "Echo: x"


@pytest.mark.parametrize("granted, challenged", [
    ("mcp:tools", "mcp:admin mcp:finance mcp:tools"),
    ("mcp:tools mcp:admin mcp:extra", "mcp:admin mcp:extra mcp:finance mcp:tools"),
])
def test_a_tool_whose_scopes_the_token_lacks_asks_for_all_of_them_in_one_challenge(client, alice, servicenow_client,
                                                                                    granted, challenged):
    mcp = Mcp(client, issue_access_token(servicenow_client, alice, scope=granted))
    response = mcp.request("tools/call", {"name": "test_two_scopes", "arguments": {}})
    assert response.status_code == 403
    assert f'scope="{challenged}", error="insufficient_scope"' in response["WWW-Authenticate"]
    assert response.json() | {"error_description": ""} == {"error": "insufficient_scope", "error_description": "",
                                                            "scope": challenged}


def test_a_token_with_every_scope_of_the_tool_calls_it(client, alice, servicenow_client):
    mcp = Mcp(client, issue_access_token(servicenow_client, alice, scope="mcp:tools mcp:admin mcp:finance"))
    assert mcp.call_tool("test_two_scopes")["content"][0]["text"] == "both"
