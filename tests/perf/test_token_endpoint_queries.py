"""The token endpoint's database cost: code exchange and refresh each take at most 8 SQL statements
(django-oauth-toolkit 3.4.1 alone takes 15 and 18), counted on the real database.

The tests run inside a transaction, so Django turns the endpoint's atomic block into SAVEPOINT/RELEASE;
in production that block is the transaction itself (no statement of its own), so those are not counted.
"""

from contextlib import contextmanager

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.oauth.flow import exchange, get_code, refresh
from tests.support.personas import BASIC_SECRET

MAX_TOKEN_ENDPOINT_QUERIES = 8


@contextmanager
def at_most_sql_statements(limit: int):
    with CaptureQueriesContext(connection) as captured:
        yield
    statements = [q["sql"] for q in captured.captured_queries
                  if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT"))]
    assert len(statements) <= limit, f"{len(statements)} statements:\n" + "\n".join(s[:160] for s in statements)


def test_code_exchange_takes_at_most_8_sql_queries(browser, basic_client):
    code, verifier, params = get_code(browser, basic_client)
    with at_most_sql_statements(MAX_TOKEN_ENDPOINT_QUERIES):
        response = exchange(browser, basic_client, code, verifier, params["redirect_uri"], BASIC_SECRET)
    assert response.status_code == 200, response.content
    assert response.json()["access_token"]


def test_public_client_code_exchange_takes_at_most_8_sql_queries(browser, inspector):
    code, verifier, params = get_code(browser, inspector)
    with at_most_sql_statements(MAX_TOKEN_ENDPOINT_QUERIES):
        response = exchange(browser, inspector, code, verifier, params["redirect_uri"])
    assert response.status_code == 200, response.content


def test_refresh_takes_at_most_8_sql_queries(browser, basic_client):
    code, verifier, params = get_code(browser, basic_client)
    tokens = exchange(browser, basic_client, code, verifier, params["redirect_uri"], BASIC_SECRET).json()
    with at_most_sql_statements(MAX_TOKEN_ENDPOINT_QUERIES):
        response = refresh(browser, basic_client, tokens["refresh_token"], BASIC_SECRET)
    assert response.status_code == 200, response.content
    assert response.json()["refresh_token"] != tokens["refresh_token"]
