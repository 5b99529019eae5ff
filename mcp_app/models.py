"""What mcp_app keeps in PostgreSQL: the tasks of the `io.modelcontextprotocol/tasks` extension (`Task`), who may
use which tool, prompt or resource (`AccessGrant`), and the trail of every call (`AuditRecord`)."""

import uuid

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q

from common.storable import StorableJSONEncoder


class ItemKind(models.TextChoices):
    TOOL = "tool", "Tool"
    PROMPT = "prompt", "Prompt"
    RESOURCE = "resource", "Resource (URI or URI template)"


class AccessGrant(models.Model):
    """One item opened to one group, one user, or one client (client-credentials tokens: no user).

    The grants of an item replace its code defaults (`@tool(groups=[...])`); an item with neither follows
    MCP_TOOL_ACCESS_DEFAULT. See docs/access.md.
    """

    kind = models.CharField(max_length=16, choices=ItemKind.choices, default=ItemKind.TOOL)
    name = models.CharField(max_length=500, help_text="Tool or prompt name, resource URI or URI template.")
    group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    client = models.ForeignKey(settings.OAUTH2_PROVIDER_APPLICATION_MODEL, null=True, blank=True,
                               on_delete=models.CASCADE, help_text="For client-credentials tokens (no user).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.CheckConstraint(
                name="access_grant_one_grantee",
                condition=(Q(group__isnull=False, user__isnull=True, client__isnull=True)
                           | Q(group__isnull=True, user__isnull=False, client__isnull=True)
                           | Q(group__isnull=True, user__isnull=True, client__isnull=False)),
            ),
            models.UniqueConstraint(fields=["kind", "name", "group"], name="access_grant_unique_group",
                                    condition=Q(group__isnull=False)),
            models.UniqueConstraint(fields=["kind", "name", "user"], name="access_grant_unique_user",
                                    condition=Q(user__isnull=False)),
            models.UniqueConstraint(fields=["kind", "name", "client"], name="access_grant_unique_client",
                                    condition=Q(client__isnull=False)),
        ]

    @property
    def grantee(self) -> str:
        if self.group_id:
            return f"group {self.group.name}"
        if self.user_id:
            return f"user {self.user.get_username()}"
        return f"client {self.client.client_id}"

    def __str__(self):
        return f"{self.kind} {self.name} → {self.grantee}"


class Outcome(models.TextChoices):
    OK = "ok"
    ERROR = "error"
    DENIED = "denied"


class AuditRecord(models.Model):
    """One tools/call, resources/read or prompts/get. Written through Redis (mcp_app.audit); the id is made
    by the worker, so a batch flushed twice (a flusher died after its commit) is stored once."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    at = models.DateTimeField(db_index=True)
    method = models.CharField(max_length=32)
    name = models.CharField(max_length=500)
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    duration_ms = models.FloatField()
    # Copies, not foreign keys: the trail outlives the users and clients it names.
    username = models.CharField(max_length=150, blank=True)
    subject = models.CharField(max_length=255, blank=True, help_text="User id, or the client id (no user).")
    client_id = models.CharField(max_length=100, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    jti = models.CharField(max_length=64, blank=True)
    arguments = models.JSONField(null=True, blank=True)
    detail = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-at"]
        indexes = [
            models.Index(fields=["username", "at"], name="audit_user_at"),
            models.Index(fields=["client_id", "at"], name="audit_client_at"),
            models.Index(fields=["name", "at"], name="audit_name_at"),
        ]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username or self.client_id} {self.method} {self.name} {self.outcome}"


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
    # What tools and clients write here is kept whatever text it holds (a NUL is stored as U+FFFD):
    # the progress message (through storable_text, mcp_app.task_runner), the CallToolResult once completed,
    # the JSON-RPC error object once failed, {key: {method, params}} still unanswered, {key: the client's
    # answer} not yet read.
    status_message = models.TextField(blank=True)
    result = models.JSONField(null=True, blank=True, encoder=StorableJSONEncoder)
    error = models.JSONField(null=True, blank=True, encoder=StorableJSONEncoder)
    input_requests = models.JSONField(default=dict, blank=True, encoder=StorableJSONEncoder)
    input_responses = models.JSONField(default=dict, blank=True, encoder=StorableJSONEncoder)
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
