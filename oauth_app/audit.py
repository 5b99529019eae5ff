"""Security events: one AuditEvent row (shown read-only in the admin) and one JSON log line each.

Call `record(kind, ...)` from services and views; never pass a secret or a token in `details`.
"""

import logging

from common.http import client_address  # X-Forwarded-For only from trusted proxies
from common.logging import current_request_id
from oauth_app.models import AuditEvent

logger = logging.getLogger("oauth_app.audit")


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
