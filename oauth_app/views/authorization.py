"""Placeholder until the authorization, token, revocation and introspection views land."""
from django.http import JsonResponse
from django.views import View


class _NotYet(View):
    def dispatch(self, request, *args, **kwargs):
        return JsonResponse({"error": "not_implemented"}, status=501)


AuthorizationView = TokenView = RevokeTokenView = IntrospectTokenView = _NotYet
