"""docs/walkthrough.md is run, block by block, against the session's gunicorn deployment: the curl
walk-through of the whole flow stays true."""

import os
import re
import subprocess

import pytest

from harness.servers import ROOT
from tests.e2e.conftest import TEST_PASSWORD, TEST_USERNAME

WALKTHROUGH = ROOT / "docs" / "walkthrough.md"
pytestmark = pytest.mark.e2e


def test_the_curl_walkthrough_runs_from_the_401_to_the_revoked_token_being_refused(deployment):
    blocks = re.findall(r"```bash\n(.*?)```", WALKTHROUGH.read_text(), flags=re.S)
    script = "set -euo pipefail\ncd " + str(ROOT) + "\n" + "\n".join(blocks)
    env = {**deployment.env, "BASE": deployment.base_url, "USERNAME": TEST_USERNAME, "PASSWORD": TEST_PASSWORD,
           # `python manage.py …` in the page is this project's interpreter, as in an activated virtualenv.
           "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"}

    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=120)

    output = result.stdout
    assert result.returncode == 0, f"{output}\n{result.stderr}"
    assert '"invalid_token"' in output  # registration without the initial access token
    assert "code received" in output and "rotated" in output
    assert "Echo: Hello, MCP!" in output and "Echo: after refresh" in output
    assert "HTTP/1.1 401 Unauthorized" in output.split("Echo: after refresh")[1]  # the revoked token
    assert output.rstrip().endswith("}") and '"invalid_grant"' in output.splitlines()[-1]
