"""Refuses a request whose parameters hold a NUL character before any view, form or query sees it.

PostgreSQL's text types cannot hold NUL, and django-oauth-toolkit looks clients up by whatever
client_id arrives (query, form, Basic credentials), so a single %00 was a 500 on the authorize, token,
revocation and introspection endpoints and on the registration paths. Every request is checked, on the
raw forms where that is exact (a decoded NUL can only come from "%00" or a NUL byte): the path, the
query string, form bodies (multipart fields decoded, files left alone), cookies and the Basic
credentials (which the toolkit percent-decodes). JSON bodies are checked where they are parsed:
registration metadata in oauth_app.policies, /mcp by its own parser. Each endpoint answers its
standard error.
"""

import base64
import binascii

from django.http import HttpResponse, JsonResponse
from django.urls import Resolver404, resolve

from oauth_app.policies import invalid_metadata

OAUTH_ENDPOINTS = {"oauth-token", "oauth-revoke", "oauth-introspect"}
REGISTRATION_ENDPOINTS = {"oauth-register", "oauth-register-management"}
PROBLEM = "the request contains a NUL character, which no parameter may hold"


def has_nul(text: str) -> bool:
    return "\x00" in text or "%00" in text


def basic_credentials(request) -> str:
    scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "basic":
        return ""
    try:
        # As the toolkit reads them (strict UTF-8): bytes it cannot decode are no credentials to it, and a
        # random value (a bearer token sent as Basic) decodes to bytes that may hold a NUL by chance.
        return base64.b64decode(value.strip()).decode("utf-8")
    except (binascii.Error, ValueError):
        return ""  # not ours to judge: client authentication refuses it


def holds_nul(request) -> bool:
    if "\x00" in request.path_info or has_nul(request.META.get("QUERY_STRING", "")):
        return True
    if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
        if b"\x00" in request.body or b"%00" in request.body:
            return True
    if request.method == "POST" and request.content_type == "multipart/form-data":
        if any("\x00" in name or any("\x00" in value for value in values) for name, values in request.POST.lists()):
            return True
    if any("\x00" in value for value in request.COOKIES.values()):  # a quoted cookie may spell "\000"
        return True
    return has_nul(basic_credentials(request))


def refusal(request) -> HttpResponse:
    """The endpoint's own error: OAuth JSON, RFC 7591 JSON, or a plain 400 for pages."""
    try:
        name = resolve(request.path_info).url_name
    except Resolver404:
        name = None
    if name in OAUTH_ENDPOINTS:
        response = JsonResponse({"error": "invalid_request", "error_description": PROBLEM}, status=400)
        response["Cache-Control"] = "no-store"
        return response
    if name in REGISTRATION_ENDPOINTS:
        return invalid_metadata(PROBLEM).response()
    return HttpResponse(f"Bad request: {PROBLEM}.", status=400, content_type="text/plain; charset=utf-8")


class UnstorableInputMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if holds_nul(request):
            return refusal(request)
        return self.get_response(request)
