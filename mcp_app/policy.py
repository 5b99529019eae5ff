"""Who may use which tool, prompt and resource: grants to groups, users and clients (docs/access.md).

Decided per request with no SQL on the hot path. A policy version number lives in Redis; every change
(a grant, a group membership, a group, a user's superuser flag) bumps it after its transaction commits.
Each request reads the version (one GET, or a value another pipeline prefetched for this request:
`policy_version_key` / `remember_prefetched_version`), and each worker keeps a memo of the grants and of
the principals (a user's groups) it has seen for that version, so a change is effective on the next
request on every host. Misses go to Redis (`mcp:policy:rules:<v>`, `mcp:policy:principal:<v>:<user>`),
then to PostgreSQL once per version cluster-wide. Redis unreachable: every decision reads PostgreSQL.
"""

import contextvars
import json
import logging
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from common.logging import current_request_id

logger = logging.getLogger(__name__)

VERSION_KEY = "mcp:policy:version"
SNAPSHOT_SECONDS = 3600
# Bounds how long a memo can outlive a change whose version bump failed (Redis unreachable at that moment).
MEMO_MAX_AGE_SECONDS = 60
MEMO_MAX_ENTRIES = 10_000
ALL = None  # `visible` answer: no filter
LIST_KINDS = {"tools": ("tool", "tools"), "prompts": ("prompt", "prompts"), "resources": ("resource", "resources"),
              "templates": ("resource", "templates")}

_prefetched: contextvars.ContextVar[tuple[str, int] | None] = contextvars.ContextVar("policy_version", default=None)


@dataclass(frozen=True)
class Rule:
    """Who an item is open to. Groups by name (code defaults name groups too), users by primary key."""

    groups: frozenset = frozenset()
    users: frozenset = frozenset()
    clients: frozenset = frozenset()


@dataclass(frozen=True)
class Principal:
    is_superuser: bool = False
    groups: frozenset = frozenset()


NOBODY = Principal()


@dataclass
class Memo:
    version: int
    rules: dict
    made_at: float = field(default_factory=time.monotonic)
    principals: dict = field(default_factory=dict)
    visible: dict = field(default_factory=dict)


_memo: Memo | None = None
_memo_lock = threading.Lock()


# --- The version ----------------------------------------------------------------------------------
def policy_version_key() -> str:
    """The Redis key holding the policy version, for a pipeline that reads it with the request's other keys
    (pass the raw value to `remember_prefetched_version`)."""
    return cache.make_key(VERSION_KEY)


def remember_prefetched_version(raw) -> None:
    """The version read for the current request by someone else's round trip (None: it was not set)."""
    if raw is not None:
        _prefetched.set((current_request_id(), int(raw)))


def fresh_version() -> int:
    # Never reused after Redis loses the key (a restart): a memo made before cannot look current.
    return time.time_ns() // 1000


def current_version() -> int | None:
    """The policy version, or None when the cache cannot be reached (then decisions read PostgreSQL)."""
    prefetched = _prefetched.get()
    if prefetched is not None and prefetched[0] == current_request_id() != "-":
        return prefetched[1]
    try:
        version = cache.get(VERSION_KEY)
        if version is None:
            cache.add(VERSION_KEY, fresh_version(), timeout=None)
            version = cache.get(VERSION_KEY)
        return int(version)
    except Exception:
        logger.warning("policy version unreachable; access decided from the database")
        return None


def bump_now() -> None:
    try:
        try:
            cache.incr(VERSION_KEY)
        except ValueError:  # no version yet (or Redis lost it)
            cache.set(VERSION_KEY, fresh_version(), timeout=None)
    except Exception:
        logger.warning("policy version not bumped (cache unreachable); memos expire within %d s",
                       MEMO_MAX_AGE_SECONDS)
    global _memo
    _memo = None


def policy_changed() -> None:
    """Call on every change that can alter a decision. Bumped now, so that this connection's next decision
    sees the change, and again once it is committed, so that no host keeps a snapshot it read before."""
    bump_now()
    transaction.on_commit(bump_now)


# --- Loading: memo, then Redis, then PostgreSQL -----------------------------------------------------
def rules_from_database() -> dict:
    from mcp_app.models import AccessGrant

    found: dict = {}
    for kind, name, group, user, client in AccessGrant.objects.values_list(
            "kind", "name", "group__name", "user_id", "client__client_id"):
        entry = found.setdefault(f"{kind}:{name}", {"groups": [], "users": [], "clients": []})
        if group is not None:
            entry["groups"].append(group)
        elif user is not None:
            entry["users"].append(str(user))
        elif client is not None:
            entry["clients"].append(client)
    return found


