"""Dynamic client registration (RFC 7591) and the client configuration endpoint (RFC 7592).

Thin views over oauth_app.registration; the rules live in oauth_app.policies. CSRF does not apply:
these endpoints take no cookies, only bearer tokens (initial or registration access tokens).
"""

from django.http import HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from oauth_app import registration
from oauth_app.policies import RegistrationError, client_metadata_from_json, json_body


def no_store(response: HttpResponse) -> HttpResponse:
    # The bodies carry secrets (RFC 7591 section 3.2.1, RFC 6749 section 5.1).
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


@method_decorator(csrf_exempt, name="dispatch")
class RegistrationView(View):
    """POST /oauth/register: initial access token (default), open registration (opt-in)."""

    http_method_names = ["post", "options"]

    def post(self, request):
        try:
            grant = registration.registration_authorize(request)
            metadata = client_metadata_from_json(request.body)
            registered = registration.client_register(metadata=metadata, grant=grant, request=request)
        except RegistrationError as exc:
            registration.registration_refused(exc, request)
            return exc.response()
        body = registration.registration_response(
            registered.client,
            registration_access_token=registered.registration_access_token,
            client_secret=registered.client_secret,
        )
        return no_store(JsonResponse(body, status=201))


@method_decorator(csrf_exempt, name="dispatch")
class RegistrationManagementView(View):
    """GET/PUT/DELETE /oauth/register/<client_id> with the registration access token (RFC 7592)."""

    http_method_names = ["get", "put", "delete", "options"]

    def dispatch(self, request, *args, **kwargs):
        if request.method == "OPTIONS":
            return super().dispatch(request, *args, **kwargs)
        try:
            client = registration.registration_authenticate(
                client_id=kwargs["client_id"], authorization=request.META.get("HTTP_AUTHORIZATION", "")
            )
            return super().dispatch(request, client)
        except RegistrationError as exc:
            return exc.response()

    def get(self, request, client):
        token = request.META["HTTP_AUTHORIZATION"].split()[-1]
        return no_store(JsonResponse(registration.registration_response(client, registration_access_token=token)))

    def put(self, request, client):
        data = json_body(request.body)
        client, token = registration.client_registration_update(client=client, data=data, request=request)
        return no_store(JsonResponse(registration.registration_response(client, registration_access_token=token)))

    def delete(self, request, client):
        registration.client_delete(client=client, actor="registration endpoint", request=request)
        return HttpResponse(status=204)
