"""Security events: one AuditEvent row (shown read-only in the admin) and one JSON log line each.

Call `record(kind, ...)` from services and views; never pass a secret or a token in `details`.
"""

import logging

from oauth_app.models import AuditEvent
from mcpsite.logging import current_request_id

logger = logging.getLogger("oauth_app.audit")


def client_address(request) -> str | None:
    """The caller's address as Django sees it (REMOTE_ADDR; the proxy setup decides what that is)."""
    if request is None:
        return None
    return getattr(request, "client_address", None) or request.META.get("REMOTE_ADDR") or None


def record(kind: str, *, client_id: str = "", actor: str = "", request=None, **details) -> AuditEvent:
    event = AuditEvent.objects.create(
        kind=kind,
        client_id=client_id or "",
        actor=actor or "",
        remote_addr=client_address(request),
        request_id=current_request_id() if current_request_id() != "-" else "",
        details=details,
    )
    logger.info(
        "audit %s client=%s actor=%s", kind, client_id, actor,
        extra={"event": kind, "details": {"client_id": client_id, "actor": actor, **details}},
    )
    return event
