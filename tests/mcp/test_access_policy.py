"""Tool access policy over HTTP: two users in different groups, grants through the commands and the admin,
a denied item indistinguishable from an unknown one, client-credentials tokens, no SQL once cached."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, set_token_value

from oauth_app.tokens import generate_access_token
from tests.mcp.tools_for_access import restricted_items
from tests.mcp.conftest import MODERN, Mcp
from tests.support.tokens import issue_access_token

pytestmark = pytest.mark.usefixtures("restricted_items")
_fixtures = (restricted_items,)

FINANCE_TOOL = "test_finance_report"


@pytest.fixture
def finance(db):
    return Group.objects.create(name="finance")


@pytest.fixture
def bob(django_user_model, finance):
    user = django_user_model.objects.create_user("bob")
    user.groups.add(finance)
    return user


@pytest.fixture
def alice_mcp(client, alice, servicenow_client):
    alice.groups.add(Group.objects.create(name="support"))
    return Mcp(client, issue_access_token(servicenow_client, alice))


@pytest.fixture
def bob_mcp(client, bob, servicenow_client):
    return Mcp(client, issue_access_token(servicenow_client, bob))


def tool_names(mcp):
    return {tool["name"] for tool in mcp.result("tools/list")["tools"]}


def call(mcp, name, arguments=None):
    return mcp.request("tools/call", {"name": name, "arguments": arguments or {}})


def test_a_tool_open_to_finance_is_listed_for_the_finance_user_and_absent_for_the_other(alice_mcp, bob_mcp):
    assert FINANCE_TOOL in tool_names(bob_mcp)
    assert FINANCE_TOOL not in tool_names(alice_mcp)
    assert {"echo", "test_kb_search"} <= tool_names(alice_mcp)  # no grant, MCP_TOOL_ACCESS_DEFAULT=allow
    assert bob_mcp.call_tool(FINANCE_TOOL, {"quarter": "Q1"})["content"][0]["text"] == "report Q1"


@pytest.mark.parametrize("version", ["2025-06-18", "2025-11-25", MODERN])
def test_a_call_to_a_denied_tool_answers_exactly_as_a_call_to_an_unknown_tool(client, alice, servicenow_client,
                                                                             version):
    alice_mcp = Mcp(client, issue_access_token(servicenow_client, alice), version=version)
    denied = call(alice_mcp, FINANCE_TOOL, {"quarter": "Q1"})
    unknown = call(alice_mcp, "test_finance_reporx", {"quarter": "Q1"})
    assert denied.status_code == unknown.status_code
    assert denied.content.decode().replace(FINANCE_TOOL, "NAME") == unknown.content.decode().replace(
        "test_finance_reporx", "NAME")
    assert sorted(denied.headers) == sorted(unknown.headers)


def test_a_denied_tool_needing_a_missing_scope_still_answers_as_unknown(alice_mcp, finance):
    # Nothing, not even a 403 insufficient_scope, reveals that a hidden tool exists.
    call_command("grant_tool", "test_admin_only", "--group", "finance")
    assert call(alice_mcp, "test_admin_only").status_code == 200
    assert "Unknown tool" in call(alice_mcp, "test_admin_only").json()["error"]["message"]


def test_a_denied_prompt_and_resource_answer_as_unknown_ones(alice_mcp, bob_mcp):
    assert "test_finance_prompt" not in {p["name"] for p in alice_mcp.result("prompts/list")["prompts"]}
    assert "test://finance/ledger" not in {r["uri"] for r in alice_mcp.result("resources/list")["resources"]}
    prompt = alice_mcp.request("prompts/get", {"name": "test_finance_prompt"}).json()
    assert prompt["error"]["message"] == "Unknown prompt: test_finance_prompt"
    read = alice_mcp.request("resources/read", {"uri": "test://finance/ledger"}).json()
    assert read["error"] == alice_mcp.request("resources/read", {"uri": "test://finance/nothing"}).json()["error"] | {
        "data": {"uri": "test://finance/ledger"}}
    assert bob_mcp.result("resources/read", {"uri": "test://finance/ledger"})["contents"][0]["text"] == "ledger"
    assert bob_mcp.result("prompts/get", {"name": "test_finance_prompt"})["messages"]


def test_a_group_change_takes_effect_on_the_next_request(alice_mcp, alice, finance):
    assert FINANCE_TOOL not in tool_names(alice_mcp)
    alice.groups.add(finance)
    assert FINANCE_TOOL in tool_names(alice_mcp)
    assert alice_mcp.call_tool(FINANCE_TOOL, {"quarter": "Q2"})["content"][0]["text"] == "report Q2"
    alice.groups.remove(finance)
    assert "Unknown tool" in call(alice_mcp, FINANCE_TOOL, {"quarter": "Q2"}).json()["error"]["message"]


def test_deleting_the_group_ends_its_access_on_the_next_request(bob_mcp, finance):
    assert FINANCE_TOOL in tool_names(bob_mcp)
    finance.delete()
    assert FINANCE_TOOL not in tool_names(bob_mcp)


def test_grants_in_the_database_replace_the_code_default(alice_mcp, bob_mcp):
    call_command("grant_tool", FINANCE_TOOL, "--user", "alice")
    assert FINANCE_TOOL in tool_names(alice_mcp)
    assert FINANCE_TOOL not in tool_names(bob_mcp)  # finance came from the code default, now replaced
    call_command("revoke_tool", FINANCE_TOOL, "--user", "alice")
    assert FINANCE_TOOL not in tool_names(alice_mcp)
    assert FINANCE_TOOL in tool_names(bob_mcp)  # no grant left: the code default again


def test_granting_a_tool_that_does_not_exist_or_to_nobody_fails(db, finance):
    with pytest.raises(CommandError, match="no tool named"):
        call_command("grant_tool", "no_such_tool", "--group", "finance")
    with pytest.raises(CommandError, match="no such group"):
        call_command("grant_tool", FINANCE_TOOL, "--group", "nobody")
    with pytest.raises(CommandError):
        call_command("grant_tool", FINANCE_TOOL)  # one of --group, --user, --client is required


def test_prompts_and_resources_are_granted_with_their_kind(alice_mcp):
    call_command("grant_tool", "test://finance/ledger", "--kind", "resource", "--user", "alice")
    call_command("grant_tool", "test_finance_prompt", "--kind", "prompt", "--user", "alice")
    assert alice_mcp.result("resources/read", {"uri": "test://finance/ledger"})["contents"]
    assert alice_mcp.result("prompts/get", {"name": "test_finance_prompt"})["messages"]


def test_list_tool_access_says_who_may_use_each_item_and_why(db, finance, capsys):
    call_command("grant_tool", "test_kb_search", "--group", "finance")
    call_command("list_tool_access")
    lines = {line.split()[1]: line for line in capsys.readouterr().out.splitlines()}
    assert "[grants] group finance" in lines["test_kb_search"]
    assert "[code] group finance" in lines[FINANCE_TOOL]
    assert "[default] every signed-in user" in lines["echo"]


def test_with_access_default_deny_ungranted_tools_are_for_superusers_only(settings, client, alice_mcp,
                                                                          servicenow_client, django_user_model):
    settings.MCP_TOOL_ACCESS_DEFAULT = "deny"
    assert "echo" not in tool_names(alice_mcp)
    root = django_user_model.objects.create_superuser("root")
    root_mcp = Mcp(client, issue_access_token(servicenow_client, root))
    assert {"echo", FINANCE_TOOL} <= tool_names(root_mcp)
    call_command("grant_tool", "echo", "--group", "support")
    assert alice_mcp.call_tool("echo", {"message": "hi"})["content"][0]["text"] == "Echo: hi"


def client_credentials_token(client_app):
    """A token of the client-credentials grant: no user; its subject is the client_id, its username empty."""
    raw = generate_access_token(SimpleNamespace(user=None, client=client_app, scopes=["mcp:tools"]))
    row = get_access_token_model()(user=None, application=client_app, scope="mcp:tools",
                                   expires=timezone.now() + timedelta(hours=1))
    set_token_value(row, raw)
    row.save()
    return raw


def test_client_credentials_tokens_are_governed_by_grants_to_the_client(settings, client, servicenow_client):
    service = Mcp(client, client_credentials_token(servicenow_client))
    assert FINANCE_TOOL not in tool_names(service)  # a group grant cannot apply: there is no user
    call_command("grant_tool", FINANCE_TOOL, "--client", servicenow_client.client_id)
    assert service.call_tool(FINANCE_TOOL, {"quarter": "Q3"})["content"][0]["text"] == "report Q3"
    settings.MCP_TOOL_ACCESS_DEFAULT = "deny"
    assert tool_names(service) == {FINANCE_TOOL}


def test_a_grant_made_in_the_admin_takes_effect_on_the_next_request(admin_client, alice_mcp, alice):
    response = admin_client.post("/admin/mcp_app/accessgrant/add/", {
        "kind": "tool", "name": FINANCE_TOOL, "user": alice.pk, "group": "", "client": ""})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert FINANCE_TOOL in tool_names(alice_mcp)


def test_the_admin_refuses_a_grant_of_an_unregistered_tool(admin_client, alice):
    response = admin_client.post("/admin/mcp_app/accessgrant/add/", {
        "kind": "tool", "name": "no_such_tool", "user": alice.pk, "group": "", "client": ""})
    assert response.status_code == 200
    assert "No tool with this name" in response.content.decode()


@pytest.mark.skipif(not django_settings.CACHE_IS_SHARED, reason="the policy cache needs Redis (make test uses it)")
def test_decisions_cost_no_sql_once_the_policy_and_the_users_groups_are_cached(bob_mcp, django_assert_num_queries):
    call_command("grant_tool", "test_kb_search", "--group", "finance")
    tool_names(bob_mcp)  # the first request after a change reads the grants and bob's groups once
    with django_assert_num_queries(0):
        assert FINANCE_TOOL in tool_names(bob_mcp)
        assert bob_mcp.call_tool("test_kb_search", {"query": "q"})["content"][0]["text"] == "found q"


def test_a_list_the_policy_filters_is_never_marked_for_shared_caches(client, alice, bob, servicenow_client):
    alice_modern = Mcp(client, issue_access_token(servicenow_client, alice), version=MODERN)
    assert alice_modern.result("tools/list")["cacheScope"] == "private"  # finance items exist: lists differ
    assert Mcp(client, issue_access_token(servicenow_client, bob), version=MODERN).result("tools/list")["cacheScope"] == \
        "private"  # bob sees everything, but a shared cache could hand his list to alice
    assert alice_modern.result("resources/templates/list")["cacheScope"] == "public"  # nothing restricted there
