"""The tools and resources every deployment serves (the demo notes are the `notes` app); also examples
docs/tools.md points to."""

import json
from datetime import datetime, timezone
from typing import Annotated

from django.conf import settings
from pydantic import BaseModel, Field

from mcp_app.context import Context, ToolError
from mcp_app.registry import READ_ONLY, resource, tool
from mcp_app.versions import SUPPORTED_VERSIONS


@tool(scope="mcp:tools", title="Echo", annotations=READ_ONLY)
def echo(message: Annotated[str, Field(description="Message to echo")]) -> str:
    """Echoes back the provided message."""
    return f"Echo: {message}"


class Identity(BaseModel):
    username: str
    subject: str
    has_user: bool = Field(description="False for a machine client (client_credentials): it acts for itself.")
    client_id: str
    scopes: list[str]
    expires_at: datetime


@tool(scope="mcp:tools", title="Who am I", annotations=READ_ONLY)
def whoami(ctx: Context) -> Identity:
    """Who the access token speaks for: the user (or none: a machine client acting for itself), the OAuth client,
    the granted scopes and the token expiry."""
    identity = ctx.identity
    if identity is None:
        raise ToolError("This request carried no access token.")
    return Identity(
        username=identity.username,
        subject=identity.subject,
        has_user=identity.has_user,
        client_id=identity.client_id,
        scopes=sorted(identity.scopes),
        expires_at=datetime.fromtimestamp(identity.expires_at, tz=timezone.utc),
    )


@resource("info://server", name="server-info", title="About this server", mime_type="application/json")
def server_info() -> str:
    """The server's name, version and the MCP protocol versions it speaks."""
    return json.dumps({"name": settings.MCP_SERVER_NAME, "version": settings.VERSION,
                       "protocolVersions": list(SUPPORTED_VERSIONS)})
