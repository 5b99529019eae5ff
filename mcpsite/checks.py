"""Configuration validation as Django system checks.

In production every problem is an Error, which stops `runserver`, `migrate` and the WSGI
application (so gunicorn refuses to start). In development the rules that matter there are
Warnings. One message per problem, naming the variable and what to do about it.
"""

from django.conf import settings
from django.core import checks

from common.redis import parse_sentinels

MIN_JWT_SECRET_LENGTH = 32
MAX_REFRESH_TOKEN_REUSE_GRACE_SECONDS = 60
MIN_TASK_LEASE_SECONDS = 3  # the heartbeat renews it every second


def configuration_problems() -> list[tuple[str, str, str]]:
    """(id, problem, hint) for every unsafe setting in the current environment."""
    problems = []
    if len(settings.JWT_SECRET) < MIN_JWT_SECRET_LENGTH:
        problems.append(
            ("mcpsite.E001", f"JWT_SECRET must be at least {MIN_JWT_SECRET_LENGTH} characters "
             f"(it has {len(settings.JWT_SECRET)}).", "Generate one with `manage.py generate_secrets`.")
        )
    if "*" in settings.ALLOWED_ORIGINS:
        problems.append(
            ("mcpsite.E002", "ALLOWED_ORIGINS contains the wildcard '*': any web page could call the API.",
             "List the exact origins, comma-separated.")
        )
    if not 0 <= settings.REFRESH_TOKEN_REUSE_GRACE_SECONDS <= MAX_REFRESH_TOKEN_REUSE_GRACE_SECONDS:
        problems.append(
            ("mcpsite.E010", f"REFRESH_TOKEN_REUSE_GRACE_SECONDS must be between 0 and "
             f"{MAX_REFRESH_TOKEN_REUSE_GRACE_SECONDS} (it is {settings.REFRESH_TOKEN_REUSE_GRACE_SECONDS}): a long grace "
             "lets a stolen refresh token be replayed without revoking its family.",
             "Use a few seconds (the default is 5), or 0 to treat every reuse as a replay.")
        )
    if settings.RATE_LIMIT_LOGIN_ACCOUNT_MAX < settings.RATE_LIMIT_LOGIN_MAX:
        problems.append(
            ("mcpsite.E011", "RATE_LIMIT_LOGIN_ACCOUNT_MAX is below RATE_LIMIT_LOGIN_MAX: a burst of wrong passwords "
             "from one address would lock the account's owner out everywhere.",
             "Leave RATE_LIMIT_LOGIN_ACCOUNT_MAX unset (10 x RATE_LIMIT_LOGIN_MAX) or set it much higher.")
        )
    problems += oidc_problems()
    if settings.JWT_ALGORITHM not in ("HS256", "ES256", "RS256"):
        problems.append(
            ("mcpsite.E012", f"JWT_ALGORITHM must be HS256, ES256 or RS256 (it is {settings.JWT_ALGORITHM!r}).",
             "Use HS256 (JWT_SECRET) or ES256/RS256 (keys from `manage.py rotate_signing_key`, see docs/keys.md).")
        )
    task_settings = ("MCP_TASK_TTL_SECONDS", "MCP_TASK_POLL_INTERVAL_MS", "MCP_TASK_THREADS")
    for name in [name for name in task_settings if getattr(settings, name) < 1]:
        problems.append(("mcpsite.E031", f"{name} must be a positive integer (it is {getattr(settings, name)}).",
                         "Use the default or a larger value."))
    if settings.MCP_TASK_LEASE_SECONDS < MIN_TASK_LEASE_SECONDS:
        problems.append(
            ("mcpsite.E032", f"MCP_TASK_LEASE_SECONDS must be at least {MIN_TASK_LEASE_SECONDS} (it is "
             f"{settings.MCP_TASK_LEASE_SECONDS}): a shorter lease fails tasks whose worker is only slow.",
             "Use the default (30) or a larger value.")
        )
    if settings.MCP_TOOL_ACCESS_DEFAULT not in ("allow", "deny"):
        problems.append(
            ("mcpsite.E013", "MCP_TOOL_ACCESS_DEFAULT must be allow or deny "
             f"(it is {settings.MCP_TOOL_ACCESS_DEFAULT!r}).",
             "Use allow (every signed-in user may use an ungranted tool) or deny (superusers only).")
        )
    if settings.AUDIT_RETENTION_DAYS < 1 or settings.AUDIT_FLUSH_SECONDS < 0:
        problems.append(
            ("mcpsite.E014", "AUDIT_RETENTION_DAYS must be at least 1 and AUDIT_FLUSH_SECONDS at least 0.",
             "The defaults are 90 days and 1 second.")
        )
    if not settings.IS_PRODUCTION:
        return problems
    if not settings.OAUTH_ISSUER.startswith("https://"):
        problems.append(
            ("mcpsite.E003", f"OAUTH_ISSUER must be an https:// URL in production (it is {settings.OAUTH_ISSUER!r}).",
             "Set OAUTH_ISSUER to the public https origin, e.g. https://mcp.example.com.")
        )
    if not (settings.REDIS_URL or settings.REDIS_SENTINELS):
        problems.append(
            ("mcpsite.E004", "Redis is not configured: rate limits and revocations would not be shared "
             "between workers and hosts.", "Set REDIS_URL (or REDIS_HOST, or REDIS_SENTINELS).")
        )
    if settings.DEBUG:
        problems.append(("mcpsite.E005", "DEBUG is on in production.", "Unset DEBUG or set DEBUG=false."))
    if not settings.SECRET_KEY or settings.SECRET_KEY == settings.DEVELOPMENT_SECRET_KEY:
        problems.append(
            ("mcpsite.E006", "SECRET_KEY is missing or the development default.",
             "Generate one with `manage.py generate_secrets`.")
        )
    if settings.JWT_SECRET == settings.DEVELOPMENT_JWT_SECRET:
        problems.append(
            ("mcpsite.E007", "JWT_SECRET is the development default.", "Generate one with `manage.py generate_secrets`.")
        )
    if not settings.ALLOWED_HOSTS:
        problems.append(
            ("mcpsite.E008", "ALLOWED_HOSTS is empty: no request would be served.",
             "Set ALLOWED_HOSTS to the public host name(s), comma-separated.")
        )
    if settings.MCP_CONFORMANCE_FIXTURES:
        problems.append(
            ("mcpsite.E009", "MCP_CONFORMANCE_FIXTURES is on in production: the conformance suite's test tools "
             "would be offered to every client.", "Unset MCP_CONFORMANCE_FIXTURES.")
        )
    return problems


