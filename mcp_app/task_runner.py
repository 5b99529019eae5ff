"""Where tasks run (mcp_app.tasks): a few daemon threads in the worker process that received the
tools/call, and one heartbeat thread per process.

The server keeps no session state, so the task's state lives in its PostgreSQL row (mcp_app.models.Task)
and the thread only writes to it: progress as `statusMessage`, questions as `inputRequests` (the task is
then `input_required` until tasks/update, on any worker, stores the answers the thread is polling for),
and the outcome. Every second the heartbeat renews the lease of this process's tasks and notices the ones
cancelled meanwhile (their threads stop at the next `pause` or question). A worker that dies stops
renewing: once the lease has run out, whichever worker is asked about the task fails it (mcp_app.tasks),
so no task stays `working` forever. Tasks are not re-run: a tool may have done half its side effects.
"""

import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from common.storable import storable_text
from mcp_app.context import Context, ToolError
from mcp_app.input_required import REQUIRED_CAPABILITY, MissingClientCapability
from mcp_app.jsonrpc import INTERNAL_ERROR, JsonRpcError
from mcp_app.models import Task
from mcp_app.registry import InvalidArguments, Tool
from mcp_app.registry.content import error_result

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 1.0
INPUT_POLL_SECONDS = 0.2


class Cancelled(Exception):
    """The task was cancelled (tasks/cancel) or is gone: its work stops here."""


@dataclass
class Background:
    """What a task launcher returns (`@tool(task_support=…, task_launcher=True)`): the work that runs as
    the task, called with the task's Context once the launcher has its answers."""

    work: Callable[[Context], Any]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def lease_end():
    return timezone.now() + timedelta(seconds=settings.MCP_TASK_LEASE_SECONDS)


def settle(task_id: str, status: str, *, result: dict | None = None, error: dict | None = None) -> None:
    """Record the outcome, unless the task was cancelled (or failed as lost) meanwhile."""
    Task.objects.filter(pk=task_id, status__in=Task.ACTIVE).update(
        status=status, result=result, error=error, input_requests={}, lease_expires_at=None,
        last_updated_at=timezone.now(),
    )


class TaskOutbox:
    """A task's Context talks to its row: progress becomes its statusMessage, a question parks the task
    in input_required until tasks/update brings the answer. Several threads of one task may ask at once."""

    keyed = True  # questions have keys (the keys of inputRequests)

    def __init__(self, task_id: str, cancelled: threading.Event, capabilities: dict):
        self.task_id = task_id
        self.capabilities = capabilities  # what the creating request's _meta declared
        self.cancelled = cancelled
        self.asked = 0
        self.lock = threading.Lock()

    def notify(self, method: str, params: dict) -> None:
        if method == "notifications/progress" and isinstance(params.get("message"), str):
            Task.objects.filter(pk=self.task_id, status__in=Task.ACTIVE).update(
                status_message=storable_text(params["message"]), last_updated_at=timezone.now())

    def request(self, method: str, params: dict, timeout: float | None = None, *, key: str | None = None) -> dict:
        if key is None:
            with self.lock:
                self.asked += 1
                key = f"{REQUIRED_CAPABILITY.get(method, 'input')}-{self.asked}"  # as input_required numbers them
        return self.request_many({key: (method, params)})[key]

    def request_many(self, requests: dict[str, tuple[str, dict]]) -> dict[str, dict]:
        """Ask every question at once; return when all are answered (`{key: the client's result}`). A
        question the client cannot answer (its capability undeclared) fails the task with -32021."""
        for method, _params in requests.values():
            capability = REQUIRED_CAPABILITY.get(method)
            if capability not in self.capabilities:
                raise MissingClientCapability(capability or method, method, None)
        with transaction.atomic():
            task = self.locked_task()
            task.input_requests.update({key: {"method": method, "params": params}
                                        for key, (method, params) in requests.items()})
            task.status, task.last_updated_at = Task.INPUT_REQUIRED, timezone.now()
            task.save(update_fields=["input_requests", "status", "last_updated_at"])
        answers: dict[str, dict] = {}
        while len(answers) < len(requests):
            if self.cancelled.wait(INPUT_POLL_SECONDS):
                raise Cancelled()
            with transaction.atomic():
                task = self.locked_task()
                arrived = [key for key in requests if key in task.input_responses and key not in answers]
                if arrived:
                    answers.update({key: task.input_responses.pop(key) for key in arrived})
                    task.save(update_fields=["input_responses"])
        return answers

    def locked_task(self) -> Task:
        task = Task.objects.select_for_update().filter(pk=self.task_id).first()
        if task is None or task.is_terminal or task.expires_at < timezone.now():
            raise Cancelled()
        return task


