"""Just-in-time provisioning: the Django user behind a validated ID token, created or updated.

The IdP subject (iss + sub) identifies the person, never the username: a renamed person keeps their
account, and a username already held by a local account is refused rather than taken over (an
administrator links the two by adding the IdP identity on the user's admin page).
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from common.storable import storable_text, text_problem
from oauth_app.models import IdpIdentity
from oauth_app.sso.client import SignInError

logger = logging.getLogger(__name__)

NAME_MAX_LENGTH = 150
SUBJECT_MAX_LENGTH = 255  # OpenID Connect Core 1.0, 2: sub "MUST NOT exceed 255 ASCII characters"
GROUP_NAME_MAX_LENGTH = Group._meta.get_field("name").max_length


def username_from(claims: dict) -> str:
    value = claims.get(settings.OIDC_USERNAME_CLAIM)
    if not isinstance(value, str) or not value.strip():
        raise SignInError("no_username", settings.OIDC_USERNAME_CLAIM)
    username = value.strip()
    try:
        UnicodeUsernameValidator()(username)
        if len(username) > get_user_model()._meta.get_field("username").max_length:
            raise ValidationError("too long")
    except ValidationError:
        raise SignInError("bad_username", username) from None
    return username


def groups_from(claims: dict) -> list[str] | None:
    """The IdP's group names, or None when the token carries no groups claim (then groups are left alone)."""
    value = claims.get(settings.OIDC_GROUPS_CLAIM)
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    return [str(name) for name in value if isinstance(name, (str, int)) and str(name)]


def can_be_a_group(name: str) -> bool:
    if text_problem(name) or len(name) > GROUP_NAME_MAX_LENGTH:
        logger.warning("the IdP group %r cannot be a group here (too long, or not storable text); not mirrored",
                       storable_text(name[:GROUP_NAME_MAX_LENGTH]))
        return False
    return True


def django_groups_for(idp_groups: list[str]) -> set[str]:
    if not settings.OIDC_GROUP_MAP:
        return {name for name in idp_groups if can_be_a_group(name)}
    return {django for idp, django in settings.OIDC_GROUP_MAP if idp in idp_groups}


def sync_groups(user, identity: IdpIdentity, idp_groups: list[str]) -> None:
    """Add the groups the IdP grants; remove only groups this sync manages (named by the map, or, when
    mirroring by name, granted by an earlier sign-in)."""
    wanted = django_groups_for(idp_groups)
    if settings.OIDC_GROUP_MAP:
        managed = {django for _, django in settings.OIDC_GROUP_MAP}
    else:
        managed = set(identity.synced_groups) | wanted
    for name in sorted(wanted):
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    user.groups.remove(*Group.objects.filter(name__in=managed - wanted))
    identity.synced_groups = sorted(wanted)


def profile_text(claims: dict, claim: str, current: str, max_length: int) -> str:
    """A profile claim as it can be stored: the IdP's text is kept, a NUL or lone surrogate becomes U+FFFD."""
    return storable_text(str(claims.get(claim) or current))[:max_length]


def update_profile(user, claims: dict, username: str) -> None:
    User = type(user)
    if user.username != username and not User.objects.filter(username=username).exclude(pk=user.pk).exists():
        user.username = username  # renamed at the IdP; a name another account holds is not taken
    user.email = profile_text(claims, "email", user.email, 254)
    user.first_name = profile_text(claims, "given_name", user.first_name, NAME_MAX_LENGTH)
    user.last_name = profile_text(claims, "family_name", user.last_name, NAME_MAX_LENGTH)


@transaction.atomic
def user_sign_in(*, claims: dict):
    """The user for these validated claims, provisioned or updated; the whole sign-in or nothing."""
    issuer, subject = str(claims["iss"]), str(claims["sub"])
    if text_problem(subject) or len(subject) > SUBJECT_MAX_LENGTH:
        raise SignInError("bad_subject", storable_text(subject[:40]))
    username = username_from(claims)
    identity = IdpIdentity.objects.select_related("user").select_for_update().filter(
        issuer=issuer, subject=subject
    ).first()
    User = get_user_model()
    if identity is None:
        if User.objects.filter(username=username).exists():
            raise SignInError("taken", username, status=409)
        user = User(username=username)
        user.set_unusable_password()
        user.save()
        identity = IdpIdentity(user=user, issuer=issuer, subject=subject)
        logger.info("provisioned user %s for %s at %s", username, subject, issuer)
    user = identity.user
    if not user.is_active:
        raise SignInError("inactive", user.get_username(), status=403)
    update_profile(user, claims, username)
    user.save()
    identity.sid = profile_text(claims, "sid", "", 255)
    identity.last_sign_in_at = timezone.now()
    idp_groups = groups_from(claims)
    if idp_groups is not None:
        sync_groups(user, identity, idp_groups)
    identity.save()
    return user


def sign_in_is_stale(user) -> bool:
    """An IdP user whose IdP sign-in is older than OIDC_SESSION_MAX_AGE or ended by a back-channel logout."""
    identity = getattr(user, "idp_identity", None) if user.is_authenticated else None
    return identity is not None and not identity.sign_in_is_current(settings.OIDC_SESSION_MAX_AGE)
