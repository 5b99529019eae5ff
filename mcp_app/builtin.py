"""The tools, resources and prompts every deployment serves; also the examples docs/tools.md points to."""

import json
from datetime import datetime, timezone
from typing import Annotated

from django.conf import settings
from django.db.models import Q
from pydantic import BaseModel, Field

from mcp_app.context import Context, ToolError
from mcp_app.models import Note
from mcp_app.versions import SUPPORTED_VERSIONS
from mcp_app.registry import ResourceNotFound, prompt, resource, resource_template, tool

READ_ONLY = {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True, "openWorldHint": False}


@tool(scope="mcp:tools", title="Echo", annotations=READ_ONLY)
def echo(message: Annotated[str, Field(description="Message to echo")]) -> str:
    """Echoes back the provided message."""
    return f"Echo: {message}"


class Identity(BaseModel):
    username: str
    subject: str
    client_id: str
    scopes: list[str]
    expires_at: datetime


@tool(scope="mcp:tools", title="Who am I", annotations=READ_ONLY)
def whoami(ctx: Context) -> Identity:
    """Who the access token speaks for: the user, the OAuth client, the granted scopes and the token expiry."""
    identity = ctx.identity
    if identity is None:
        raise ToolError("This request carried no access token.")
    return Identity(
        username=identity.username,
        subject=identity.subject,
        client_id=identity.client_id,
        scopes=sorted(identity.scopes),
        expires_at=datetime.fromtimestamp(identity.expires_at, tz=timezone.utc),
    )


class NoteSummary(BaseModel):
    id: int
    title: str
    uri: str
    created_at: datetime


@tool(scope="mcp:tools", title="Search notes", annotations=READ_ONLY)
def search_notes(
    query: Annotated[str, Field(description="Words to find in note titles and bodies", min_length=1)],
    limit: Annotated[int, Field(description="Most notes to return", ge=1, le=50)] = 10,
) -> list[NoteSummary]:
    """Finds notes whose title or body contains the query, newest first. Read one with resources/read."""
    notes = Note.objects.filter(Q(title__icontains=query) | Q(body__icontains=query))[:limit]
    return [NoteSummary(id=note.pk, title=note.title, uri=note.uri, created_at=note.created_at) for note in notes]


def complete_note_id(value: str, arguments: dict) -> list[str]:
    ids = Note.objects.values_list("pk", flat=True)
    return [str(pk) for pk in ids if str(pk).startswith(value)][:100]


@resource_template("notes://{id}", name="note", title="Note", mime_type="text/markdown",
                   completions={"id": complete_note_id})
def note(id: int) -> str:
    """A note, as Markdown."""
    found = Note.objects.filter(pk=id).first()
    if found is None:
        raise ResourceNotFound(f"notes://{id}")
    return f"# {found.title}\n\n{found.body}\n"


@resource("info://server", name="server-info", title="About this server", mime_type="application/json")
def server_info() -> str:
    """The server's name, version and the MCP protocol versions it speaks."""
    return json.dumps({"name": settings.MCP_SERVER_NAME, "version": settings.VERSION,
                       "protocolVersions": list(SUPPORTED_VERSIONS)})


STYLES = ["brief", "detailed"]


def complete_style(value: str, arguments: dict) -> list[str]:
    return [style for style in STYLES if style.startswith(value)]


@prompt(title="Summarize notes", completions={"style": complete_style})
def summarize_notes(
    topic: Annotated[str, Field(description="What the notes should be about")],
    style: Annotated[str, Field(description="brief or detailed")] = "brief",
) -> str:
    """Asks the model to find the notes about a topic and summarize them."""
    return (
        f"Use the search_notes tool to find the notes about {topic!r}, read the relevant ones "
        f"(resources notes://{{id}}), and write a {style} summary with the note titles as references."
    )
