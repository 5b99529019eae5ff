"""The audit trail of every tools/call, resources/read and prompts/get (model: mcp_app.models.AuditRecord).

Writing costs the call one Redis RPUSH of a JSON record, written after its answer is built and before it
is sent, without waiting for the reply (read at the thread's next exchange: common.redis). A flusher (a thread
in each gunicorn worker every AUDIT_FLUSH_SECONDS, and `manage.py flush_audit`) moves records to
PostgreSQL without ever losing one:
  1. claim: one Lua script moves up to BATCH records from the queue to a processing list of its own and
     sets a lease (atomic: a record is in exactly one list);
  2. bulk insert with ignore_conflicts (the worker made each record's id, so a batch inserted twice is
     stored once);
  3. release: delete the processing list and its lease.
A flusher killed between 1 and 3 leaves its processing list behind; once its lease has expired any flusher
moves it back to the queue (`reclaim`). Without a shared cache (or with Redis unreachable) the record is
written to PostgreSQL at once.

Arguments are stored only for tools declared with `@tool(audit_arguments=True)`, and then every value the
input schema marks secret is replaced by "[redacted]": a property with `"secret": true` (pydantic
`Field(json_schema_extra={"secret": True})`), `writeOnly: true` or `format: "password"` (pydantic SecretStr).
"""

import json
import logging
import os
import threading
import time
import uuid
from datetime import datetime, timezone

import orjson
from django.conf import settings
from django.core.cache import cache, caches
from django.db import close_old_connections, connections
from redis.exceptions import RedisError

from common.logging import current_request_id
from common.redis import send_commands
from common.storable import storable_json, storable_text

logger = logging.getLogger(__name__)

AUDITED_METHODS = {"tools/call": "name", "resources/read": "uri", "prompts/get": "name"}
QUEUE = "mcp:audit:queue"
CLAIMS = "mcp:audit:claims"
BATCH = 500
LEASE_SECONDS = 30
REDACTED = "[redacted]"
DETAIL_LENGTH = 500

CLAIM_SCRIPT = """
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #items == 0 then return items end
redis.call('RPUSH', KEYS[2], unpack(items))
redis.call('LTRIM', KEYS[1], #items, -1)
redis.call('SET', KEYS[3], '1', 'EX', tonumber(ARGV[3]))
redis.call('SADD', KEYS[4], ARGV[2])
return items
"""
# Puts an abandoned claim's records back at the head of the queue (ARGV[2] = '1': even if its lease lives).
RECLAIM_SCRIPT = """
if ARGV[2] ~= '1' and redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
local items = redis.call('LRANGE', KEYS[2], 0, -1)
for i = #items, 1, -1 do redis.call('LPUSH', KEYS[1], items[i]) end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('SREM', KEYS[4], ARGV[1])
return #items
"""


# --- Redaction -----------------------------------------------------------------------------------
def is_secret(schema: dict) -> bool:
    return bool(schema.get("secret") or schema.get("writeOnly") or schema.get("format") == "password")


def resolved(schema: dict, definitions: dict) -> dict:
    if isinstance(schema, dict) and "$ref" in schema:
        return {**definitions.get(schema["$ref"].rsplit("/", 1)[-1], {}), **schema}
    return schema if isinstance(schema, dict) else {}


def redact(value, schema: dict, definitions: dict):
    """The value with every part the schema marks secret replaced (follows $ref, anyOf, allOf, items)."""
    schema = resolved(schema, definitions)
    options = [resolved(option, definitions) for option in schema.get("anyOf", []) + schema.get("allOf", [])]
    if is_secret(schema) or any(is_secret(option) for option in options):
        return REDACTED
    if isinstance(value, dict):
        properties = dict(schema.get("properties", {}))
        for option in options:
            properties.update(option.get("properties", {}))
        return {key: redact(item, properties.get(key, {}), definitions) for key, item in value.items()}
    if isinstance(value, list):
        items = next((option["items"] for option in [schema, *options] if "items" in option), {})
        return [redact(item, items, definitions) for item in value]
    return value


def audited_arguments(tool, arguments) -> dict | None:
    if not getattr(tool, "audit_arguments", False) or not isinstance(arguments, dict):
        return None
    schema = tool.descriptor()["inputSchema"]
    return redact(arguments, schema, schema.get("$defs", {}))


