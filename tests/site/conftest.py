"""A gunicorn started with a safe production configuration, shared by the tests of tests/site."""

import pytest

from harness.servers import drop_database, e2e_redis_url, free_port, make_deployment
from tests.support.production import safe_production_settings


@pytest.fixture(scope="session")
def production_server(tmp_path_factory):
    """gunicorn with ENVIRONMENT=production; its stdout and stderr are in `server.log_path`."""
    redis_url = e2e_redis_url()
    if not redis_url:
        pytest.skip("production requires Redis; REDIS_URL is not set (make test sets it when Redis answers)")
    port = free_port()
    deployment = make_deployment(tmp_path_factory.mktemp("production"), port, **safe_production_settings(redis_url))
    deployment.env.pop("LOG_FORMAT")  # production's own default (JSON) is what is under test
    deployment.env["GUNICORN_ACCESS_LOG"] = "-"  # gunicorn's optional second line must stay JSON too
    deployment.port = port
    deployment.base_url = f"http://127.0.0.1:{port}"
    deployment.log_path = tmp_path_factory.mktemp("production-logs") / "gunicorn.log"
    deployment.start_gunicorn(port, workers=1, log_path=deployment.log_path)
    yield deployment
    deployment.stop()
    drop_database(deployment.database_url)
