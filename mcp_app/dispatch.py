"""Method dispatch: one JSON-RPC request answered by its handler, whatever the transport (the `Call`).

The version (mcp_app.versions) picks the method table; 2026-07-28 results carry `resultType` (lists
also `ttlMs` and `cacheScope`) and the server's info in `_meta`. A handler that needs a `Context`
builds it with `Call.context()`; it talks to the outbox the transport gave `Call.run` (plain JSON by
default, an event stream in mcp_app.streams).
"""

import logging
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.conf import settings

from common.logging import current_request_id
from mcp_app import audit, jsonrpc, policy, tasks, tool_limits, tracing
from mcp_app.context import LOG_LEVEL_META_KEY, LOG_LEVELS, PLAIN_JSON, Context, Outbox, owner_of
from mcp_app.input_required import InputRequestsOutbox, InputRequired
from mcp_app.jsonrpc import INTERNAL_ERROR, INVALID_PARAMS, METHOD_NOT_FOUND, RESOURCE_NOT_FOUND, JsonRpcError, Request
from mcp_app.registry import InvalidArguments, Registry, ResourceNotFound, ResourceTemplate, registry
from mcp_app.registry.parameter_headers import check_parameter_headers
from mcp_app.versions import (
    CLIENT_CAPABILITIES_META_KEY,
    LEGACY_VERSIONS,
    SERVER_INFO_META_KEY,
    SUPPORTED_VERSIONS,
    is_modern,
)

logger = logging.getLogger(__name__)

# 2026-07-28 caching hints: our lists only change with a deployment.
LIST_TTL_MS = 300_000
CACHEABLE = {
    "server/discover": "public",
    "tools/list": "public",
    "prompts/list": "public",
    "resources/list": "public",
    "resources/templates/list": "public",
    "resources/read": "private",  # may depend on the user
}
COMPLETION_LIMIT = 100


class AuthenticationRequired(Exception):
    """The method needs a bearer token and none was sent."""


class InsufficientScope(Exception):
    def __init__(self, scope: str, what: str, granted=frozenset()):
        super().__init__(f"{what} requires the scope {scope}")
        self.scope = scope
        # Step-up: the challenge asks for what the token has plus what is missing, so one re-authorization
        # gets a token for everything (RFC 6750 section 3.1, MCP's scope challenge).
        self.needed = sorted({*granted, *scope.split()})


def server_info() -> dict:
    return {"name": settings.MCP_SERVER_NAME, "version": settings.VERSION}


def capabilities(modern: bool) -> dict:
    caps = {
        "tools": {"listChanged": False},
        "resources": {"subscribe": False, "listChanged": False},
        "prompts": {"listChanged": False},
        "completions": {},
    }
    if not modern:  # 2026-07-28 sets the log level per request in _meta instead
        caps["logging"] = {}
    else:
        caps["extensions"] = tasks.CAPABILITY
    return caps


def string_param(params: dict, name: str, request_id) -> str:
    value = params.get(name)
    if not isinstance(value, str):
        raise JsonRpcError(INVALID_PARAMS, f'Invalid params: "{name}" must be a string', id=request_id)
    return value


def object_param(params: dict, name: str, request_id) -> dict:
    value = params.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise JsonRpcError(INVALID_PARAMS, f'Invalid params: "{name}" must be an object', id=request_id)
    return value