def principal_from_database(subject: str) -> dict:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=subject).only("is_superuser").first() if subject.isdigit() else None
    if user is None:
        return {"superuser": False, "groups": []}
    return {"superuser": user.is_superuser, "groups": sorted(user.groups.values_list("name", flat=True))}


def cached_json(key: str, load) -> dict:
    raw = cache.get(key)
    if raw is None:
        value = load()
        cache.set(key, json.dumps(value), timeout=SNAPSHOT_SECONDS)
        return value
    return json.loads(raw)


def as_rules(raw: dict) -> dict:
    return {key: Rule(frozenset(v["groups"]), frozenset(v["users"]), frozenset(v["clients"]))
            for key, v in raw.items()}


def as_principal(raw: dict) -> Principal:
    return Principal(raw["superuser"], frozenset(raw["groups"]))


def memo_for(version: int) -> Memo:
    global _memo
    memo = _memo
    if memo is not None and memo.version == version and time.monotonic() - memo.made_at < MEMO_MAX_AGE_SECONDS:
        return memo
    with _memo_lock:
        if _memo is memo:
            _memo = Memo(version, as_rules(cached_json(f"mcp:policy:rules:{version}", rules_from_database)))
        return _memo


# --- Decisions ------------------------------------------------------------------------------------
def is_client_credentials(identity) -> bool:
    """A token with no user (client-credentials grant): its subject is the client id, its username empty."""
    return identity.username == "" and identity.subject == identity.client_id


class Access:
    """What one caller may use. Built per request; the principal is loaded only when a rule needs it."""

    def __init__(self, identity, version: int | None):
        self.identity, self.version = identity, version
        self.memo = memo_for(version) if version is not None else None
        self.rules = self.memo.rules if self.memo else as_rules(rules_from_database())
        self._principal = None
        self.personal = False  # set by `visible`

    @property
    def who(self) -> str:
        return f"client:{self.identity.client_id}" if is_client_credentials(self.identity) else self.identity.subject

    @property
    def principal(self) -> Principal:
        if self._principal is None:
            self._principal = self.load_principal()
        return self._principal

    def load_principal(self) -> Principal:
        if is_client_credentials(self.identity):
            return NOBODY
        subject = self.identity.subject
        if self.memo is None:
            return as_principal(principal_from_database(subject))
        principal = self.memo.principals.get(subject)
        if principal is None:
            key = f"mcp:policy:principal:{self.version}:{subject}"
            principal = as_principal(cached_json(key, lambda: principal_from_database(subject)))
            if len(self.memo.principals) >= MEMO_MAX_ENTRIES:  # bounded: start again, Redis still has them
                self.memo.principals.clear()
                self.memo.visible.clear()
            self.memo.principals[subject] = principal
        return principal

    def rule_for(self, item) -> Rule | None:
        rule = self.rules.get(f"{item.kind}:{item.key}")
        if rule is None and item.groups:
            rule = Rule(groups=frozenset(item.groups))
        return rule

    def allows(self, item) -> bool:
        rule = self.rule_for(item)
        if rule is None and settings.MCP_TOOL_ACCESS_DEFAULT == "allow":
            return True
        if is_client_credentials(self.identity):
            return rule is not None and self.identity.client_id in rule.clients
        principal = self.principal
        if principal.is_superuser:
            return True
        if rule is None:
            return False
        return self.identity.subject in rule.users or not rule.groups.isdisjoint(principal.groups)

    def visible(self, list_kind: str, registry) -> frozenset | None:
        """The keys of a list (`tools`, `prompts`, `resources`, `templates`) this caller may see; ALL when
        nothing is hidden, so that everyone with full access shares the registry's unfiltered pages. Sets
        `personal` when the list may differ between callers (a shared cache must not keep it)."""
        memo_key = (list_kind, self.who)
        if self.memo is not None and memo_key in self.memo.visible:
            visible, self.personal = self.memo.visible[memo_key]
            return visible
        table = registry.table(LIST_KINDS[list_kind][1])
        keys = frozenset(key for key, item in table.items() if self.allows(item))
        visible = ALL if len(keys) == len(table) else keys
        self.personal = settings.MCP_TOOL_ACCESS_DEFAULT == "deny" or any(map(self.rule_for, table.values()))
        if self.memo is not None and len(self.memo.visible) < MEMO_MAX_ENTRIES:
            self.memo.visible[memo_key] = (visible, self.personal)
        return visible


class Public:
    """A request without a token reaches only the methods the operator made public (MCP_PUBLIC_METHODS):
    what those show is public, whatever the grants (docs/access.md)."""

    def allows(self, item) -> bool:
        return True

    personal = False

    def visible(self, list_kind: str, registry) -> None:
        return ALL


PUBLIC = Public()


def access_for(identity) -> Access | Public:
    return PUBLIC if identity is None else Access(identity, current_version())
