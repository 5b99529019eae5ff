"""The 2026-07-28 fixtures of the official MCP conformance suite (@modelcontextprotocol/conformance
0.2.0-alpha.12, `server` mode): multi round-trip requests (input-required-result-*), the stateless
checks' diagnostic tools (server-stateless), JSON Schema 2020-12 and the x-mcp-header tool.

Registered with mcp_app.conformance when settings.MCP_CONFORMANCE_FIXTURES is on (off by default).
They are plain tools: the same functions run on the older versions, where their questions travel as
server-to-client requests on an event stream (docs/conformance.md).
"""

import json
import time
from typing import Annotated, Any

from mcp_app.context import Context
from mcp_app.registry import header, prompt, tool, user_message

STEP_SECONDS = 0.05
NAME_SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


def schema_of(field: str, kind: str = "string") -> dict:
    return {"type": "object", "properties": {field: {"type": kind}}, "required": [field]}


def accepted(answer: dict, field: str, default: str = "unknown") -> str:
    content = answer.get("content") if answer.get("action") == "accept" else None
    value = content.get(field) if isinstance(content, dict) else None
    return str(value) if value is not None else default


def sampled_text(answer: dict) -> str:
    content = answer.get("content")
    return (content.get("text") if isinstance(content, dict) else None) or "No response"


def question(text: str, max_tokens: int) -> tuple[str, dict]:
    return "sampling/createMessage", {
        "messages": [{"role": "user", "content": {"type": "text", "text": text}}], "maxTokens": max_tokens}


def root_uris(answer: dict) -> str:
    roots = answer.get("roots")
    return ", ".join(str(root.get("uri")) for root in roots if isinstance(root, dict)) if isinstance(roots, list) \
        else "none"


# --- input-required-result-* (SEP-2322) ---------------------------------------------------------------
@tool
def test_input_required_result_elicitation(ctx: Context) -> str:
    """Asks the user's name (elicitation), then greets them."""
    answer = ctx.elicit("What is your name?", NAME_SCHEMA, key="user_name")
    return f"Hello, {accepted(answer, 'name')}!"


@tool
def test_input_required_result_sampling(ctx: Context) -> str:
    """Asks the client's model a question (sampling), then returns its answer."""
    method, params = question("What is the capital of France?", 100)
    answer = ctx.request_inputs({"capital_question": (method, params)})["capital_question"]
    return f"LLM response: {sampled_text(answer)}"


@tool
def test_input_required_result_list_roots(ctx: Context) -> str:
    """Asks the client for its roots (roots/list), then names them."""
    return f"Client roots: {root_uris(ctx.list_roots(key='client_roots'))}"


@tool
def test_input_required_result_request_state(ctx: Context) -> str:
    """Asks for a confirmation; the retry's verified requestState is reported as 'state-ok'."""
    answer = ctx.elicit("Please confirm", schema_of("ok", "boolean"), key="confirm")
    state = "state-ok" if ctx.resumed else "no state"
    return f"Confirmed: {accepted(answer, 'ok')} ({state})"


@tool
def test_input_required_result_multiple_inputs(ctx: Context) -> str:
    """Asks for a name, a generated greeting and the roots in one round."""
    answers = ctx.request_inputs({
        "user_name": ("elicitation/create", {"message": "What is your name?", "requestedSchema": NAME_SCHEMA}),
        "greeting": question("Generate a greeting", 50),
        "client_roots": ("roots/list", {}),
    })
    return (f"{sampled_text(answers['greeting'])} {accepted(answers['user_name'], 'name')} "
            f"(roots: {root_uris(answers['client_roots'])})")


@tool
def test_input_required_result_multi_round(ctx: Context) -> str:
    """Asks two questions, one per round: the requestState carries the first answer to the third round."""
    name = accepted(ctx.elicit("Step 1: What is your name?", NAME_SCHEMA, key="step1"), "name")
    color = accepted(ctx.elicit("Step 2: What is your favorite color?", schema_of("color"), key="step2"), "color")
    return f"{name} likes {color}"


@tool
def test_input_required_result_tampered_state(ctx: Context) -> str:
    """Asks for a confirmation; a retry whose requestState was altered is refused (-32602)."""
    answer = ctx.elicit("Please confirm", schema_of("ok", "boolean"), key="confirm")
    return f"Confirmed: {accepted(answer, 'ok')}"


@tool
def test_input_required_result_capabilities(ctx: Context) -> str:
    """Asks only what the client declared it can answer (elicitation and/or sampling)."""
    requests = {}
    if ctx.client_supports("elicitation"):
        requests["user_name"] = ("elicitation/create", {"message": "What is your name?",
                                                        "requestedSchema": NAME_SCHEMA})
    if ctx.client_supports("sampling"):
        requests["greeting"] = question("Generate a greeting", 50)
    answers = ctx.request_inputs(requests) if requests else {}
    return f"Answered: {', '.join(sorted(answers)) or 'nothing to ask'}"


@prompt
def test_input_required_result_prompt(ctx: Context) -> list[dict]:
    """A prompt that asks the user for its context (elicitation) before it is written."""
    answer = ctx.elicit("What context should the prompt use?", schema_of("context"), key="user_context")
    return [user_message(f"Use this context: {accepted(answer, 'context')}")]


# --- server-stateless (SEP-2575) diagnostic tools -------------------------------------------------------
@tool
def test_missing_capability(ctx: Context) -> str:
    """Needs sampling: a client that did not declare it gets -32021."""
    answer = ctx.sample([{"role": "user", "content": {"type": "text", "text": "Say hello"}}], max_tokens=20)
    return f"LLM response: {sampled_text(answer)}"


@tool
def test_streaming_elicitation(ctx: Context) -> str:
    """Reports progress, then asks the user (its question is never a request on the response stream)."""
    ctx.report_progress(0, 1, "asking")
    answer = ctx.elicit("What is your name?", NAME_SCHEMA, key="user_name")
    return f"Hello, {accepted(answer, 'name')}!"


@tool
def test_logging_tool(ctx: Context) -> str:
    """Logs at info; on 2026-07-28 nothing is sent unless the request names a level in _meta."""
    for step in ("started", "working", "done"):
        ctx.log("info", f"test_logging_tool {step}")
        time.sleep(STEP_SECONDS)
    return "logged"


# --- json-schema-2020-12 (SEP-1613, SEP-2106) and http-custom-header-server-validation (SEP-2243) --------
JSON_SCHEMA_2020_12 = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {"address": {"$anchor": "addressDef", "type": "object",
                          "properties": {"street": {"type": "string"}, "city": {"type": "string"}}}},
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"},
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": False,
}


@tool(input_schema=JSON_SCHEMA_2020_12)
def json_schema_2020_12_tool(name: str | None = None, address: dict[str, Any] | None = None,
                             contactMethod: str | None = None, phone: str | None = None,  # noqa: N803
                             email: str | None = None) -> str:
    """A tool whose inputSchema uses JSON Schema 2020-12 ($defs, $anchor, allOf/anyOf, if/then/else)."""
    return json.dumps({"name": name, "contactMethod": contactMethod, "phone": phone, "email": email,
                       "address": address})


@tool
def test_custom_headers(region: Annotated[str, header("Region", description="Routed on by gateways")],
                        verbose: Annotated[bool, header("Verbose")] = False) -> str:
    """Echoes its arguments; `region` and `verbose` are mirrored as Mcp-Param-Region / Mcp-Param-Verbose."""
    return f"region={region} verbose={str(verbose).lower()}"
