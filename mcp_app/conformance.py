"""The fixtures the official MCP conformance suite (@modelcontextprotocol/conformance 0.2.0-alpha.12,
`server` mode) calls: tools, resources and prompts with the exact names, arguments and outputs of its scenarios
(the tasks-* scenarios' tools at the end of the tools).

Registered only when settings.MCP_CONFORMANCE_FIXTURES is on (off by default: a production server
does not list test fixtures); the 2026-07-28 ones are in mcp_app.conformance_modern. docs/conformance.md
lists the scenarios and how to run the suite.
"""

import io
import json
import struct
import time
import wave
import zlib
from typing import Annotated

from pydantic import Field

from mcp_app.context import Context, ToolError
from mcp_app.tasks import Background, pause
from mcp_app.registry import (
    ToolResult,
    audio,
    embedded_resource,
    image,
    prompt,
    resource,
    resource_template,
    text,
    tool,
    user_message,
)

# The suite's logging and progress scenarios ask for ~50 ms between messages, so that a client
# shows it can receive several notifications during one call.
STEP_SECONDS = 0.05


def png_pixel(red: int, green: int, blue: int) -> bytes:
    """A 1x1 RGB PNG (the suite asks for 'a minimal test image')."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # width, height, 8-bit, truecolour
    pixels = zlib.compress(bytes([0, red, green, blue]))  # filter byte, then one pixel
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def silent_wav(frames: int = 1) -> bytes:
    """A minimal WAV: mono, 16-bit, 8 kHz, silence."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(8000)
        sound.writeframes(b"\x00\x00" * frames)
    return buffer.getvalue()


RED_PIXEL_PNG = png_pixel(255, 0, 0)
SILENT_WAV = silent_wav()
ANNOTATIONS = {"readOnlyHint": True, "openWorldHint": False}


# --- Tools (tools-call-* scenarios) -------------------------------------------------------------------
@tool(annotations=ANNOTATIONS)
def test_simple_text() -> str:
    """Tests simple text content response."""
    return "This is a simple text response for testing."


@tool(annotations=ANNOTATIONS)
def test_image_content() -> ToolResult:
    """Tests image content response (a 1x1 red PNG)."""
    return ToolResult([image(RED_PIXEL_PNG, "image/png")])


@tool(annotations=ANNOTATIONS)
def test_audio_content() -> ToolResult:
    """Tests audio content response (a minimal WAV)."""
    return ToolResult([audio(SILENT_WAV, "audio/wav")])


@tool(annotations=ANNOTATIONS)
def test_embedded_resource() -> ToolResult:
    """Tests embedded resource content response."""
    return ToolResult([embedded_resource(
        "test://embedded-resource", text="This is an embedded resource content.", mime_type="text/plain")])


@tool(annotations=ANNOTATIONS)
def test_multiple_content_types() -> ToolResult:
    """Tests response with multiple content types (text, image, resource)."""
    return ToolResult([
        text("Multiple content types test:"),
        image(RED_PIXEL_PNG, "image/png"),
        embedded_resource("test://mixed-content-resource", text=json.dumps({"test": "data", "value": 123}),
                          mime_type="application/json"),
    ])


@tool(annotations=ANNOTATIONS)
def test_tool_with_logging(ctx: Context) -> str:
    """Tests tool that emits log messages during execution."""
    ctx.log("info", "Tool execution started")
    time.sleep(STEP_SECONDS)
    ctx.log("info", "Tool processing data")
    time.sleep(STEP_SECONDS)
    ctx.log("info", "Tool execution completed")
    return "Tool with logging executed successfully"


@tool(annotations=ANNOTATIONS)
def test_tool_with_progress(ctx: Context) -> str:
    """Tests tool that reports progress notifications (when the request carries a progress token)."""
    for step in (0, 50, 100):
        if step:
            time.sleep(STEP_SECONDS)
        ctx.report_progress(step, 100, f"Completed step {step} of 100")
    return str(ctx.progress_token)


@tool(annotations=ANNOTATIONS)
def test_error_handling() -> str:
    """Tests error response handling: always fails."""
    raise ToolError("This tool intentionally returns an error for testing")


