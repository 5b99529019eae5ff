"""The Redis allow-list in front of PostgreSQL (oauth_app.tokens): fast, and never more permissive
than the database."""

import pytest
from django.conf import settings
from django.core.cache import cache
from oauth2_provider.models import get_access_token_model

from oauth_app import tokens
from tests.oauth.flow import issue_tokens

AccessToken = get_access_token_model()

pytestmark = pytest.mark.skipif(not settings.CACHE_IS_SHARED, reason="the allow-list exists only with Redis")


def test_a_revocation_racing_a_cache_fill_is_not_undone(browser, inspector):
    body = issue_tokens(browser, inspector)
    checksum = tokens.token_checksum(body["access_token"])
    key = tokens.active_token_cache_key(checksum)
    cache.delete(key)
    # A request read the row as active, then a revocation landed before that request cached it.
    assert tokens.is_active_in_database(checksum)
    AccessToken.objects.get(token_checksum=checksum).delete()
    tokens.remember_active(checksum, tokens.decode_access_token(body["access_token"])["exp"])
    assert cache.get(key) == tokens.REVOKED
    with pytest.raises(tokens.InvalidToken):
        tokens.verify_access_token(body["access_token"])


def test_a_revoked_marker_defers_to_the_database_so_a_re_enabled_client_works_again(browser, inspector):
    body = issue_tokens(browser, inspector)
    inspector.is_enabled = False
    inspector.save()
    with pytest.raises(tokens.InvalidToken):
        tokens.verify_access_token(body["access_token"])
    inspector.is_enabled = True
    inspector.save()
    assert tokens.verify_access_token(body["access_token"]).client_id == inspector.client_id


def test_a_redis_restart_forgets_the_allow_list_and_the_database_still_decides(browser, inspector):
    body = issue_tokens(browser, inspector)
    assert tokens.verify_access_token(body["access_token"])  # cached as active
    AccessToken.objects.filter(application=inspector).delete()
    cache.clear()  # a restarted Redis (it keeps nothing on disk) has lost the REVOKED markers too
    with pytest.raises(tokens.InvalidToken):
        tokens.verify_access_token(body["access_token"])
