"""What mcp_app keeps in PostgreSQL: the tasks of the `io.modelcontextprotocol/tasks` extension."""

from django.db import models


class Task(models.Model):
    """A tools/call running in the background (mcp_app.tasks). PostgreSQL is its truth, so any worker on any
    host answers tasks/get, tasks/update and tasks/cancel, and a finished task outlives the worker that ran
    it. A task is visible only to its owner: the same OAuth client acting for the same user."""

    WORKING = "working"
    INPUT_REQUIRED = "input_required"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    STATUSES = [(status, status) for status in (WORKING, INPUT_REQUIRED, COMPLETED, FAILED, CANCELLED)]
    ACTIVE = (WORKING, INPUT_REQUIRED)

    id = models.CharField(primary_key=True, max_length=64)  # the taskId: random and unguessable
    client_id = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    tool = models.CharField(max_length=128)
    status = models.CharField(max_length=16, choices=STATUSES, default=WORKING)
    status_message = models.TextField(blank=True)
    result = models.JSONField(null=True, blank=True)  # the CallToolResult, once completed
    error = models.JSONField(null=True, blank=True)  # a JSON-RPC error object, once failed
    input_requests = models.JSONField(default=dict, blank=True)  # key → {method, params}, still unanswered
    input_responses = models.JSONField(default=dict, blank=True)  # key → the client's answer, not yet read
    created_at = models.DateTimeField()
    last_updated_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)  # created_at + ttl: then the task is forgotten
    # Renewed by the running worker's heartbeat; a task whose lease ran out lost its worker (mcp_app.tasks).
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=255, blank=True)  # host:pid that runs it, for operators

    class Meta:
        db_table = "mcp_app_task"

    def __str__(self):
        return f"{self.tool} task {self.id} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status not in self.ACTIVE
