"""Placeholder until the registration views land (RFC 7591, RFC 7592)."""
from django.http import JsonResponse
from django.views import View


class _NotYet(View):
    def dispatch(self, request, *args, **kwargs):
        return JsonResponse({"error": "not_implemented"}, status=501)


RegistrationView = RegistrationManagementView = _NotYet
