"""The JWT check of oauth_app.tokens (HS256 with hmac) and its per-worker memo of verified claims: as strict
as PyJWT's decode, and a memoized token is still refused once it expires or the key changes."""

import base64
import json
import time

import jwt
import pytest
from django.conf import settings
from django.test import override_settings

from oauth_app import tokens


def claims(**overrides) -> dict:
    now = int(time.time())
    return {"iss": settings.OAUTH_ISSUER, "sub": "1", "aud": settings.MCP_RESOURCE, "client_id": "c", "scope": "",
            "jti": "j", "iat": now, "exp": now + 60, **overrides}


def sign(payload: dict, key=None, algorithm="HS256", headers=None) -> str:
    return jwt.encode(payload, key or settings.JWT_SECRET, algorithm=algorithm, headers=headers)


def segment(data) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.fixture(autouse=True)
def empty_memo():
    tokens.verified.clear()
    yield
    tokens.verified.clear()


def test_a_token_we_issue_is_accepted_and_its_header_is_the_one_we_expect():
    raw = sign(claims())
    assert raw.split(".")[0] == tokens.JWT_HEADER
    assert tokens.decode_access_token(raw)["client_id"] == "c"


@pytest.mark.parametrize("forged", [
    pytest.param(lambda: sign(claims(), key="another-secret-another-secret-another"), id="other key"),
    pytest.param(lambda: sign(claims(), algorithm="HS512"), id="HS512"),
    pytest.param(lambda: f"{segment({'alg': 'none', 'typ': 'JWT'})}.{segment(claims())}.", id="alg none"),
    pytest.param(lambda: sign(claims(), headers={"kid": "x"}), id="extra header"),
    pytest.param(lambda: sign(claims(aud="https://other.example/mcp")), id="other audience"),
    pytest.param(lambda: sign(claims(iss="https://other.example")), id="other issuer"),
    pytest.param(lambda: sign(claims(exp=int(time.time()) - 1)), id="expired"),
    pytest.param(lambda: sign(claims(iat=int(time.time()) + 600)), id="issued in the future"),
    pytest.param(lambda: sign(claims(nbf=int(time.time()) + 600)), id="not before"),
    pytest.param(lambda: sign({k: v for k, v in claims().items() if k != "jti"}), id="missing jti"),
    pytest.param(lambda: sign(claims(exp="soon")), id="exp not a number"),
    pytest.param(lambda: sign(claims())[:-3] + "éé", id="non-ASCII signature"),
    pytest.param(lambda: sign(claims()) + ".x", id="four segments"),
    pytest.param(lambda: "", id="empty"),
])
def test_a_forged_or_misdirected_token_is_refused(forged):
    with pytest.raises(tokens.InvalidToken):
        tokens.decode_access_token(forged())
    assert not tokens.verified


def test_a_memoized_token_is_refused_once_it_expires_and_leaves_the_memo():
    raw = sign(claims(exp=int(time.time()) + 1))
    tokens.decode_access_token(raw)
    assert len(tokens.verified) == 1
    deadline = time.time() + 3
    while time.time() < deadline:
        try:
            tokens.decode_access_token(raw)
        except tokens.InvalidToken:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the memoized token was still accepted after its exp")
    assert not tokens.verified


def test_a_memoized_token_is_refused_when_the_signing_key_changes():
    raw = sign(claims())
    tokens.decode_access_token(raw)
    with override_settings(JWT_SECRET="a-new-secret-a-new-secret-a-new-secret"):
        with pytest.raises(tokens.InvalidToken):
            tokens.decode_access_token(raw)


def test_the_memo_is_bounded(monkeypatch):
    monkeypatch.setattr(tokens, "VERIFIED_MAX_ENTRIES", 3)
    for jti in "abcdefg":
        tokens.decode_access_token(sign(claims(jti=jti)))
    assert len(tokens.verified) <= 3


def test_threads_sharing_the_memo_each_get_their_own_tokens_claims_and_the_memo_stays_bounded(monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr(tokens, "VERIFIED_MAX_ENTRIES", 50)
    raw = {jti: sign(claims(jti=jti)) for jti in (f"t{n}" for n in range(400))}

    def verify(offset: int) -> list[bool]:
        names = list(raw)[offset:] + list(raw)[:offset]  # every thread evicts while the others read
        return [tokens.decode_access_token(raw[jti])["jti"] == jti for jti in names * 2]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(verify, range(0, 400, 50)))

    assert all(all(result) for result in results)
    assert len(tokens.verified) <= 50 + 8  # at most one entry per thread past the bound


def test_a_token_issued_on_a_host_whose_clock_is_a_little_ahead_is_accepted():
    raw = sign(claims(iat=int(time.time()) + 5))
    assert tokens.decode_access_token(raw)["client_id"] == "c"
