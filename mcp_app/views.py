"""POST /mcp: one JSON-RPC message in, one answer out (Streamable HTTP, stateless)."""

import secrets

from django.conf import settings
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from mcp_app import jsonrpc, streams, transport, versions
from mcp_app.authentication import BearerTokenAuthentication
from mcp_app.dispatch import AuthenticationRequired, Call
from mcp_app.registry import served_registry
from mcp_app.throttling import McpRateThrottle


class JsonOnly(BaseContentNegotiation):
    """We write the answers ourselves; skip DRF's Accept matching (transport.check_accept applies)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


# DRF builds these per request; on /mcp they hold no per-request state, so one of each serves every request.
RENDERER = JSONRenderer()
AUTHENTICATOR = BearerTokenAuthentication()
NEGOTIATOR = JsonOnly()


class McpView(APIView):
    http_method_names = ["post"]  # GET (server stream) and DELETE (sessions): we keep neither
    authentication_classes = [BearerTokenAuthentication]
    permission_classes = []
    throttle_classes = [McpRateThrottle]
    parser_classes = []  # the body is parsed once, by jsonrpc.parse_message
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JsonOnly
    modern = False

    # DRF's per-request machinery, made cheap (its steps stay, their answers are fixed for /mcp).
    def get_renderers(self):
        return [RENDERER]

    def get_authenticators(self):
        return [AUTHENTICATOR]

    def get_content_negotiator(self):
        return NEGOTIATOR

    def get_format_suffix(self, **kwargs):
        return None  # /mcp has no format suffix

    def perform_content_negotiation(self, request, force=False):
        return RENDERER, RENDERER.media_type

    @property
    def default_response_headers(self):
        return {"Allow": "POST"}

    def initial(self, request, *args, **kwargs):
        transport.check_origin(request)
        transport.refuse_query_token(request)
        super().initial(request, *args, **kwargs)  # authenticates: request.user is a TokenIdentity or None

    def http_method_not_allowed(self, request, *args, **kwargs):
        # Clients probe GET /mcp without a token to find the authorization server (mcp-remote starts its
        # sign-in only on a 401): answer the challenge first, and 405 to those who may call at all.
        if request.method in ("GET", "DELETE") and request.user is None:
            raise AuthenticationRequired()
        return super().http_method_not_allowed(request, *args, **kwargs)

    def post(self, request):
        transport.check_accept(request)
        message = jsonrpc.parse_message(transport.read_body(request))
        version = versions.version_from_header(request.META.get("HTTP_MCP_PROTOCOL_VERSION"), message)
        self.modern = versions.is_modern(version)
        if request.user is None and getattr(message, "method", None) not in settings.MCP_PUBLIC_METHODS:
            raise AuthenticationRequired()
        if not isinstance(message, jsonrpc.Request):
            if isinstance(message, jsonrpc.Response):  # a notification needs nothing from a stateless server
                streams.receive(message, request.user)
            return transport.accepted()
        if self.modern:
            versions.check_modern_request(message, version, request.headers)
        call = Call(message, version, request.user, registry=served_registry())
        if self.modern:
            call.check_parameter_headers(request.headers)
        call.authorize()
        response = transport.write(streams.answer(call, request.headers.get("Accept", "")), modern=self.modern)
        if message.method == "initialize":
            # An id no worker needs to remember (we keep no session state): clients send it back, and
            # the conformance suite's SSE scenarios need one. DELETE stays 405 (nothing to end).
            response["Mcp-Session-Id"] = secrets.token_urlsafe(24)
        return response

    def handle_exception(self, exc):
        return transport.error_response(exc, self.request, modern=self.modern)