def pause(ctx: Context, seconds: float) -> None:
    """Sleep in a tool; in a task, a cancellation ends the sleep (and the task's work) at once."""
    outbox = ctx.outbox
    if isinstance(outbox, TaskOutbox):
        if outbox.cancelled.wait(seconds):
            raise Cancelled()
    else:
        time.sleep(seconds)


@dataclass
class Job:
    task_id: str
    tool: Tool
    work: Callable[[Context], Any]
    context: Context


class Runner:
    """The task threads and heartbeat of this process, started on its first task (gunicorn preloads the
    application in the master, and threads do not survive a fork)."""

    def __init__(self):
        self.pid = None
        self.lock = threading.Lock()
        self.jobs: queue.Queue[Job] = queue.Queue()
        self.active: dict[str, threading.Event] = {}  # task id → set when it is cancelled or gone

    def submit(self, task_id: str, tool: Tool, work: Callable[[Context], Any], **context: Any) -> None:
        self.start()
        cancelled = self.active.setdefault(task_id, threading.Event())
        outbox = TaskOutbox(task_id, cancelled, context.get("client_capabilities") or {})
        self.jobs.put(Job(task_id, tool, work, Context(outbox=outbox, **context)))

    def start(self) -> None:
        with self.lock:
            if self.pid == os.getpid():
                return
            self.jobs, self.active = queue.Queue(), {}
            for number in range(settings.MCP_TASK_THREADS):
                threading.Thread(target=self.work, name=f"mcp-task-{number}", daemon=True).start()
            threading.Thread(target=self.heartbeat, name="mcp-task-heartbeat", daemon=True).start()
            self.pid = os.getpid()

    def work(self) -> None:
        while True:
            job = self.jobs.get()
            close_old_connections()
            try:
                self.run(job)
            except Exception:  # the database is unreachable: the lease will fail the task
                logger.exception("task %s could not record its outcome", job.task_id)
            finally:
                self.active.pop(job.task_id, None)
                connection.close()

    def run(self, job: Job) -> None:
        try:
            result = job.tool.to_result(job.work(job.context))
        except Cancelled:
            return
        except (InvalidArguments, ToolError) as exc:  # the tool ran and said no: a completed task
            settle(job.task_id, Task.COMPLETED, result=error_result(str(exc)))
        except JsonRpcError as exc:
            settle(job.task_id, Task.FAILED, error=exc.as_error())
        except Exception:
            logger.exception("task %s of tool %s failed", job.task_id, job.tool.name)
            settle(job.task_id, Task.FAILED, error={"code": INTERNAL_ERROR, "message": "Internal error"})
        else:
            settle(job.task_id, Task.COMPLETED, result=result)

    def heartbeat(self) -> None:
        while True:
            time.sleep(HEARTBEAT_SECONDS)
            ids = list(self.active)
            if not ids:
                connection.close()  # idle: hold no database connection (a no-op once closed)
                continue
            try:
                close_old_connections()
                # A task past its ttl is forgotten: its work stops like a cancelled one's.
                running = Task.objects.filter(pk__in=ids, status__in=Task.ACTIVE, expires_at__gt=timezone.now())
                running.update(lease_expires_at=lease_end())
                live = set(running.values_list("pk", flat=True))
            except Exception:
                logger.exception("task heartbeat failed")
                continue
            for task_id in set(ids) - live:
                event = self.active.get(task_id)
                if event is not None:
                    event.set()


runner = Runner()
