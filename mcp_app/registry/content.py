"""What tools, resources and prompts return: content blocks, resource contents, prompt messages and
`ToolResult` for full control over a tools/call result."""

import base64
from dataclasses import dataclass, field
from typing import Any


class Content(dict):
    """A content block (text, image, audio, resource link, embedded resource), built by the helpers below."""


def text(value: str) -> Content:
    return Content(type="text", text=value)


def image(data: bytes | str, mime_type: str) -> Content:
    return Content(type="image", data=as_base64(data), mimeType=mime_type)


def audio(data: bytes | str, mime_type: str) -> Content:
    return Content(type="audio", data=as_base64(data), mimeType=mime_type)


def resource_link(uri: str, name: str, **fields: Any) -> Content:
    return Content(type="resource_link", uri=uri, name=name, **fields)


def embedded_resource(uri: str, *, text: str | None = None, blob: bytes | None = None, mime_type: str = "") -> Content:
    return Content(type="resource", resource=resource_contents(uri, text if blob is None else blob, mime_type))


def as_base64(data: bytes | str) -> str:
    return data if isinstance(data, str) else base64.b64encode(data).decode()


def resource_contents(uri: str, value: str | bytes, mime_type: str = "") -> dict:
    contents: dict[str, Any] = {"uri": uri}
    if mime_type:
        contents["mimeType"] = mime_type
    if isinstance(value, bytes):
        contents["blob"] = base64.b64encode(value).decode()
    else:
        contents["text"] = value
    return contents


@dataclass
class ToolResult:
    """Full control over a tools/call result; a tool may return this instead of a plain value."""

    content: list[Content] = field(default_factory=list)
    structured_content: Any = None
    is_error: bool = False

    def as_result(self) -> dict:
        result: dict[str, Any] = {"content": list(self.content)}
        if self.structured_content is not None:
            result["structuredContent"] = self.structured_content
        if self.is_error:
            result["isError"] = True
        return result


def error_result(message: str) -> dict:
    return {"content": [text(message)], "isError": True}


def user_message(value: str | Content) -> dict:
    return {"role": "user", "content": text(value) if isinstance(value, str) else value}


def assistant_message(value: str | Content) -> dict:
    return {"role": "assistant", "content": text(value) if isinstance(value, str) else value}


# ToolAnnotations of a tool that only reads (MCP 2025-06-18 "Tool annotations").
READ_ONLY = {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True, "openWorldHint": False}
