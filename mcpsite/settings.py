"""Settings for the MCP server, read once from the environment (and `.env` when present).

Every variable is documented in `.env.example`. Unsafe combinations are reported by the
system checks in `mcpsite/checks.py`, which stop the server in production.
"""

from pathlib import Path
from urllib.parse import urlsplit

from dotenv import load_dotenv

from common.database import database_settings, is_postgresql
from common.redis import cache_settings, parse_sentinels
from mcpsite.environment import env_bool, env_int, env_list, env_pairs, env_str, redis_url_from_environment
from oauth_app import capabilities  # plain values: what the authorization server supports, listed once

BASE_DIR = Path(__file__).resolve().parent.parent
VERSION = "0.1.0"

# A `.env` file fills in what the real environment does not set.
load_dotenv(BASE_DIR / ".env", override=False)


# --- Environment ------------------------------------------------------------------------------
ENVIRONMENT = env_str("ENVIRONMENT", "development").lower()
IS_PRODUCTION = ENVIRONMENT == "production"
PORT = env_int("PORT", 8080)

# Development defaults: safe to run locally, refused in production by the system checks.
DEVELOPMENT_SECRET_KEY = "django-insecure-development-key-do-not-use-in-production"
DEVELOPMENT_JWT_SECRET = "development-jwt-secret-do-not-use-in-production"

SECRET_KEY = env_str("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
# Debug pages only when asked for: ENVIRONMENT=development set explicitly (`make run` sets it), or DEBUG.
DEBUG = env_bool("DEBUG", env_str("ENVIRONMENT").lower() == "development")
DEFAULT_EXCEPTION_REPORTER_FILTER = "mcpsite.reporting.ExceptionReporterFilter"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if IS_PRODUCTION else "localhost,127.0.0.1,[::1],testserver")

# --- OAuth (the seed's names and defaults) ----------------------------------------------------
JWT_SECRET = env_str("JWT_SECRET", DEVELOPMENT_JWT_SECRET)
JWT_ALGORITHM = env_str("JWT_ALGORITHM", "HS256").upper()  # HS256: JWT_SECRET; ES256/RS256: keys, docs/keys.md
JWT_KEY_ENCRYPTION_KEY = env_str("JWT_KEY_ENCRYPTION_KEY")  # encrypts stored private keys; empty: SECRET_KEY
OAUTH_ISSUER = env_str("OAUTH_ISSUER", f"http://localhost:{PORT}").rstrip("/")
MCP_RESOURCE = f"{OAUTH_ISSUER}/mcp"
DCR_AUTH_TOKEN = env_str("DCR_AUTH_TOKEN")
ACCESS_TOKEN_LIFETIME = env_int("ACCESS_TOKEN_LIFETIME", 3600)
REFRESH_TOKEN_LIFETIME = env_int("REFRESH_TOKEN_LIFETIME", 2592000)
AUTHORIZATION_CODE_LIFETIME = env_int("AUTHORIZATION_CODE_LIFETIME", 600)
# A rotated refresh token presented again within this many seconds by its own client, while its
# successor is still unused, is a retry after a lost response: it gets a fresh pair (oauth_app.validators).
REFRESH_TOKEN_REUSE_GRACE_SECONDS = env_int("REFRESH_TOKEN_REUSE_GRACE_SECONDS", 5)

# Registration policies: initial access tokens are always accepted; the others are opt-in.
DCR_OPEN_REGISTRATION = env_bool("DCR_OPEN_REGISTRATION", False)
CIMD_ENABLED = env_bool("CIMD_ENABLED", False)
CIMD_ALLOWED_HOSTS = env_list("CIMD_ALLOWED_HOSTS")
# Private-use URI schemes a native client may register (RFC 8252 section 7.1), e.g. cursor://.
OAUTH_ALLOWED_REDIRECT_SCHEMES = env_list("OAUTH_ALLOWED_REDIRECT_SCHEMES", "cursor")
OAUTH_SCOPES = {
    "mcp:tools": "Use the tools, resources and prompts of this MCP server",
}
OAUTH_DEFAULT_SCOPES = ["mcp:tools"]
OAUTH_REMEMBER_CONSENT = env_bool("OAUTH_REMEMBER_CONSENT", True)

