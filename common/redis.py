"""Every Redis client of the project comes from here, so one configuration reaches them all: a plain URL
(REDIS_URL, or REDIS_HOST and friends) or Redis Sentinel (REDIS_SENTINELS and REDIS_SENTINEL_MASTER), which
finds the current primary and follows it through a failover.

Clients always talk to the primary, never to a replica: a replica may lag a revocation by a moment, and a
revoked token must be refused on the next request.
"""

from __future__ import annotations

import logging
import os
import threading

import hiredis
from django.conf import settings
from redis.exceptions import ConnectionError as RedisConnectionError, ResponseError

logger = logging.getLogger(__name__)

# Seconds to wait for a sentinel's answer: a sentinel that does not answer is skipped for the next one.
SENTINEL_TIMEOUT = 0.5
SENTINEL_KWARGS = {"socket_timeout": SENTINEL_TIMEOUT, "socket_connect_timeout": SENTINEL_TIMEOUT}


def parse_sentinels(entries: list[str]) -> tuple[list[tuple[str, int]], list[str]]:
    """(host, port) pairs from `host:port` entries (IPv6 as `[::1]:26379`), and the entries that are not."""
    addresses, malformed = [], []
    for entry in entries:
        host, colon, port = entry.rpartition(":")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        if colon and host and port.isdigit() and 0 < int(port) < 65536:
            addresses.append((host, int(port)))
        else:
            malformed.append(entry)
    return addresses, malformed


def cache_settings(*, configured: bool, url: str, sentinels: list[tuple[str, int]], master: str, db: int,
                   password: str, key_prefix: str) -> dict:
    """Django's CACHES entry: django-redis on the URL or through Sentinel, else the per-process memory cache
    (development). Called by settings.py while the settings are being read, hence the arguments."""
    if not configured:
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "KEY_PREFIX": key_prefix}
    location, client = url, {"CLIENT_CLASS": "django_redis.client.DefaultClient"}
    if sentinels:
        # One location (the primary): SentinelClient would otherwise read from a replica.
        location, client = [f"redis://{master}/{db}"], {
            "CLIENT_CLASS": "django_redis.client.SentinelClient",
            "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
            "SENTINELS": sentinels,
            "SENTINEL_KWARGS": SENTINEL_KWARGS,
            **({"PASSWORD": password} if password else {}),
        }
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": location,
        "KEY_PREFIX": key_prefix,
        # Fail fast when Redis is gone: callers fall back to PostgreSQL.
        "OPTIONS": {**client, "SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
    }


def redis_client():
    """The shared cache's connection to the primary (pooled by django-redis, short timeouts): for the
    rate-limit pipeline, the allow-list and the metrics."""
    from django.core.cache import cache

    return cache.client.get_client(write=True)


def blocking_redis_client(socket_timeout: float, connect_timeout: float = 1.0):
    """A client with its own pool, for commands that block longer than the cache's socket timeout (BLPOP)."""
    import redis

    if settings.REDIS_SENTINELS:
        from redis.sentinel import Sentinel

        sentinel = Sentinel(settings.REDIS_SENTINEL_ADDRESSES, sentinel_kwargs=SENTINEL_KWARGS)
        return sentinel.master_for(settings.REDIS_SENTINEL_MASTER, db=settings.REDIS_DB,
                                   password=settings.REDIS_PASSWORD or None, socket_timeout=socket_timeout,
                                   socket_connect_timeout=connect_timeout)
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=socket_timeout,
                                socket_connect_timeout=connect_timeout)


def send_commands(client, commands: list[tuple], *, wait: bool = True, on_failure=None) -> list | None:
    """Send `commands` (tuples like ("INCR", key)) in one write and read their replies: one round trip.

    The hot path's lean pipeline, on a connection this thread keeps (`HeldConnection`): redis-py's
    Pipeline and pool add ~60 µs of CPU per call (command objects, argument checks, pool bookkeeping and
    observability hooks) to a ~35 µs round trip. A connection found broken (Redis restarted) is
    reconnected once; any other failure, an error reply included, drops the connection (its other replies
    are unread) and propagates: callers fall back. A retried command may run twice: the callers' INCR and
    RPUSH tolerate that (one count too many; audit records carry their id).

    `wait=False` writes the commands and returns: their replies are read before the next exchange on this
    connection, and `on_failure` runs if one is an error or never comes (the connection broke meanwhile).
    """
    if not commands:
        return []
    packed = [b"".join(hiredis.pack_command(command) for command in commands)]
    return HeldConnection.of(client).exchange(packed, len(commands), wait, on_failure)


class HeldConnection:
    """This thread's own connection to the primary, made by the client's pool and never returned to it
    (under Sentinel it asks for the primary's address whenever it connects); a new one after a fork."""

    _threads = threading.local()

    def __init__(self, pool):
        self.pool, self.pid, self.connection = pool, os.getpid(), pool.make_connection()
        self.owed: list = []  # per unread reply of a write that did not wait: its on_failure (or None)

    @classmethod
    def of(cls, client) -> HeldConnection:
        held = getattr(cls._threads, "held", None)
        if held is None or held.pool is not client.connection_pool or held.pid != os.getpid():
            held = cls._threads.held = cls(client.connection_pool)
        return held

    def exchange(self, packed: list[bytes], count: int, wait: bool, on_failure) -> list | None:
        for attempt in (1, 2):
            try:
                self.connection.send_packed_command(packed, check_health=False)
                self.read_owed()  # the replies of earlier writes come first
                if not wait:
                    self.owed = [on_failure] * count
                    return None
                return [self.connection.read_response() for _ in range(count)]
            except RedisConnectionError:
                self.drop()
                if attempt == 2:
                    raise
            except BaseException:
                self.drop()
                raise

    def read_owed(self) -> None:
        while self.owed:
            try:
                self.connection.read_response()
            except ResponseError:
                self.failed(self.owed[0])
            self.owed.pop(0)  # only once its reply is read: if the connection breaks first, drop() runs it

    def drop(self) -> None:
        self.connection.disconnect()
        for on_failure in self.owed:  # written, but whether Redis applied them is unknown
            self.failed(on_failure)
        self.owed = []

    @staticmethod
    def failed(on_failure) -> None:
        if on_failure is None:
            return
        try:
            on_failure()
        except Exception:
            logger.exception("the fallback of a failed Redis write failed")
