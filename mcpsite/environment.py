"""Reading the environment: typed helpers that fail loudly on a malformed value. Only mcpsite/settings.py calls
them, once, at start-up (after it loads `.env`)."""

import os


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_int(name: str, default: int) -> int:
    raw = env_str(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


def env_bool(name: str, default: bool) -> bool:
    raw = env_str(name).lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false, got {raw!r}")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_pairs(name: str) -> list[tuple[str, str]]:
    """`a=b,c=d` as [(a, b), (c, d)]."""
    pairs = []
    for item in env_list(name):
        left, equals, right = item.partition("=")
        if not (equals and left.strip() and right.strip()):
            raise ValueError(f"{name} entries must look like idp-group=django-group, got {item!r}")
        pairs.append((left.strip(), right.strip()))
    return pairs


def redis_url_from_environment() -> str:
    """REDIS_URL wins; otherwise the seed's REDIS_HOST/PORT/PASSWORD/DB; empty means no Redis."""
    url = env_str("REDIS_URL")
    if url:
        return url
    host = env_str("REDIS_HOST")
    if not host:
        return ""
    password = env_str("REDIS_PASSWORD")
    auth = f":{password}@" if password else ""
    return f"redis://{auth}{host}:{env_int('REDIS_PORT', 6379)}/{env_int('REDIS_DB', 0)}"
