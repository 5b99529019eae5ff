"""Sessions whose stored form is useless without the cookie (SESSION_ENGINE).

Django's database and cached_db backends store the cookie's value itself as the primary key of
django_session (and in the cache key): a database dump, or a read of Redis, hands out live sign-ins. This
backend stores sha256(cookie value) instead, in both places, so presenting a stored key as a cookie finds
nothing. Session keys are 32 random characters (~165 bits), so the hash needs no secret; it is truncated to
the 40 characters django_session's key column holds (160 bits).

PostgreSQL is the truth; with a shared cache (Redis) a session is read from it first, each entry kept at most
SESSION_CACHE_SECONDS so that a sign-out whose cache delete failed (Redis unreachable) stops working soon. A
per-process cache is not used: a sign-out on one worker could not reach the others. Cache errors fall back
to the database. Synchronous only (the project runs under WSGI): the async methods refuse to run rather than
touch raw keys.
"""

import hashlib
import logging

from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore as DBStore
from django.core.cache import caches
from django.utils import timezone

logger = logging.getLogger(__name__)

SESSION_CACHE_SECONDS = 300
CACHE_KEY_PREFIX = "session:"


def stored_key(session_key: str) -> str:
    return hashlib.sha256(session_key.encode()).hexdigest()[:40]


class SessionStore(DBStore):
    def __init__(self, session_key=None):
        self._cache = caches[settings.SESSION_CACHE_ALIAS] if settings.CACHE_IS_SHARED else None
        super().__init__(session_key)

    def _cached(self, operation: str, session_key: str, *args):
        if self._cache is None:
            return None
        try:
            return getattr(self._cache, operation)(CACHE_KEY_PREFIX + stored_key(session_key), *args)
        except Exception:
            logger.warning("session cache unreachable (%s); using the database", operation)
            return None

    def _cache_session(self, data, expiry_age: int) -> None:
        self._cached("set", self.session_key, data, min(expiry_age, SESSION_CACHE_SECONDS))

    def load(self):
        data = self._cached("get", self.session_key)
        if data is not None:
            return data
        row = self._get_session_from_db()
        if row is None:
            return {}
        data = self.decode(row.session_data)
        self._cache_session(data, self.get_expiry_age(expiry=row.expire_date))
        return data

    def _get_session_from_db(self):
        try:
            return self.model.objects.get(session_key=stored_key(self.session_key), expire_date__gt=timezone.now())
        except self.model.DoesNotExist:
            self._session_key = None
            return None

    def exists(self, session_key):
        return bool(self._cached("has_key", session_key)) or super().exists(stored_key(session_key))

    def create_model_instance(self, data):
        instance = super().create_model_instance(data)
        instance.session_key = stored_key(instance.session_key)
        return instance

    def save(self, must_create=False):
        if self.session_key is None:
            return self.create()  # generates a key, then comes back here with must_create
        super().save(must_create)
        self._cache_session(self._session, self.get_expiry_age())

    def delete(self, session_key=None):
        session_key = session_key or self.session_key
        if session_key is None:
            return
        super().delete(stored_key(session_key))
        self._cached("delete", session_key)

    async def _refuse(self, *args, **kwargs):
        raise NotImplementedError("mcpsite.sessions is synchronous (WSGI)")

    aload = aexists = acreate = asave = adelete = _aget_session_from_db = acreate_model_instance = _refuse
