#!/bin/sh
# Prints the environment `make test` runs with: PostgreSQL and Redis on loopback when they answer,
# otherwise nothing (SQLite and the in-process cache). Variables already set win.
pg="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/mcp}"
redis="${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
out=""
if [ -z "${DATABASE_URL:-}" ] && command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then
  out="$out DATABASE_URL=$pg"
fi
if [ -z "${REDIS_URL:-}" ] && command -v redis-cli >/dev/null 2>&1 && [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; then
  out="$out REDIS_URL=$redis"
fi
echo "env$out"