# --- Organisation sign-in through an upstream OpenID Connect provider (oauth_app/sso) -----------------
# Empty OIDC_ISSUER: local passwords only. The IdP only authenticates people; we stay the MCP authorization server.
OIDC_ISSUER = env_str("OIDC_ISSUER").rstrip("/")
OIDC_CLIENT_ID = env_str("OIDC_CLIENT_ID")
OIDC_CLIENT_SECRET = env_str("OIDC_CLIENT_SECRET")
OIDC_SCOPES = env_str("OIDC_SCOPES", "openid email profile")
OIDC_USERNAME_CLAIM = env_str("OIDC_USERNAME_CLAIM", "preferred_username")
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM", "groups")
# "idp-group=django-group,...": only these Django groups are synced; empty mirrors the IdP's groups by name.
OIDC_GROUP_MAP = env_pairs("OIDC_GROUP_MAP")
OIDC_ONLY = env_bool("OIDC_ONLY", False)
OIDC_SESSION_MAX_AGE = env_int("OIDC_SESSION_MAX_AGE", 86400)
# Shown on the login page's "Sign in with …" button; default: the issuer's host name.
OIDC_PROVIDER_NAME = env_str("OIDC_PROVIDER_NAME") or (urlsplit(OIDC_ISSUER).hostname or "")

# --- Storage ----------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
DATABASE_CONNECT_TIMEOUT = env_int("DATABASE_CONNECT_TIMEOUT", 3)
# Django's psycopg pool per worker process instead of persistent connections (sizes per process).
DATABASE_POOL = env_bool("DATABASE_POOL", False)
DATABASE_POOL_MIN_SIZE = env_int("DATABASE_POOL_MIN_SIZE", 1)
DATABASE_POOL_MAX_SIZE = env_int("DATABASE_POOL_MAX_SIZE", 4)
# Safe behind PgBouncer in transaction mode: no server-side cursors, no prepared statements.
DATABASE_TRANSACTION_POOLING = env_bool("DATABASE_TRANSACTION_POOLING", False)
DATABASE_IS_POSTGRESQL = is_postgresql(DATABASE_URL)
if DATABASE_URL:
    DATABASES = {"default": database_settings(
        DATABASE_URL, connect_timeout=DATABASE_CONNECT_TIMEOUT, transaction_pooling=DATABASE_TRANSACTION_POOLING,
        pool=(DATABASE_POOL_MIN_SIZE, DATABASE_POOL_MAX_SIZE) if DATABASE_POOL else None)}
else:
    (BASE_DIR / "data").mkdir(exist_ok=True)  # the embedded default keeps its file here
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / "data" / "db.sqlite3",
        }
    }


REDIS_URL = redis_url_from_environment()
REDIS_DB = env_int("REDIS_DB", 0)
REDIS_PASSWORD = env_str("REDIS_PASSWORD")
# Redis Sentinel: the sentinels (host:port, comma-separated) and the name of the primary they watch. When set,
# they win over REDIS_URL, and every client follows the primary through a failover (common/redis.py).
REDIS_SENTINELS = env_list("REDIS_SENTINELS")
REDIS_SENTINEL_MASTER = env_str("REDIS_SENTINEL_MASTER")
REDIS_SENTINEL_ADDRESSES = parse_sentinels(REDIS_SENTINELS)[0]  # malformed entries: mcpsite.checks
CACHE_KEY_PREFIX = env_str("CACHE_KEY_PREFIX", "mcp")
# True when the cache is shared by every worker and host (so it may hold revocations and rate limits).
CACHE_IS_SHARED = bool(REDIS_URL or REDIS_SENTINELS)
CACHES = {"default": cache_settings(configured=CACHE_IS_SHARED, url=REDIS_URL, sentinels=REDIS_SENTINEL_ADDRESSES,
                                   master=REDIS_SENTINEL_MASTER, db=REDIS_DB, password=REDIS_PASSWORD,
                                   key_prefix=CACHE_KEY_PREFIX)}

