"""A span around each MCP method (OpenTelemetry), named and attributed as the MCP semantic conventions
suggest (`tools/call echo`, mcp.method.name, gen_ai.tool.name). Its parent is the W3C `traceparent` the
client put in params._meta (MCP 2026-07-28), else the current context (the HTTP request's span, itself a
child of the `traceparent` header when the Django instrumentation runs: common.tracing).

Off unless `enable()` was called (OTEL_ENABLED): the hook is then one test of a module global, and
opentelemetry is never imported.
"""

from __future__ import annotations

import functools

_tracer = None  # None: tracing off

# Which parameter names the method's target, for the span name and attributes.
TARGETS = {"tools/call": ("name", "gen_ai.tool.name"), "prompts/get": ("name", "gen_ai.prompt.name"),
           "resources/read": ("uri", "mcp.resource.uri")}


def enable(tracer_provider=None) -> None:
    global _tracer
    from opentelemetry import trace

    _tracer = trace.get_tracer("mcp_app", tracer_provider=tracer_provider)


def disable() -> None:
    global _tracer
    _tracer = None


def traced(run):
    """Wraps Call.run: the JSON-RPC answer is computed inside the method's span."""

    @functools.wraps(run)
    def traced_run(call, *args, **kwargs):
        if _tracer is None:
            return run(call, *args, **kwargs)
        return run_in_span(run, call, args, kwargs)

    return traced_run


def run_in_span(run, call, args, kwargs):
    from opentelemetry.propagate import extract
    from opentelemetry.trace import Status, StatusCode

    method, params = call.request.method, call.params
    meta = params.get("_meta")
    carrier = {"traceparent": meta["traceparent"]} if isinstance(meta, dict) and isinstance(
        meta.get("traceparent"), str) else None
    if carrier is not None and isinstance(meta.get("tracestate"), str):
        carrier["tracestate"] = meta["tracestate"]
    attributes = {"mcp.method.name": method, "mcp.protocol.version": call.version, "rpc.system": "jsonrpc",
                  "jsonrpc.request.id": str(call.request.id)}
    name = method
    parameter, attribute = TARGETS.get(method, (None, None))
    if parameter and isinstance(params.get(parameter), str):
        attributes[attribute] = params[parameter]
        name = f"{method} {params[parameter]}"
    with _tracer.start_as_current_span(name, context=extract(carrier) if carrier else None,
                                       attributes=attributes) as span:
        message = run(call, *args, **kwargs)
        error = message.get("error") if isinstance(message, dict) else None
        if error:
            span.set_attribute("rpc.jsonrpc.error_code", error.get("code"))
            span.set_attribute("error.type", str(error.get("code")))
            span.set_status(Status(StatusCode.ERROR, error.get("message")))
        return message
