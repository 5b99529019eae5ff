"""Placeholder until the discovery views land (RFC 8414, RFC 9728)."""
from django.http import JsonResponse
from django.views import View


class _NotYet(View):
    def dispatch(self, request, *args, **kwargs):
        return JsonResponse({"error": "not_implemented"}, status=501)


AuthorizationServerMetadataView = ProtectedResourceMetadataView = _NotYet
