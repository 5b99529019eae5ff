"""MCP_TOOL_MODULES entry for the e2e servers of test_access_and_audit: the access tests' tools, with those
open only to finance."""

from mcp_app.registry import registry
from tests.mcp.tools_for_access import register_open, register_restricted

register_open(registry)
register_restricted(registry)
