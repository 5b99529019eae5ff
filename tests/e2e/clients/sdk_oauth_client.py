"""The official MCP Python SDK (`mcp` 2.x) signing in to our server with `OAuthClientProvider`.

Runs under tools/venv/bin/python, driven by tests/e2e/test_sdk_oauth.py over stdin/stdout (JSON lines):

    -> {"event": "authorize", "url": …}   the SDK's redirect handler: "open this in a browser"
    <- the URL the browser was redirected to (the test plays the person: login and consent)
    -> {"event": "result", …}             tools, the tools/call result, tokens, client, HTTP trace

Registration (when no --client is given) carries the initial access token through an httpx2
request hook; a pre-registered client (--client JSON) is handed to the SDK through its storage.
"""

import argparse
import json
import sys
import time
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
from mcp import ClientSession
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken


TRACE: list[list] = []  # [method, url, status] of every HTTP exchange, reported on success and on error


def emit(**fields) -> None:
    print(json.dumps(fields, default=str), flush=True)


class MemoryStorage:
    """The SDK's TokenStorage, in memory, optionally holding a pre-registered client."""

    def __init__(self, client_info: OAuthClientInformationFull | None):
        self.tokens: OAuthToken | None = None
        self.client_info = client_info

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info):
        self.client_info = client_info


async def open_in_browser(url: str) -> None:
    emit(event="authorize", url=url)


async def wait_for_redirect() -> AuthorizationCodeResult:
    line = await anyio.to_thread.run_sync(sys.stdin.readline)
    params = {key: values[0] for key, values in parse_qs(urlsplit(line.strip()).query).items()}
    return AuthorizationCodeResult(code=params.get("code", ""), state=params.get("state"), iss=params.get("iss"))


async def run(args) -> int:
    client_info = OAuthClientInformationFull.model_validate(json.loads(args.client)) if args.client else None
    storage = MemoryStorage(client_info)
    provider = OAuthClientProvider(
        server_url=args.url,
        client_metadata=OAuthClientMetadata(
            client_name="sdk e2e client",
            redirect_uris=[args.redirect_uri],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method=args.auth_method,
        ),
        storage=storage,
        redirect_handler=open_in_browser,
        callback_handler=wait_for_redirect,
    )
    async def add_initial_access_token(request: httpx2.Request) -> None:
        metadata = provider.context.oauth_metadata
        if (args.initial_access_token and request.method == "POST" and metadata
                and str(request.url) == str(metadata.registration_endpoint)):
            request.headers["Authorization"] = f"Bearer {args.initial_access_token}"

    async def record(response: httpx2.Response) -> None:
        TRACE.append([response.request.method, str(response.request.url).split("?")[0], response.status_code])

    http = httpx2.AsyncClient(auth=provider, timeout=httpx2.Timeout(args.timeout),
                              event_hooks={"request": [add_initial_access_token], "response": [record]})
    async with http, streamable_http_client(args.url, http_client=http) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            result = await session.call_tool(args.tool, json.loads(args.arguments))
            first_tokens = storage.tokens.model_dump(mode="json")
            if args.expire_and_call_again:
                # As if the access token's lifetime had run out: the SDK must refresh before the next call.
                provider.context.token_expiry_time = time.time() - 1
                result = await session.call_tool(args.tool, json.loads(args.arguments))
    emit(
        event="result",
        tools=[tool.name for tool in tools.tools],
        result=result.model_dump(mode="json", by_alias=True, exclude_none=True),
        first_tokens=first_tokens,
        tokens=storage.tokens.model_dump(mode="json") if storage.tokens else None,
        client=storage.client_info.model_dump(mode="json", exclude_none=True) if storage.client_info else None,
        trace=TRACE,
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--redirect-uri", required=True)
    parser.add_argument("--initial-access-token")
    parser.add_argument("--client", help="JSON of a pre-registered client (RFC 7591 response shape)")
    parser.add_argument("--auth-method", default="none")
    parser.add_argument("--tool", default="echo")
    parser.add_argument("--arguments", default='{"message": "hello from the SDK"}')
    parser.add_argument("--expire-and-call-again", action="store_true",
                        help="after the call, expire the access token and call again (the SDK refreshes)")
    parser.add_argument("--timeout", type=float, default=20.0)
    args = parser.parse_args()
    try:
        return anyio.run(run, args)
    except BaseException as error:  # noqa: BLE001 - report what failed, exception groups included
        if isinstance(error, KeyboardInterrupt):
            raise
        emit(event="error", errors=[f"{type(leaf).__name__}: {leaf}" for leaf in leaves(error)], trace=TRACE)
        return 1


def leaves(error: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups: the SDK's task groups wrap the real cause."""
    inner = getattr(error, "exceptions", None)
    return [leaf for sub in inner for leaf in leaves(sub)] if inner else [error]


if __name__ == "__main__":
    sys.exit(main())
