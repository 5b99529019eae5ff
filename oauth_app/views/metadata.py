"""Discovery: RFC 8414 authorization-server metadata and RFC 9728 protected-resource metadata.

Everything is built from settings (OAUTH_ISSUER, never the request's Host or X-Forwarded-* headers),
so the `issuer` and `authorization_servers` values are byte-identical whoever asks and however the
request got here. Only what works is advertised. CORS comes from ALLOWED_ORIGINS (django-cors-headers),
so the wildcard django-oauth-toolkit's views add is removed.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.http import Http404, JsonResponse
from django.urls import reverse
from django.views import View
from oauth2_provider.views.metadata import OAuthProtectedResourceMetadataView

from oauth_app import capabilities, keys
from oauth_app.capabilities import CLIENT_ASSERTION_SIGNING_ALGORITHMS as ASSERTION_ALGORITHMS


def endpoint(url_name: str) -> str:
    """An endpoint URL under the issuer (a path in OAUTH_ISSUER is the prefix a proxy strips)."""
    return settings.OAUTH_ISSUER + reverse(url_name)


def authorization_server_metadata() -> dict:
    metadata = {
        "issuer": settings.OAUTH_ISSUER,
        "authorization_endpoint": endpoint("oauth-authorize"),
        "token_endpoint": endpoint("oauth-token"),
        "registration_endpoint": endpoint("oauth-register"),
        "revocation_endpoint": endpoint("oauth-revoke"),
        "introspection_endpoint": endpoint("oauth-introspect"),
        "scopes_supported": sorted(settings.OAUTH_SCOPES),
        "response_types_supported": list(capabilities.RESPONSE_TYPES),
        "grant_types_supported": list(capabilities.GRANT_TYPES),
        "code_challenge_methods_supported": list(capabilities.CODE_CHALLENGE_METHODS),
        "token_endpoint_auth_methods_supported": list(capabilities.TOKEN_ENDPOINT_AUTH_METHODS),
        "revocation_endpoint_auth_methods_supported": list(capabilities.TOKEN_ENDPOINT_AUTH_METHODS),
        "introspection_endpoint_auth_methods_supported": list(capabilities.INTROSPECTION_AUTH_METHODS),
        **{f"{endpoint}_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS)
           for endpoint in ("token", "revocation", "introspection")},
        "authorization_response_iss_parameter_supported": True,
    }
    if settings.CIMD_ENABLED:
        metadata["client_id_metadata_document_supported"] = True
    if keys.is_asymmetric():  # HS256 tokens can be verified only with JWT_SECRET: no key set to publish
        metadata["jwks_uri"] = endpoint("oauth-jwks")
    return metadata


def public_json(data: dict) -> JsonResponse:
    response = JsonResponse(data)
    response["Cache-Control"] = "public, max-age=300"
    return response


class AuthorizationServerMetadataView(View):
    """RFC 8414 at /.well-known/oauth-authorization-server and, when the issuer has a path,
    at the path-inserted form /.well-known/oauth-authorization-server/<issuer path>."""

    def get(self, request, issuer_path: str = ""):
        if issuer_path and issuer_path.strip("/") != urlsplit(settings.OAUTH_ISSUER).path.strip("/"):
            raise Http404("no such issuer")
        return public_json(authorization_server_metadata())


class JwksView(View):
    """RFC 7517 key set of the unretired signing keys, for services that verify our access tokens themselves."""

    def get(self, request):
        if not keys.is_asymmetric():
            raise Http404("access tokens are HS256: there is no public key set")
        return public_json(keys.public_jwks())


class ProtectedResourceMetadataView(OAuthProtectedResourceMetadataView):
    """RFC 9728 for the /mcp resource, at the root form and the path-inserted form (…/mcp).
    DOT builds the document from the OAUTH2_PROTECTED_RESOURCE_* settings."""

    def get(self, request, resource_path: str = ""):
        if resource_path and resource_path.strip("/") not in {"mcp", urlsplit(settings.MCP_RESOURCE).path.strip("/")}:
            raise Http404("no such resource")
        response = super().get(request)
        del response["Access-Control-Allow-Origin"]
        response["Cache-Control"] = "public, max-age=300"
        return response
