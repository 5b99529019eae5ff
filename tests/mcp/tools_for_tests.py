"""Tools the tests call, in a registry of their own that also serves the product's: the /mcp tests serve it
(settings.MCP_REGISTRY, set in tests/mcp/conftest.py), and the product's registry never holds these."""

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from mcp_app.context import Context, ToolError
from mcp_app.registry import Registry, ResourceNotFound, ToolResult, header, image, text
from mcp_app.registry import registry as product_registry
from mcp_app.tasks import pause

registry = Registry()
registry.include(product_registry)  # filled at start-up (apps.py), before the tests import this module
tool, resource, resource_template = registry.tool, registry.resource, registry.resource_template


@tool(name="test_explode")
def explode() -> str:
    """Fails with an exception whose text must not reach the client."""
    raise RuntimeError("secret internals: password=hunter2")


@tool(name="test_refuse")
def refuse(reason: str) -> str:
    """Fails on purpose with a message for the client."""
    raise ToolError(f"Refused: {reason}")


@tool(name="test_refuse_spelled", task_support="optional")
def refuse_spelled(code_points: list[int], ctx: Context) -> str:
    """Reports progress, then fails, with a text of the given code points: a tool's own text may hold what no
    request can (a lone surrogate)."""
    spelled = "".join(map(chr, code_points))
    ctx.report_progress(1, 2, spelled)
    raise ToolError(spelled)


@tool(name="test_admin_only", scope="mcp:admin")
def admin_only() -> str:
    """Needs a scope tokens do not get by default."""
    return "admin"


@tool(name="test_add")
def add(a: int, b: Annotated[int, Field(description="Second term")] = 2) -> int:
    """Adds two integers."""
    return a + b


class Forecast(BaseModel):
    city: str
    unit: Literal["C", "F"]
    temperatures: list[float]


@tool(name="test_forecast")
def forecast(city: str, unit: Literal["C", "F"] = "C", days: int | None = None) -> Forecast:
    """A structured result."""
    return Forecast(city=city, unit=unit, temperatures=[20.5] * (days or 1))


@tool(name="test_content")
def content() -> ToolResult:
    """Mixed content blocks."""
    return ToolResult(content=[text("a picture:"), image(b"\x89PNG", "image/png")])


@tool(name="test_context")
def uses_context(steps: int, ctx: Context) -> str:
    """Reports progress and logs; on the plain JSON path both are dropped."""
    for step in range(steps):
        ctx.report_progress(step + 1, steps)
    ctx.log("info", {"steps": steps})
    return f"{steps} steps"


@tool(name="test_sampling")
def sampling(prompt: str, ctx: Context) -> str:
    """Needs the client's model: impossible on a plain JSON response."""
    answer = ctx.sample([{"role": "user", "content": {"type": "text", "text": prompt}}], max_tokens=10)
    return str(answer)


@resource("test://broken", name="broken")
def broken() -> str:
    """A resource whose reader fails."""
    raise RuntimeError("secret internals")


@resource_template("test://context/{id}", name="context-template")
def context_template(id: int, ctx: Context) -> str:
    """Takes a Context (a client accepting SSE gets the streaming path), sends nothing, finds nothing."""
    raise ResourceNotFound(f"test://context/{id}")


@tool(name="test_unencodable")
def unencodable() -> str:
    """Returns a lone surrogate, as text decoded with errors="surrogateescape" would hold one."""
    return b"caf\xe9".decode("utf-8", errors="surrogateescape")


@tool(name="test_interview")
def interview(topic: str, ctx: Context) -> str:
    """Asks the user's name, then the client's model (two rounds on 2026-07-28, two requests before)."""
    person = ctx.elicit(f"Who asks about {topic}?", {"type": "object", "properties": {"name": {"type": "string"}}},
                        key="who")
    ctx.report_progress(1, 2)
    reply = ctx.sample([{"role": "user", "content": {"type": "text", "text": topic}}], max_tokens=10)
    return f"{person['content']['name']} asked about {topic}: {reply['content']['text']}"


@tool(name="test_routed")
def routed(region: Annotated[str, header("Region")], count: Annotated[int | None, header("Count")] = None,
           loud: Annotated[bool, header("Loud")] = False) -> str:
    """Three parameters mirrored as Mcp-Param-* headers (2026-07-28)."""
    return f"{region} {count} {loud}"


# --- Tasks (mcp_app.tasks) -------------------------------------------------------------------------------
@tool(name="test_task_sleep", task_support="optional")
def task_sleep(seconds: float, ctx: Context) -> str:
    """Sleeps (ending early when its task is cancelled), then answers."""
    pause(ctx, seconds)
    return f"slept {seconds}"


@tool(name="test_task_only", task_support="required")
def task_only(ctx: Context) -> str:
    """Runs only as a task, and says what it told the client meanwhile."""
    ctx.report_progress(1, 2, "halfway")
    pause(ctx, 0.5)
    return "done"


@tool(name="test_task_refuse", task_support="required")
def task_refuse() -> str:
    """A tool error in a task."""
    raise ToolError("no, thanks")


@tool(name="test_task_explode", task_support="required")
def task_explode() -> str:
    """An internal fault in a task: its text must not reach the client."""
    raise RuntimeError("secret internals: password=hunter2")


@tool(name="test_task_ask_twice", task_support="required")
def task_ask_twice(ctx: Context) -> str:
    """Two questions at once; answers with both."""
    schema = {"type": "object", "properties": {"name": {"type": "string"}}}
    answers = ctx.request_inputs({"a": ("elicitation/create", {"message": "A?", "requestedSchema": schema}),
                                  "b": ("elicitation/create", {"message": "B?", "requestedSchema": schema})})
    return " and ".join(answers[key]["content"]["name"] for key in ("a", "b"))
