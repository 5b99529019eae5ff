"""A safe production configuration for real server processes (tests/site, tests/e2e)."""

from __future__ import annotations

import os
import secrets


def safe_production_settings(redis_url: str) -> dict[str, str]:
    """What `ENVIRONMENT=production` needs before it starts: https issuer, Redis, real secrets, host names."""
    return {
        "ENVIRONMENT": "production",
        "DEBUG": "false",
        "OAUTH_ISSUER": "https://localhost",
        "REDIS_URL": redis_url,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "JWT_SECRET": secrets.token_urlsafe(32),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
    }


def default_environment(**overrides: str) -> dict[str, str]:
    """The process environment with none of our settings: what a fresh server starts with."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "PYTHONPATH")
    return {**{name: os.environ[name] for name in keep if name in os.environ}, **overrides}
