"""A gunicorn-served deployment on PostgreSQL and Redis, shared by the e2e tests of a session."""

import pytest

from harness.servers import Deployment, drop_database, free_port, make_deployment

TEST_USERNAME = "alice"
TEST_PASSWORD = "correct-horse-battery-staple-42"


def add_test_person(deployment: Deployment) -> None:
    """alice, who signs in with TEST_PASSWORD."""
    deployment.manage(
        "shell", "-c",
        "from django.contrib.auth import get_user_model; "
        f"get_user_model().objects.create_user('{TEST_USERNAME}', password='{TEST_PASSWORD}')",
    )


@pytest.fixture(scope="session")
def deployment(tmp_path_factory) -> Deployment:
    port = free_port()
    deployment = make_deployment(tmp_path_factory.mktemp("deployment"), port)
    deployment.port = port
    deployment.base_url = f"http://127.0.0.1:{port}"
    add_test_person(deployment)
    deployment.start_gunicorn(port, log_path=tmp_path_factory.mktemp("logs") / "gunicorn.log")
    yield deployment
    deployment.stop()
    drop_database(deployment.database_url)


@pytest.fixture(scope="session")
def base_url(deployment) -> str:
    return deployment.base_url


@pytest.fixture(scope="session")
def issue_dcr_token(deployment):
    """Issues an initial access token with `manage.py issue_dcr_token`, which prints it alone on its last line."""
    def issue(name: str = "e2e", *options: str) -> str:
        return deployment.manage("issue_dcr_token", "--name", name, *options).stdout.strip().splitlines()[-1]
    return issue