# --- HTTP and CORS ----------------------------------------------------------------------------
ALLOWED_ORIGINS = env_list("ALLOWED_ORIGINS")
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", "127.0.0.1,::1")
RATE_LIMIT_OAUTH_WINDOW = env_int("RATE_LIMIT_OAUTH_WINDOW", 900)
RATE_LIMIT_OAUTH_MAX = env_int("RATE_LIMIT_OAUTH_MAX", 100)
RATE_LIMIT_MCP_WINDOW = env_int("RATE_LIMIT_MCP_WINDOW", 60)
RATE_LIMIT_MCP_MAX = env_int("RATE_LIMIT_MCP_MAX", 60)
# Failed sign-ins allowed per address and per (account, address) in the window (oauth_app/ratelimit.py), and
# per account from anywhere: 10 times as many by default, so a burst from one place cannot lock the owner out.
RATE_LIMIT_LOGIN_WINDOW = env_int("RATE_LIMIT_LOGIN_WINDOW", 900)
RATE_LIMIT_LOGIN_MAX = env_int("RATE_LIMIT_LOGIN_MAX", 10)
RATE_LIMIT_LOGIN_ACCOUNT_MAX = env_int("RATE_LIMIT_LOGIN_ACCOUNT_MAX", 10 * RATE_LIMIT_LOGIN_MAX)
# django-ratelimit: count on the default (shared) cache; a cache outage must not take the service down.
RATELIMIT_USE_CACHE = "default"
RATELIMIT_FAIL_OPEN = True

# --- Metrics (GET /metrics, Prometheus) --------------------------------------------------------
METRICS_ENABLED = env_bool("METRICS_ENABLED", True)
# Who may read /metrics: a direct (unproxied) connection from these addresses or networks, or anyone
# presenting METRICS_TOKEN as a bearer token.
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", "127.0.0.1,::1")
METRICS_TOKEN = env_str("METRICS_TOKEN")
# How often each worker adds its counts to the shared totals in Redis (one pipelined round trip).
METRICS_FLUSH_SECONDS = env_int("METRICS_FLUSH_SECONDS", 5)

# OpenTelemetry traces (common/tracing.py, mcp_app/tracing.py): off by default, and then never imported.
OTEL_ENABLED = env_bool("OTEL_ENABLED", False)

# --- MCP --------------------------------------------------------------------------------------
MCP_PUBLIC_METHODS = env_list("MCP_PUBLIC_METHODS", "initialize,ping,server/discover")
# Items per tools/list, resources/list, … page (cursor pagination).
MCP_PAGE_SIZE = env_int("MCP_PAGE_SIZE", 100)
MCP_MAX_BODY_BYTES = env_int("MCP_MAX_BODY_BYTES", 1024 * 1024)
MCP_CONFORMANCE_FIXTURES = env_bool("MCP_CONFORMANCE_FIXTURES", False)
MCP_SERVER_NAME = env_str("MCP_SERVER_NAME", "django-mcp-server")
MCP_INSTRUCTIONS = env_str(
    "MCP_INSTRUCTIONS", "Tools of this organisation, served over MCP with OAuth 2.1. Call tools/list to see them."
)
# Modules whose @tool/@resource/@prompt functions are registered at start-up.
MCP_TOOL_MODULES = env_list("MCP_TOOL_MODULES", "mcp_app.builtin")
# The Registry /mcp serves, as a dotted path. Not read from the environment: tool modules register into this
# default, and only the tests point it at a registry of their own (their tools never reach the product's).
MCP_REGISTRY = "mcp_app.registry.registry"
# The demo notes (the `notes` app: a model, the search_notes tool, notes://{id}, the summarize_notes prompt).
MCP_DEMO_CONTENT = env_bool("MCP_DEMO_CONTENT", True)
# Seconds a tool waits for the client's answer to a sampling or elicitation request sent on its event stream.
MCP_CLIENT_REQUEST_TIMEOUT = env_int("MCP_CLIENT_REQUEST_TIMEOUT", 60)
# Tasks (the io.modelcontextprotocol/tasks extension, mcp_app.tasks): how long a task and its result are
# kept after it was created, how often clients are told to poll, how long a task outlives a silent worker
# (its heartbeat renews the lease), and how many tasks each worker process runs at once.
MCP_TASK_TTL_SECONDS = env_int("MCP_TASK_TTL_SECONDS", 3600)
MCP_TASK_POLL_INTERVAL_MS = env_int("MCP_TASK_POLL_INTERVAL_MS", 500)
MCP_TASK_LEASE_SECONDS = env_int("MCP_TASK_LEASE_SECONDS", 30)
MCP_TASK_THREADS = env_int("MCP_TASK_THREADS", 4)
# A tool, prompt or resource with no grant (and no code default): `allow` opens it to every signed-in user,
# `deny` to nobody but superusers (docs/access.md).
MCP_TOOL_ACCESS_DEFAULT = env_str("MCP_TOOL_ACCESS_DEFAULT", "allow").lower()
# The audit trail of calls: how long `manage.py prune` keeps it, and how often each worker moves the
# records queued in Redis to PostgreSQL.
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 90)
AUDIT_FLUSH_SECONDS = env_int("AUDIT_FLUSH_SECONDS", 1)

