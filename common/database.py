"""Django's DATABASES entry for a DATABASE_URL, with the connection strategy the settings ask for: persistent
connections (the default), Django's psycopg pool, and what PgBouncer's transaction mode needs. Called by
settings.py while the settings are being read, hence the arguments."""

from __future__ import annotations

import dj_database_url

POSTGRESQL_SCHEMES = ("postgres://", "postgresql://", "pgsql://")
# Persistent connections: a new PostgreSQL connection costs ~9 ms per request.
PERSISTENT_SECONDS = 600


def is_postgresql(url: str) -> bool:
    return url.startswith(POSTGRESQL_SCHEMES)


def database_settings(url: str, *, connect_timeout: int, pool: tuple[int, int] | None,
                      transaction_pooling: bool) -> dict:
    """`pool`: (min_size, max_size) per process, or None for persistent connections (Django refuses both)."""
    pooled = pool is not None and is_postgresql(url)
    database = dj_database_url.parse(url, conn_max_age=0 if pooled else PERSISTENT_SECONDS,
                                     conn_health_checks=not pooled)
    if not is_postgresql(url):
        return database
    options = database.setdefault("OPTIONS", {})
    options["connect_timeout"] = connect_timeout
    if pooled:
        # `timeout`: how long a request waits for a pooled connection before its 503 (common.availability).
        options["pool"] = {"min_size": pool[0], "max_size": pool[1], "timeout": connect_timeout}
    if transaction_pooling:
        # Each transaction may run on another server connection: no state may outlive one.
        database["DISABLE_SERVER_SIDE_CURSORS"] = True
        options["prepare_threshold"] = None  # psycopg 3 never prepares a statement on the server
    return database
