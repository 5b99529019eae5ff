"""Through gunicorn (two workers, shared Redis): a burst of wrong passwords from one address behind the
trusted proxy is refused with 429, and the account's owner still signs in from another address."""

import re

import pytest
import requests

from harness.servers import drop_database, free_port, make_deployment

pytestmark = pytest.mark.e2e

PASSWORD = "correct-horse-battery-staple-42"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    port = free_port()
    deployment = make_deployment(tmp_path_factory.mktemp("sign-in"), port, RATE_LIMIT_LOGIN_MAX="3",
                                 TRUSTED_PROXIES="127.0.0.1")
    deployment.manage("shell", "-c", "from django.contrib.auth import get_user_model; "
                      f"get_user_model().objects.create_user('alice', password='{PASSWORD}', is_staff=True)")
    deployment.start_gunicorn(port, workers=2)
    yield f"http://127.0.0.1:{port}"
    deployment.stop()
    drop_database(deployment.database_url)


def sign_in(base_url: str, username: str, password: str, address: str) -> requests.Response:
    """The admin sign-in form, as a browser at `address` sends it through the proxy."""
    session = requests.Session()
    headers = {"X-Forwarded-For": address}
    page = session.get(f"{base_url}/admin/login/", headers=headers, timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return session.post(f"{base_url}/admin/login/", headers=headers, allow_redirects=False, timeout=10, data={
        "csrfmiddlewaretoken": token, "username": username, "password": password, "next": "/admin/"})


def test_a_burst_from_one_address_is_refused_and_the_owner_still_signs_in_from_another(base_url):
    for username in ("alice", "Alice", "ALICE"):  # spelling variants: one account
        assert sign_in(base_url, username, "guess", "203.0.113.66").status_code == 200
    refused = sign_in(base_url, "alice", PASSWORD, "203.0.113.66")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert sign_in(base_url, "alice", PASSWORD, "198.51.100.20").status_code == 302
