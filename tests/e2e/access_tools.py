"""MCP_TOOL_MODULES entry for the e2e servers of test_access_and_audit: the access tests' tools, with those
open only to finance."""

from tests.mcp.tools_for_access import register_restricted

register_restricted()
