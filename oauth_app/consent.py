"""Remembered consent: a user's approval of a client for a set of scopes (settings.OAUTH_REMEMBER_CONSENT)."""

from django.conf import settings

from oauth_app.models import Consent


def normalize_scopes(scopes) -> str:
    """One spelling per scope set, so `a b` and `b a` are the same consent."""
    if isinstance(scopes, str):
        scopes = scopes.split()
    return " ".join(sorted(set(scopes)))


def has_consent(*, user, client, scopes) -> bool:
    """True when the user already approved this client for these scopes (or a wider set)."""
    if not settings.OAUTH_REMEMBER_CONSENT or not user.is_authenticated:
        return False
    wanted = set(normalize_scopes(scopes).split())
    remembered = Consent.objects.filter(user=user, client=client).values_list("scope", flat=True)
    return any(wanted <= set(scope.split()) for scope in remembered)


def remember_consent(*, user, client, scopes) -> None:
    if settings.OAUTH_REMEMBER_CONSENT:
        Consent.objects.get_or_create(user=user, client=client, scope=normalize_scopes(scopes))