@tool
def test_sampling(prompt: Annotated[str, Field(description="The prompt to send to the LLM")], ctx: Context) -> str:
    """Tests server-initiated sampling (LLM completion request)."""
    answer = ctx.sample([{"role": "user", "content": {"type": "text", "text": prompt}}], max_tokens=100)
    content = answer.get("content")
    reply = content.get("text") if isinstance(content, dict) else None
    return f"LLM response: {reply or 'No response'}"


def elicitation_summary(answer: dict, prefix: str) -> str:
    return f"{prefix}: action={answer.get('action')}, content={json.dumps(answer.get('content') or {})}"


@tool
def test_elicitation(message: Annotated[str, Field(description="The message to show the user")],
                     ctx: Context) -> str:
    """Tests server-initiated elicitation (user input request)."""
    answer = ctx.elicit(message, {
        "type": "object",
        "properties": {
            "username": {"type": "string", "description": "User's response"},
            "email": {"type": "string", "description": "User's email address"},
        },
        "required": ["username", "email"],
    })
    return elicitation_summary(answer, "User response")


@tool
def test_elicitation_sep1034_defaults(ctx: Context) -> str:
    """Tests elicitation with default values for every primitive type (SEP-1034)."""
    answer = ctx.elicit("Please review and update the form fields with defaults", {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "User name", "default": "John Doe"},
            "age": {"type": "integer", "description": "User age", "default": 30},
            "score": {"type": "number", "description": "User score", "default": 95.5},
            "status": {"type": "string", "description": "User status", "enum": ["active", "inactive", "pending"],
                       "default": "active"},
            "verified": {"type": "boolean", "description": "Verification status", "default": True},
        },
        "required": [],
    })
    return elicitation_summary(answer, "Elicitation completed")


def titled(titles: list[str]) -> list[dict]:
    return [{"const": f"value{index}", "title": title} for index, title in enumerate(titles, start=1)]


@tool
def test_elicitation_sep1330_enums(ctx: Context) -> str:
    """Tests elicitation with the five enum schema variants of SEP-1330."""
    options = ["option1", "option2", "option3"]
    answer = ctx.elicit("Please select options from the enum fields", {
        "type": "object",
        "properties": {
            "untitledSingle": {"type": "string", "description": "Select one option", "enum": options},
            "titledSingle": {"type": "string", "description": "Select one option with titles",
                             "oneOf": titled(["First Option", "Second Option", "Third Option"])},
            "legacyEnum": {"type": "string", "description": "Select one option (legacy)",
                           "enum": ["opt1", "opt2", "opt3"],
                           "enumNames": ["Option One", "Option Two", "Option Three"]},
            "untitledMulti": {"type": "array", "description": "Select multiple options", "minItems": 1,
                              "maxItems": 3, "items": {"type": "string", "enum": options}},
            "titledMulti": {"type": "array", "description": "Select multiple options with titles", "minItems": 1,
                            "maxItems": 3,
                            "items": {"anyOf": titled(["First Choice", "Second Choice", "Third Choice"])}},
        },
        "required": [],
    })
    return elicitation_summary(answer, "Elicitation completed")


# --- Tasks (tasks-* scenarios, the io.modelcontextprotocol/tasks extension) --------------------------------
CONFIRM_SCHEMA = {"type": "object", "properties": {"confirm": {"type": "boolean"}}, "required": ["confirm"]}
NAME_SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


@tool
def greet(name: str) -> str:
    """Greets by name (runs synchronously: no task support)."""
    return f"Hello, {name}!"


@tool(task_support="optional")
def slow_compute(seconds: Annotated[float, Field(ge=0, le=300)], ctx: Context, label: str = "") -> str:
    """Sleeps for `seconds`, then answers; as a task, a cancellation stops it at once."""
    pause(ctx, seconds)
    return f"Computed {label or 'result'} after {seconds} seconds"


@tool(task_support="required")
def failing_job(ctx: Context) -> str:
    """Reports a tool execution error after about a second (a completed task with isError)."""
    pause(ctx, 1)
    raise ToolError("failing_job failed, as it always does")