# --- Recording -----------------------------------------------------------------------------------
def outcome_of(call, message: dict) -> tuple[str, str]:
    if call.denied:
        return "denied", "hidden by the access policy"
    if "error" in message:
        return "error", storable_text(str(message["error"].get("message", "")))[:DETAIL_LENGTH]
    result = message.get("result") or {}
    if result.get("isError"):  # a tool's own text: orjson would refuse to queue a lone surrogate
        texts = [block.get("text", "") for block in result.get("content", []) if isinstance(block, dict)]
        return "error", storable_text(" ".join(texts))[:DETAIL_LENGTH]
    return "ok", ""


def build(call, outcome: str, detail: str, duration_ms: float) -> dict:
    method = call.request.method
    name = call.params.get(AUDITED_METHODS[method])
    identity = call.identity
    target = call.target if method == "tools/call" else None
    return {
        "id": uuid.uuid4().hex,
        "at": datetime.now(timezone.utc).isoformat(),
        "method": method,
        "name": str(name)[:500] if name is not None else "",
        "outcome": outcome,
        "duration_ms": round(duration_ms, 3),
        "username": getattr(identity, "username", "") or "",
        "subject": getattr(identity, "subject", "") or "",
        "client_id": getattr(identity, "client_id", "") or "",
        "request_id": current_request_id()[:64],
        "jti": getattr(identity, "jti", "") or "",
        "arguments": audited_arguments(target, call.params.get("arguments")) if target else None,
        "detail": detail,
    }


def after_call(call, message: dict, started: float) -> None:
    """Record a finished call (its JSON-RPC response message) if its method is audited."""
    if call.request.method not in AUDITED_METHODS:
        return
    outcome, detail = outcome_of(call, message)
    record_safely(build(call, outcome, detail, (time.perf_counter() - started) * 1000))


def denied(call, reason: str) -> None:
    """Record a call refused before it ran (insufficient scope)."""
    if call.request.method in AUDITED_METHODS:
        record_safely(build(call, "denied", reason[:DETAIL_LENGTH], 0.0))


def record_safely(record: dict) -> None:
    try:
        enqueue(record)
    except Exception:  # the trail must never fail the call it records
        logger.exception("audit record lost for request %s", record.get("request_id"))


def enqueue(record: dict) -> None:
    if settings.CACHE_IS_SHARED:
        try:
            # Written before the answer leaves, not waited for: if Redis refuses it, or the connection
            # breaks before it says, the record goes to the database (its id keeps it from being stored twice).
            backend = caches["default"]  # once: each `cache.<attribute>` goes through a thread-local proxy
            send_commands(backend.client.get_client(write=True), [("RPUSH", backend.make_key(QUEUE),
                          encoded(record))], wait=False, on_failure=lambda: store([record]))
            return
        except Exception:
            logger.warning("audit queue unreachable; record written to the database directly")
    store([record])


# --- Flushing ------------------------------------------------------------------------------------
def redis():
    return cache.client.get_client(write=True)


def claim_keys(claim: str) -> list[str]:
    return [cache.make_key(QUEUE), cache.make_key(f"mcp:audit:processing:{claim}"),
            cache.make_key(f"mcp:audit:lease:{claim}"), cache.make_key(CLAIMS)]


def as_row(record: dict):
    from mcp_app.models import AuditRecord

    return AuditRecord(**{**record, "id": uuid.UUID(record["id"]), "at": datetime.fromisoformat(record["at"])})


def encoded(record: dict) -> bytes:
    try:
        return orjson.dumps(record)
    except TypeError:  # an integer argument past 64 bits (the request parser keeps them, orjson refuses them)
        return json.dumps(record, separators=(",", ":")).encode()


def store(records: list[dict]) -> int:
    return store_queued([encoded(record) for record in records])


