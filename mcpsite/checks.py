"""Configuration validation as Django system checks.

In production every problem is an Error, which stops `runserver`, `migrate` and the WSGI
application (so gunicorn refuses to start). In development the rules that matter there are
Warnings. One message per problem, naming the variable and what to do about it.
"""

from django.conf import settings
from django.core import checks

MIN_JWT_SECRET_LENGTH = 32
MAX_REFRESH_TOKEN_REUSE_GRACE_SECONDS = 60


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
    if settings.MCP_TOOL_ACCESS_DEFAULT not in ("allow", "deny"):
        problems.append(
            ("mcpsite.E011", "MCP_TOOL_ACCESS_DEFAULT must be allow or deny "
             f"(it is {settings.MCP_TOOL_ACCESS_DEFAULT!r}).",
             "Use allow (every signed-in user may use an ungranted tool) or deny (superusers only).")
        )
    if settings.AUDIT_RETENTION_DAYS < 1 or settings.AUDIT_FLUSH_SECONDS < 0:
        problems.append(
            ("mcpsite.E012", "AUDIT_RETENTION_DAYS must be at least 1 and AUDIT_FLUSH_SECONDS at least 0.",
             "The defaults are 90 days and 1 second.")
        )
    if not settings.IS_PRODUCTION:
        return problems
    if not settings.OAUTH_ISSUER.startswith("https://"):
        problems.append(
            ("mcpsite.E003", f"OAUTH_ISSUER must be an https:// URL in production (it is {settings.OAUTH_ISSUER!r}).",
             "Set OAUTH_ISSUER to the public https origin, e.g. https://mcp.example.com.")
        )
    if not settings.REDIS_URL:
        problems.append(
            ("mcpsite.E004", "Redis is not configured: rate limits and revocations would not be shared "
             "between workers and hosts.", "Set REDIS_URL (or REDIS_HOST).")
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


@checks.register("mcpsite")
def check_configuration(app_configs=None, **kwargs):
    level = checks.Error if settings.IS_PRODUCTION else checks.Warning
    return [level(problem, hint=hint, id=check_id) for check_id, problem, hint in configuration_problems()]


def refuse_unsafe_configuration() -> None:
    """Raise with one line per problem if the configuration is unsafe for production."""
    from django.core.exceptions import ImproperlyConfigured

    errors = [message for message in check_configuration() if message.is_serious()]
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
