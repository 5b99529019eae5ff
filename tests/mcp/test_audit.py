"""The audit trail over HTTP: every tools/call, resources/read and prompts/get recorded with who, what, how
it ended, how long it took, the request id and the token's jti; arguments only when a tool opts in, secrets
redacted; the Redis queue never loses a record when its flusher dies; the export and the admin pages."""

import json
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import jwt
import psycopg
import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connections

from mcp_app import audit
from mcp_app.models import AuditRecord
from tests.mcp.tools_for_access import restricted_items

pytestmark = pytest.mark.usefixtures("restricted_items")
_fixtures = (restricted_items,)

needs_redis = pytest.mark.skipif(not django_settings.CACHE_IS_SHARED, reason="the audit queue needs Redis")


def flushed():
    audit.flush()
    return list(AuditRecord.objects.order_by("at"))


def test_every_call_is_recorded_with_who_what_outcome_duration_request_id_and_jti(mcp, token, alice,
                                                                                 servicenow_client):
    response = mcp.request("tools/call", {"name": "echo", "arguments": {"message": "hi"}})
    mcp.request("tools/call", {"name": "test_refuse", "arguments": {"reason": "no"}})
    mcp.request("tools/call", {"name": "no_such_tool", "arguments": {}})
    mcp.request("resources/read", {"uri": "info://server"})
    mcp.request("prompts/get", {"name": "no_such_prompt"})
    mcp.request("tools/list")  # not audited
    records = flushed()
    assert [(r.method, r.name, r.outcome) for r in records] == [
        ("tools/call", "echo", "ok"), ("tools/call", "test_refuse", "error"), ("tools/call", "no_such_tool", "error"),
        ("resources/read", "info://server", "ok"), ("prompts/get", "no_such_prompt", "error")]
    first = records[0]
    assert (first.username, first.subject, first.client_id) == ("alice", str(alice.pk), servicenow_client.client_id)
    assert first.request_id == response["X-Request-ID"]
    assert first.jti == jwt.decode(token, options={"verify_signature": False})["jti"]
    assert first.duration_ms > 0
    assert first.arguments is None  # echo does not opt in
    assert records[1].detail == "Refused: no"


def test_a_call_hidden_by_the_policy_or_lacking_scope_is_recorded_as_denied(mcp):
    Group.objects.create(name="finance")
    mcp.request("tools/call", {"name": "test_finance_report", "arguments": {"quarter": "Q1"}})
    assert mcp.request("tools/call", {"name": "test_admin_only", "arguments": {}}).status_code == 403
    assert [(r.name, r.outcome) for r in flushed()] == [("test_finance_report", "denied"),
                                                         ("test_admin_only", "denied")]


def test_arguments_are_kept_only_for_tools_that_opt_in_and_secrets_are_redacted(mcp):
    mcp.call_tool("test_audited", {"account": "acme", "api_key": "sk-123", "note": "pin 1234",
                                   "login": {"user": "ann", "password": "hunter2"}})
    mcp.call_tool("test_kb_search", {"query": "salaries"})
    opted_in, plain = flushed()
    assert opted_in.arguments == {"account": "acme", "api_key": "[redacted]", "note": "[redacted]",
                                  "login": {"user": "ann", "password": "[redacted]"}}
    assert plain.arguments is None
    assert "sk-123" not in json.dumps(opted_in.arguments) and "hunter2" not in json.dumps(opted_in.arguments)


@needs_redis
def test_calls_wait_in_redis_until_a_flush_moves_them_to_the_database(mcp):
    mcp.call_tool("echo", {"message": "queued"})
    assert AuditRecord.objects.count() == 0 and audit.queued() == 1
    call_command("flush_audit")
    assert AuditRecord.objects.get().name == "echo" and audit.queued() == 0


@needs_redis
def test_a_flusher_that_dies_after_claiming_a_batch_loses_nothing(mcp):
    for n in range(5):
        mcp.call_tool("echo", {"message": str(n)})
    audit.claim(batch=3, lease_seconds=1)  # ... and the flusher is killed before it stores them
    assert audit.flush() == 2  # the claimed three are leased to the dead flusher for now
    time.sleep(1.1)
    assert audit.flush() == 3  # the lease expired: the batch went back to the queue
    assert AuditRecord.objects.count() == 5


