"""DATABASE_POOL and DATABASE_TRANSACTION_POOLING: what they make of the DATABASES entry, on a real PostgreSQL
connection, and the checks that refuse them where they cannot work. (PgBouncer itself: tests/e2e.)"""

import os

import pytest
from django.core import checks
from django.db.backends.postgresql.base import DatabaseWrapper
from django.test import override_settings

from common.database import database_settings
from harness.servers import postgres_admin_url
from mcpsite.checks import check_broken_configuration

POSTGRES_URL = os.environ.get("DATABASE_URL", "")
needs_postgresql = pytest.mark.skipif(not POSTGRES_URL.startswith("postgres"), reason="needs PostgreSQL")


@pytest.fixture
def wrapper(django_db_blocker):
    """A Django connection of its own (to the maintenance database) built from database_settings."""
    made = []

    def make(**options) -> DatabaseWrapper:
        connection = connection_from(database_settings(postgres_admin_url(POSTGRES_URL), connect_timeout=3,
                                                       **options))
        made.append(connection)
        return connection

    with django_db_blocker.unblock():
        yield make
        for connection in made:
            connection.close()
            if connection.pool is not None:
                connection.close_pool()


def connection_from(settings_dict: dict) -> DatabaseWrapper:
    settings_dict.setdefault("TIME_ZONE", None)
    settings_dict.setdefault("AUTOCOMMIT", True)
    settings_dict.setdefault("ATOMIC_REQUESTS", False)
    settings_dict.setdefault("TEST", {})
    return DatabaseWrapper(settings_dict, alias="pool-test")


def test_without_the_pool_connections_are_persistent_and_health_checked():
    database = database_settings("postgres://u@db/name", connect_timeout=3, pool=None, transaction_pooling=False)
    assert (database["CONN_MAX_AGE"], database["CONN_HEALTH_CHECKS"]) == (600, True)
    assert "pool" not in database["OPTIONS"] and not database.get("DISABLE_SERVER_SIDE_CURSORS")


@needs_postgresql
def test_database_pool_serves_queries_from_djangos_psycopg_pool_with_the_sizes_asked_for(wrapper):
    connection = wrapper(pool=(1, 2), transaction_pooling=False)
    assert connection.settings_dict["CONN_MAX_AGE"] == 0  # Django refuses persistent connections with a pool
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
    assert (connection.pool.min_size, connection.pool.max_size) == (1, 2)


@needs_postgresql
def test_transaction_pooling_keeps_no_state_on_the_server_connection(wrapper):
    connection = wrapper(pool=None, transaction_pooling=True)
    assert connection.settings_dict["DISABLE_SERVER_SIDE_CURSORS"] is True
    connection.ensure_connection()
    assert connection.connection.prepare_threshold is None  # nothing prepared on the server


def test_pooling_settings_without_postgresql_are_an_error():
    with override_settings(DATABASE_POOL=True, DATABASE_TRANSACTION_POOLING=True, DATABASE_IS_POSTGRESQL=False,
                           REDIS_SENTINELS=[], REDIS_SENTINEL_MASTER=""):
        [message] = check_broken_configuration()
    assert (message.id, message.level) == ("mcpsite.E043", checks.ERROR)
    assert "DATABASE_POOL and DATABASE_TRANSACTION_POOLING need PostgreSQL" in message.msg


@pytest.mark.parametrize("sizes", [(3, 2), (0, 0), (-1, 4)])
def test_pool_sizes_that_make_no_pool_are_an_error(sizes):
    with override_settings(DATABASE_POOL=True, DATABASE_IS_POSTGRESQL=True, DATABASE_POOL_MIN_SIZE=sizes[0],
                           DATABASE_POOL_MAX_SIZE=sizes[1], REDIS_SENTINELS=[], REDIS_SENTINEL_MASTER=""):
        [message] = check_broken_configuration()
    assert message.id == "mcpsite.E044"
