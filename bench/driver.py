"""A small closed-loop load driver for requests that cannot repeat: each authorization code and each
refresh token is accepted once, so wrk's fixed request does not fit. Every job is sent exactly once.

Threads each hold one keep-alive-capable `http.client` connection (gunicorn's sync workers close it
after each answer, so this reconnects like wrk does). The driver's own CPU is on the same machine as
the server: the figures are a lower bound of the server's capacity, as wrk's are.
"""

from __future__ import annotations

import http.client
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass


@dataclass
class Job:
    path: str
    body: str | None
    headers: dict[str, str]
    method: str = "POST"


@dataclass
class Answer:
    status: int
    location: str
    body: bytes


@dataclass
class DriverResult:
    requests: int
    seconds: float
    errors: int
    latencies_us: list[int]
    answers: list[Answer]
    first_error: str

    def summary(self) -> dict:
        ordered = sorted(self.latencies_us) or [0]
        return {
            "requests": self.requests,
            "rps": round(self.requests / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(percentile(ordered, 50) / 1000, 2),
            "p99_ms": round(percentile(ordered, 99) / 1000, 2),
            "mean_ms": round(statistics.fmean(ordered) / 1000, 2),
            "errors": self.errors,
            "first_error": self.first_error,
        }


def percentile(ordered: list[int], pct: float) -> int:
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def drive(host: str, port: int, jobs: list[Job], concurrency: int, expected_status: int = 200,
          timeout: float = 30.0) -> DriverResult:
    """Sends every job once, `concurrency` at a time; returns timings and the answers in job order."""
    queue = deque(enumerate(jobs))
    answers: list[Answer | None] = [None] * len(jobs)
    latencies: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()

    def work():
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
        while True:
            try:
                index, job = queue.popleft()
            except IndexError:
                break
            started = time.perf_counter()
            try:
                connection.request(job.method, job.path, body=job.body, headers=job.headers)
                response = connection.getresponse()
                body = response.read()
                status, location = response.status, response.getheader("Location", "")
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                body, status, location = str(exc).encode(), 0, ""
            elapsed = int((time.perf_counter() - started) * 1_000_000)
            with lock:
                latencies.append(elapsed)
                answers[index] = Answer(status, location, body)
                if status != expected_status:
                    errors.append(f"{status} {body[:200]!r}")
        connection.close()

    threads = [threading.Thread(target=work) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    return DriverResult(len(jobs), seconds, len(errors), latencies, answers, errors[0] if errors else "")
