"""What a tool, resource or prompt function may ask of the request it serves: the `Context`.

A function receives one by declaring a parameter annotated with `Context` (it is left out of the
inputSchema):

    @tool(scope="mcp:tools")
    def long_job(steps: int, ctx: Context) -> str:
        for step in range(steps):
            ctx.report_progress(step + 1, steps, f"step {step + 1}")
        ctx.log("info", {"done": steps})
        return "done"

A Context talks to an *outbox*: where messages to the client go before the result. The plain-JSON
answer of `/mcp` carries exactly one message, so its outbox (`PLAIN_JSON`) drops notifications
(progress and log notifications are optional for a server) and refuses server-to-client requests
with `ServerRequestUnavailable`, which the tool call turns into an `isError` result that tells the
client why. The event stream of `mcp_app.streams` is the other outbox: it writes SSE events and
waits, through Redis, for the client's answer POSTed to any worker. On 2026-07-28 the outbox is
mcp_app.input_required's: a question is answered from the client's retry, or ends the call with an
`input_required` result (never a request on the stream); notifications still go to the stream.
"""

from dataclasses import dataclass, field
from typing import Any, Protocol

# RFC 5424 severities, lowest first, as MCP's logging utility names them.
LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
LOG_LEVEL_META_KEY = "io.modelcontextprotocol/logLevel"


def owner_of(identity) -> str:
    """Whose answers a call may use: the same client acting for the same user (anonymous: empty)."""
    return f"{identity.client_id}:{identity.subject}" if identity is not None else ""


class ToolError(Exception):
    """Raise in a tool to return `isError: true` with this message (shown to the client and the model)."""


class ServerRequestUnavailable(ToolError):
    """The response in progress cannot carry a server-to-client request."""

    def __init__(self, method: str):
        super().__init__(
            f"This server cannot send {method} to the client on this response: it was answered as plain "
            "JSON. Retry with `Accept: application/json, text/event-stream` on a server with streaming enabled."
        )
        self.method = method


class Outbox(Protocol):
    def notify(self, method: str, params: dict) -> None: ...

    def request(self, method: str, params: dict, timeout: float | None = None) -> dict: ...


class PlainJsonOutbox:
    """One JSON message answers the call: a notification has nowhere to go, a request cannot be sent."""

    def notify(self, method: str, params: dict) -> None:
        pass

    def request(self, method: str, params: dict, timeout: float | None = None) -> dict:
        raise ServerRequestUnavailable(method)


PLAIN_JSON = PlainJsonOutbox()


@dataclass
class Context:
    identity: Any  # oauth_app.tokens.TokenIdentity, or None for a public method
    protocol_version: str
    request_id: str | int
    meta: dict = field(default_factory=dict)  # the request's params._meta
    # Lowest level the client wants as notifications/message; None sends every level.
    log_level: str | None = None
    # 2026-07-28: no notifications/message unless the request named a level in _meta.
    logging_enabled: bool = True
    outbox: Outbox = PLAIN_JSON
    # 2026-07-28: what the request's _meta declares the client can do (None: not known, older versions).
    client_capabilities: dict | None = None

    @property
    def resumed(self) -> bool:
        """2026-07-28: this request is a retry carrying a verified requestState from an earlier round."""
        return getattr(self.outbox, "resumed", False)

    def client_supports(self, capability: str) -> bool:
        """Whether the client declared `capability` (on older versions: assumed, as before)."""
        return self.client_capabilities is None or capability in self.client_capabilities

    @property
    def progress_token(self) -> str | int | None:
        return self.meta.get("progressToken")

    def log(self, level: str, data: Any, logger: str | None = None) -> None:
        """Send a notifications/message to the client, if it asked for this level."""
        if level not in LOG_LEVELS:
            raise ValueError(f"unknown log level {level!r}; use one of {', '.join(LOG_LEVELS)}")
        if not self.logging_enabled:
            return
        if self.log_level and LOG_LEVELS.index(level) < LOG_LEVELS.index(self.log_level):
            return
        params = {"level": level, "data": data}
        if logger:
            params["logger"] = logger
        self.send_notification("notifications/message", params)

    def report_progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        """Send notifications/progress, if the client gave a progress token."""
        if self.progress_token is None:
            return
        params = {"progressToken": self.progress_token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        self.send_notification("notifications/progress", params)

    # `key` names the question in a 2026-07-28 input_required result (default: numbered in asking order).
    def sample(self, messages: list[dict], max_tokens: int, *, key: str | None = None, **options: Any) -> dict:
        """Ask the client's model for a completion (sampling/createMessage); returns the client's result."""
        params = {"messages": messages, "maxTokens": max_tokens, **options}
        return self.send_request("sampling/createMessage", params, key=key)

    def elicit(self, message: str, requested_schema: dict, *, key: str | None = None, **options: Any) -> dict:
        """Ask the user for input (elicitation/create); returns the client's result (`action`, `content`)."""
        params = {"message": message, "requestedSchema": requested_schema, **options}
        return self.send_request("elicitation/create", params, key=key)

    def list_roots(self, *, key: str | None = None) -> dict:
        """Ask the client for its roots (roots/list); returns the client's result (`roots`)."""
        return self.send_request("roots/list", {}, key=key)

    def request_inputs(self, requests: dict[str, tuple[str, dict]]) -> dict[str, dict]:
        """Several questions at once, `{key: (method, params)}` → `{key: result}`: one round trip on
        2026-07-28, one request after the other on the event stream of older versions."""
        if getattr(self.outbox, "keyed", False):
            return self.outbox.request_many(requests)
        return {key: self.send_request(method, params) for key, (method, params) in requests.items()}

    # --- what goes to the outbox ----------------------------------------------------------------
    def send_notification(self, method: str, params: dict) -> None:
        self.outbox.notify(method, params)

    def send_request(self, method: str, params: dict, timeout: float | None = None, key: str | None = None) -> dict:
        if getattr(self.outbox, "keyed", False):
            return self.outbox.request(method, params, timeout, key=key)
        return self.outbox.request(method, params, timeout)
