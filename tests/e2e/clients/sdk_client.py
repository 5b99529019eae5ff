"""The official MCP Python SDK as a client of our server (run with tools/venv/bin/python).

    MCP_TOKEN=… tools/venv/bin/python tests/e2e/clients/sdk_client.py http://127.0.0.1:8080/mcp \
        --tool echo --args '{"message": "hi"}'

Steps: initialize, tools/list, tools/call TOOL. Prints one JSON object per step on stdout. Answers
the server's sampling and elicitation requests and records its log and progress notifications, so a
tool that streams can be checked too. Exit status: 0 when the call succeeded (isError false),
1 when it returned isError or the tool is not listed, 2 on HTTP 401/403, 3 on any other failure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

import httpx2  # mcp 2.x ships its own httpx fork; its transport takes an httpx2.AsyncClient
from mcp import ClientSession, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

AUTH_FAILURES: list[dict] = []
NOTIFICATIONS: list[dict] = []


def emit(**fields) -> None:
    print(json.dumps(fields, default=str), flush=True)


async def record_auth_failure(response: httpx2.Response) -> None:
    if response.status_code in (401, 403):
        AUTH_FAILURES.append({"status": response.status_code, "www_authenticate": response.headers.get("www-authenticate")})


async def on_sampling(context, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
    return types.CreateMessageResult(
        role="assistant", model="sdk-test-model", stop_reason="endTurn",
        content=types.TextContent(type="text", text="sampled by the SDK client"),
    )


async def on_elicitation(context, params) -> types.ElicitResult:
    return types.ElicitResult(action="accept", content={"username": "sdk-user", "email": "sdk@example.com"})


async def on_log(params: types.LoggingMessageNotificationParams) -> None:
    NOTIFICATIONS.append({"method": "notifications/message", "level": params.level, "data": params.data})


async def on_progress(progress: float, total: float | None, message: str | None) -> None:
    NOTIFICATIONS.append({"method": "notifications/progress", "progress": progress, "total": total})


async def run(url: str, tool: str, arguments: dict, timeout: float) -> int:
    token = os.environ.get("MCP_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else None
    http = create_mcp_http_client(headers=headers, timeout=httpx2.Timeout(timeout, read=max(timeout, 60.0)))
    http.event_hooks["response"].append(record_auth_failure)
    async with http, streamable_http_client(url, http_client=http) as (read, write):
        async with ClientSession(read, write, sampling_callback=on_sampling, elicitation_callback=on_elicitation,
                                 logging_callback=on_log) as session:
            initialized = await session.initialize()
            emit(step="initialize", protocol_version=initialized.protocol_version,
                 server=initialized.server_info.model_dump(mode="json", exclude_none=True))
            listed = await session.list_tools()
            names = [listed_tool.name for listed_tool in listed.tools]
            emit(step="tools/list", tools=names)
            if tool not in names:
                emit(step="tools/call", error=f"tool {tool!r} is not listed")
                return 1
            result = await session.call_tool(tool, arguments, progress_callback=on_progress)
            dump = result.model_dump(mode="json", by_alias=True, exclude_none=True)
            emit(step="tools/call", tool=tool, result=dump, notifications=NOTIFICATIONS)
            return 1 if dump.get("isError") else 0


def leaves(error: BaseException) -> list[BaseException]:
    """The leaf exceptions of (nested) exception groups."""
    children = getattr(error, "exceptions", None)
    return [leaf for child in children for leaf in leaves(child)] if children else [error]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--tool", default="echo")
    parser.add_argument("--args", default='{"message": "hello from the sdk"}', help="tool arguments, a JSON object")
    parser.add_argument("--timeout", type=float, default=30.0)
    options = parser.parse_args()
    try:
        return asyncio.run(asyncio.wait_for(run(options.url, options.tool, json.loads(options.args), options.timeout),
                                            options.timeout))
    except Exception as error:  # report everything, including exception groups, as one JSON line
        emit(step="error", errors=[f"{type(leaf).__name__}: {leaf}"[:400] for leaf in leaves(error)],
             auth_failures=AUTH_FAILURES)
        return 2 if AUTH_FAILURES else 3


if __name__ == "__main__":
    sys.exit(main())
