"""Mixed-load soak: whole client lives, over and over, against gunicorn on PostgreSQL + Redis.

Each worker thread repeats what a real MCP client does: register (initial access token), sign in and
consent, exchange the code, initialize, call tools, refresh, call again, revoke, and check the revoked
token is refused. At the end: zero 5xx, zero unexpected answers, every registered client still in the
database, and worker memory growth under a bound. Exit status 1 when any of these fails.

    .venv/bin/python bench/soak.py [--duration 600] [--threads 4]

`make soak` runs it for 600 seconds; `tests/e2e/test_soak.py` for 60 seconds in `make test`.
The soak itself is harness/soak.py, shared with the test. (bench/memory.py, `make bench-memory`, measures
worker memory over 100,000 hot-path requests.)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.soak import run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=600, help="seconds of load")
    parser.add_argument("--threads", type=int, default=4, help="concurrent clients")
    args = parser.parse_args()
    summary = run(args.duration, args.threads)
    print(json.dumps(summary, indent=2))
    sys.exit(0 if summary["ok"] else 1)


if __name__ == "__main__":
    main()
