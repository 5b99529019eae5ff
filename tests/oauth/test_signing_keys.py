"""ES256/RS256 signing keys (oauth_app.keys): RFC 9068 access tokens, rotation without downtime, retirement
refusing a key's tokens, the JWKS and the metadata pointing at it, private keys encrypted at rest."""

import base64
import hashlib
import hmac
import json
from io import StringIO
from types import SimpleNamespace

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from oauth_app import keys, tokens
from oauth_app.models import SigningKey
from tests.support.tokens import issue_access_token
from tests.oauth.flow import post_form
from tests.support.personas import BASIC_SECRET

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_memo():
    tokens.verified.clear()
    yield
    tokens.verified.clear()


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice")


@pytest.fixture
def inspector(alice):
    from oauth_app.models import Client

    return Client.objects.create(name="inspector", client_type=Client.CLIENT_CONFIDENTIAL,
                                 authorization_grant_type=Client.GRANT_AUTHORIZATION_CODE,
                                 redirect_uris="https://inspector.example/callback")


def hmac_signed(header: dict, claims: dict, secret: bytes) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def header(raw: str) -> dict:
    return jwt.get_unverified_header(raw)


def run(command: str, *args) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


def jwks(client) -> dict:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize("asymmetric_tokens", ["ES256", "RS256"], indirect=True)
def test_an_asymmetric_access_token_follows_rfc_9068_and_verifies_with_the_published_key(
        asymmetric_tokens, client, alice, inspector, settings):
    raw = issue_access_token(inspector, alice)
    key = SigningKey.objects.get(active=True)  # created at the first token
    assert header(raw) == {"alg": asymmetric_tokens, "kid": key.kid, "typ": "at+jwt"}
    [published] = jwks(client)["keys"]
    assert published["kid"] == key.kid and published["alg"] == asymmetric_tokens and "d" not in published
    claims = jwt.decode(raw, jwt.PyJWK(published).key, algorithms=[asymmetric_tokens],
                        audience=settings.MCP_RESOURCE, issuer=settings.OAUTH_ISSUER)
    assert {"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope"} <= set(claims)
    assert tokens.verify_access_token(raw).client_id == inspector.client_id


def test_after_a_rotation_new_tokens_carry_the_new_kid_and_older_tokens_keep_working(
        asymmetric_tokens, client, alice, inspector):
    old = issue_access_token(inspector, alice)
    new_key = keys.rotate()
    new = issue_access_token(inspector, alice)
    assert header(new)["kid"] == new_key.kid != header(old)["kid"]
    assert tokens.verify_access_token(old) and tokens.verify_access_token(new)
    assert {key["kid"] for key in jwks(client)["keys"]} == {header(old)["kid"], new_key.kid}


def test_a_retired_keys_tokens_are_refused_on_the_next_request_and_it_leaves_the_jwks(
        asymmetric_tokens, client, alice, inspector):
    old = issue_access_token(inspector, alice)
    assert tokens.verify_access_token(old)  # memoized by this worker
    old_kid = header(old)["kid"]
    keys.rotate()
    run("retire_signing_key", "--", old_kid)  # a kid may begin with "-"
    with pytest.raises(tokens.InvalidToken):
        tokens.verify_access_token(old)
    assert old_kid not in {key["kid"] for key in jwks(client)["keys"]}


def test_a_worker_that_memoized_a_token_refuses_it_once_another_process_retires_its_key(
        asymmetric_tokens, alice, inspector):
    """The other process: the database row changed and the version in Redis bumped, this worker's memory untouched."""
    old = issue_access_token(inspector, alice)
    keys.rotate()
    assert tokens.verify_access_token(old)
    SigningKey.objects.filter(kid=header(old)["kid"]).update(retired_at="2026-01-01T00:00:00Z")
    assert tokens.verify_access_token(old)  # nothing told this worker yet
    if not tokens.key_set_gets():
        pytest.skip("the key set's version is carried by Redis")
    cache.set(keys.VERSION_KEY, "written-by-the-other-process")
    with pytest.raises(tokens.InvalidToken):
        tokens.verify_access_token(old)


def test_the_active_signing_key_cannot_be_retired(asymmetric_tokens, alice, inspector):
    issue_access_token(inspector, alice)
    with pytest.raises(CommandError, match="rotate_signing_key first"):
        run("retire_signing_key", "--", SigningKey.objects.get(active=True).kid)


