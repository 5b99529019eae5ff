"""POST /mcp: one JSON-RPC message in, one answer out (Streamable HTTP, stateless)."""

import secrets

from django.conf import settings
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from mcp_app import jsonrpc, protocol, transport
from mcp_app.authentication import BearerTokenAuthentication
from mcp_app.throttling import McpRateThrottle


class JsonOnly(BaseContentNegotiation):
    """We write the answers ourselves; skip DRF's Accept matching (transport.check_accept applies)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class McpView(APIView):
    http_method_names = ["post"]  # GET (server stream) and DELETE (sessions) → 405: we keep neither
    authentication_classes = [BearerTokenAuthentication]
    permission_classes = []
    throttle_classes = [McpRateThrottle]
    parser_classes = []  # the body is parsed once, by jsonrpc.parse_message
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JsonOnly
    modern = False

    def initial(self, request, *args, **kwargs):
        transport.check_origin(request)
        transport.refuse_query_token(request)
        super().initial(request, *args, **kwargs)  # authenticates: request.user is a TokenIdentity or None

    def post(self, request):
        transport.check_accept(request)
        message = jsonrpc.parse_message(transport.read_body(request))
        version = protocol.version_from_header(request.META.get("HTTP_MCP_PROTOCOL_VERSION"), message)
        self.modern = protocol.is_modern(version)
        if request.user is None and getattr(message, "method", None) not in settings.MCP_PUBLIC_METHODS:
            raise protocol.AuthenticationRequired()
        if not isinstance(message, jsonrpc.Request):
            protocol.receive(message, request.user)
            return transport.accepted()
        if self.modern:
            protocol.check_modern_request(message, version, request.headers)
        call = protocol.Call(message, version, request.user)
        call.authorize()
        streamed = protocol.stream_hooks.respond and protocol.stream_hooks.respond(request, call)
        response = streamed or transport.json_response(call.run(), modern=self.modern)
        if message.method == "initialize":
            # An id no worker needs to remember (we keep no session state): clients send it back, and
            # the conformance suite's SSE scenarios need one. DELETE stays 405 (nothing to end).
            response["Mcp-Session-Id"] = secrets.token_urlsafe(24)
        return response

    def handle_exception(self, exc):
        return transport.error_response(exc, self.request, modern=self.modern)
