"""Remembered consent: a user's approval of a client for a set of scopes and one exact redirect URI
(settings.OAUTH_REMEMBER_CONSENT).

The redirect URI is part of what was approved: a public client may use any loopback port (RFC 8252), so an
approval given for port 50001 must not send a code, silently, to a port an attacker's app listens on. A
change of the client's redirect URIs (RFC 7592 update, the admin) forgets its remembered consents.
"""

from django.conf import settings

from oauth_app.models import Consent


def normalize_scopes(scopes) -> str:
    """One spelling per scope set, so `a b` and `b a` are the same consent."""
    if isinstance(scopes, str):
        scopes = scopes.split()
    return " ".join(sorted(set(scopes)))


def has_consent(*, user, client, scopes, redirect_uri) -> bool:
    """True when the user already approved this client for these scopes (or a wider set), sending the
    code to exactly this redirect URI."""
    if not settings.OAUTH_REMEMBER_CONSENT or not user.is_authenticated or not redirect_uri:
        return False
    wanted = set(normalize_scopes(scopes).split())
    remembered = Consent.objects.filter(user=user, client=client, redirect_uri=redirect_uri)
    return any(wanted <= set(scope.split()) for scope in remembered.values_list("scope", flat=True))


def granted_scopes(*, user, client) -> set[str]:
    """The scopes this user already gave this client: live tokens and remembered consents. On a step-up
    re-authorization the consent page shows only the others as new."""
    from django.utils import timezone
    from oauth2_provider.models import get_access_token_model, get_refresh_token_model

    if not user.is_authenticated or client is None:
        return set()
    found = set()
    live = get_access_token_model().objects.filter(user=user, application=client, expires__gt=timezone.now())
    refreshable = get_refresh_token_model().objects.filter(user=user, application=client, revoked__isnull=True,
                                                           access_token__isnull=False)
    remembered = Consent.objects.filter(user=user, client=client)
    for scopes in [*live.values_list("scope", flat=True), *refreshable.values_list("access_token__scope", flat=True),
                   *remembered.values_list("scope", flat=True)]:
        found.update(scopes.split())
    return found


def remember_consent(*, user, client, scopes, redirect_uri) -> None:
    if settings.OAUTH_REMEMBER_CONSENT:
        Consent.objects.get_or_create(user=user, client=client, scope=normalize_scopes(scopes),
                                      redirect_uri=redirect_uri)


def forget_consents(*, client) -> None:
    Consent.objects.filter(client=client).delete()