@needs_redis
def test_a_batch_stored_by_a_flusher_that_died_before_releasing_it_is_stored_once(mcp):
    for n in range(4):
        mcp.call_tool("echo", {"message": str(n)})
    _name, records = audit.claim(batch=10)
    audit.store_queued(records)  # committed, then killed before the release
    audit.reclaim(force=True)
    audit.flush()
    assert AuditRecord.objects.count() == 4


# Other workers recording calls back to back for three seconds (a process of its own: no GIL shared with the flush).
BUSY_SERVER = """
import sys, time, redis
client, queue, template = redis.Redis.from_url(sys.argv[1]), sys.argv[2], sys.argv[3]
deadline, pushed = time.monotonic() + 3, 0
while time.monotonic() < deadline:
    pushed += 1
    client.rpush(queue, template.replace("RECORD-ID", f"{pushed:032x}"))
print(pushed)
"""


@needs_redis
def test_a_flush_moves_what_was_queued_and_leaves_what_arrives_meanwhile_to_the_next_round(mcp):
    if not django_settings.REDIS_URL:
        pytest.skip("the busy server reaches Redis by REDIS_URL")
    mcp.call_tool("echo", {"message": "template"})
    queue = audit.cache.make_key(audit.QUEUE)
    template = json.dumps({**json.loads(audit.redis().lindex(queue, 0)), "id": "RECORD-ID"})
    busy_server = subprocess.Popen([sys.executable, "-c", BUSY_SERVER, django_settings.REDIS_URL, queue, template],
                                   stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    waiting = audit.queued()
    # A round takes what waits and what arrives while it claims. It used to chase every arrival, one small
    # batch after another (each a Redis and a PostgreSQL round trip): thousands more records here, and a
    # fifth of the workers' CPU per tools/call under load (bench/README.md).
    stored = audit.flush()
    assert waiting <= stored < waiting + 2 * audit.BATCH
    pushed = int(busy_server.communicate(timeout=30)[0])
    audit.flush()
    assert AuditRecord.objects.count() == 1 + pushed and audit.queued() == 0


def in_a_thread_of_its_own(function):
    """What `function` returns when run as the flusher runs, in a thread with its own database connection."""
    results = []

    def run():
        try:
            results.append(function())
        finally:
            connections.close_all()  # the thread's own: left open, it would keep the test database from being dropped

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return results[0]


def flush_round() -> int | None:
    """One round of the flusher thread; the PostgreSQL backend it used (None: it kept no connection)."""
    audit.flush_and_report()
    connection = connections["default"].connection
    return connection.info.backend_pid if connection is not None else None


@needs_redis
@pytest.mark.django_db(transaction=True)
def test_the_flusher_keeps_its_database_connection_and_replaces_one_that_broke(mcp, caplog):
    if connections["default"].vendor != "postgresql":
        pytest.skip("a PostgreSQL backend to end")
    mcp.call_tool("echo", {"message": "one"})
    first = in_a_thread_of_its_own(lambda: [flush_round(), flush_round()])
    assert first[0] is not None and first[0] == first[1]  # one connection for both rounds, not one per round
    assert AuditRecord.objects.count() == 1
    # A database restart ends the kept connection: the next round finds it broken (Django's health check)
    # and connects again, the records are stored, nothing is logged as failed.
    rounds = []

    def through_a_restart():
        rounds.append(flush_round())
        with psycopg.connect(**connections["default"].get_connection_params()) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [rounds[0]])
        mcp.call_tool("echo", {"message": "two"})
        rounds.append(flush_round())

    in_a_thread_of_its_own(through_a_restart)
    assert rounds[1] not in (None, rounds[0])
    assert "audit flush" not in caplog.text
    assert AuditRecord.objects.count() == 2 and audit.queued() == 0


def test_without_a_shared_cache_records_go_to_the_database_at_once(settings, mcp):
    settings.CACHE_IS_SHARED = False
    mcp.call_tool("echo", {"message": "direct"})
    assert AuditRecord.objects.get().outcome == "ok"