# --- Django -----------------------------------------------------------------------------------
INSTALLED_APPS = [
    "mcpsite",  # first: its `runserver` (checks before serving) replaces staticfiles' one
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "oauth2_provider",
    "oauth_app",
    "mcp_app",
    *(["notes"] if MCP_DEMO_CONTENT else []),
]

MIDDLEWARE = [
    "mcpsite.metrics.MetricsMiddleware",  # outermost: times and counts every answer, 429s included
    "common.logging.RequestIdMiddleware",
    "common.availability.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "oauth_app.ratelimit.RateLimitMiddleware",
    "oauth_app.middleware.UnstorableInputMiddleware",  # NUL in any parameter: the standard 400, never a 500
    "django.middleware.common.CommonMiddleware",
    # Django's browser-only middleware, skipped on /mcp (bearer tokens, no pages): mcpsite/middleware.py.
    "mcpsite.middleware.SessionMiddleware",
    "mcpsite.middleware.CsrfViewMiddleware",
    "mcpsite.middleware.AuthenticationMiddleware",
    "mcpsite.middleware.MessageMiddleware",
    "mcpsite.middleware.XFrameOptionsMiddleware",
    "mcpsite.headers.FrameAncestorsMiddleware",
]

ROOT_URLCONF = "mcpsite.urls"
WSGI_APPLICATION = "mcpsite.wsgi.application"
APPEND_SLASH = False  # /mcp must never redirect: a 301/307 drops the Authorization header in clients.

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    # Client secrets and DCR tokens are 256-bit random values: a slow hasher adds nothing there.
    "oauth_app.hashers.MachineSecretHasher",
]
LOGIN_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))  # `collectstatic` target, served by nginx
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Security headers (production values; `check --deploy` stays clean with them) -------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Stores sha256 of the session key, never the cookie's value (mcpsite/sessions.py).
SESSION_ENGINE = "mcpsite.sessions"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True  # no script of ours reads it; forms carry the token
if IS_PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^health$"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
# http redirect URIs are needed for native apps' loopback callbacks (RFC 8252); the registration policy
# refuses every other http redirect URI (tests/security), which is what this check asks for.
# W002/W003 look for Django's CSRF and frame-options middleware by name; ours are subclasses skipped on /mcp
# (mcpsite/middleware.py), checked by mcpsite.checks.check_browser_middleware instead.
SILENCED_SYSTEM_CHECKS = ["oauth2_provider.W008", "security.W002", "security.W003"]
CSRF_TRUSTED_ORIGINS = [OAUTH_ISSUER] if OAUTH_ISSUER.startswith(("http://", "https://")) else []

# --- CORS (django-cors-headers): only the public OAuth and MCP endpoints -------------------------
CORS_ALLOWED_ORIGINS = [origin for origin in ALLOWED_ORIGINS if origin != "*"]
CORS_ALLOW_ALL_ORIGINS = "*" in ALLOWED_ORIGINS
# Not /oauth/authorize (a browser page) nor /oauth/introspect (server to server).
CORS_URLS_REGEX = r"^/(\.well-known/.*|oauth/(register.*|token|revoke)|mcp)$"
CORS_EXPOSE_HEADERS = ["WWW-Authenticate", "Mcp-Session-Id", "Mcp-Protocol-Version", "X-Request-ID"]
CORS_ALLOW_HEADERS = [
    "accept",
    "authorization",
    "content-type",
    "mcp-protocol-version",
    "mcp-session-id",
    "mcp-method",
    "mcp-name",
    "last-event-id",
    "x-request-id",
]

# --- Django REST framework and the OpenAPI docs ---------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Django MCP server",
    "DESCRIPTION": "Remote MCP server (Streamable HTTP) with its own OAuth 2.1 authorization server.",
    "VERSION": VERSION,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    # The OAuth and /mcp endpoints are described by hand (mcpsite/openapi.py): nothing to infer from them.
    "PREPROCESSING_HOOKS": ["mcpsite.openapi.exclude_hand_written"],
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "mcpsite.openapi.add_hand_written_paths"],
}