def oidc_problems() -> list[tuple[str, str, str]]:
    """The organisation sign-in (OIDC_*): complete when configured, https and a secret in production."""
    if not settings.OIDC_ISSUER:
        if settings.OIDC_ONLY:
            return [("mcpsite.E020", "OIDC_ONLY is on but OIDC_ISSUER is empty: nobody could sign in.",
                     "Set OIDC_ISSUER (and OIDC_CLIENT_ID, OIDC_CLIENT_SECRET) or unset OIDC_ONLY.")]
        return []
    problems = []
    if not settings.OIDC_ISSUER.startswith(("https://", "http://")):
        problems.append(("mcpsite.E021", f"OIDC_ISSUER must be an http(s) URL (it is {settings.OIDC_ISSUER!r}).",
                         "Set it to the issuer your identity provider documents, e.g. https://login.example.com."))
    if not settings.OIDC_CLIENT_ID:
        problems.append(("mcpsite.E022", "OIDC_ISSUER is set but OIDC_CLIENT_ID is empty.",
                         "Register this server at the identity provider (docs/sso.md) and set OIDC_CLIENT_ID."))
    if "openid" not in settings.OIDC_SCOPES.split():
        problems.append(("mcpsite.E023", f"OIDC_SCOPES must include openid (it is {settings.OIDC_SCOPES!r}).",
                         "Use the default: openid email profile."))
    if settings.OIDC_SESSION_MAX_AGE <= 0:
        problems.append(("mcpsite.E024", "OIDC_SESSION_MAX_AGE must be a positive number of seconds.",
                         "Use the default 86400 (a day) or the sign-in lifetime your organisation wants."))
    if settings.IS_PRODUCTION and not settings.OIDC_ISSUER.startswith("https://"):
        problems.append(("mcpsite.E025", "OIDC_ISSUER must be an https:// URL in production.",
                         "Use the identity provider's https issuer."))
    if settings.IS_PRODUCTION and not settings.OIDC_CLIENT_SECRET:
        problems.append(("mcpsite.E026", "OIDC_CLIENT_SECRET is empty in production.",
                         "Register this server as a confidential client at the identity provider and set it."))
    return problems