def store_queued(items: list[bytes]) -> int:
    """Step 2: the claimed records (JSON, as queued) into the database. PostgreSQL parses them itself, so the
    flusher, a thread of a worker, spends almost no CPU per record (model objects cost ~0.1 ms each)."""
    from mcp_app.models import AuditRecord

    connection = connections[AuditRecord.objects.db]
    if connection.vendor != "postgresql":
        AuditRecord.objects.bulk_create([as_row(json.loads(item)) for item in items], ignore_conflicts=True)
        return len(items)
    table = connection.ops.quote_name(AuditRecord._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(field.column) for field in AuditRecord._meta.concrete_fields)
    # A tool name, URI or argument may spell a NUL: stored as U+FFFD, or the batch would fail for good.
    records = storable_json((b"[" + b",".join(items) + b"]").decode())
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM json_populate_recordset(NULL::{table}, "
                       f"%s::json) ON CONFLICT (id) DO NOTHING", [records])
    return len(items)


def claim(batch: int = BATCH, lease_seconds: int = LEASE_SECONDS) -> tuple[str, list[bytes]]:
    """Step 1: move up to `batch` records (JSON) into a new processing list under a lease."""
    name = uuid.uuid4().hex
    return name, redis().eval(CLAIM_SCRIPT, 4, *claim_keys(name), batch, name, lease_seconds)


def release(name: str) -> None:
    """Step 3: the claimed records are in PostgreSQL."""
    queue, processing, lease, claims = claim_keys(name)
    pipe = redis().pipeline(transaction=True)
    pipe.delete(processing, lease)
    pipe.srem(claims, name)
    pipe.execute()


def reclaim(force: bool = False) -> int:
    """Put the records of claims whose lease expired (their flusher died) back in the queue."""
    client = redis()
    moved = 0
    for raw in client.smembers(cache.make_key(CLAIMS)):
        name = raw.decode() if isinstance(raw, bytes) else raw
        moved += max(0, client.eval(RECLAIM_SCRIPT, 4, *claim_keys(name), name, "1" if force else "0"))
    return moved


def flush(batch: int = BATCH) -> int:
    """Move every record queued so far to PostgreSQL; the number stored."""
    if not settings.CACHE_IS_SHARED:
        return 0
    reclaim()
    stored = 0
    while True:
        name, records = claim(batch)
        if records:
            stored += store_queued(records)
            release(name)
        if len(records) < batch:  # the queue was emptied: what arrives meanwhile waits for the next round
            return stored


def queued() -> int:
    return redis().llen(cache.make_key(QUEUE)) if settings.CACHE_IS_SHARED else 0


_flusher_pid = None
_flusher_lock = threading.Lock()


def start_flusher() -> None:
    """A thread in this process that flushes every AUDIT_FLUSH_SECONDS (gunicorn starts one per worker)."""
    global _flusher_pid
    if not settings.CACHE_IS_SHARED or settings.AUDIT_FLUSH_SECONDS <= 0:
        return
    with _flusher_lock:
        if _flusher_pid == os.getpid():
            return
        _flusher_pid = os.getpid()
    threading.Thread(target=flush_forever, name="audit-flusher", daemon=True).start()


def flush_forever() -> None:
    while True:
        time.sleep(settings.AUDIT_FLUSH_SECONDS)
        flush_and_report()


def flush_and_report() -> None:
    """One round of the flusher thread; its failures are logged, never raised."""
    try:
        flush()
    except RedisError as exc:  # Redis restarting or failing over: the next flush picks up where this one was
        logger.warning("audit flush interrupted (%s); the records stay queued", exc)
    except Exception:
        logger.exception("audit flush failed; the records stay queued")
    finally:
        # As at the end of a request: the connection is kept (CONN_MAX_AGE) unless it broke. Opening one per
        # flush cost a PostgreSQL backend start every second per worker, a fifth of a tools/call's CPU.
        close_old_connections()


# --- Reading -------------------------------------------------------------------------------------
def export_lines(since: datetime, until: datetime | None = None):
    """The records of [since, until) as JSON lines, oldest first."""
    from mcp_app.models import AuditRecord

    rows = AuditRecord.objects.filter(at__gte=since).order_by("at", "id")
    if until is not None:
        rows = rows.filter(at__lt=until)
    fields = ["id", "at", "method", "name", "outcome", "duration_ms", "username", "subject", "client_id",
              "request_id", "jti", "arguments", "detail"]
    for row in rows.values(*fields).iterator(chunk_size=2000):
        yield json.dumps({**row, "id": str(row["id"]), "at": row["at"].isoformat()}, separators=(",", ":"))
