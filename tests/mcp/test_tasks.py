"""The tasks extension (io.modelcontextprotocol/tasks, SEP-2663) through /mcp with the Django test client.

The tasks run in the real runner threads, which use their own database connections: these tests commit
(transaction=True) so that the threads see the rows the requests wrote.
"""

import time
from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from mcp_app.models import Task
from mcp_app.registry import Registry
from mcp_app.tasks import TASKS_EXTENSION
from oauth_app.models import Client
from tests.mcp.conftest import MODERN, Mcp, message
from tests.support.tokens import issue_access_token

pytestmark = pytest.mark.django_db(transaction=True)
TERMINAL = ("completed", "failed", "cancelled")
WITH_TASKS = {"elicitation": {}, "extensions": {TASKS_EXTENSION: {}}}


class TaskClient(Mcp):
    """A 2026-07-28 client that declares (or not) the tasks extension in each request's _meta."""

    def __init__(self, client, token, capabilities=WITH_TASKS):
        super().__init__(client, token, version=MODERN)
        self.capabilities = capabilities

    def send(self, method, params, name=None):
        params = {**params, "_meta": {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": self.capabilities,
            "io.modelcontextprotocol/clientInfo": {"name": "tests", "version": "1"},
        }}
        headers = {"Mcp-Method": method}
        if name is not None:
            headers["Mcp-Name"] = name
        return self.post(message(method, params), headers=headers).json()

    def ok(self, method, params, name=None):
        body = self.send(method, params, name)
        assert "result" in body, body
        return body["result"]

    def call(self, tool, arguments=None):
        return self.ok("tools/call", {"name": tool, "arguments": arguments or {}}, name=tool)

    def get(self, task_id):
        return self.ok("tasks/get", {"taskId": task_id}, name=task_id)

    def wait(self, task_id, until=TERMINAL, timeout=10.0):
        deadline = time.monotonic() + timeout
        while (task := self.get(task_id))["status"] not in until:
            assert time.monotonic() < deadline, task
            time.sleep(0.05)
        return task


@pytest.fixture
def tasks(client, token):
    return TaskClient(client, token)


@pytest.fixture
def bob_tasks(client, bob, servicenow_client):
    return TaskClient(client, issue_access_token(servicenow_client, bob))


# --- Negotiation ---------------------------------------------------------------------------------------------
def test_server_discover_advertises_the_extension_under_capabilities_extensions(tasks):
    capabilities = tasks.ok("server/discover", {})["capabilities"]

    assert capabilities["extensions"] == {TASKS_EXTENSION: {}}
    assert "tasks" not in capabilities


def test_tools_list_shows_each_tools_task_support_as_execution(tasks):
    tools = {tool["name"]: tool for tool in tasks.ok("tools/list", {})["tools"]}

    assert tools["test_task_sleep"]["execution"] == {"taskSupport": "optional"}
    assert tools["test_task_only"]["execution"] == {"taskSupport": "required"}
    assert "execution" not in tools["test_add"]


def test_an_optional_task_tool_runs_synchronously_for_a_client_without_the_extension(client, token):
    result = TaskClient(client, token, capabilities={}).call("test_task_sleep", {"seconds": 0})

    assert result["resultType"] == "complete"
    assert result["content"][0]["text"] == "slept 0.0"
    assert not Task.objects.exists()


def test_a_required_task_tool_is_refused_with_32021_naming_the_extension(client, token):
    body = TaskClient(client, token, capabilities={}).send("tools/call", {"name": "test_task_only"},
                                                           name="test_task_only")

    assert body["error"]["code"] == -32021
    assert body["error"]["data"] == {"requiredCapabilities": {"extensions": {TASKS_EXTENSION: {}}}}


def test_the_tasks_methods_need_the_extension_in_the_request(client, token):
    plain = TaskClient(client, token, capabilities={})

    for method in ("tasks/get", "tasks/update", "tasks/cancel"):
        assert plain.send(method, {"taskId": "x", "inputResponses": {}}, name="x")["error"]["code"] == -32021


def test_the_v1_methods_tasks_result_and_tasks_list_do_not_exist(tasks):
    assert tasks.send("tasks/result", {"taskId": "x"})["error"]["code"] == -32601
    assert tasks.send("tasks/list", {})["error"]["code"] == -32601


def test_older_versions_have_no_task_methods_and_run_optional_task_tools_as_plain_calls(mcp):
    assert mcp.request("tasks/get", {"taskId": "x"}).json()["error"]["code"] == -32601
    assert mcp.call_tool("test_task_sleep", {"seconds": 0})["content"][0]["text"] == "slept 0.0"


