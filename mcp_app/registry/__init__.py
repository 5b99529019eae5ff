"""Tools, resources, resource templates and prompts: typed functions registered by decorators.

A tool is one typed function: the inputSchema comes from its parameters, the outputSchema from its
return type (pydantic), the description from its docstring. Modules listed in settings.MCP_TOOL_MODULES
are imported at start-up (see `apps.py`); see docs/tools.md.

    @tool(scope="mcp:tools")
    def echo(message: str) -> str:
        \"\"\"Echoes back the provided message.\"\"\"
        return f"Echo: {message}"

Layers: `content` (what functions return), `signatures` (signature → schema, validation, the call),
`items` (Tool, Resource, ResourceTemplate, Prompt), `registry` (the Registry and its decorators),
`cursors` (list pagination).
"""

from mcp_app.registry.content import (
    READ_ONLY,
    Content,
    ToolResult,
    assistant_message,
    audio,
    embedded_resource,
    image,
    resource_link,
    text,
    user_message,
)
from mcp_app.registry.cursors import decode_cursor, encode_cursor
from mcp_app.registry.parameter_headers import header
from mcp_app.registry.items import Prompt, Resource, ResourceNotFound, ResourceTemplate, Tool
from mcp_app.registry.registry import Registry, prompt, registry, resource, resource_template, served_registry, tool
from mcp_app.registry.signatures import Function, InvalidArguments

__all__ = [
    "READ_ONLY",
    "Content", "Function", "InvalidArguments", "Prompt", "Registry", "Resource", "ResourceNotFound",
    "ResourceTemplate", "Tool", "ToolResult", "assistant_message", "audio", "decode_cursor", "embedded_resource",
    "encode_cursor", "header", "image", "prompt", "registry", "resource", "resource_link", "resource_template",
    "served_registry", "text", "tool", "user_message",
]
