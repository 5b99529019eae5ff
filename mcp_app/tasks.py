"""The tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663, 2026-07-28): a tools/call that runs in
the background, and `tasks/get`, `tasks/update` and `tasks/cancel` on any worker of any host.

A tool opts in with one decorator argument, `@tool(task_support="optional")` (or "required"; the spec's
`execution.taskSupport`). When the request's `_meta` client capabilities declare the extension, the
server alone decides: a task-supporting tool answers with a CreateTaskResult (`resultType: "task"`) once
its row is committed, and runs in mcp_app.task_runner. Without the extension an "optional" tool runs as
a plain call and a "required" one is refused with -32021 naming the extension.

`tasks/get` answers the DetailedTask: the status, and the tool's result inlined when `completed` (a tool
error is `completed` with `isError`), the JSON-RPC error when `failed` (an internal fault, or the worker
running it stopped: its lease ran out), the pending questions when `input_required` (answered with
`tasks/update`). `tasks/cancel` and `tasks/update` answer an empty ack. A task belongs to the OAuth client
and user that created it; to anyone else its id is unknown (-32602), like an id that never existed or
whose ttl has passed. The v1 methods `tasks/result` and `tasks/list` do not exist (-32601).

A *task launcher* (`task_launcher=True`) runs on the tools/call itself, so that its questions go as
2026-07-28 `input_required` round trips before any task exists, and returns `Background(work)`: the
work that becomes the task.
"""

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mcp_app.context import ToolError
from mcp_app.input_required import InputRequired, input_responses
from mcp_app.jsonrpc import INTERNAL_ERROR, INVALID_PARAMS, MISSING_REQUIRED_CLIENT_CAPABILITY, JsonRpcError
from mcp_app.models import Task
from mcp_app.registry import InvalidArguments, Tool
from mcp_app.registry.content import error_result
from mcp_app.task_runner import Background, Cancelled, lease_end, pause, runner, worker_name
from mcp_app.versions import CLIENT_CAPABILITIES_META_KEY

TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
REQUIRED_CAPABILITIES = {"requiredCapabilities": {"extensions": {TASKS_EXTENSION: {}}}}
LOST_WORKER = {"code": INTERNAL_ERROR, "message": "The server process running this task stopped before it finished"}


def negotiated(call) -> bool:
    """Whether this request's client capabilities (2026-07-28 `_meta`) declare the tasks extension."""
    meta = call.params.get("_meta")
    capabilities = meta.get(CLIENT_CAPABILITIES_META_KEY) if call.modern and isinstance(meta, dict) else None
    extensions = capabilities.get("extensions") if isinstance(capabilities, dict) else None
    return isinstance(extensions, dict) and TASKS_EXTENSION in extensions


def missing_extension(call, why: str) -> JsonRpcError:
    return JsonRpcError(MISSING_REQUIRED_CLIENT_CAPABILITY, f"Missing required client capability: {why}; declare "
                        f"the extension {TASKS_EXTENSION} in _meta", REQUIRED_CAPABILITIES, id=call.request.id)


def owner(identity) -> dict:
    return {"client_id": getattr(identity, "client_id", ""), "subject": getattr(identity, "subject", "")}


# --- tools/call ----------------------------------------------------------------------------------------------
def call_tool(call, tool: Tool, arguments: dict) -> dict:
    """tools/call of a tool with task support: a CreateTaskResult, or the plain result as a fallback."""
    if not negotiated(call):
        if tool.task_support == "required":
            raise missing_extension(call, f"the tool '{tool.name}' runs only as a task")
        return tool.call(arguments, call.context())
    try:
        validated = tool.function.validate(arguments, f"tool '{tool.name}'")
    except InvalidArguments as exc:
        return error_result(str(exc))
    if tool.task_launcher:
        return launch(call, tool, validated)
    return start(call, tool, lambda ctx: tool.function.call(validated, ctx))


def start(call, tool: Tool, work) -> dict:
    """Create the task (committed before the answer: a tasks/get right after it resolves) and run it."""
    task = task_create(identity=call.identity, tool=tool.name)
    capabilities = call.params["_meta"][CLIENT_CAPABILITIES_META_KEY]  # negotiated: present
    transaction.on_commit(lambda: runner.submit(
        task.id, tool, work, identity=call.identity, protocol_version=call.version, request_id=call.request.id,
        meta={"progressToken": task.id}, logging_enabled=False, client_capabilities=capabilities,
    ))
    return {"resultType": "task", **envelope(task)}


def launch(call, tool: Tool, arguments: dict) -> dict:
    """A launcher runs on the request: its questions are the 2026-07-28 input_required round trips (the
    request's Context, mcp_app.input_required), and the Background it returns becomes the task."""
    try:
        value = tool.function.call(arguments, call.context())
    except ToolError as exc:
        return error_result(str(exc))
    except (InputRequired, JsonRpcError):  # answered by the dispatch: input_required, -32021, …
        raise
    except Exception as exc:
        return tool.failure(exc)
    if isinstance(value, Background):
        return start(call, tool, value.work)
    return tool.to_result(value)