# --- Lifecycle -----------------------------------------------------------------------------------------------
def test_a_task_tool_call_answers_a_flat_create_task_result_that_tasks_get_resolves_at_once(tasks):
    created = tasks.call("test_task_sleep", {"seconds": 0.3})

    assert created["resultType"] == "task"
    assert created["status"] == "working"
    assert set(created) >= {"taskId", "createdAt", "lastUpdatedAt", "ttlMs", "pollIntervalMs"}
    assert not {"task", "result", "error", "ttl", "pollInterval", "requestState"} & set(created)
    assert tasks.get(created["taskId"])["status"] == "working"
    finished = tasks.wait(created["taskId"])
    assert finished["status"] == "completed"
    assert finished["result"]["content"][0]["text"] == "slept 0.3"
    assert finished["resultType"] == "complete"


def test_progress_messages_of_a_task_become_its_status_message(tasks):
    task_id = tasks.call("test_task_only")["taskId"]
    deadline = time.monotonic() + 5
    while "statusMessage" not in (task := tasks.get(task_id)):
        assert time.monotonic() < deadline, task
        time.sleep(0.05)

    assert task["statusMessage"] == "halfway"
    assert tasks.wait(task_id)["result"]["content"][0]["text"] == "done"


def test_a_tool_error_completes_the_task_with_is_error(tasks):
    finished = tasks.wait(tasks.call("test_task_refuse")["taskId"])

    assert finished["status"] == "completed"
    assert finished["result"] == {"content": [{"type": "text", "text": "no, thanks"}], "isError": True}


def test_an_internal_fault_fails_the_task_with_a_json_rpc_error_that_hides_the_details(tasks):
    finished = tasks.wait(tasks.call("test_task_explode")["taskId"])

    assert finished["status"] == "failed"
    assert finished["error"] == {"code": -32603, "message": "Internal error"}
    assert "result" not in finished


def test_cancel_acks_empty_settles_to_cancelled_and_stops_the_work(tasks):
    task_id = tasks.call("test_task_sleep", {"seconds": 60})["taskId"]

    ack = tasks.ok("tasks/cancel", {"taskId": task_id}, name=task_id)

    assert set(ack) == {"resultType", "_meta"}
    assert tasks.get(task_id)["status"] == "cancelled"
    time.sleep(1.5)  # the heartbeat has told the thread, which stopped without overwriting the status
    assert Task.objects.get(pk=task_id).status == "cancelled"
    assert tasks.ok("tasks/cancel", {"taskId": task_id}, name=task_id)["resultType"] == "complete"


def test_questions_park_the_task_until_tasks_update_answers_every_one(tasks):
    task_id = tasks.call("test_task_ask_twice")["taskId"]
    task = tasks.wait(task_id, until=("input_required",))
    assert set(task["inputRequests"]) == {"a", "b"}
    assert task["inputRequests"]["a"]["method"] == "elicitation/create"

    answer = {"action": "accept", "content": {"name": "Ann"}}
    assert tasks.ok("tasks/update", {"taskId": task_id, "inputResponses": {"a": answer, "zz": {}}},
                    name=task_id)["resultType"] == "complete"
    task = tasks.get(task_id)
    assert (task["status"], set(task["inputRequests"])) == ("input_required", {"b"})

    tasks.ok("tasks/update", {"taskId": task_id, "inputResponses": {
        "b": {"action": "accept", "content": {"name": "Ben"}}}}, name=task_id)
    assert tasks.wait(task_id)["result"]["content"][0]["text"] == "Ann and Ben"


@pytest.mark.parametrize("unstorable", [0, 0xD800], ids=["nul", "lone-surrogate"])
def test_a_task_whose_tool_writes_text_postgresql_cannot_hold_still_settles(tasks, unstorable):
    finished = tasks.wait(tasks.call("test_refuse_spelled", {"code_points": [65, unstorable, 66]})["taskId"])

    assert finished["status"] == "completed" and finished["statusMessage"] == "A\ufffdB"
    assert finished["result"] == {"content": [{"type": "text", "text": "A\ufffdB"}], "isError": True}


