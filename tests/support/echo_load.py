"""A bounded load of echo `tools/call`s from a few threads, each answer kept with the moment it arrived, so
a test can tell the failures that fell inside an outage window from those outside it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import requests

from mcp_client import McpOAuthClient, tool_text


def echo(client: McpOAuthClient, message: str = "hi") -> int:
    """The status of one echo call (the answer checked when it is a 200); 0 when no HTTP answer came."""
    try:
        response = client.post_mcp({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                    "params": {"name": "echo", "arguments": {"message": message}}})
    except requests.RequestException:
        return 0
    if response.status_code == 200:
        assert tool_text(response.json()["result"]) == f"Echo: {message}"
    return response.status_code


@dataclass(frozen=True)
class Answer:
    at: float  # time.monotonic() when it arrived
    status: int


class EchoLoad:
    """`threads` threads, each with its own client, calling echo until stopped or `max_calls` each."""

    def __init__(self, clients: list[McpOAuthClient], max_calls: int = 2000, pause: float = 0.0):
        self.clients, self.max_calls, self.pause = clients, max_calls, pause
        self.answers: list[Answer] = []
        self.running = True
        self.threads = [threading.Thread(target=self.work, args=(n,), daemon=True) for n in range(len(clients))]

    def work(self, n: int) -> None:
        for count in range(self.max_calls):
            if not self.running:
                return
            status = echo(self.clients[n], f"load {n}-{count}")
            self.answers.append(Answer(time.monotonic(), status))
            time.sleep(self.pause)

    def failures(self, start: float = 0.0, end: float = float("inf")) -> list[Answer]:
        return [answer for answer in self.answers if answer.status != 200 and start <= answer.at <= end]

    def answered_between(self, start: float, end: float) -> int:
        return sum(1 for answer in self.answers if start <= answer.at <= end and answer.status == 200)

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        for thread in self.threads:
            thread.join(timeout=60)
