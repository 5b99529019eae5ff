"""A tool module as an organisation writes one, with the product's decorators: its tool is registered only in a
process whose MCP_TOOL_MODULES lists this module (tests/mcp/test_startup.py starts one)."""

from mcp_app.registry import tool


@tool(name="test_listed_module")
def listed() -> str:
    """Served only where MCP_TOOL_MODULES names this module."""
    return "listed"