@dataclass
class Call:
    """One JSON-RPC request being answered: its version, the caller's identity, and the dispatch."""

    request: Request
    version: str
    identity: Any  # oauth_app.tokens.TokenIdentity or None
    registry: Registry = registry
    outbox: Outbox = PLAIN_JSON  # where the Context's messages go before the result (set by `run`)
    denied: bool = field(default=False, init=False)  # the target exists but the access policy hides it
    personal: bool = field(default=False, init=False)  # a list the access policy may filter per caller

    @property
    def modern(self) -> bool:
        return is_modern(self.version)

    @property
    def params(self) -> dict:
        return self.request.params

    @cached_property
    def access(self) -> "policy.Access | policy.Public":
        return policy.access_for(self.identity)

    def visible(self, item):
        """The item, or None when the access policy hides it from this caller: as if it did not exist."""
        if item is not None and not self.access.allows(item):
            self.denied = True
            return None
        return item

    def find_resource(self, uri: str):
        found = self.registry.find_resource(uri)
        return found if found is not None and self.visible(found[0]) is not None else None

    @cached_property
    def target(self):
        """The tool, prompt or resource this request names, if it exists for this caller (for scope checks,
        streaming and the call itself)."""
        method, params = self.request.method, self.request.params
        if method == "tools/call":
            return self.visible(self.registry.tools.get(params.get("name")))
        if method == "prompts/get":
            return self.visible(self.registry.prompts.get(params.get("name")))
        if method == "resources/read" and isinstance(params.get("uri"), str):
            found = self.find_resource(params["uri"])
            return found[0] if found else None
        return None

    def authorize(self) -> None:
        """Raise before any work if the target needs a scope the token lacks."""
        scope = getattr(self.target, "scope", None)
        if not scope:
            return
        if self.identity is None:
            raise AuthenticationRequired()
        missing = [needed for needed in scope.split() if needed not in self.identity.scopes]
        if missing:
            audit.denied(self, f"insufficient scope: {' '.join(missing)}")
            what = f"{self.request.method} {self.params.get('name') or self.params.get('uri')}"
            raise InsufficientScope(" ".join(missing), what, granted=self.identity.scopes)

    def check_parameter_headers(self, headers) -> None:
        """2026-07-28: the Mcp-Param-* headers repeat the tool's designated arguments (else -32020)."""
        if self.request.method == "tools/call" and self.target is not None:
            check_parameter_headers(self.target.input_schema, self.params.get("arguments"), headers, self.request.id)

    @property
    def can_stream(self) -> bool:
        """Whether the target takes a Context, so that an event stream could carry its messages."""
        function = getattr(self.target, "function", None)
        return function is not None and function.context_name is not None

    @tracing.traced
    def run(self, outbox: Outbox = PLAIN_JSON) -> dict:
        """The JSON-RPC response message, recorded in the audit trail (mcp_app.audit)."""
        started = time.perf_counter()
        message = self.respond(outbox)
        audit.after_call(self, message, started)
        return message

    def respond(self, outbox: Outbox) -> dict:
        """The JSON-RPC response message. Faults become -32603; the details go only to the log."""
        handler = (MODERN_METHODS if self.modern else LEGACY_METHODS).get(self.request.method)
        self.outbox = outbox
        try:
            if handler is None:
                raise JsonRpcError(METHOD_NOT_FOUND, f"Method not found: {self.request.method}")
            result = handler(self)
        except InputRequired as exc:  # 2026-07-28: the client retries with the answers
            result = exc.result
        except JsonRpcError as exc:
            return jsonrpc.error_message(exc, self.request.id)
        except Exception:
            logger.exception("internal error answering %s (request id %s)", self.request.method, current_request_id())
            return jsonrpc.error_message(JsonRpcError(INTERNAL_ERROR, "Internal error"), self.request.id)
        return jsonrpc.result_message(self.request.id, self.finish(result))

    def finish(self, result: dict) -> dict:
        if not self.modern:
            return result
        result = {"resultType": "complete", **result}
        result["_meta"] = {**result.get("_meta", {}), SERVER_INFO_META_KEY: server_info()}
        scope = CACHEABLE.get(self.request.method)
        if scope == "public" and self.personal:
            scope = "private"
        if scope:
            result["ttlMs"] = 0 if scope == "private" else LIST_TTL_MS
            result["cacheScope"] = scope
        return result

    def context(self) -> Context:
        meta = self.params.get("_meta")
        meta = meta if isinstance(meta, dict) else {}
        level = meta.get(LOG_LEVEL_META_KEY) if self.modern else None
        capabilities = meta.get(CLIENT_CAPABILITIES_META_KEY) if self.modern else None
        outbox = self.outbox
        if self.modern:  # questions become an input_required result, never requests on the stream
            capabilities = capabilities if isinstance(capabilities, dict) else {}
            outbox = InputRequestsOutbox(outbox, params=self.params, owner=owner_of(self.identity),
                                         method=self.request.method, capabilities=capabilities,
                                         request_id=self.request.id)
        return Context(
            outbox=outbox,
            client_capabilities=capabilities,
            identity=self.identity,
            protocol_version=self.version,
            request_id=self.request.id,
            meta=meta,
            log_level=level if level in LOG_LEVELS else None,
            logging_enabled=not self.modern or level in LOG_LEVELS,
        )

    def invalid(self, message: str) -> JsonRpcError:
        return JsonRpcError(INVALID_PARAMS, message, id=self.request.id)

    # --- Methods ------------------------------------------------------------------------------------
    def initialize(self) -> dict:
        requested = self.params.get("protocolVersion")
        return {
            "protocolVersion": requested if requested in LEGACY_VERSIONS else LEGACY_VERSIONS[0],
            "capabilities": capabilities(modern=False),
            "serverInfo": server_info(),
            "instructions": settings.MCP_INSTRUCTIONS,
        }

    def discover(self) -> dict:
        return {
            "supportedVersions": list(SUPPORTED_VERSIONS),
            "capabilities": capabilities(modern=True),
            "instructions": settings.MCP_INSTRUCTIONS,
        }

    def ping(self) -> dict:
        return {}

    def list_page(self, kind: str) -> dict:
        visible = self.access.visible(kind, self.registry)
        self.personal = self.access.personal
        # 2026-07-28 schemas name their dialect; older clients get the schemas exactly as before.
        return self.registry.page(kind, self.params.get("cursor"), settings.MCP_PAGE_SIZE, dialect=self.modern,
                                  visible=visible)

    def tools_call(self) -> dict:
        name = string_param(self.params, "name", self.request.id)
        tool = self.target
        if tool is None:
            raise self.invalid(f"Unknown tool: {name}")
        arguments = object_param(self.params, "arguments", self.request.id)
        refusal = tool_limits.refusal(tool, self.identity)
        if refusal:
            return refusal
        if tool.task_support:
            return tasks.call_tool(self, tool, arguments)
        return tool.call(arguments, self.context())

    def resources_read(self) -> dict:
        uri = string_param(self.params, "uri", self.request.id)
        found = self.find_resource(uri)
        try:
            if found is None:
                raise ResourceNotFound(uri)
            resource, variables = found
            arguments = resource.function.validate(variables, f"resource {uri}") if variables else {}
            if isinstance(resource, ResourceTemplate):
                resource = resource.as_resource()
            return {"contents": resource.read(uri, arguments, self.context())}
        except (ResourceNotFound, InvalidArguments):
            # 2026-07-28 moved "not found" from -32002 to -32602.
            code = INVALID_PARAMS if self.modern else RESOURCE_NOT_FOUND
            raise JsonRpcError(code, "Resource not found", {"uri": uri}, id=self.request.id) from None

    def prompts_get(self) -> dict:
        name = string_param(self.params, "name", self.request.id)
        prompt = self.target
        if prompt is None:
            raise self.invalid(f"Unknown prompt: {name}")
        try:
            return prompt.get(object_param(self.params, "arguments", self.request.id), self.context())
        except InvalidArguments as exc:
            raise self.invalid(str(exc)) from None

    def complete(self) -> dict:
        ref = object_param(self.params, "ref", self.request.id)
        argument = object_param(self.params, "argument", self.request.id)
        name, value = argument.get("name"), argument.get("value", "")
        if not isinstance(name, str) or not isinstance(value, str):
            raise self.invalid('Invalid params: "argument" needs a string "name" and "value"')
        if ref.get("type") == "ref/prompt":
            target = self.registry.prompts.get(ref.get("name"))
        elif ref.get("type") == "ref/resource":
            target = self.registry.templates.get(ref.get("uri"))
        else:
            raise self.invalid('Invalid params: "ref.type" must be "ref/prompt" or "ref/resource"')
        if self.visible(target) is None:
            raise self.invalid("Invalid params: unknown prompt or resource template")
        completer = target.completions.get(name)
        context_arguments = object_param(self.params, "context", self.request.id).get("arguments") or {}
        values = list(completer(value, context_arguments)) if completer else []
        return {"completion": {
            "values": values[:COMPLETION_LIMIT], "total": len(values), "hasMore": len(values) > COMPLETION_LIMIT,
        }}

    def subscribe(self) -> dict:
        # resources/subscribe and unsubscribe are acknowledged ({}), but a stateless server has no stream
        # to push notifications/resources/updated on, so the capability stays false (docs/conformance.md).
        string_param(self.params, "uri", self.request.id)
        return {}

    def set_level(self) -> dict:
        # Stateless: there is no session to remember the level in. Each streamed call sends every level.
        if self.params.get("level") not in LOG_LEVELS:
            raise self.invalid(f'Invalid params: "level" must be one of {", ".join(LOG_LEVELS)}')
        return {}


COMMON_METHODS = {
    "tools/list": lambda call: call.list_page("tools"),
    "tools/call": Call.tools_call,
    "resources/list": lambda call: call.list_page("resources"),
    "resources/templates/list": lambda call: call.list_page("templates"),
    "resources/read": Call.resources_read,
    "prompts/list": lambda call: call.list_page("prompts"),
    "prompts/get": Call.prompts_get,
    "completion/complete": Call.complete,
}
LEGACY_METHODS = {
    **COMMON_METHODS,
    "initialize": Call.initialize,
    "ping": Call.ping,
    "logging/setLevel": Call.set_level,
    "resources/subscribe": Call.subscribe,
    "resources/unsubscribe": Call.subscribe,
}
MODERN_METHODS = {**COMMON_METHODS, "server/discover": Call.discover, **tasks.METHODS}