def seed(at, name="echo", **fields):
    return AuditRecord.objects.create(at=at, method="tools/call", name=name, outcome="ok", duration_ms=1.0,
                                      username="alice", client_id="c1", **fields)


def test_export_audit_prints_the_records_of_the_period_as_json_lines(db, capsys):
    seed(datetime(2026, 1, 1, 9, tzinfo=timezone.utc), "before")
    seed(datetime(2026, 1, 2, 9, tzinfo=timezone.utc), "inside", request_id="r-1")
    seed(datetime(2026, 1, 3, 9, tzinfo=timezone.utc), "after")
    call_command("export_audit", "--since", "2026-01-02", "--until", "2026-01-03T00:00:00Z")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["name"] for line in lines] == ["inside"]
    assert lines[0]["request_id"] == "r-1" and lines[0]["at"].startswith("2026-01-02T09:00:00")


def test_export_audit_includes_calls_still_queued_and_refuses_a_bad_date(mcp, capsys):
    mcp.call_tool("echo", {"message": "now"})
    call_command("export_audit", "--since", (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat())
    assert json.loads(capsys.readouterr().out.splitlines()[0])["name"] == "echo"
    with pytest.raises(Exception, match="ISO 8601"):
        call_command("export_audit", "--since", "yesterday")


def test_the_admin_shows_the_trail_read_only_with_filters(admin_client, db):
    seed(datetime.now(timezone.utc), "echo")
    page = admin_client.get("/admin/mcp_app/auditrecord/?username=alice&outcome=ok").content.decode()
    assert "echo" in page
    assert "By user" in page and "By client" in page and "By outcome" in page
    assert admin_client.get("/admin/mcp_app/auditrecord/?username=bob").content.decode().count("field-name") == 0
    assert admin_client.get("/admin/mcp_app/auditrecord/add/").status_code == 403


def test_the_client_and_user_pages_link_to_their_calls(admin_client, alice, servicenow_client):
    client_page = admin_client.get(f"/admin/oauth_app/client/{servicenow_client.pk}/change/").content.decode()
    assert f"/admin/mcp_app/auditrecord/?client_id={servicenow_client.client_id}" in client_page
    user_page = admin_client.get(f"/admin/auth/user/{alice.pk}/change/").content.decode()
    assert "/admin/mcp_app/auditrecord/?username=alice" in user_page



def test_text_spelling_a_nul_is_recorded_and_does_not_hold_up_the_calls_after_it(mcp):
    nul = "nul\u0000inside"  # PostgreSQL refuses a NUL in text and jsonb: one such record used to fail every flush
    mcp.request("tools/call", {"name": nul, "arguments": {}})
    mcp.request("resources/read", {"uri": nul})
    mcp.call_tool("test_refuse", {"reason": nul})
    mcp.call_tool("test_audited", {"account": nul, "api_key": "k", "note": "n", "login": {"user": "u", "password": "p"},
                                   nul: "an argument the schema does not name"})
    mcp.call_tool("echo", {"message": "after"})
    records = flushed()
    assert audit.queued() == 0
    assert [(r.name, r.outcome) for r in records] == [
        ("nul\ufffdinside", "error"), ("nul\ufffdinside", "error"), ("test_refuse", "error"), ("test_audited", "error"),
        ("echo", "ok")]
    assert records[2].detail == "Refused: nul\ufffdinside"



@pytest.mark.parametrize("queue", ["redis", "database"])
def test_an_integer_argument_past_64_bits_is_recorded_as_sent(settings, mcp, queue, caplog):
    settings.CACHE_IS_SHARED = queue == "redis"
    mcp.call_tool("test_audited", {"account": "acme", "api_key": "k", "note": "n",
                                   "login": {"user": "ann", "password": "p"}, "big": 2**70})
    assert flushed()[0].arguments["big"] == 2**70
    assert not [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]


def test_a_tool_error_text_holding_a_lone_surrogate_is_recorded(mcp, caplog):
    mcp.call_tool("test_refuse_spelled", {"code_points": [ord("a"), 0xDC80, ord("b")]})  # orjson refuses to queue it
    assert [r.detail for r in flushed()] == ["a\ufffdb"]
    assert not [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]
