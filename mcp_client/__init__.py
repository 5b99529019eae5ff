"""A small OAuth 2.1 + MCP client, the way a real MCP client talks to this server.

Used by `manage.py mcp_selftest` (against a live deployment) and by the end-to-end tests. It needs
nothing from Django: only `requests` and the standard library.

    client = McpOAuthClient("https://mcp.example.com/mcp")
    client.discover()                                  # 401 on /mcp -> RFC 9728 -> RFC 8414
    client.register(initial_access_token="…", redirect_uri="http://127.0.0.1:33418/callback")
    request = client.authorization_request()           # PKCE S256, state
    redirect = log_in_and_consent(request.url, request.redirect_uri, "alice", "…")   # or a person
    client.finish_authorization(request, redirect)     # state + iss checked, code exchanged
    client.initialize(); client.call_tool("echo", {"message": "hi"})
    client.refresh(); client.revoke(client.tokens.access_token)
"""

from mcp_client.browser import log_in_and_consent
from mcp_client.client import McpOAuthClient
from mcp_client.errors import FlowError
from mcp_client.mcp import PROTOCOL_VERSION, read_jsonrpc_response, tool_text
from mcp_client.oauth import (
    AuthorizationRequest, ClientCredentials, ServerMetadata, Tokens, authorization_server_metadata_url,
    parse_bearer_challenge, pkce_pair, redirect_target, s256_challenge,
)

__all__ = [
    "AuthorizationRequest", "ClientCredentials", "FlowError", "McpOAuthClient", "PROTOCOL_VERSION", "ServerMetadata",
    "Tokens", "authorization_server_metadata_url", "log_in_and_consent", "parse_bearer_challenge", "pkce_pair",
    "read_jsonrpc_response", "redirect_target", "s256_challenge", "tool_text",
]