def test_an_answer_spelling_a_nul_reaches_the_tool_as_a_replacement_character(tasks):
    task_id = tasks.call("test_task_ask_twice")["taskId"]
    tasks.wait(task_id, until=("input_required",))

    for key, name in (("a", "A\u0000nn"), ("b", "Ben")):
        tasks.ok("tasks/update", {"taskId": task_id, "inputResponses": {
            key: {"action": "accept", "content": {"name": name}}, "\u0000": {}}}, name=task_id)
    assert tasks.wait(task_id)["result"]["content"][0]["text"] == "A\ufffdnn and Ben"


def test_a_task_asking_what_the_client_did_not_declare_fails_with_32021(client, token):
    tasks = TaskClient(client, token, capabilities={"extensions": {TASKS_EXTENSION: {}}})

    finished = tasks.wait(tasks.call("test_task_ask_twice")["taskId"])

    assert finished["status"] == "failed"
    assert finished["error"]["code"] == -32021
    assert finished["error"]["data"] == {"requiredCapabilities": {"elicitation": {}}}


def test_tasks_update_refuses_input_responses_that_are_not_result_objects(tasks):
    task_id = tasks.call("test_task_sleep", {"seconds": 5})["taskId"]

    body = tasks.send("tasks/update", {"taskId": task_id, "inputResponses": {"a": "yes"}}, name=task_id)

    assert body["error"]["code"] == -32602
    tasks.ok("tasks/cancel", {"taskId": task_id}, name=task_id)


# --- Ownership, expiry, lost workers --------------------------------------------------------------------------
def test_another_users_task_is_unknown_to_them(tasks, bob_tasks):
    task_id = tasks.call("test_task_sleep", {"seconds": 5})["taskId"]

    for method in ("tasks/get", "tasks/cancel"):
        assert bob_tasks.send(method, {"taskId": task_id}, name=task_id)["error"]["code"] == -32602
    assert tasks.get(task_id)["status"] == "working"
    tasks.ok("tasks/cancel", {"taskId": task_id}, name=task_id)


def test_the_same_user_through_another_client_does_not_see_the_task(client, alice, tasks):
    other = Client.objects.create(name="other", client_type=Client.CLIENT_PUBLIC,
                                  authorization_grant_type=Client.GRANT_AUTHORIZATION_CODE,
                                  redirect_uris="https://other.example/callback")
    task_id = tasks.call("test_task_sleep", {"seconds": 5})["taskId"]

    body = TaskClient(client, issue_access_token(other, alice)).send("tasks/get", {"taskId": task_id}, name=task_id)

    assert body["error"]["code"] == -32602
    tasks.ok("tasks/cancel", {"taskId": task_id}, name=task_id)


def test_an_unknown_task_id_is_invalid_params(tasks):
    assert tasks.send("tasks/get", {"taskId": "nope"}, name="nope")["error"]["code"] == -32602


def test_the_mcp_name_header_must_repeat_the_task_id(tasks):
    body = tasks.send("tasks/get", {"taskId": "abc"}, name="another")

    assert body["error"]["code"] == -32020


def orphan(**fields) -> Task:
    """A task row as a worker that died mid-run left it."""
    now = timezone.now()
    return Task.objects.create(id="orphan", tool="test_task_sleep", created_at=now, last_updated_at=now,
                               expires_at=now + timedelta(hours=1), lease_expires_at=now - timedelta(seconds=1),
                               **fields)


def test_a_task_whose_worker_stopped_renewing_its_lease_is_reported_failed(tasks):
    created = tasks.call("test_task_sleep", {"seconds": 0})  # alice's own task tells us her owner fields
    orphan(**Task.objects.values("client_id", "subject").get(pk=created["taskId"]))

    task = tasks.get("orphan")

    assert task["status"] == "failed"
    assert task["error"]["code"] == -32603
    assert Task.objects.get(pk="orphan").lease_expires_at is None


def test_a_task_past_its_ttl_is_forgotten(tasks):
    task_id = tasks.call("test_task_sleep", {"seconds": 0})["taskId"]
    tasks.wait(task_id)
    Task.objects.filter(pk=task_id).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert tasks.send("tasks/get", {"taskId": task_id}, name=task_id)["error"]["code"] == -32602
    tasks.call("test_task_sleep", {"seconds": 0})  # creating a task sweeps the expired ones
    assert not Task.objects.filter(pk=task_id).exists()


def test_the_decorator_refuses_an_unknown_task_support_value():
    with pytest.raises(ImproperlyConfigured):
        Registry().tool(lambda: "x", name="bad", task_support="always")
    with pytest.raises(ImproperlyConfigured):
        Registry().tool(lambda: "x", name="bad", task_launcher=True)
