"""Tracing (OTEL_ENABLED): a span per MCP method named for it and its tool, the W3C traceparent from the
HTTP headers or from params._meta honoured, spans for the OAuth endpoints, and nothing of OpenTelemetry
imported when it is off. Spans are read from the SDK's in-memory exporter."""

import os
import subprocess

import pytest
from opentelemetry.instrumentation.django import DjangoInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from harness.servers import PYTHON, ROOT
from mcp_app import tracing
from tests.mcp.conftest import MODERN, Mcp, message, modern_params

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.enable(provider)
    DjangoInstrumentor().instrument(tracer_provider=provider)  # adds its middleware for the next test client
    yield exporter
    DjangoInstrumentor().uninstrument()
    tracing.disable()


def named(exporter, name):
    return [span for span in exporter.get_finished_spans() if span.name == name]


def test_a_tool_call_is_a_span_named_for_the_method_and_the_tool_inside_the_http_requests_span(client, token, spans):
    Mcp(client, token).call_tool("echo", {"message": "traced"})
    [method] = named(spans, "tools/call echo")
    assert method.attributes["mcp.method.name"] == "tools/call"
    assert method.attributes["gen_ai.tool.name"] == "echo"
    [http] = [span for span in spans.get_finished_spans() if span.kind == SpanKind.SERVER]
    assert method.parent.span_id == http.context.span_id
    assert http.attributes.get("http.route") == "mcp"


def test_the_traceparent_header_is_the_parent_of_the_request(client, token, spans):
    Mcp(client, token).call_tool("echo", {"message": "x"}, headers={"traceparent": TRACEPARENT})
    [http] = [span for span in spans.get_finished_spans() if span.kind == SpanKind.SERVER]
    [method] = named(spans, "tools/call echo")
    assert f"{http.context.trace_id:032x}" == f"{method.context.trace_id:032x}" == TRACE_ID
    assert f"{http.parent.span_id:016x}" == PARENT_SPAN_ID


def test_a_traceparent_in_params_meta_is_the_parent_of_the_method_span(client, token, spans):
    params = modern_params({"name": "echo", "arguments": {"message": "m"}})
    params["_meta"]["traceparent"] = TRACEPARENT
    response = Mcp(client, token, version=MODERN).post(message("tools/call", params),
                                                       headers={"Mcp-Method": "tools/call", "Mcp-Name": "echo"})
    assert response.status_code == 200, response.content
    [method] = named(spans, "tools/call echo")
    assert f"{method.context.trace_id:032x}" == TRACE_ID
    assert f"{method.parent.span_id:016x}" == PARENT_SPAN_ID


def test_a_json_rpc_error_marks_the_span_as_an_error(client, token, spans):
    Mcp(client, token).request("no/such/method")
    [method] = named(spans, "no/such/method")
    assert method.status.status_code == StatusCode.ERROR
    assert method.attributes["error.type"] == "-32601"


def test_the_oauth_endpoints_get_spans_too(client, spans):
    assert client.get("/.well-known/oauth-authorization-server").status_code == 200
    assert client.post("/oauth/token", {"grant_type": "authorization_code"}).status_code in (400, 401)
    routes = {span.attributes.get("http.route") for span in spans.get_finished_spans()}
    assert {".well-known/oauth-authorization-server", "oauth/token"} <= routes, routes


def test_with_tracing_off_a_request_imports_neither_the_tracing_sdk_nor_the_instrumentation():
    # redis-py 8 imports opentelemetry's API and metrics SDK by itself when they are installed (its own
    # observability hooks, off unless configured): what tracing would add is the trace SDK and instrumentation.
    ours = ("opentelemetry.instrumentation", "opentelemetry.sdk.trace", "opentelemetry.propagate")
    script = ("import sys; from django.test import Client; Client().get('/health'); "
              "Client().post('/mcp', data='{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"ping\"}', "
              "content_type='application/json', headers={'Accept': 'application/json'}); "
              f"print(sorted(m for m in sys.modules if m.startswith({ours!r})))")
    result = subprocess.run([PYTHON, "manage.py", "shell", "-c", script], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, env={**os.environ, "OTEL_ENABLED": "false"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_with_otel_enabled_the_site_starts_with_the_django_instrumentation_and_the_method_hook():
    script = ("from django.conf import settings; from mcp_app import tracing; "
              "print(any('opentelemetry' in m for m in settings.MIDDLEWARE), tracing._tracer is not None)")
    result = subprocess.run([PYTHON, "manage.py", "shell", "-c", script], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, env={**os.environ, "OTEL_ENABLED": "true"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True True"
