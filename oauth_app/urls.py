"""OAuth routes. No trailing slashes: clients use these URLs exactly as the metadata gives them."""

from django.urls import path

from oauth_app.views import authorization, metadata, registration

urlpatterns = [
    # Discovery (RFC 8414, RFC 9728)
    path(".well-known/oauth-authorization-server", metadata.AuthorizationServerMetadataView.as_view(),
         name="oauth-server-metadata"),
    path(".well-known/oauth-authorization-server/<path:issuer_path>",
         metadata.AuthorizationServerMetadataView.as_view(), name="oauth-server-metadata-issuer"),
    path(".well-known/jwks.json", metadata.JwksView.as_view(), name="oauth-jwks"),
    path(".well-known/oauth-protected-resource", metadata.ProtectedResourceMetadataView.as_view(),
         name="oauth-resource-metadata"),
    path(".well-known/oauth-protected-resource/<path:resource_path>",
         metadata.ProtectedResourceMetadataView.as_view(), name="oauth-resource-metadata-path"),
    # Registration (RFC 7591, RFC 7592)
    path("oauth/register", registration.RegistrationView.as_view(), name="oauth-register"),
    path("oauth/register/<str:client_id>", registration.RegistrationManagementView.as_view(),
         name="oauth-register-management"),
    # Authorization, token, revocation (RFC 7009), introspection (RFC 7662)
    path("oauth/authorize", authorization.AuthorizationView.as_view(), name="oauth-authorize"),
    path("oauth/token", authorization.TokenView.as_view(), name="oauth-token"),
    path("oauth/revoke", authorization.RevokeTokenView.as_view(), name="oauth-revoke"),
    path("oauth/introspect", authorization.IntrospectTokenView.as_view(), name="oauth-introspect"),
]