# --- Services ----------------------------------------------------------------------------------------------
def task_create(*, identity, tool: str) -> Task:
    now = timezone.now()
    Task.objects.filter(expires_at__lt=now).delete()  # forgotten at the end of their ttl (indexed)
    return Task.objects.create(
        id=secrets.token_urlsafe(24), tool=tool, created_at=now, last_updated_at=now, lease_expires_at=lease_end(),
        expires_at=now + timedelta(seconds=settings.MCP_TASK_TTL_SECONDS), worker=worker_name(), **owner(identity),
    )


def task_get(*, identity, task_id: str) -> Task | None:
    """The caller's own task, None if unknown, another's or expired. A task whose worker stopped renewing
    its lease is failed here: whoever asks first records it."""
    now = timezone.now()
    task = Task.objects.filter(pk=task_id, expires_at__gt=now, **owner(identity)).first()
    if task is not None and not task.is_terminal and task.lease_expires_at and task.lease_expires_at < now:
        Task.objects.filter(pk=task.pk, status__in=Task.ACTIVE, lease_expires_at__lt=now).update(
            status=Task.FAILED, error=LOST_WORKER, input_requests={}, lease_expires_at=None, last_updated_at=now)
        task.refresh_from_db()
    return task


def task_cancel(*, task: Task) -> None:
    Task.objects.filter(pk=task.pk, status__in=Task.ACTIVE).update(
        status=Task.CANCELLED, input_requests={}, lease_expires_at=None, last_updated_at=timezone.now())


@transaction.atomic
def task_answer(*, task: Task, responses: dict) -> None:
    """Store the answers to the task's pending questions (others are ignored); it works again once
    none is pending. The running thread picks them up (mcp_app.task_runner.TaskOutbox)."""
    task = Task.objects.select_for_update().get(pk=task.pk)
    answered = {key: value for key, value in responses.items() if key in task.input_requests}
    if task.is_terminal or not answered:
        return
    for key in answered:
        del task.input_requests[key]
    task.input_responses.update(answered)
    task.status = Task.INPUT_REQUIRED if task.input_requests else Task.WORKING
    task.last_updated_at = timezone.now()
    task.save(update_fields=["input_requests", "input_responses", "status", "last_updated_at"])


# --- Wire format -------------------------------------------------------------------------------------------
def timestamp(moment) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def envelope(task: Task) -> dict:
    """The Task fields (CreateTaskResult is `resultType: "task"` and these, flat)."""
    fields = {"taskId": task.id, "status": task.status}
    if task.status_message:
        fields["statusMessage"] = task.status_message
    fields.update(createdAt=timestamp(task.created_at), lastUpdatedAt=timestamp(task.last_updated_at),
                  ttlMs=settings.MCP_TASK_TTL_SECONDS * 1000, pollIntervalMs=settings.MCP_TASK_POLL_INTERVAL_MS)
    return fields


def detailed(task: Task) -> dict:
    fields = envelope(task)
    if task.status == Task.COMPLETED:
        fields["result"] = task.result
    elif task.status == Task.FAILED:
        fields["error"] = task.error
    elif task.status == Task.INPUT_REQUIRED:
        fields["inputRequests"] = task.input_requests
    return fields


# --- Methods -------------------------------------------------------------------------------------------------
def requested_task(call) -> Task:
    if not negotiated(call):
        raise missing_extension(call, f"{call.request.method} belongs to the tasks extension")
    task_id = call.params.get("taskId")
    if not isinstance(task_id, str):
        raise call.invalid('Invalid params: "taskId" must be a string')
    task = task_get(identity=call.identity, task_id=task_id)
    if task is None:
        raise JsonRpcError(INVALID_PARAMS, "Invalid params: unknown taskId", {"taskId": task_id}, id=call.request.id)
    return task


def tasks_get(call) -> dict:
    return detailed(requested_task(call))


def tasks_update(call) -> dict:
    task = requested_task(call)
    task_answer(task=task, responses=input_responses(call.params, call.request.id))
    return {}


def tasks_cancel(call) -> dict:
    task_cancel(task=requested_task(call))
    return {}


METHODS = {"tasks/get": tasks_get, "tasks/update": tasks_update, "tasks/cancel": tasks_cancel}
CAPABILITY = {TASKS_EXTENSION: {}}

# What a tool author uses: `pause(ctx, seconds)` (ends early on cancel), `Background(work)`, `Cancelled`.
__all__ = ["CAPABILITY", "METHODS", "TASKS_EXTENSION", "Background", "Cancelled", "call_tool", "pause"]
