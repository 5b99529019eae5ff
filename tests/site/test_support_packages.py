"""The packages around the product: tests/ and bench/ share their servers through harness/ instead of
importing each other, and harness/ and mcp_client/ see the server only from outside (no app, no site package)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVER_PACKAGES = {"mcpsite", "mcp_app", "oauth_app", "notes", "django", "rest_framework", "oauth2_provider"}


def imported_packages(package: str) -> dict[str, set[str]]:
    """For each module of the package, the top-level packages it imports."""
    found = {}
    for path in (ROOT / package).rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


def importers(package: str, of: set[str]) -> list[str]:
    return sorted(module for module, names in imported_packages(package).items() if names & of)


def test_bench_does_not_import_the_tests_and_the_tests_do_not_import_bench():
    assert importers("bench", {"tests"}) == []
    assert importers("tests", {"bench"}) == []


def test_harness_and_the_client_library_import_no_app_and_nothing_from_django():
    assert importers("harness", SERVER_PACKAGES | {"tests", "bench"}) == []
    assert importers("mcp_client", SERVER_PACKAGES | {"tests", "bench", "harness"}) == []
