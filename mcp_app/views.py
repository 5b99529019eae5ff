"""POST /mcp: one JSON-RPC message in, one answer out (Streamable HTTP, stateless).

A plain Django view: DRF's request wrapper, content negotiation and authentication loop did nothing
here (the body is parsed and every answer written by mcp_app.jsonrpc/transport) and cost ~60 µs of CPU
per request on the hot path.
"""

import secrets

from django.conf import settings
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import MethodNotAllowed

from mcp_app import jsonrpc, protocol, transport
from mcp_app.authentication import authenticate


@method_decorator(csrf_exempt, name="dispatch")  # bearer tokens, never cookies
class McpView(View):
    http_method_names = ["post"]  # GET (server stream) and DELETE (sessions) → 405: we keep neither
    modern = False

    def dispatch(self, request, *args, **kwargs):
        try:
            if request.method != "POST":
                raise MethodNotAllowed(request.method)
            transport.check_origin(request)
            transport.refuse_query_token(request)
            return self.post(request, authenticate(request))  # a TokenIdentity, or None (anonymous)
        except Exception as exc:
            response = transport.error_response(exc, request, modern=self.modern)
            if response.status_code == 405:
                response["Allow"] = "POST"
            return response

    def post(self, request, identity):
        transport.check_accept(request)
        message = jsonrpc.parse_message(transport.read_body(request))
        version = protocol.version_from_header(request.META.get("HTTP_MCP_PROTOCOL_VERSION"), message)
        self.modern = protocol.is_modern(version)
        if identity is None and getattr(message, "method", None) not in settings.MCP_PUBLIC_METHODS:
            raise protocol.AuthenticationRequired()
        if not isinstance(message, jsonrpc.Request):
            protocol.receive(message, identity)
            return transport.accepted()
        if self.modern:
            protocol.check_modern_request(message, version, request.headers)
        call = protocol.Call(message, version, identity)
        call.authorize()
        streamed = protocol.stream_hooks.respond and protocol.stream_hooks.respond(request, call)
        response = streamed or transport.json_response(call.run(), modern=self.modern)
        if message.method == "initialize":
            # An id no worker needs to remember (we keep no session state): clients send it back, and
            # the conformance suite's SSE scenarios need one. DELETE stays 405 (nothing to end).
            response["Mcp-Session-Id"] = secrets.token_urlsafe(24)
        return response