# --- django-oauth-toolkit -------------------------------------------------------------------------
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth_app.Client"
OAUTH2_PROVIDER = {
    "SCOPES": OAUTH_SCOPES,
    "DEFAULT_SCOPES": OAUTH_DEFAULT_SCOPES,
    "ACCESS_TOKEN_EXPIRE_SECONDS": ACCESS_TOKEN_LIFETIME,
    "REFRESH_TOKEN_EXPIRE_SECONDS": REFRESH_TOKEN_LIFETIME,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": AUTHORIZATION_CODE_LIFETIME,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    # DOT's own grace period (REFRESH_TOKEN_GRACE_PERIOD_SECONDS) answers with the stored plaintext token,
    # which hashed storage does not keep; REFRESH_TOKEN_REUSE_GRACE_SECONDS replaces it.
    "PKCE_REQUIRED": True,
    "CLIENT_SECRET_HASHER": "machine_secret",
    "ACCESS_TOKEN_GENERATOR": "oauth_app.tokens.generate_access_token",
    "REFRESH_TOKEN_GENERATOR": "oauthlib.oauth2.rfc6749.tokens.random_token_generator",
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https", *OAUTH_ALLOWED_REDIRECT_SCHEMES],
    "ALLOW_LOCALHOST_LOOPBACK": True,
    # Consent is remembered by oauth_app.consent (OAUTH_REMEMBER_CONSENT), not by DOT's live-token lookup.
    "REQUEST_APPROVAL_PROMPT": "force",
    "OAUTH2_VALIDATOR_CLASS": "oauth_app.validators.Validator",
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": list(capabilities.RESPONSE_TYPES),
    "OAUTH2_GRANT_TYPES_SUPPORTED": list(capabilities.GRANT_TYPES),
    "OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": list(capabilities.TOKEN_ENDPOINT_AUTH_METHODS),
    "OAUTH2_PROTECTED_RESOURCE_IDENTIFIER": MCP_RESOURCE,
    "OAUTH2_PROTECTED_RESOURCE_AUTHORIZATION_SERVERS": [OAUTH_ISSUER],
    "OAUTH2_PROTECTED_RESOURCE_BEARER_METHODS_SUPPORTED": list(capabilities.BEARER_METHODS),
    "OAUTH2_PROTECTED_RESOURCE_NAME": MCP_SERVER_NAME,
    "DCR_ENABLED": True,
    "CIMD_ENABLED": CIMD_ENABLED,
    "CIMD_ALLOWED_HOSTS": CIMD_ALLOWED_HOSTS,
    # Only hosts in CIMD_ALLOWED_HOSTS (empty: none); documents checked against our redirect-URI rules.
    "CIMD_REGISTRATION_PERMISSION_CLASSES": ("oauth2_provider.cimd.HostAllowlistCIMDPermission",),
    "CIMD_METADATA_FETCHER": "oauth_app.registration.CimdMetadataFetcher",
}
CLIENT_JWKS_FETCHER = "oauth_app.client_assertions.JwksFetcher"  # private_key_jwt clients' jwks_uri, SSRF-guarded

# --- Logging ----------------------------------------------------------------------------------
LOG_LEVEL = (env_str("LOG_LEVEL") or "INFO").upper()
LOG_FORMAT = env_str("LOG_FORMAT") or ("json" if IS_PRODUCTION else "text")
# The one line per request (mcpsite.request: method, path, status, the client's address past trusted proxies,
# duration, user agent, request id). gunicorn's access line is off unless GUNICORN_ACCESS_LOG names a file.
LOG_REQUESTS = env_bool("LOG_REQUESTS", True)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "common.logging.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "common.logging.JsonFormatter"},
        "text": {"()": "common.logging.TextFormatter"},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        # Our request log replaces Django's: one line per request, with the request id.
        "django.server": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
        # oauthlib's DEBUG lines print codes and tokens: never below INFO, whatever LOG_LEVEL says.
        "oauthlib": {"level": "INFO" if LOG_LEVEL == "DEBUG" else LOG_LEVEL},
        "oauth2_provider": {"level": "INFO" if LOG_LEVEL == "DEBUG" else LOG_LEVEL},
    },
}