def test_an_unknown_kid_or_an_algorithm_swap_is_refused(asymmetric_tokens, alice, inspector, settings):
    raw = issue_access_token(inspector, alice)
    claims = jwt.decode(raw, options={"verify_signature": False})
    kid = header(raw)["kid"]
    public_pem = jwt.PyJWK(SigningKey.objects.get(kid=kid).public_jwk).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    forged = [
        hmac_signed({"alg": "HS256", "kid": kid, "typ": "at+jwt"}, claims, public_pem),  # algorithm confusion
        jwt.encode(claims, keys.new_private_key("ES256"), algorithm="ES256", headers={"kid": "nope", "typ": "at+jwt"}),
        jwt.encode(claims, keys.new_private_key("ES256"), algorithm="ES256", headers={"kid": kid, "typ": "at+jwt"}),
        jwt.encode(claims, keys.new_private_key("ES256"), algorithm="ES256", headers={"kid": kid, "typ": "JWT"}),
    ]
    for token in forged:
        with pytest.raises(tokens.InvalidToken):
            tokens.decode_access_token(token)


def test_hs256_tokens_issued_before_switching_to_es256_keep_working(settings, alice, inspector, asymmetric_tokens):
    with override_settings(JWT_ALGORITHM="HS256"):
        before = issue_access_token(inspector, alice)
    assert header(before) == {"alg": "HS256", "typ": "JWT"}
    assert tokens.verify_access_token(before).client_id == inspector.client_id


def test_hs256_stays_the_default_with_no_jwks_and_no_jwks_uri(client, alice, inspector):
    raw = issue_access_token(inspector, alice)
    assert raw.split(".")[0] == tokens.JWT_HEADER
    assert client.get("/.well-known/jwks.json").status_code == 404
    assert "jwks_uri" not in client.get("/.well-known/oauth-authorization-server").json()
    assert not SigningKey.objects.exists()


def test_the_metadata_points_at_the_jwks_when_tokens_are_asymmetric(asymmetric_tokens, client, settings):
    metadata = client.get("/.well-known/oauth-authorization-server").json()
    assert metadata["jwks_uri"] == f"{settings.OAUTH_ISSUER}/.well-known/jwks.json"


def test_private_keys_are_stored_encrypted_and_never_printed(asymmetric_tokens, settings):
    output = run("rotate_signing_key", "--algorithm", "RS256") + run("list_signing_keys")
    key = SigningKey.objects.get(active=True)
    assert "PRIVATE" not in key.private_key_encrypted and "PRIVATE" not in output
    assert key.kid in output and "RS256" in output
    assert keys.decrypt_private_key(key.private_key_encrypted).key_size == keys.RSA_KEY_BITS
    settings.JWT_KEY_ENCRYPTION_KEY = "another-key-encryption-secret"
    with pytest.raises(keys.SigningKeyError, match="cannot be decrypted"):
        keys.decrypt_private_key(key.private_key_encrypted)


def test_list_signing_keys_shows_each_keys_state(asymmetric_tokens):
    first = keys.rotate()
    second = keys.rotate("RS256")
    keys.retire(first.kid)
    lines = run("list_signing_keys").splitlines()
    assert lines[0].split() == ["KID", "ALG", "STATE", "CREATED", "ROTATED", "RETIRED"]
    states = {line.split()[0]: line.split()[2] for line in lines[1:]}
    assert states == {first.kid: "retired", second.kid: "active"}


def test_the_token_endpoint_signs_with_a_key_rotated_by_another_process(asymmetric_tokens, alice, inspector):
    issue_access_token(inspector, alice)
    if not tokens.key_set_gets():
        pytest.skip("the key set's version is carried by Redis")
    old_kid = SigningKey.objects.get(active=True).kid
    keys.rotate()
    keys.current_set = keys.load("loaded-before-the-rotation")  # as on another host, which only sees the cache
    new = tokens.generate_access_token(SimpleNamespace(user=alice, client=inspector, scopes=["mcp:tools"]))
    assert header(new)["kid"] != old_kid
    assert cache.get(keys.VERSION_KEY)


def test_the_admin_lists_signing_keys_without_their_private_halves(asymmetric_tokens, admin_client):
    key = keys.rotate()
    listing = admin_client.get("/admin/oauth_app/signingkey/")
    assert listing.status_code == 200 and key.kid.encode() in listing.content
    page = admin_client.get(f"/admin/oauth_app/signingkey/{key.pk}/change/")
    assert page.status_code == 200 and key.private_key_encrypted.encode() not in page.content


def test_introspection_answers_inactive_for_a_token_of_a_retired_key(asymmetric_tokens, client, alice, basic_client):
    raw = issue_access_token(basic_client, alice)
    assert post_form(client, "/oauth/introspect", basic_client, BASIC_SECRET, token=raw).json()["active"] is True
    keys.rotate()
    keys.retire(header(raw)["kid"])
    assert post_form(client, "/oauth/introspect", basic_client, BASIC_SECRET, token=raw).json() == {"active": False}


@pytest.mark.django_db
def test_a_kid_beginning_with_a_dash_is_read_as_a_kid_after_a_double_dash():
    # Kids are base64url thumbprints: one in 64 begins with "-", which argparse would take for an option.
    with pytest.raises(CommandError, match="no signing key '-abc'"):
        run("retire_signing_key", "--", "-abc")
