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
waits, through Redis, for the client's answer POSTed to any worker.
"""

from dataclasses import dataclass, field
from typing import Any, Protocol

# RFC 5424 severities, lowest first, as MCP's logging utility names them.
LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
LOG_LEVEL_META_KEY = "io.modelcontextprotocol/logLevel"


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

    def sample(self, messages: list[dict], max_tokens: int, **options: Any) -> dict:
        """Ask the client's model for a completion (sampling/createMessage); returns the client's result."""
        return self.send_request("sampling/createMessage", {"messages": messages, "maxTokens": max_tokens, **options})

    def elicit(self, message: str, requested_schema: dict, **options: Any) -> dict:
        """Ask the user for input (elicitation/create); returns the client's result (`action`, `content`)."""
        return self.send_request(
            "elicitation/create", {"message": message, "requestedSchema": requested_schema, **options}
        )

    # --- what goes to the outbox ----------------------------------------------------------------
    def send_notification(self, method: str, params: dict) -> None:
        self.outbox.notify(method, params)

    def send_request(self, method: str, params: dict, timeout: float | None = None) -> dict:
        return self.outbox.request(method, params, timeout)