@checks.register("mcpsite")
def check_configuration(app_configs=None, **kwargs):
    level = checks.Error if settings.IS_PRODUCTION else checks.Warning
    return [level(problem, hint=hint, id=check_id) for check_id, problem, hint in configuration_problems()]


def broken_configuration() -> list[tuple[str, str, str]]:
    """(id, problem, hint) for settings that cannot work in any environment: errors everywhere."""
    problems = []
    malformed = parse_sentinels(settings.REDIS_SENTINELS)[1]
    if malformed:
        problems.append(
            ("mcpsite.E040", f"REDIS_SENTINELS has entries that are not host:port: {', '.join(malformed)}.",
             "List the sentinels as host:port, comma-separated, e.g. 10.0.0.1:26379,10.0.0.2:26379.")
        )
    if settings.REDIS_SENTINELS and not settings.REDIS_SENTINEL_MASTER:
        problems.append(
            ("mcpsite.E041", "REDIS_SENTINELS is set but REDIS_SENTINEL_MASTER is empty: the sentinels cannot tell "
             "which primary to use.", "Set REDIS_SENTINEL_MASTER to the name in the sentinels' `sentinel monitor`.")
        )
    if settings.REDIS_SENTINEL_MASTER and not settings.REDIS_SENTINELS:
        problems.append(
            ("mcpsite.E042", "REDIS_SENTINEL_MASTER is set but REDIS_SENTINELS is empty.",
             "List the sentinels in REDIS_SENTINELS (host:port, comma-separated), or unset REDIS_SENTINEL_MASTER.")
        )
    pooling = [name for name in ("DATABASE_POOL", "DATABASE_TRANSACTION_POOLING") if getattr(settings, name)]
    if pooling and not settings.DATABASE_IS_POSTGRESQL:
        problems.append(
            ("mcpsite.E043", f"{' and '.join(pooling)} need PostgreSQL, but DATABASE_URL is not a postgres:// URL.",
             "Point DATABASE_URL at PostgreSQL (or PgBouncer), or unset the pooling settings.")
        )
    if settings.DATABASE_POOL and not 0 <= settings.DATABASE_POOL_MIN_SIZE <= settings.DATABASE_POOL_MAX_SIZE >= 1:
        problems.append(
            ("mcpsite.E044", f"DATABASE_POOL_MIN_SIZE ({settings.DATABASE_POOL_MIN_SIZE}) and DATABASE_POOL_MAX_SIZE "
             f"({settings.DATABASE_POOL_MAX_SIZE}) do not make a pool: 0 <= min <= max and max >= 1.",
             "Use e.g. DATABASE_POOL_MIN_SIZE=1 and DATABASE_POOL_MAX_SIZE=4 (per worker process).")
        )
    return problems


@checks.register("mcpsite")
def check_broken_configuration(app_configs=None, **kwargs):
    return [checks.Error(problem, hint=hint, id=check_id) for check_id, problem, hint in broken_configuration()]


def refuse_unsafe_configuration() -> None:
    """Raise with one line per problem if the configuration is unsafe for production."""
    from django.core.exceptions import ImproperlyConfigured

    errors = [message for message in [*check_configuration(), *check_broken_configuration()] if message.is_serious()]
    if errors:
        lines = "\n".join(f"  - {error.msg} {error.hint}" for error in errors)
        raise ImproperlyConfigured(f"Refusing to start with an unsafe production configuration:\n{lines}")


@checks.register(checks.Tags.security, deploy=True)
def check_browser_middleware(app_configs=None, **kwargs):
    """Django's W002/W003 look for the dotted names; mcpsite.middleware installs subclasses (skipped on
    /mcp), so those checks are silenced and this one asks for the class or a subclass of it instead."""
    from django.utils.module_loading import import_string

    from mcpsite.middleware import REPLACED_CHECKS

    installed = [import_string(path) for path in settings.MIDDLEWARE]
    return [
        checks.Warning(f"{path} (or a subclass, as in mcpsite.middleware) is not in MIDDLEWARE.",
                       hint=f"Replaces Django's {check_id}: put it back.", id=f"mcpsite.{check_id.replace('.', '_')}")
        for check_id, path in REPLACED_CHECKS.items()
        if not any(issubclass(cls, import_string(path)) for cls in installed if isinstance(cls, type))
    ]
