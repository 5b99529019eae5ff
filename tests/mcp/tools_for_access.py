"""Tools, a prompt and a resource the access, audit and limit tests use. Those open only to finance are
registered by `restricted_items` for the tests that need them (other tests expect every tool listed for
their users), and for the e2e servers by tests.e2e.access_tools. They go into the tests' own registry
(tests.mcp.tools_for_tests) unless another is named: the e2e servers serve the product's."""

from typing import Annotated

from pydantic import BaseModel, Field, SecretStr

import pytest

from mcp_app.registry import Registry
from tests.mcp.tools_for_tests import registry as tests_registry


def finance_report(quarter: str) -> str:
    """Open to the finance group by default (code), until the admin grants it otherwise."""
    return f"report {quarter}"


def kb_search(query: str) -> str:
    """No code default: follows MCP_TOOL_ACCESS_DEFAULT and the grants."""
    return f"found {query}"


def finance_prompt() -> str:
    """A prompt for finance only."""
    return "Summarize the ledger."


def ledger() -> str:
    """A resource for finance only."""
    return "ledger"


def limited() -> str:
    """Three calls a minute per client and user."""
    return "done"


class Login(BaseModel):
    user: str
    password: Annotated[str, Field(json_schema_extra={"secret": True})]


def audited(account: str, api_key: SecretStr, login: Login, note: Annotated[str, Field(json_schema_extra={
        "secret": True})] = "") -> str:
    """Its arguments are kept in the audit trail, secrets redacted."""
    return f"opened {account}"


def two_scopes() -> str:
    """Needs two scopes tokens do not get by default."""
    return "both"


RESTRICTED = (("tools", "test_finance_report"), ("prompts", "test_finance_prompt"),
              ("resources", "test://finance/ledger"))


def register_open(registry: Registry = tests_registry) -> None:
    registry.tool(name="test_kb_search")(kb_search)
    registry.tool(name="test_limited", rate_limit="3/m")(limited)
    registry.tool(name="test_audited", audit_arguments=True)(audited)
    registry.tool(name="test_two_scopes", scope="mcp:admin mcp:finance")(two_scopes)


def register_restricted(registry: Registry = tests_registry) -> None:
    registry.tool(name="test_finance_report", groups=["finance"])(finance_report)
    registry.prompt(name="test_finance_prompt", groups=["finance"])(finance_prompt)
    registry.resource("test://finance/ledger", name="ledger", groups=["finance"])(ledger)


def unregister_restricted(registry: Registry = tests_registry) -> None:
    for kind, key in RESTRICTED:
        registry.table(kind).pop(key, None)
    registry._descriptors.clear()  # the registry only grows in production: nothing public takes items away
    registry._pages.clear()


@pytest.fixture
def restricted_items():
    register_restricted()
    yield
    unregister_restricted()


register_open()
