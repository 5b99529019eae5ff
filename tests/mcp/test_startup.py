"""Tool modules are registered at start-up from settings: MCP_TOOL_MODULES, the demo notes unless
MCP_DEMO_CONTENT is off, and the conformance fixtures only when MCP_CONFORMANCE_FIXTURES is on. Checked in a
fresh `manage.py` process, as a server starts."""

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from mcp_app.context import LOG_LEVEL_META_KEY
from mcp_app.jsonrpc import Request
from mcp_app.dispatch import Call

ROOT = Path(__file__).resolve().parents[2]
LIST_TOOLS = "import json; from mcp_app.registry import registry; print(json.dumps(sorted(registry.tools)))"
# The /mcp view itself answering the list methods (made public here, so no token is needed).
LIST_OVER_HTTP = """
import json
from django.test import Client
def names(method, key, field):
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {}}
    answer = Client().post("/mcp", json.dumps(body), content_type="application/json",
                           headers={"Accept": "application/json, text/event-stream"})
    return [item[field] for item in answer.json()["result"][key]]
print(json.dumps({"tools": names("tools/list", "tools", "name"),
                  "templates": names("resources/templates/list", "resourceTemplates", "uriTemplate"),
                  "prompts": names("prompts/list", "prompts", "name")}))
"""
LIST_METHODS = "initialize,ping,tools/list,resources/templates/list,prompts/list"


def manage(*args: str, **environment) -> str:
    env = {**os.environ, "DATABASE_URL": "sqlite:///:memory:", **environment}
    completed = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout.strip().splitlines()[-1]


def tools_at_startup(**environment) -> list[str]:
    return json.loads(manage("shell", "-c", LIST_TOOLS, **environment))


def test_the_modules_listed_in_mcp_tool_modules_are_registered_at_startup():
    tools = tools_at_startup(MCP_TOOL_MODULES="mcp_app.builtin,tests.mcp.listed_tools")
    assert {"echo", "whoami", "search_notes", "test_listed_module"} <= set(tools)
    assert "test_simple_text" not in tools


def test_the_demo_notes_are_served_by_default():
    served = json.loads(manage("shell", "-c", LIST_OVER_HTTP, MCP_PUBLIC_METHODS=LIST_METHODS))
    assert {"echo", "whoami", "search_notes"} <= set(served["tools"])
    assert "notes://{id}" in served["templates"]
    assert "summarize_notes" in served["prompts"]


def test_mcp_demo_content_false_drops_the_notes_app_and_the_server_still_serves_its_own_tools():
    off = {"MCP_DEMO_CONTENT": "false", "MCP_PUBLIC_METHODS": LIST_METHODS}
    assert "System check identified no issues" in manage("check", **off)
    assert manage("shell", "-c", "from django.apps import apps; print(apps.is_installed('notes'))", **off) == "False"
    served = json.loads(manage("shell", "-c", LIST_OVER_HTTP, **off))
    assert {"echo", "whoami"} <= set(served["tools"])
    assert "search_notes" not in served["tools"]
    assert "notes://{id}" not in served["templates"]
    assert "summarize_notes" not in served["prompts"]


def test_conformance_fixtures_are_off_by_default_and_added_by_the_setting():
    assert settings.MCP_CONFORMANCE_FIXTURES is False
    assert "test_simple_text" not in tools_at_startup(MCP_CONFORMANCE_FIXTURES="")
    assert "test_simple_text" in tools_at_startup(MCP_CONFORMANCE_FIXTURES="true")


def context_for(version: str, meta: dict):
    return Call(Request(1, "tools/call", {"_meta": meta}), version, None).context()


def test_the_2026_version_logs_only_when_the_request_names_a_level():
    assert context_for("2026-07-28", {}).logging_enabled is False
    named = context_for("2026-07-28", {LOG_LEVEL_META_KEY: "warning"})
    assert (named.logging_enabled, named.log_level) == (True, "warning")


def test_legacy_versions_send_every_level_since_no_session_remembers_one():
    legacy = context_for("2025-11-25", {"progressToken": "p"})
    assert (legacy.logging_enabled, legacy.log_level, legacy.meta) == (True, None, {"progressToken": "p"})
