"""Pages of the organisation sign-in: start, callback, cancel, back-channel logout, and the login page."""

import functools
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.http import Http404, HttpRequest, HttpResponseRedirect, JsonResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.http import OAuth2ResponseRedirect
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views.mixins import OAuthLibMixin

from oauth_app.dot_seam import add_iss_to_redirect
from oauth_app.sso import backchannel, client, provisioning
from oauth_app.sso.client import SignInError

# What each failure means to the person, and what to do about it.
ERRORS = {
    "unreachable": ("The sign-in service is not answering",
                    "We could not reach {provider}. It may be down or unreachable from this server. Wait a moment "
                    "and try again; if it keeps happening, tell your administrator."),
    "misconfigured": ("Sign-in is not set up correctly",
                      "{provider} does not describe itself the way this server expects. Tell your administrator."),
    "denied": ("Sign-in was cancelled or refused",
               "{provider} did not sign you in ({detail}). Try again, or cancel to return to the application."),
    "idp_error": ("Sign-in failed at the identity provider",
                  "{provider} answered: {detail}. Try again; if it keeps happening, tell your administrator."),
    "state": ("This sign-in link has expired",
              "The answer from {provider} does not belong to a sign-in started in this browser (it may have been "
              "opened twice, in another browser, or too late). Start again."),
    "bad_token": ("The identity provider's answer could not be verified",
                  "The sign-in answer from {provider} failed its security checks. Try again; if it keeps happening, "
                  "tell your administrator."),
    "bad_subject": ("Your identity provider's answer cannot be used here",
                    "{provider} identified you with a subject this server cannot store (longer than 255 characters, "
                    "or not text). Tell your administrator."),
    "no_username": ("Your account has no user name here",
                    "{provider} did not send the '{detail}' claim this server uses as your user name. Ask your "
                    "administrator to release it to this application."),
    "bad_username": ("Your user name cannot be used here",
                     "{provider} sent the user name '{detail}', which has characters this server does not accept. "
                     "Tell your administrator."),
    "taken": ("An account with your user name already exists",
              "The user name '{detail}' belongs to an account here that is not linked to your {provider} identity. "
              "Nothing was changed. Ask an administrator to link the two accounts."),
    "inactive": ("Your account is disabled",
                 "The account '{detail}' is disabled on this server. Ask your administrator."),
}


def safe_next(request, value: str) -> str:
    if value and url_has_allowed_host_and_scheme(value, allowed_hosts={request.get_host()},
                                                 require_https=request.is_secure()):
        return value
    return settings.LOGIN_REDIRECT_URL


def start_url(next_url: str) -> str:
    return reverse("oidc-start") + "?" + urlencode({"next": next_url})


def error_page(request, error: SignInError, next_url: str):
    title, text = ERRORS[error.kind]
    context = {
        "title": title,
        "text": text.format(provider=settings.OIDC_PROVIDER_NAME, detail=error.detail),
        "retry_url": start_url(next_url),
        "cancel_url": reverse("oidc-cancel") + "?" + urlencode({"next": next_url}) if is_authorize(next_url) else "",
    }
    return render(request, "sso/error.html", context, status=error.status)


def is_authorize(url: str) -> bool:
    return urlsplit(url).path == reverse("oauth-authorize")


def require_sso(view):
    """404 when no IdP is configured: these routes then do not exist."""
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not client.is_enabled():
            raise Http404("organisation sign-in is not configured")
        return view(request, *args, **kwargs)
    return wrapped


@require_sso
@never_cache
@require_GET
def start(request):
    """Send the browser to the IdP; it comes back to `callback`, then to `next` (the authorize request)."""
    next_url = safe_next(request, request.GET.get("next", ""))
    try:
        return HttpResponseRedirect(client.start(request, next_url))
    except SignInError as error:
        return error_page(request, error, next_url)


@require_sso
@never_cache
@require_GET
def callback(request):
    next_url = client.next_url(request)
    try:
        user = provisioning.user_sign_in(claims=client.finish(request))
    except SignInError as error:
        return error_page(request, error, next_url)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session.pop(client.NEXT_SESSION_KEY, None)
    request.session.set_expiry(settings.OIDC_SESSION_MAX_AGE)  # the IdP decides again after that
    return HttpResponseRedirect(safe_next(request, next_url))


@method_decorator(never_cache, name="dispatch")
class CancelView(OAuthLibMixin, View):
    """The person gives up: the MCP client gets access_denied on its (validated) redirect URI."""

    def get(self, request):
        target = urlsplit(request.GET.get("next", ""))
        if target.netloc or target.path != reverse("oauth-authorize"):
            return render(request, "sso/cancelled.html", status=400)
        authorize = HttpRequest()
        authorize.method, authorize.path = "GET", target.path
        authorize.META = {**request.META, "QUERY_STRING": target.query}
        authorize.GET = QueryDict(target.query)
        core = self.get_oauthlib_core()
        try:
            scopes, credentials = core.validate_authorization_request(authorize)
            core.create_authorization_response(authorize, scopes, credentials, allow=False)
        except OAuthToolkitError as error:
            redirect, response = self.error_response(error)
            if redirect and error.oauthlib_error.redirect_uri:
                url = add_iss_to_redirect(response["url"], settings.OAUTH_ISSUER)
                return OAuth2ResponseRedirect(url, oauth2_settings.ALLOWED_REDIRECT_URI_SCHEMES)
        return render(request, "sso/cancelled.html", status=400)


@csrf_exempt
@require_sso
@require_POST
def backchannel_logout(request):
    """OpenID Connect Back-Channel Logout 1.0 section 2.8: 200 when done, 400 with an OAuth error if not."""
    try:
        backchannel.logout(request.POST.get("logout_token", ""))
    except backchannel.InvalidLogoutToken as exc:
        response = JsonResponse({"error": "invalid_request", "error_description": str(exc)}, status=400)
    else:
        response = JsonResponse({}, status=200)
    response["Cache-Control"] = "no-store"
    return response


class LoginView(auth_views.LoginView):
    """Django's login page, with "Sign in with <provider>"; with OIDC_ONLY, straight to the IdP."""

    def dispatch(self, request, *args, **kwargs):
        if client.is_enabled() and settings.OIDC_ONLY:
            return HttpResponseRedirect(start_url(safe_next(request, request.GET.get("next", ""))))
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if client.is_enabled():
            context["oidc_provider_name"] = settings.OIDC_PROVIDER_NAME
            context["oidc_start_url"] = start_url(safe_next(self.request, context.get("next", "")))
        return context
