"""A headless browser stand-in for clients that open the authorization URL in "the browser" ($BROWSER,
xdg-open): it records the call, signs in and consents as the test person over HTTP (mcp_client's
log_in_and_consent), then delivers the redirect to the client's loopback callback, as a browser would.

    BROWSER_STANDIN_LOG=calls.jsonl BROWSER_STANDIN_USERNAME=alice BROWSER_STANDIN_PASSWORD=… \
        python tests/e2e/clients/browser_standin.py 'https://as.example/oauth/authorize?…'

Each call appends one JSON line to BROWSER_STANDIN_LOG: the URL, then how the callback answered (or the error).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root, for mcp_client

import requests  # noqa: E402

from mcp_client import log_in_and_consent  # noqa: E402


def record(**fields) -> None:
    with open(os.environ["BROWSER_STANDIN_LOG"], "a") as log:
        log.write(json.dumps(fields) + "\n")


def main(url: str) -> int:
    record(event="opened", url=url)
    try:
        redirect_uri = parse_qs(urlsplit(url).query)["redirect_uri"][0]
        location = log_in_and_consent(url, redirect_uri, os.environ["BROWSER_STANDIN_USERNAME"],
                                      os.environ["BROWSER_STANDIN_PASSWORD"])
        callback = requests.get(location, timeout=30)
    except Exception as error:  # the test reads the reason from the log
        record(event="failed", error=repr(error))
        return 1
    record(event="called_back", status=callback.status_code, location=location.split("?", 1)[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
