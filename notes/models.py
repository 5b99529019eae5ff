"""Example data the demo tools read through the ORM: short notes, searchable by the `search_notes` tool
and readable as `notes://{id}` resources."""

from django.db import models


class Note(models.Model):
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        # The table the model had when it lived in mcp_app: existing deployments keep their notes.
        db_table = "mcp_app_note"
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.title

    @property
    def uri(self) -> str:
        return f"notes://{self.pk}"
