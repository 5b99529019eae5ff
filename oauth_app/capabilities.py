"""What this authorization server supports, listed once.

The RFC 8414 document (oauth_app.views.metadata), the RFC 9728 one (django-oauth-toolkit's view, fed by the
OAUTH2_PROVIDER settings built from these), registration validation (oauth_app.policies), the validator and
the OpenAPI description all read these tuples, so what is advertised is what is accepted. Plain values only:
mcpsite/settings.py imports this module before any app is loaded.
"""

AUTHORIZATION_CODE, REFRESH_TOKEN = "authorization_code", "refresh_token"
# Machine clients (MCP extension io.modelcontextprotocol/oauth-client-credentials): confidential, no user.
CLIENT_CREDENTIALS = "client_credentials"
USER_GRANT_TYPES = (AUTHORIZATION_CODE, REFRESH_TOKEN)  # what a client registers for by default
GRANT_TYPES = (*USER_GRANT_TYPES, CLIENT_CREDENTIALS)
RESPONSE_TYPES = ("code",)
S256 = "S256"
CODE_CHALLENGE_METHODS = (S256,)  # RFC 9700 section 2.1.1: plain is refused

CLIENT_SECRET_BASIC, CLIENT_SECRET_POST, NONE = "client_secret_basic", "client_secret_post", "none"
PRIVATE_KEY_JWT = "private_key_jwt"  # RFC 7523 client assertions (oauth_app.client_assertions)
TOKEN_ENDPOINT_AUTH_METHODS = (CLIENT_SECRET_BASIC, CLIENT_SECRET_POST, PRIVATE_KEY_JWT, NONE)
# Introspection is for confidential clients only (oauth_app.introspection).
INTROSPECTION_AUTH_METHODS = (CLIENT_SECRET_BASIC, CLIENT_SECRET_POST, PRIVATE_KEY_JWT)
CLIENT_ASSERTION_SIGNING_ALGORITHMS = ("ES256", "RS256")

BEARER_METHODS = ("header",)  # RFC 9728: the access token only in the Authorization header
