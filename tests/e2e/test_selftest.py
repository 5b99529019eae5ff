"""`manage.py mcp_selftest` against the session's gunicorn deployment (issue 4, item 6)."""

import pytest

from harness.servers import PYTHON, ROOT
from mcp_client import log_in_and_consent
from tests.e2e.conftest import TEST_PASSWORD, TEST_USERNAME
from tests.support.line_process import LineProcess

STEPS = ["metadata", "registration", "authorization", "token", "tools/list", "tools/call echo", "refresh",
         "revocation", "revoked token refused"]
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def dcr_token(issue_dcr_token) -> str:
    return issue_dcr_token("selftest")


def selftest(deployment, *args):
    return deployment.manage("mcp_selftest", f"{deployment.base_url}/mcp", *args, check=False)


def test_selftest_passes_every_step_and_exits_0_with_a_test_account(deployment, dcr_token):
    result = selftest(deployment, "--dcr-token", dcr_token, "--username", TEST_USERNAME,
                      "--password", TEST_PASSWORD)

    assert result.returncode == 0, result.stdout + result.stderr
    for number, step in enumerate(STEPS, 1):
        assert f"[{number}/9] {step}: PASS" in result.stdout
    assert "Summary: 9/9 passed, 0 failed, 0 skipped" in result.stdout


def test_selftest_with_a_wrong_dcr_token_fails_registration_skips_the_rest_and_exits_1(deployment):
    result = selftest(deployment, "--dcr-token", "not-a-token", "--username", TEST_USERNAME,
                      "--password", TEST_PASSWORD)

    assert result.returncode == 1
    assert "[1/9] metadata: PASS" in result.stdout
    assert "[2/9] registration: FAIL" in result.stdout and "401" in result.stdout
    assert "[9/9] revoked token refused: SKIP" in result.stdout
    assert "Summary: 1/9 passed, 1 failed, 7 skipped" in result.stdout


def test_selftest_with_a_wrong_password_fails_at_authorization(deployment, dcr_token):
    result = selftest(deployment, "--dcr-token", dcr_token, "--username", TEST_USERNAME,
                      "--password", "wrong-password")

    assert result.returncode == 1
    assert "[3/9] authorization: FAIL" in result.stdout and "wrong username or password" in result.stdout


def test_selftest_without_credentials_prints_the_url_for_a_person_and_takes_the_pasted_redirect(
        deployment, dcr_token):
    run = LineProcess([PYTHON, "manage.py", "mcp_selftest", f"{deployment.base_url}/mcp",
                       "--dcr-token", dcr_token], cwd=ROOT, env=deployment.env)
    try:
        url = run.expect(lambda line: line.strip().startswith(f"{deployment.base_url}/oauth/authorize?")).strip()
        # The test is the person at the browser.
        run.send(log_in_and_consent(url, "http://127.0.0.1:33418/callback", TEST_USERNAME, TEST_PASSWORD))
        assert run.finish() == 0, run.output()
    finally:
        run.stop()
    assert "Summary: 9/9 passed" in run.output()