@tool(task_support="optional")
def protocol_error_job(ctx: Context) -> str:
    """Fails with an internal error after about a second (a failed task)."""
    pause(ctx, 1)
    raise RuntimeError("protocol_error_job breaks on purpose")


@tool(task_support="optional")
def confirm_delete(filename: str, ctx: Context) -> str:
    """Asks the user to confirm (one elicitation), then pretends to delete the file."""
    answer = ctx.elicit(f"Delete {filename}?", CONFIRM_SCHEMA)
    confirmed = answer.get("action") == "accept" and (answer.get("content") or {}).get("confirm")
    return f"Deleted {filename}" if confirmed else f"Kept {filename}"


@tool(task_support="required")
def multi_input(ctx: Context) -> str:
    """Asks two questions at once (two pending inputRequests), then answers with both names."""
    answers = ctx.request_inputs({
        "first": ("elicitation/create", {"message": "First name?", "requestedSchema": NAME_SCHEMA}),
        "second": ("elicitation/create", {"message": "Second name?", "requestedSchema": NAME_SCHEMA}),
    })
    names = [(answers[key].get("content") or {}).get("name") for key in ("first", "second")]
    return f"Got {names[0]} and {names[1]}"


@tool(task_support="required", task_launcher=True)
def test_tool_with_task(ctx: Context):
    """Asks for the user's name on the tools/call round trips, then greets them from a task."""
    answer = ctx.elicit("What is your name?", NAME_SCHEMA, key="user_name")
    name = (answer.get("content") or {}).get("name", "stranger")
    return Background(lambda task_ctx: f"Hello, {name}! (from a task)")


# --- Resources (resources-* scenarios) -------------------------------------------------------------------
@resource("test://static-text", name="static-text", title="Static Text Resource", mime_type="text/plain")
def static_text() -> str:
    """A static text resource for testing."""
    return "This is the content of the static text resource."


@resource("test://static-binary", name="static-binary", title="Static Binary Resource", mime_type="image/png")
def static_binary() -> bytes:
    """A static binary resource (image) for testing."""
    return RED_PIXEL_PNG


@resource("test://watched-resource", name="watched-resource", title="Watched Resource", mime_type="text/plain")
def watched_resource() -> str:
    """A resource clients may subscribe to (resources/subscribe)."""
    return "Watched resource content"


@resource_template("test://template/{id}/data", name="template", title="Resource Template",
                   mime_type="application/json")
def template_data(id: str) -> str:
    """A resource template with parameter substitution."""
    return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})


# --- Prompts (prompts-* scenarios) and completion (completion-complete) --------------------------------------
CITY_SUGGESTIONS = ["paris", "park", "party", "london", "lisbon"]


def complete_from(suggestions: list[str]):
    def complete(value: str, arguments: dict) -> list[str]:
        return [suggestion for suggestion in suggestions if suggestion.startswith(value.lower())]

    return complete


@prompt(title="Simple Test Prompt")
def test_simple_prompt() -> str:
    """A simple prompt without arguments."""
    return "This is a simple prompt for testing."


@prompt(title="Prompt With Arguments", completions={"arg1": complete_from(CITY_SUGGESTIONS)})
def test_prompt_with_arguments(arg1: Annotated[str, Field(description="First test argument")],
                               arg2: Annotated[str, Field(description="Second test argument")]) -> str:
    """A prompt with required arguments."""
    return f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"


@prompt(title="Prompt With Embedded Resource")
def test_prompt_with_embedded_resource(
    resourceUri: Annotated[str, Field(description="URI of the resource to embed")],  # noqa: N803 (the suite's name)
) -> list[dict]:
    """A prompt that includes an embedded resource."""
    return [
        user_message(embedded_resource(resourceUri, text="Embedded resource content for testing.",
                                       mime_type="text/plain")),
        user_message("Please process the embedded resource above."),
    ]


@prompt(title="Prompt With Image")
def test_prompt_with_image() -> list[dict]:
    """A prompt that includes image content."""
    return [user_message(image(RED_PIXEL_PNG, "image/png")), user_message("Please analyze the image above.")]
