"""Access follows the account: deactivating a user, deleting them or changing their password ends every
token they hold, at once, on every worker and host.

The tokens' rows are deleted (not marked revoked: a revoked refresh token presented again would read as a
replay, and a refresh grace period must not hand out a fresh pair for it), and their allow-list entries are
replaced with REVOKED markers before the rows go, so the /mcp hot path learns of it from Redis with no SQL.

Called from signals on the user model (oauth_app.signals), so the admin, forms and code calling save() or
delete() are covered. A queryset `.update(is_active=False)` sends no signal: call revoke_user_tokens for
those users yourself; the token endpoint refuses refresh and code exchange for an inactive user anyway.
"""

from django.contrib.auth.hashers import get_hasher, identify_hasher
from django.db import transaction
from oauth2_provider.models import get_access_token_model, get_grant_model, get_id_token_model, get_refresh_token_model

from oauth_app.tokens import forget_active


@transaction.atomic
def revoke_user_tokens(*, user) -> int:
    """Delete every access token, refresh token, pending authorization code and ID token of `user`;
    returns how many access tokens ended."""
    access_tokens = get_access_token_model().objects.filter(user=user)
    checksums = list(access_tokens.values_list("token_checksum", flat=True))
    forget_active(checksums)  # before the delete: a concurrent request then settles in the database
    get_refresh_token_model().objects.filter(user=user).delete()
    access_tokens.delete()
    get_grant_model().objects.filter(user=user).delete()
    get_id_token_model().objects.filter(user=user).delete()
    transaction.on_commit(lambda: forget_active(checksums))  # again, in case an entry was re-added meanwhile
    return len(checksums)


def ends_access(*, stored, changed) -> bool:
    """Does saving `changed` over the `stored` row of the same user end their access?"""
    if stored.is_active and not changed.is_active:
        return True
    if stored.password == changed.password:
        return False
    # Django re-hashes a password at sign-in when the hasher's parameters change (check_password then
    # saves with the raw password already forgotten): the same password, not a change.
    return not (changed._password is None and is_outdated_hash(stored.password))


def is_outdated_hash(encoded: str) -> bool:
    try:
        hasher = identify_hasher(encoded)
    except ValueError:
        return False
    preferred = get_hasher()
    return hasher.algorithm != preferred.algorithm or preferred.must_update(encoded)
