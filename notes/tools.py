"""The demo tool, resource template and prompt over the notes; also examples docs/tools.md points to."""

from datetime import datetime
from typing import Annotated

from django.db.models import Q
from pydantic import BaseModel, Field

from mcp_app.registry import READ_ONLY, ResourceNotFound, prompt, resource_template, tool
from notes.models import Note


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
