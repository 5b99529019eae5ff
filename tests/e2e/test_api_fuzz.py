"""schemathesis against the OpenAPI document the running server publishes (/docs/schema): no 5xx, and
answers whose status, content type and body match the document (the protocol endpoints are described in
mcpsite/openapi.py)."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_schema_conformance, status_code_conformance,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def published_schema(deployment):
    return schemathesis.openapi.from_url(f"{deployment.base_url}/docs/schema?format=json")


api = schemathesis.pytest.from_fixture("published_schema")


@api.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_published_api_never_answers_5xx_and_matches_its_document(case):
    case.call_and_validate(checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                                   response_schema_conformance])
