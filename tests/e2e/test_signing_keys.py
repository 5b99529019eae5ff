"""ES256 access tokens end to end: two gunicorn workers on PostgreSQL and Redis, keys rotated and retired with
manage.py in another process (as an operator would). Our tokens are validated per RFC 9068 by an independent
library (PyJWT) with the JWKS fetched over HTTP; after a rotation new tokens carry the new kid and the old ones
keep working on every worker; once the old key is retired it leaves the JWKS and its tokens are refused on the
next request on every worker."""

import time

import jwt
import pytest
import requests

from harness.servers import drop_database, e2e_redis_url, free_port, make_deployment
from tests.e2e.test_account_revocation import DCR_TOKEN, REQUESTS_PER_CHECK, mcp_statuses, signed_in_client

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not e2e_redis_url():
        pytest.skip("the key set's version is shared by the workers through Redis (REDIS_URL is not set)")
    port = free_port()
    deployment = make_deployment(tmp_path_factory.mktemp("signing-keys"), port, DCR_AUTH_TOKEN=DCR_TOKEN,
                                 JWT_ALGORITHM="ES256")
    deployment.base_url = f"http://127.0.0.1:{port}"
    deployment.start_gunicorn(port, workers=2, log_path=tmp_path_factory.mktemp("logs") / "gunicorn.log")
    yield deployment
    deployment.stop()
    drop_database(deployment.database_url)


def jwks(server) -> dict:
    metadata = requests.get(f"{server.base_url}/.well-known/oauth-authorization-server", timeout=10).json()
    return requests.get(metadata["jwks_uri"], timeout=10).json()


def validate_rfc9068(server, access_token: str) -> dict:
    """RFC 9068 section 4, as a resource server that only has our JWKS would do it."""
    header = jwt.get_unverified_header(access_token)
    assert header["typ"] == "at+jwt" and header["alg"] == "ES256"
    [key] = [key for key in jwks(server)["keys"] if key["kid"] == header["kid"]]
    claims = jwt.decode(access_token, jwt.PyJWK(key).key, algorithms=["ES256"], audience=f"{server.base_url}/mcp",
                        issuer=server.base_url,
                        options={"require": ["iss", "sub", "aud", "exp", "iat", "jti", "client_id"]})
    assert claims["scope"] and claims["iat"] <= time.time() < claims["exp"]
    return claims


def kid(access_token: str) -> str:
    return jwt.get_unverified_header(access_token)["kid"]


def test_tokens_validate_with_the_jwks_then_survive_a_rotation_and_die_with_their_retired_key(server):
    before, refresher = signed_in_client(server, "keys-before"), signed_in_client(server, "keys-refresher")
    old_token = before.tokens.access_token
    assert validate_rfc9068(server, old_token)["client_id"] == before.client.client_id
    assert mcp_statuses(server, old_token) == [200] * REQUESTS_PER_CHECK  # memoized by both workers
    old_kid = kid(old_token)

    server.manage("rotate_signing_key")  # another process: the workers learn it through Redis
    refresher.http.headers["Connection"] = "close"  # each refresh on a new connection: both workers sign
    new_tokens = [refresher.refresh().access_token for _ in range(6)]
    assert {kid(token) for token in new_tokens} == {kid(new_tokens[0])} != {old_kid}
    new_token = new_tokens[-1]
    validate_rfc9068(server, new_token)
    assert {key["kid"] for key in jwks(server)["keys"]} == {old_kid, kid(new_token)}
    assert mcp_statuses(server, old_token) == [200] * REQUESTS_PER_CHECK  # older tokens keep working

    server.manage("retire_signing_key", "--", old_kid)  # as docs/keys.md: a kid may begin with "-"
    assert old_kid not in {key["kid"] for key in jwks(server)["keys"]}
    assert mcp_statuses(server, old_token) == [401] * REQUESTS_PER_CHECK
    assert mcp_statuses(server, new_token) == [200] * REQUESTS_PER_CHECK
