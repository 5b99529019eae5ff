"""The OpenAPI document's description of the protocol endpoints (drf-spectacular hooks).

The OAuth endpoints are Django views and /mcp speaks JSON-RPC, so drf-spectacular cannot infer them:
they are described here by hand, from the RFCs they implement, and fuzzed against the running server
by schemathesis (tests/security/test_fuzz.py).
"""

from oauth_app.capabilities import TOKEN_ENDPOINT_AUTH_METHODS

HAND_WRITTEN = {"/mcp"}


def exclude_hand_written(endpoints, **kwargs):
    """PREPROCESSING_HOOKS: do not let drf-spectacular guess what is described below."""
    return [endpoint for endpoint in endpoints if endpoint[0] not in HAND_WRITTEN]


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


def form_content(properties: dict, required: list[str]) -> dict:
    return {"application/x-www-form-urlencoded": {"schema": {
        "type": "object", "properties": properties, "required": required}}}


def oauth_error(description: str) -> dict:
    return {"description": description, "content": json_content(ref("OAuthError"))}


STRING = {"type": "string"}
TOO_MANY = {"description": "Rate limited (Retry-After says when to retry)"}

SCHEMAS = {
    "OAuthError": {
        "type": "object", "required": ["error"],
        "properties": {"error": STRING, "error_description": STRING},
    },
    "ClientMetadata": {
        "type": "object", "required": ["redirect_uris"],
        "properties": {
            "redirect_uris": {"type": "array", "items": {"type": "string", "format": "uri"}},
            "client_name": STRING,
            "token_endpoint_auth_method": {"type": "string",
                                           "enum": list(TOKEN_ENDPOINT_AUTH_METHODS)},
            "grant_types": {"type": "array", "items": STRING},
            "response_types": {"type": "array", "items": STRING},
            "scope": STRING,
        },
    },
    "ClientInformation": {
        "type": "object", "required": ["client_id", "redirect_uris"],
        "properties": {"client_id": STRING, "client_secret": STRING, "registration_access_token": STRING,
                       "registration_client_uri": STRING, "redirect_uris": {"type": "array", "items": STRING}},
    },
    "TokenResponse": {
        "type": "object", "required": ["access_token", "token_type"],
        "properties": {"access_token": STRING, "token_type": STRING, "expires_in": {"type": "integer"},
                       "refresh_token": STRING, "scope": STRING},
    },
    "JsonRpcMessage": {
        "type": "object", "required": ["jsonrpc", "method"],
        "properties": {"jsonrpc": {"type": "string", "enum": ["2.0"]},
                       "id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                       "method": STRING, "params": {"type": "object"}},
    },
    "JsonRpcAnswer": {
        "type": "object", "required": ["jsonrpc"],
        "properties": {"jsonrpc": {"type": "string", "enum": ["2.0"]}, "result": {}, "error": {
            "type": "object", "required": ["code", "message"],
            "properties": {"code": {"type": "integer"}, "message": STRING}}},
    },
}

TOKEN_FIELDS = {name: STRING for name in (
    "grant_type", "code", "redirect_uri", "code_verifier", "refresh_token", "client_id", "client_secret", "scope",
    "resource")}

PATHS = {
    "/oauth/register": {"post": {
        "operationId": "register_client", "summary": "Dynamic client registration (RFC 7591)",
        "tags": ["oauth"], "security": [{"initialAccessToken": []}],
        "requestBody": {"required": True, "content": json_content(ref("ClientMetadata"))},
        "responses": {"201": {"description": "Registered", "content": json_content(ref("ClientInformation"))},
                      "400": oauth_error("Invalid client metadata or redirect URI"),
                      "401": oauth_error("Missing or invalid initial access token"), "429": TOO_MANY},
    }},
    "/oauth/token": {"post": {
        "operationId": "token", "summary": "Token endpoint: authorization_code and refresh_token (RFC 6749)",
        "tags": ["oauth"],
        "requestBody": {"required": True, "content": form_content(TOKEN_FIELDS, ["grant_type"])},
        "responses": {"200": {"description": "Tokens", "content": json_content(ref("TokenResponse"))},
                      "400": oauth_error("Invalid request or grant"), "401": oauth_error("Invalid client"),
                      "429": TOO_MANY},
    }},
    "/oauth/revoke": {"post": {
        "operationId": "revoke", "summary": "Token revocation (RFC 7009)", "tags": ["oauth"],
        "requestBody": {"required": True, "content": form_content(
            {"token": STRING, "token_type_hint": STRING, "client_id": STRING, "client_secret": STRING}, ["token"])},
        "responses": {"200": {"description": "Revoked (or unknown token)"}, "400": oauth_error("Invalid request"),
                      "401": oauth_error("Invalid client"), "429": TOO_MANY},
    }},
    "/.well-known/oauth-authorization-server": {"get": {
        "operationId": "authorization_server_metadata", "summary": "RFC 8414 metadata", "tags": ["discovery"],
        "responses": {"200": {"description": "Metadata", "content": json_content({"type": "object"})}},
    }},
    "/.well-known/oauth-protected-resource/mcp": {"get": {
        "operationId": "protected_resource_metadata", "summary": "RFC 9728 metadata", "tags": ["discovery"],
        "responses": {"200": {"description": "Metadata", "content": json_content({"type": "object"})}},
    }},
    "/health": {"get": {
        "operationId": "health", "summary": "Database and cache checks", "tags": ["operations"],
        "responses": {"200": {"description": "Healthy"}, "503": {"description": "Unhealthy"}},
    }},
    "/mcp": {"post": {
        "operationId": "mcp", "summary": "MCP Streamable HTTP: one JSON-RPC message per POST", "tags": ["mcp"],
        "security": [{"accessToken": []}, {}],
        "requestBody": {"required": True, "content": json_content(ref("JsonRpcMessage"))},
        "responses": {"200": {"description": "JSON-RPC answer", "content": json_content(ref("JsonRpcAnswer"))},
                      "202": {"description": "Notification or response accepted"},
                      "400": {"description": "Invalid JSON-RPC", "content": json_content(ref("JsonRpcAnswer"))},
                      "401": oauth_error("Missing or invalid access token (WWW-Authenticate says where to get one)"),
                      "403": {"description": "Insufficient scope or a foreign Origin"},
                      "404": {"description": "Unknown method (2026-07-28)"},
                      "406": {"description": "Not acceptable"}, "413": {"description": "Body too large"},
                      "415": {"description": "Not JSON"}, "429": TOO_MANY},
    }},
}

SECURITY_SCHEMES = {
    "accessToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    "initialAccessToken": {"type": "http", "scheme": "bearer"},
}


def add_hand_written_paths(result, generator, request, public):
    """POSTPROCESSING_HOOKS: add the protocol endpoints and their components."""
    result.setdefault("paths", {}).update(PATHS)
    components = result.setdefault("components", {})
    components.setdefault("schemas", {}).update(SCHEMAS)
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    return result
