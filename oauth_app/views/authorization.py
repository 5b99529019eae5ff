"""Authorization (RFC 6749 section 4.1), token, revocation (RFC 7009) and introspection (RFC 7662).

django-oauth-toolkit's views do the protocol work through oauth_app.validators.Validator; these
subclasses add what DOT 3.4.1 lacks: remembered consent (oauth_app.consent), an `iss` on error
redirects too (RFC 9207), the RFC 8707 resource checked before the consent page, a Basic challenge
on failed client authentication (RFC 6749 section 5.2), and an introspection endpoint for clients.
"""

import json
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from oauthlib.common import Request as OauthlibRequest
from oauth2_provider import views as dot
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.views.mixins import OAuthLibMixin

from oauth_app import audit, consent
from oauth_app.dot_seam import add_iss_to_redirect
from oauth_app.introspection import introspect
from oauth_app.models import AuditEvent, Client
from oauth_app.sso.provisioning import sign_in_is_stale
from oauth_app.validators import canonical_resource, invalid_target

# RFC 6749 section 5.2: a failed client authentication answers 401 with the scheme clients use.
CLIENT_CHALLENGE = f'Basic realm="{settings.OAUTH_ISSUER}"'


def oauth_response(body: str, status: int, headers: dict) -> HttpResponse:
    response = HttpResponse(body or "", status=status, content_type="application/json")
    for name, value in headers.items():
        response[name] = value
    if status == 401:
        response["WWW-Authenticate"] = CLIENT_CHALLENGE
    response["Cache-Control"] = "no-store"
    return response


@method_decorator(never_cache, name="dispatch")
class AuthorizationView(dot.AuthorizationView):
    """Login first (LoginRequiredMixin), then the consent page, unless the user already consented."""

    def dispatch(self, request, *args, **kwargs):
        if sign_in_is_stale(request.user):  # the IdP must sign them in again (OIDC_SESSION_MAX_AGE, logout)
            logout(request)
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, *args, **kwargs):
        # Whether to ask again is our policy (oauth_app.consent), not the client's approval_prompt.
        request.GET = request.GET.copy()
        request.GET.pop("approval_prompt", None)
        return super().get(request, *args, **kwargs)

    def validate_authorization_request(self, request):
        scopes, credentials = super().validate_authorization_request(request)
        for value in request.GET.getlist("resource"):
            if canonical_resource(value) is None:  # refused before the user is asked anything
                error = invalid_target(value, state=credentials.get("state"))
                raise OAuthToolkitError(error=error, redirect_uri=credentials["redirect_uri"])
        return scopes, credentials

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        redirect = urlsplit(context.get("redirect_uri") or "")
        context["redirect_host"] = redirect.netloc or f"{redirect.scheme}:"
        granted = consent.granted_scopes(user=self.request.user, client=context.get("application"))
        pairs = list(zip(context.get("scopes") or [], context.get("scopes_descriptions") or []))
        context["new_scopes"] = [description for scope, description in pairs if scope not in granted]
        context["granted_scopes"] = [description for scope, description in pairs if scope in granted]
        return context

    def render_to_response(self, context, **response_kwargs):
        application, form = context.get("application"), context.get("form")
        remembered = application and form and consent.has_consent(
            user=self.request.user, client=application, scopes=context["scopes"],
            redirect_uri=form.initial.get("redirect_uri"),
        )
        if remembered:
            approved = self.get_form_class()(data={**form.initial, "allow": True})
            if approved.is_valid():
                return self.form_valid(approved)
        return super().render_to_response(context, **response_kwargs)

    def create_authorization_response(self, request, scopes, credentials, allow):
        """Remember and audit the user's decision (a POST of the consent form)."""
        try:
            result = super().create_authorization_response(request, scopes, credentials, allow)
        except OAuthToolkitError:
            if request.method == "POST" and not allow:
                audit.record(AuditEvent.Kind.CONSENT_DENIED, client_id=credentials["client_id"],
                             actor=request.user.get_username(), request=request, scope=scopes)
            raise
        if request.method == "POST":
            client = Client.objects.get(client_id=credentials["client_id"])
            consent.remember_consent(user=request.user, client=client, scopes=scopes,
                                     redirect_uri=credentials["redirect_uri"])
            audit.record(AuditEvent.Kind.CONSENT_GIVEN, client_id=client.client_id,
                         actor=request.user.get_username(), request=request, scope=scopes)
        return result

    def redirect(self, redirect_to, application):
        # RFC 9207: `iss` on every authorization response, errors included (DOT adds it on success only).
        return super().redirect(add_iss_to_redirect(redirect_to, settings.OAUTH_ISSUER), application)


SECRET_PARAMETERS = ("client_secret", "code", "code_verifier", "refresh_token", "token")


class TokenView(dot.TokenView):
    """authorization_code and refresh_token grants; the validator does the checks and the writes."""

    @method_decorator(sensitive_post_parameters(*SECRET_PARAMETERS))
    def post(self, request, *args, **kwargs):
        _, headers, body, status = self.create_token_response(request)
        return oauth_response(body, status, headers)


class RevokeTokenView(dot.RevokeTokenView):
    @method_decorator(sensitive_post_parameters(*SECRET_PARAMETERS))
    def post(self, request, *args, **kwargs):
        _, headers, body, status = self.create_revocation_response(request)
        return oauth_response(body, status, headers)


@method_decorator(csrf_exempt, name="dispatch")
class IntrospectTokenView(OAuthLibMixin, View):
    """RFC 7662 for confidential clients, about their own tokens (see oauth_app.introspection)."""

    @method_decorator(sensitive_post_parameters(*SECRET_PARAMETERS))
    def post(self, request, *args, **kwargs):
        client = self.authenticated_client(request)
        if client is None or client.is_public:
            return oauth_response('{"error": "invalid_client"}', 401, {})
        token = request.POST.get("token")
        if not token:
            return JsonResponse({"error": "invalid_request", "error_description": "token is required"}, status=400)
        answer = introspect(token, client, request.POST.get("token_type_hint", ""))
        return oauth_response(json.dumps(answer), 200, {})

    def authenticated_client(self, request):
        core = self.get_oauthlib_core()
        oauth_request = OauthlibRequest(
            request.build_absolute_uri(), "POST", core.extract_body(request), core.extract_headers(request)
        )
        if core.server.request_validator.authenticate_client(oauth_request):
            return oauth_request.client
        return None
