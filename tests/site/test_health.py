"""GET /health: 200 when the database and the cache answer, 503 naming what does not."""

import pytest
import requests
from django.conf import settings

from harness.servers import Deployment, free_port
from tests.support.production import default_environment


@pytest.mark.django_db
def test_health_is_200_healthy_with_database_and_cache_ok(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "healthy", "checks": {"database": "ok", "cache": "ok"},
                               "version": settings.VERSION}


def test_health_only_answers_get(client):
    assert client.post("/health").status_code == 405


def health_of_a_server_with(tmp_path, **env: str) -> requests.Response:
    """/health of a real gunicorn whose environment points at the given backends."""
    port = free_port()
    deployment = Deployment(
        env=default_environment(ALLOWED_HOSTS="127.0.0.1", **env),
        database_url=env["DATABASE_URL"],
    )
    try:
        deployment.start_gunicorn(port, workers=1, log_path=tmp_path / "gunicorn.log")
        return requests.get(f"http://127.0.0.1:{port}/health", timeout=10)
    finally:
        deployment.stop()


def test_health_is_503_unhealthy_naming_the_database_when_postgresql_is_on_a_dead_port(tmp_path):
    dead_port = free_port()  # bound and released: nothing listens there
    response = health_of_a_server_with(tmp_path, DATABASE_URL=f"postgres://postgres@127.0.0.1:{dead_port}/mcp",
                                       REDIS_URL="")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["checks"]["database"].startswith("error")
    assert body["checks"]["cache"] == "ok"


def test_health_is_503_unhealthy_naming_the_cache_when_redis_is_on_a_dead_port(tmp_path):
    dead_port = free_port()
    response = health_of_a_server_with(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'health.sqlite3'}",
                                       REDIS_URL=f"redis://127.0.0.1:{dead_port}/0")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["cache"].startswith("error")
